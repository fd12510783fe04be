"""`digest send`: parse, compose the digest, hand it to digest.send, print a summary.

Exits 1 while recipients are still owed."""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

import click

from digest.commands.common import cadence_option, engine, now, period_option, settings, stop_on_signals


@click.command()
@cadence_option()
@period_option("2023-W45 or 2023-11 (default: the last complete one).")
@click.option(
    "--unfinished",
    is_flag=True,
    help="Allow a period still in progress (without --period: the current one).",
)
@click.option("--dry-run", is_flag=True, help="List who would get the digest; send nothing.")
@click.option(
    "--to", "to", metavar="EMAIL", help="Send one test copy to EMAIL, outside the list and the log."
)
@click.option("--queue", "queue", is_flag=True, help="PostgreSQL: queue it for `digest worker` and return.")
def send(cadence: str, period, unfinished: bool, dry_run: bool, to: str | None, queue: bool) -> None:
    """Send one digest to that cadence's active subscribers who have not had it yet.

    Default period: the last complete one (what the scheduler sends). A period still in progress
    is sent only with --unfinished. Safe to rerun: only recipients still owed the digest get it.
    Exits 1 while some are still owed (a rerun finishes them). With --queue (PostgreSQL) the digest
    is queued in batches for `digest worker` processes and the command returns at once.

    digest send --cadence weekly --period 2023-W45 --dry-run
    """
    from digest import compose
    from digest import send as sending

    config, when = settings(), now()
    period = _period(cadence, period, unfinished, config.timezone, when)
    if to:
        to = _address(to)
        config.require("from_addr", "secret_key", purpose="digest send --to")
        _, rendered = compose.current_digest(config, engine(), cadence, period, when)
        mid = sending.send_test_copy(config, rendered, when, to)
        click.echo(f"sent a test copy of {cadence} {period.key} to {to} ({mid})")
        return
    if dry_run:
        stored, rendered = compose.current_digest(config, engine(), cadence, period, when)
        carried = 0 if stored is not None else compose.period_contents(config, engine(), period).carried
        _dry_run(sending.dry_run(engine(), stored, rendered, carried), cadence, period.key)
        return
    config.require("from_addr", "secret_key", purpose="digest send")
    if queue:
        from digest.send.queue import queue_digest, require_postgresql

        require_postgresql(engine(), "digest send --queue")
        digest = compose.stored_digest(config, engine(), cadence, period, when)
        click.echo(f"{cadence} {period.key}: {queue_digest(engine(), digest)}")
        return
    digest = compose.stored_digest(config, engine(), cadence, period, when)
    languages = compose.renderings(config, engine(), digest, period, when)
    stop = threading.Event()
    with stop_on_signals(stop), _progress() as progress:
        try:
            report = sending.send_period(
                config, engine(), digest, when, stop_event=stop, progress=progress, renderings=languages
            )
        except sending.SendAborted as exc:
            if exc.report and exc.exit_code != 2:  # a setting to fix: no "rerun to finish"
                _summary(exc.report)
            raise
    _summary(report)
    if not report.complete:
        sys.exit(1)


def _period(cadence: str, period, unfinished: bool, tz, when):
    """--period, else the last complete period (the current one with --unfinished); a period that
    has not ended is refused without --unfinished, so a mid-week send is never an accident."""
    from digest.periods import last_complete, period_of

    if period is None:
        return period_of(when, cadence, tz) if unfinished else last_complete(cadence, when, tz)
    if period.end > when and not unfinished:
        ends = period.end.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise click.BadParameter(
            f"{cadence} {period.key} is still in progress (until {ends} {tz.key}); "
            "add --unfinished to send it anyway",
            param_hint="--period",
        )
    return period


def _address(raw: str) -> str:
    """A bad --to is a usage error (exit 2), found before anything is rendered or sent."""
    from digest.subscribers import normalize_email

    try:
        return normalize_email(raw)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None


def _dry_run(plan, cadence: str, key: str) -> None:
    count = 0
    for row in plan.recipients:
        count += 1
        click.echo(f"{row.email}\t{row.name or ''}")
    state = "" if plan.stored else " (not stored yet: rendered for this dry run)"
    late = f", {plan.carried} published before {key} that no digest held yet" if plan.carried else ""
    click.echo(
        f"dry run: {cadence} {key} \u201c{plan.subject}\u201d{state} holds {plan.items} items{late}; "
        f"it would go to {count} recipients",
        err=True,
    )


def _summary(report) -> None:
    status = "complete" if report.complete else f"{report.pending} still owed (rerun to finish)"
    processes = f" in {report.processes} processes" if report.processes > 1 else ""
    click.echo(
        f"{report.cadence} {report.period}: sent {report.sent}, failed {report.failed}, "
        f"skipped {report.skipped}, already sent {report.already_sent}, retried {report.retried}"
        f"{f', ambiguous {report.ambiguous} (no reply after the end of data)' if report.ambiguous else ''}; "
        f"{report.elapsed:.1f}s, {report.rate:.0f} msg/s via {report.transport}{processes}; {status}"
    )
    for email, reason in report.failures[:20]:
        click.echo(f"  failed: {email}: {reason}", err=True)


@contextmanager
def _progress():
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress

    columns = (*Progress.get_default_columns()[:2], MofNCompleteColumn(), *Progress.get_default_columns()[2:])
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sending", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
