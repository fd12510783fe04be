"""`digest worker`: parse, call digest.send.worker, log to stderr."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from digest.commands.common import engine, settings


@click.command()
def worker() -> None:
    """Send queued digests (PostgreSQL): take batches queued by `digest send --queue` or the
    scheduler, until SIGTERM or Ctrl-C. Run any number, on any hosts; a batch whose worker dies
    is taken over by another within DIGEST_FAILOVER_SECONDS. Logs go to stderr.

    digest worker
    """
    from digest.send.worker import run_worker

    config = settings()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("digest")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    run_worker(config, engine(), stop)
