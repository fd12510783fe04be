"""`digest scheduler run` and `digest scheduler list`: parse, call digest.schedule, print."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import UTC

import click

from digest.commands.common import engine, json_option, now, print_json, settings, stop_on_signals


@click.group()
def scheduler() -> None:
    """Send digests automatically on their cron schedule (DIGEST_WEEKLY_CRON, DIGEST_MONTHLY_CRON).

    digest scheduler run      # foreground; stop with SIGTERM or Ctrl-C
    """


@scheduler.command()
@click.option("--second", default="0", hidden=True, help="Testing only: the cron seconds field (e.g. 30).")
@click.option("--review-every", default=60.0, hidden=True, help="Testing only: seconds between review ticks.")
def run(second: str, review_every: float) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C.

    At start it finishes deliveries a crash or stop left unfinished, then sends a run it missed
    while down if no older than DIGEST_CATCHUP_HOURS (several missed runs go out once); a first
    start never sends for the past. Only one scheduler runs per database. Logs go to stderr.

    digest scheduler run
    """
    from digest.cron import make_trigger
    from digest.errors import DigestError
    from digest.schedule.service import run_scheduler

    config = settings()
    config.require("from_addr", "secret_key", purpose="digest scheduler run")
    try:
        make_trigger(config.weekly_cron, config.timezone, second)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--second") from None
    _log_to_stderr()
    stop = threading.Event()
    with stop_on_signals(stop, _log_signal):
        try:
            run_scheduler(config, engine(), stop, second=second, review_every=review_every)
        except DigestError as exc:
            if stop.is_set():  # threads may still be sending: do not wait for them at exit
                click.echo(f"digest: error: {exc}", err=True)
                sys.stderr.flush()
                os._exit(exc.exit_code)
            raise


@scheduler.command(name="list")
@json_option
def list_(as_json: bool) -> None:
    """Show each scheduled job: cron, zone, next run (local and UTC) and last outcome.

    digest scheduler list --json
    """
    from digest.schedule.listing import list_jobs

    when = now()
    listing = list_jobs(settings(), engine(), when)
    if as_json:
        holder = listing.running
        print_json(
            {
                "running": None if holder is None else {"owner": holder.owner, "since": holder.started_at},
                "jobs": [job.as_dict() for job in listing.jobs],
            }
        )
        return
    holder = listing.running
    state = f"running ({holder.describe(when)})" if holder else "not running"
    click.echo(f"scheduler: {state}")
    for job in listing.jobs:
        _print_job(job)


def _print_job(job) -> None:
    click.echo(f"{job.cadence}")
    click.echo(f"  cron:  {job.cron}  ({job.timezone})")
    if job.next_run:
        utc = job.next_run.astimezone(UTC)
        click.echo(f"  next:  {job.next_run:%Y-%m-%d %H:%M:%S %Z}  ({utc:%Y-%m-%d %H:%M:%S} UTC)")
    else:
        click.echo("  next:  never")
    if job.last_outcome:
        took = f" in {job.last_duration:.1f} s" if job.last_duration is not None else ""
        at = f"{job.last_run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        click.echo(f"  last:  {job.last_outcome} at {at}{took}: {job.last_detail}")
    else:
        click.echo("  last:  no run yet")


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("digest")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    aps = logging.getLogger("apscheduler")
    aps.addHandler(handler)
    aps.setLevel(logging.WARNING)


def _log_signal(signum: int) -> None:
    logging.getLogger("digest.scheduler").info("%s received", signal.Signals(signum).name)
