"""`python -m bench.whatif_send [SUBSCRIBERS]`: `digest send` with the suggested send-loop changes
patched in (inside the digest process only; no file of digest/ changes), each variant bracketed by
two runs of the smtplib reference, to size the fixes proposed in bench/README.md.

Variants (environment of the patched process):
- BATCH=1: one prebuilt UPDATE per group commit, executed with a list of parameters (executemany),
  instead of an UPDATE statement built per message (`mark_sent`);
- PIPE=1: workers loop on a job queue and hand outcomes back on another; the main thread keeps up to
  PIPE_CAP (128) messages moving and commits outcomes every PIPE_WINDOW (50 ms). Happy path only: a
  prototype to measure, not a replacement for the runner (its retry and abort paths are the
  runner's own, untested here).
"""

from __future__ import annotations

import os
import sys


def _patch_batch() -> None:
    from sqlalchemy import bindparam, update

    from digest.delivery import runner
    from digest.store.schema import deliveries

    statement = (
        update(deliveries)
        .where(deliveries.c.id == bindparam("rid"))
        .values(
            state="sent",
            sent_at=bindparam("now"),
            message_id=bindparam("mid"),
            attempts=deliveries.c.attempts + 1,
            last_error=None,
            claimed_by=None,
        )
    )
    original = runner.Runner._record

    def record(self, outcomes):
        sent = [o for o in outcomes if o.kind == "sent"]
        if sent:
            now = runner._now()
            with self._transaction() as connection:
                rows = [{"rid": o.job.row.id, "mid": o.job.message_id, "now": now} for o in sent]
                connection.execute(statement, rows)
            self._account(sent)
        rest = [o for o in outcomes if o.kind != "sent"]
        if rest:
            original(self, rest)

    runner.Runner._record = record


def _patch_pipe() -> None:
    import queue
    import threading
    import time

    from digest.delivery import runner

    window = float(os.environ.get("PIPE_WINDOW", "0.05"))
    cap = int(os.environ.get("PIPE_CAP", "128"))

    def run(self):
        self._recover()
        jobs, outcomes = queue.Queue(), queue.Queue()

        def worker():
            while (job := jobs.get()) is not None:
                outcomes.put(self._deliver(job))

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.concurrency)]
        for thread in threads:
            thread.start()
        moving, pending, last = 0, [], time.monotonic()
        try:
            while True:
                while moving < cap and not self._stopping() and (job := self._next_job()) is not None:
                    jobs.put(job)
                    moving += 1
                if moving == 0:
                    if self._stopping() or not self._idle():
                        break
                    continue
                try:
                    pending.append(outcomes.get(timeout=window))
                    while True:
                        pending.append(outcomes.get_nowait())
                except queue.Empty:
                    pass
                now = time.monotonic()
                if pending and (now - last >= window or len(pending) >= cap // 2 or moving == len(pending)):
                    moving -= len(pending)
                    self._record(pending)
                    pending, last = [], now
        finally:
            for _ in threads:
                jobs.put(None)
            for thread in threads:
                thread.join()
            self._close_connections()
            self._give_back()
            if self.db is not None:
                self.db.close()
        if self.abort:
            raise runner.SendAborted(self.abort)
        return self.stats

    runner.Runner.run = run


def launch(args: list[str]) -> None:
    """Inside the digest process: patch, then run the real CLI."""
    if os.environ.get("BATCH"):
        _patch_batch()
    if os.environ.get("PIPE"):
        _patch_pipe()
    from digest.cli import main

    sys.argv = ["digest", *args]
    main()


def compare(subscribers: int, variants: list[str]) -> None:
    import subprocess
    import tempfile
    from pathlib import Path

    from bench.data import BUSY_WEEK_KEY
    from bench.send_bench import prepare_store, reference_send, sample_message
    from bench.sink import SmtpSink

    for variant in variants:
        workdir = Path(tempfile.mkdtemp(prefix="digest-whatif-send-"))
        _, env = prepare_store(workdir, subscribers)
        message, _ = sample_message(env)
        env.update(kv.split("=", 1) for kv in variant.split(",") if "=" in kv)
        before = reference_send(message, subscribers)[1]
        with SmtpSink() as sink:
            env.update(
                DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(sink.port), DIGEST_SMTP_SECURITY="none"
            )
            command = [sys.executable, __file__, "--launch", "send", "--period", BUSY_WEEK_KEY]
            done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=600)
            sink.wait_for(subscribers, timeout=5)
            ours = sink.rate(sink.count) or 0.0
        after = reference_send(message, subscribers)[1]
        reference = (before + after) / 2
        print(
            f"{variant:28s} exit {done.returncode}  {sink.count} delivered  {ours:6.0f} msg/s"
            f"  reference {before:.0f}/{after:.0f}  ratio {ours / reference:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--launch"]:
        launch(sys.argv[2:])
    else:
        count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
        compare(count, sys.argv[2:] or ["base", "BATCH=1", "PIPE=1", "PIPE=1,BATCH=1"])
