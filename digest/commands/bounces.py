"""`digest bounces process|fetch|listen`: thin wrappers around digest/bounces/."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from digest.commands.common import engine, json_option, now, print_json, settings


@click.group()
def bounces() -> None:
    """Read bounce reports (DSNs) and complaint reports (ARF) and apply them to subscribers.

    digest bounces process /var/mail/bounces/ --json
    """


def _policy():
    from digest.bounces.apply import Policy

    current = settings()  # VERP tags exist only when DIGEST_BOUNCE_ADDRESS is set
    return Policy(current.bounce_limit, current.soft_bounce_limit, current.bounce_address, current.secret_key)


def _print(summary, as_json: bool) -> None:
    if as_json:
        print_json(summary.as_dict())
        return
    data = summary.as_dict()
    click.echo(
        f"{data['reports']} reports: {data['permanent']} permanent, {data['temporary']} temporary, "
        f"{data['content']} refused for content, {data['complaint']} complaints, "
        f"{data['unparsed']} unreadable (kept), {data['unmatched']} unmatched, "
        f"{data['duplicate']} already seen"
    )
    for email in summary.bounced:
        click.echo(f"bounced: {email}")
    for email in summary.complained:
        click.echo(f"complained: {email}")


@bounces.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def process(paths: tuple[Path, ...], as_json: bool) -> None:
    """Apply the reports in files, Maildir folders or mbox files.

    A permanent failure marks the subscriber bounced (DIGEST_BOUNCE_LIMIT), temporary ones do after
    DIGEST_SOFT_BOUNCE_LIMIT deliveries in a row, a complaint marks them complained. Every report is
    kept (see `digest subscribers show`); the same report twice changes nothing.

    digest bounces process ~/Maildir/.bounces/ bounces.mbox --json
    """
    from digest.bounces.apply import Summary
    from digest.bounces.apply import process as apply_report
    from digest.bounces.sources import read_path
    from digest.errors import DigestError

    policy, summary, failed = _policy(), Summary(), False
    for path in paths:
        try:
            for label, raw in read_path(path):
                apply_report(engine(), raw, label, policy, now(), summary)
        except DigestError as exc:
            click.echo(f"digest: error: {exc}", err=True)
            failed = True
    _print(summary, as_json)
    if failed:
        sys.exit(1)


@bounces.command()
@json_option
def fetch(as_json: bool) -> None:
    """Apply the unseen reports in the IMAP folder of DIGEST_BOUNCE_IMAP_URL, then flag them seen.

    digest bounces fetch
    """
    from digest.bounces.apply import Summary
    from digest.bounces.apply import process as apply_report
    from digest.bounces.imap import fetch_reports, parse_imap_url
    from digest.errors import ConfigError

    current = settings()
    current.require("bounce_imap_url", purpose="bounces fetch")
    try:
        target = parse_imap_url(current.bounce_imap_url)
    except ValueError as exc:
        raise ConfigError([f"DIGEST_BOUNCE_IMAP_URL: {exc}"]) from None
    policy, summary = _policy(), Summary()

    def handle(label: str, raw: bytes) -> None:
        apply_report(engine(), raw, label, policy, now(), summary)

    fetch_reports(target, handle, current.smtp_timeout)
    _print(summary, as_json)


@bounces.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
def listen(host: str, port: int) -> None:
    """Receive reports over SMTP and apply each as it arrives, until SIGTERM or Ctrl-C.

    digest bounces listen --host 0.0.0.0 --port 25
    """
    from digest.bounces.listen import start_listener
    from digest.errors import DigestError

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def report(summary) -> None:
        for email in summary.bounced:
            click.echo(f"bounced: {email}")
        for email in summary.complained:
            click.echo(f"complained: {email}")

    try:
        controller = start_listener(engine(), _policy(), host, port, report)
    except (OSError, RuntimeError) as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"listening for bounce reports on {host}:{port}", err=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        controller.stop()
    click.echo("stopped", err=True)
