"""A send run's connections ("lanes"), all driven by the run's one thread.

A lane is one connection slot. When the SMTP server offers PIPELINING (every common MTA does), the
lane is event-driven (digest.pipelining): its socket is non-blocking, and one write carries a
message's content, its end of data and the next message's envelope; one `select` serves every lane.
Otherwise (an outbox folder, a server without PIPELINING, an address that needs SMTPUTF8) the lane
sends one message at a time with the transport's blocking `send`.

The crash promise (send/runner.py) holds lane by lane: a lane's next content goes out only after
the outcome of its previous message is committed. The runner commits every outcome `poll` returns
before it calls `dispatch` again, and a lane's previous end-of-data reply always arrives before the
354 that lets its next content go, so that order is kept without a lock or a wait.

Stopping: lanes with no content out are cut at once (their messages are "unsent"); a lane whose
content is out keeps waiting for the reply to its end of data, under its deadline. A watcher thread
makes a stop requested from a signal handler or another thread wake `select` and cut a blocking
handshake or send.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from digest.mail import Outgoing
from digest.pipelining import Pipeline, PipelineBroken, Step
from digest.send.connections import interrupt
from digest.send.jobs import Job, Outcome, outcome_of
from digest.transport import (
    Connection,
    DeliveryError,
    SMTPConnection,
    Transport,
    classify_data_reply,
    envelope_error,
    must_hang_up,
    plain_address,
)
from digest.wire import wire_form

WATCH_INTERVAL = 0.2  # how often the watcher looks whether the run ended


@dataclass
class Flight:
    """One message on a pipelined lane: its job, its bytes, the envelope replies so far."""

    job: Job
    outgoing: Outgoing
    data: bytes
    replies: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Lane:
    connection: Connection | None = None
    pipe: Pipeline | None = None
    content_out: Flight | None = None  # its end of data is out, its reply awaited
    envelope_out: Flight | None = None  # MAIL, RCPT, DATA out, their replies awaited
    accepted: Flight | None = None  # DATA answered 354: the content waits for the gate
    writing: bool = False  # the selector watches for room to write

    @property
    def in_flight(self) -> bool:
        waiting = self.pipe is not None and bool(self.pipe.waiting)
        return bool(self.content_out or self.envelope_out or self.accepted) or waiting

    def may_add_envelope(self) -> bool:
        return self.envelope_out is None and self.accepted is None


class Lanes:
    def __init__(
        self,
        transport: Transport,
        concurrency: int,
        take: Callable[[], Job | None],
        put_back: Callable[[Job], None],
        build: Callable[[Job], Outgoing],
        stopping: Callable[[], bool],
        stop_event: threading.Event,
    ):
        self.transport, self.take, self.put_back, self.build = transport, take, put_back, build
        self.stopping = stopping
        self.lanes = [Lane() for _ in range(concurrency)]
        self.finished: list[Outcome] = []
        self.selector = selectors.DefaultSelector()
        self.wake_read, self.wake_write = socket.socketpair()
        self.wake_read.setblocking(False)
        self.selector.register(self.wake_read, selectors.EVENT_READ, None)
        self.blocking: Connection | None = None  # in a blocking call: what a stop must cut
        self.spare: Connection | None = None
        self.done = threading.Event()
        self.stop_event = stop_event

    def start(self) -> None:
        """Watch for a stop from outside the run's thread (see the module docstring)."""
        threading.Thread(target=self._watch, name="digest-stop-watch", daemon=True).start()

    # --- the runner's calls ----------------------------------------------------------------------

    def busy(self) -> bool:
        return bool(self.finished) or any(lane.in_flight for lane in self.lanes)

    def dispatch(self) -> None:
        """Give every lane that can take work its next message (or its waiting content)."""
        jobs_left = True
        for lane in self.lanes:
            if lane.accepted is not None:
                jobs_left = self._send_content(lane, jobs_left)
            elif jobs_left and lane.may_add_envelope():
                jobs_left = self._fill(lane)
                self._flush(lane)

    def poll(self, timeout: float) -> list[Outcome]:
        """Wait up to `timeout` for replies; every outcome that is known."""
        if not self.finished:
            deadline = self._earliest_deadline()
            if deadline is not None:
                timeout = max(0.0, min(timeout, deadline - time.monotonic()))
            for key, mask in self.selector.select(timeout):
                if key.data is None:
                    self._drain_wake()
                else:
                    self._serve(key.data, mask)
            self._expire()
        finished, self.finished = self.finished, []
        return finished

    def stop(self) -> None:
        """Cut every lane that has no content out; its messages go back unsent."""
        for lane in self.lanes:
            self._cut(lane)

    def _cut(self, lane: Lane) -> None:
        if lane.pipe is not None and lane.content_out is None and lane.in_flight:
            self._drop(lane, "unsent", "stopped before the message went out")

    def close(self) -> None:
        self.done.set()
        for lane in self.lanes:
            if lane.pipe is not None and lane.in_flight:
                self._drop(lane, "unsent", "the run ended")
            self._close(lane)
        if self.spare is not None:
            self.spare.close()
        self.selector.close()
        self.wake_read.close()
        self.wake_write.close()

    # --- giving work ----------------------------------------------------------------------------

    def _fill(self, lane: Lane) -> bool:
        """The next job onto an idle or pipelining lane; False when there was none."""
        job = self.take()
        if job is None:
            return False
        try:
            outgoing = self.build(job)
            if lane.connection is None:
                self._open(lane)
        except Exception as exc:
            self.finished.append(outcome_of(job, exc))
            return True
        if lane.pipe is not None and plain_address(outgoing.sender) and plain_address(outgoing.recipient):
            flight = Flight(job, outgoing, wire_form(outgoing.message))
            lane.pipe.envelope(outgoing.sender, outgoing.recipient, len(flight.data), flight)
            lane.envelope_out = flight
        elif lane.in_flight or (lane.pipe is not None and not lane.pipe.idle):
            self.put_back(job)  # smtplib's path needs the session to itself
            return False
        else:
            self._send_blocking(lane, job, outgoing)
        return True

    def _send_content(self, lane: Lane, jobs_left: bool) -> bool:
        """The accepted message's content, and the next envelope with it if there is a job."""
        flight, lane.accepted = lane.accepted, None
        lane.pipe.content(flight.data, flight)
        lane.content_out = flight
        if jobs_left:
            jobs_left = self._fill(lane)
        self._flush(lane)
        return jobs_left

    def _send_blocking(self, lane: Lane, job: Job, outgoing: Outgoing) -> None:
        if lane.pipe is not None:
            lane.pipe.hand_back()
        try:
            self.blocking = lane.connection
            lane.connection.send(outgoing, lambda: not self.stopping())
            self.finished.append(Outcome(job, "sent"))
        except Exception as exc:
            self.finished.append(outcome_of(job, exc))
        finally:
            self.blocking = None
        if isinstance(lane.connection, SMTPConnection):
            self._unregister(lane)
            lane.pipe = None
            if lane.connection.smtp is None:
                lane.connection = None  # dropped: reopened, and pipelined again, on next use
            else:
                self._start_pipeline(lane)

    def _open(self, lane: Lane) -> None:
        connection, self.spare = self.spare or self.connect(), None
        lane.connection = connection
        opener = getattr(connection, "open", None)
        if opener is not None:
            self.blocking = connection
            try:
                opener()
            except DeliveryError:
                lane.connection = None
                connection.close()
                raise
            finally:
                self.blocking = None
        if isinstance(connection, SMTPConnection):
            self._start_pipeline(lane)

    def connect(self) -> Connection:
        try:
            return self.transport.connect()
        except OSError as exc:  # e.g. an outbox folder that cannot be made
            raise DeliveryError("fatal", f"cannot open the {self.transport.name} transport: {exc}") from None

    def _start_pipeline(self, lane: Lane) -> None:
        if lane.connection.smtp.has_extn("pipelining"):
            lane.pipe = Pipeline(lane.connection)
            lane.writing = False
            self.selector.register(lane.pipe.sock, selectors.EVENT_READ, lane)

    # --- replies ----------------------------------------------------------------------------------

    def _serve(self, lane: Lane, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE:
                self._flush(lane)
            if mask & selectors.EVENT_READ:
                for step, code, text in lane.pipe.replies():
                    self._answer(lane, step, code, text)
                    if lane.pipe is None:
                        return
        except PipelineBroken as exc:
            self._lost(lane, str(exc))
            return
        if self.stopping():
            self._cut(lane)

    def _answer(self, lane: Lane, step: Step, code: int, text: str) -> None:
        flight: Flight | None = step.owner
        if step.name == "end":
            lane.content_out = None
            if code == 250:
                self.finished.append(Outcome(flight.job, "sent"))
                return
            error = classify_data_reply(code, text)
            self.finished.append(Outcome(flight.job, error.kind, error.reason))
            if code == 421:
                self._lost(lane, error.reason)
        elif step.name == "data":
            lane.envelope_out = None
            self._judge_envelope(lane, flight, code, text)
        elif step.name == "rset":
            if code != 250:
                self._lost(lane, f"RSET refused: {code} {text}")
        else:
            flight.replies[step.name] = (code, text)

    def _judge_envelope(self, lane: Lane, flight: Flight, code: int, text: str) -> None:
        mail, rcpt, go = flight.replies["mail"], flight.replies["rcpt"], (code, text)
        error = envelope_error(mail, rcpt, go)
        if error is None:
            lane.accepted = flight
            return
        self.finished.append(Outcome(flight.job, error.kind, error.reason))
        if must_hang_up(mail, rcpt, go):
            self._lost(lane, error.reason)
        else:
            lane.pipe.reset()
            self._flush(lane)

    def _expire(self) -> None:
        now = time.monotonic()
        for lane in self.lanes:
            if lane.pipe is not None and lane.pipe.waiting and lane.pipe.waiting[0].due <= now:
                what = _STEP_WORDS[lane.pipe.waiting[0].name]
                self._lost(lane, f"no complete reply to {what} within {lane.pipe.timeout:g} s")

    def _earliest_deadline(self) -> float | None:
        dues = [
            lane.pipe.waiting[0].due for lane in self.lanes if lane.pipe is not None and lane.pipe.waiting
        ]
        return min(dues) if dues else None

    # --- losing and closing ---------------------------------------------------------------------

    def _lost(self, lane: Lane, reason: str) -> None:
        """The session is gone: the message whose end of data is out may have arrived (ambiguous);
        the one in its envelope did not (temporary: tried again)."""
        if lane.content_out is not None:
            why = f"no reply after the end of data ({reason})"
            self.finished.append(Outcome(lane.content_out.job, "ambiguous", why))
            lane.content_out = None
        self._drop(lane, "temporary", f"connection lost: {reason}")

    def _drop(self, lane: Lane, kind: str, reason: str) -> None:
        for flight in (lane.envelope_out, lane.accepted, lane.content_out):
            if flight is not None:
                self.finished.append(Outcome(flight.job, kind, reason))
        lane.envelope_out = lane.accepted = lane.content_out = None
        self._unregister(lane)
        lane.pipe = None
        if lane.connection is not None:
            getattr(lane.connection, "drop", lane.connection.close)()
            lane.connection = None

    def _close(self, lane: Lane) -> None:
        if lane.pipe is not None:
            self._unregister(lane)
            lane.pipe.hand_back()
            lane.pipe = None
        if lane.connection is not None:
            lane.connection.close()
            lane.connection = None

    def _unregister(self, lane: Lane) -> None:
        if lane.pipe is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(lane.pipe.sock)

    def _flush(self, lane: Lane) -> None:
        if lane.pipe is None:
            return
        try:
            done = lane.pipe.flush()
        except PipelineBroken as exc:
            self._lost(lane, str(exc))
            return
        if lane.writing == done:  # the watch changes: room to write is wanted, or no longer
            lane.writing = not done
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if lane.writing else 0)
            self.selector.modify(lane.pipe.sock, events, lane)

    # --- stopping from outside ------------------------------------------------------------------

    def _watch(self) -> None:
        while not self.done.is_set():
            if self.stop_event.wait(WATCH_INTERVAL):
                break
        if self.done.is_set():
            return
        with contextlib.suppress(OSError):
            self.wake_write.send(b"x")
        blocking = self.blocking
        if blocking is not None:
            interrupt(blocking)

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            self.wake_read.recv(64)


_STEP_WORDS = {
    "mail": "MAIL, RCPT and DATA",
    "rcpt": "MAIL, RCPT and DATA",
    "data": "MAIL, RCPT and DATA",
    "end": "the end of data",
    "rset": "RSET",
}
