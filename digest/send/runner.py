"""One send run: claim rows, send them on N reused connections, record outcomes in group commits.

The promise after a crash (SIGKILL included) rests on one rule: a connection sends its next message
only after the outcome of its previous one is committed. So at any instant at most `concurrency`
messages are sent-but-unrecorded, and those are the only ones a rerun can send twice.

One thread does everything, in turns: it gives each connection its next message (send/lanes.py),
waits for replies on all of them at once, and commits every outcome that has arrived in one
transaction (group commit) before any connection's next content goes out. With SMTP pipelining a
connection's next envelope is already out while the previous outcome commits, so the log's commits
overlap the SMTP traffic without widening the crash window, and no message waits on a thread.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from digest.clock import Clock, utc_now
from digest.letters import Letters
from digest.mail import Outgoing
from digest.models import Claimed
from digest.owners import new_owner_id, owner_is_gone
from digest.send.connections import open_first
from digest.send.jobs import Job, Outcome
from digest.send.lanes import Lanes
from digest.send.languages import LettersByLanguage
from digest.send.log import DeliveryLog
from digest.send.pacing import MAX_TRIES, RateLimiter, backoff, claim_size
from digest.send.report import RunStats, SendAborted, SendMisconfigured
from digest.transport import DeliveryError, Transport

WAIT_FOR_OTHERS = 0.2  # poll interval while another live run finishes its claims
POLL = 0.5  # longest the run waits for a reply before looking at stop, retries, rate


@dataclass(frozen=True)
class Pace:
    """How a run may go: connections at once, messages per second (0: no limit), bounce limit."""

    concurrency: int
    rate: float
    bounce_limit: int


class Runner:
    """One run over one digest's delivery log: rows in, messages (from `letters`) out."""

    def __init__(
        self,
        log: DeliveryLog,
        transport: Transport,
        letters: Letters | LettersByLanguage,
        pace: Pace,
        stop_event: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
        clock: Clock = utc_now,
        limiter: RateLimiter | None = None,
    ):
        self.log, self.transport, self.letters, self.clock = log, transport, letters, clock
        concurrency, rate = pace.concurrency, pace.rate
        self.concurrency, self.bounce_limit = concurrency, pace.bounce_limit
        self.limiter = limiter or RateLimiter(rate)  # a queue worker's is the fleet's (send/fleet.py)
        self.batch = claim_size(concurrency, rate)
        self.ahead = 4 * concurrency + 8  # messages started before a connection asks for them
        self.stop_event = stop_event or threading.Event()
        self.progress = progress or (lambda n: None)
        self.run_id = new_owner_id()
        self.stats = RunStats()
        self.buffer: deque[Job] = deque()
        self.retries: list[tuple[float, int, Job]] = []
        self.order = itertools.count()
        self.recent: deque[bool] = deque(maxlen=max(10, 3 * concurrency))
        self.abort: str | None = None
        self.abort_kind = "fatal"
        self.quiet_until = 0.0
        self.unproven: list[Claimed] = []  # 5xx failures since the last success
        self.rejected_everyone = False
        self.exhausted: list[int] = []  # rows that ran out of tries: released when the run ends
        self.lanes = Lanes(
            transport,
            concurrency,
            self._take,
            self.buffer.appendleft,
            self._build,
            self._stopping,
            self.stop_event,
        )

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> RunStats:
        self.lanes.start()
        try:
            self._recover()
            self._probe()
            self._loop()
        finally:
            try:
                self._finish_in_flight()
            finally:
                self.lanes.close()
                try:
                    self._give_back()
                finally:
                    self.log.close()
        if self.abort:
            raise (SendMisconfigured if self.abort_kind == "config" else SendAborted)(self.abort)
        return self.stats

    def _probe(self) -> None:
        """Open one connection first: a setting the server refuses (untrusted certificate, login)
        then shows once, not once per connection."""
        try:
            connection = self.lanes.connect()
        except DeliveryError as exc:
            error = exc
        else:
            error = open_first(connection, self._stopping)
            if error is None:
                self.lanes.spare = connection
        if error is not None and error.kind in ("fatal", "config"):
            self.abort, self.abort_kind = f"stopped: {error.reason}", error.kind

    def _loop(self) -> None:
        while True:
            stopping = self._stopping()
            if stopping:
                self.lanes.stop()
            else:
                self.lanes.dispatch()
            if self.lanes.busy():
                outcomes = self.lanes.poll(self._wait())
                if outcomes:
                    self._record(outcomes)
            elif stopping:
                return
            elif self.buffer and self.limiter.delay():
                self.stop_event.wait(self.limiter.delay())  # nothing in flight: the rate says wait
            elif not self._idle():
                return

    def _stopping(self) -> bool:
        return self.abort is not None or self.stop_event.is_set()

    def _take(self) -> Job | None:
        """The next message a connection may start, within the rate limit; None: none now."""
        if self._stopping() or self.limiter.delay():
            return None
        job = self._next_job()
        if job is not None:
            self.limiter.take()
            self._start_ahead()
        return job

    def _start_ahead(self) -> None:
        """Start the next few messages now, so a DKIM signature (a helper process's work) is made
        while this thread waits for replies instead of while the connection waits for it."""
        for job in itertools.islice(self.buffer, self.ahead):
            try:
                self._start(job)
            except Exception:  # started again in _build, where the error is the job's outcome
                return

    def _start(self, job: Job) -> Callable[[], Outgoing]:
        if job.made is None:
            job.made = self.letters.start(job.recipient, job.message_id)
        return job.made

    def _build(self, job: Job) -> Outgoing:
        return self._start(job)()

    def _wait(self) -> float:
        """How long to wait for replies before looking again at retries and the rate limit."""
        if not (self.buffer or self.retries):
            return POLL
        due = self.retries[0][0] - time.monotonic() if self.retries else POLL
        return max(0.001, min(POLL, due, self.limiter.delay() or POLL))

    def _finish_in_flight(self) -> None:
        """Outcomes known when the loop ends (an error, a stop) are recorded if the log still works."""
        self.lanes.stop()
        left = self.lanes.poll(0)
        if left:
            self._record(left)

    def _next_job(self) -> Job | None:
        if self.retries and self.retries[0][0] <= time.monotonic():
            return heapq.heappop(self.retries)[2]
        if not self.buffer and time.monotonic() >= self.quiet_until:
            self._claim()
        return self.buffer.popleft() if self.buffer else None

    def _idle(self) -> bool:
        """Nothing in flight: wait for a retry, take back dead claims, or wait for live ones.
        False when there is nothing left to do."""
        if self.retries:
            self.stop_event.wait(max(0.0, min(self.retries[0][0] - time.monotonic(), 1.0)))
            return True
        self._claim()
        if self.buffer:
            return True
        with self.log.transaction() as log:
            others = log.claims_of_others(self.run_id)
            gone = self._gone(others)
            if gone:
                log.release_claims_of(gone)
                return True
        if others:
            self.stop_event.wait(WAIT_FOR_OTHERS)
            return True
        return False

    # --- database ------------------------------------------------------------------------------

    def _recover(self) -> None:
        with self.log.transaction() as log:
            log.skip_departed(self.clock())
            log.release_claims_of(self._gone(log.claims_of_others(self.run_id)))

    def _gone(self, others: list) -> list[str | None]:
        now = self.clock()
        return [o.claimed_by for o in others if owner_is_gone(o.claimed_by, o.since, now)]

    def _claim(self) -> None:
        with self.log.transaction() as log:
            rows = log.claim(self.run_id, self.batch, self.clock())
        # Nothing left to claim: don't ask again on every completion, only now and then.
        self.quiet_until = 0.0 if rows else time.monotonic() + WAIT_FOR_OTHERS
        for row in rows:
            job = Job(row, "")
            job.message_id = self.letters.message_id(job.recipient)
            self.buffer.append(job)

    def _record(self, outcomes: list[Outcome]) -> None:
        """One transaction for every outcome that has arrived (group commit); then each waiting
        connection may send its next content."""
        tried = [o for o in outcomes if o.kind != "unsent"]
        self.buffer.extendleft(reversed([o.job for o in outcomes if o.kind == "unsent"]))
        if tried and not self.unproven and all(o.kind == "sent" for o in tried):
            self.log.commit_sent([(o.job.row.id, o.job.message_id) for o in tried], self.clock())
        elif tried:
            now = self.clock()
            with self.log.transaction() as log:
                sent = [(o.job.row.id, o.job.message_id) for o in tried if o.kind == "sent"]
                log.mark_sent(sent, now)
                for outcome in tried:
                    if outcome.kind != "sent":
                        self._record_failure(log, outcome)
                if sent:
                    self._count_bounces(log, now)
        if tried:
            self._account(tried)

    def _record_failure(self, log: DeliveryLog, outcome: Outcome) -> None:
        job = outcome.job
        if outcome.kind in ("permanent", "content"):  # content: the message's fault, no bounce
            if log.mark_failed(job.row, outcome.reason) and outcome.kind == "permanent":
                self.unproven.append(job.row)
            return
        if outcome.kind == "ambiguous":
            if not log.mark_ambiguous(job.row, outcome.reason):
                self.exhausted.append(job.row.id)  # the next run may try once more
            return
        log.note_attempt(job.row.id, outcome.reason)
        job.tries += 1
        if outcome.kind == "temporary" and job.tries < MAX_TRIES and not self._stopping():
            due = time.monotonic() + backoff(job.tries)
            heapq.heappush(self.retries, (due, next(self.order), job))
            self.stats.retried += 1
        else:
            self.exhausted.append(job.row.id)

    def _account(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.recent.append(outcome.kind in ("sent", "content", "ambiguous"))
            if outcome.kind == "sent":
                self.stats.sent += 1
            elif outcome.kind in ("permanent", "content"):
                self.stats.failed += 1
                if len(self.stats.failures) < 100:
                    self.stats.failures.append((outcome.job.row.email, outcome.reason))
            elif outcome.kind == "ambiguous":
                self.stats.ambiguous += 1
            elif outcome.kind in ("fatal", "config") and self.abort is None:
                self.abort, self.abort_kind = f"stopped: {outcome.reason}", outcome.kind
        if self.abort is None and len(self.recent) == self.recent.maxlen and not any(self.recent):
            self.rejected_everyone = len(self.unproven) > 0
            self.abort = (
                f"stopped after {len(self.recent)} failed attempts in a row "
                f"(last: {outcomes[-1].reason}); the rest stays pending for the next run"
            )
        self.progress(sum(o.kind in ("sent", "permanent") for o in outcomes))

    def _count_bounces(self, log: DeliveryLog, now: datetime) -> None:
        """5xx failures count toward the bounce limit once a later success shows the server takes
        mail: a server rejecting everyone must not bounce a whole list."""
        for row in self.unproven:
            if log.record_bounce(row.subscriber_id, self.bounce_limit, now):
                self.stats.bounced += 1
        self.unproven.clear()

    def _give_back(self) -> None:
        """Rows this run claimed but did not finish go back to pending (stop, abort, error)."""
        ids = [job.row.id for job in self.buffer] + [job.row.id for _, _, job in self.retries]
        ids += self.exhausted
        self.buffer.clear()
        self.retries.clear()
        with self.log.transaction() as log:
            self.stats.released += log.release(ids, self.run_id)
            if self.rejected_everyone:
                reopened = log.reopen_failed([row.id for row in self.unproven])
                self.stats.failed -= reopened
                self.stats.failures = self.stats.failures[: max(0, len(self.stats.failures) - reopened)]
                self.unproven.clear()
            self._count_bounces(log, self.clock())
