"""`digest subscribers ...`: thin wrappers around digest/subscribers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.commands.common import cadence_option, engine, json_option, now, print_json

STATUSES = ["pending", "active", "unsubscribed", "bounced", "complained"]


@click.group()
def subscribers() -> None:
    """Manage subscribers: add, import, list, show, remove, export.

    digest subscribers add ann@example.org --name "Ann" --cadence monthly
    """


@subscribers.command()
@click.argument("email")
@click.option("--name", help="Display name used in the To header.")
@cadence_option(default=None, help="weekly or monthly (new subscribers: weekly; others keep theirs).")
@click.option("--locale", help="Language of their digests and pages: en, es, fr, de, pt, ar.")
@click.option("--timezone", help="IANA time zone, e.g. America/Chicago (local-time delivery).")
def add(email: str, name: str | None, cadence: str | None, locale: str | None, timezone: str | None) -> None:
    """Add a subscriber, or re-activate one who had unsubscribed or bounced.

    An existing subscriber's cadence changes only when --cadence is given.

    digest subscribers add ana@example.org --name "Ana Ruiz" --locale es --timezone Europe/Madrid
    """
    from digest.subscribers import add_subscriber

    row, action = add_subscriber(engine(), email, name, cadence, now(), locale=locale, timezone=timezone)
    place = ", ".join(v for v in (row.locale, row.timezone) if v)
    click.echo(f"{action}: {row.email} ({row.cadence}, {row.status}{', ' + place if place else ''})")


@subscribers.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_(file: Path) -> None:
    """Import subscribers from a CSV file with a header row: email,name,cadence[,locale,timezone].

    Bad rows are reported with their line number and skipped (the good rows are kept, and the exit
    status is 1 so scripts notice); addresses that unsubscribed (or bounced) stay that way.

    digest subscribers import people.csv
    """
    from digest.subscribers import import_csv

    report = import_csv(engine(), file, now())
    for line, reason in report.errors:
        click.echo(f"{file}:{line}: skipped: {reason}", err=True)
    click.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"kept unsubscribed {report.kept_unsubscribed}, skipped {len(report.errors)}"
    )
    if report.errors:
        sys.exit(1)


@subscribers.command(name="list")
@cadence_option(default=None)
@click.option("--status", type=click.Choice(STATUSES))
@json_option
def list_(cadence: str | None, status: str | None, as_json: bool) -> None:
    """List subscribers (all, or one cadence / status).

    digest subscribers list --cadence weekly --json
    """
    from digest.subscribers import as_dict, list_subscribers

    rows = list_subscribers(engine(), cadence, status)
    if as_json:
        print_json([as_dict(row) for row in rows])
        return
    count = 0
    for row in rows:
        if not count:
            click.echo(f"{'EMAIL':<40} {'CADENCE':<8} {'STATUS':<13} NAME")
        count += 1
        click.echo(f"{row.email:<40} {row.cadence:<8} {row.status:<13} {row.name or ''}")
    click.echo(f"{count} subscribers", err=True)


@subscribers.command()
@click.argument("email")
@json_option
def show(email: str, as_json: bool) -> None:
    """Show one subscriber: status, cadence, consent record (when, IP, user agent, source,
    confirmed when) and history. The consent record stays after the subscriber leaves.

    digest subscribers show ann@example.org --json
    """
    from digest.subscribers import subscriber_record

    record = subscriber_record(engine(), email)
    if as_json:
        print_json(record)
        return
    _print_record(record)


def _print_record(record: dict) -> None:
    def when(value) -> str:
        return value.isoformat(timespec="seconds") if value else "-"

    consent = record["consent"]
    lines = [
        ("email", record["email"]),
        ("name", record["name"] or "-"),
        (
            "status",
            record["status"] + (" (confirmation link pending)" if record["confirmation_pending"] else ""),
        ),
        ("cadence", record["cadence"]),
        ("source", consent["source"] or "-"),
        ("signed up", f"{when(consent['signed_up_at'])} from {consent['ip'] or '-'}"),
        ("  browser", consent["user_agent"] or "-"),
        ("confirmed", f"{when(consent['confirmed_at'])} from {consent['confirmed_ip'] or '-'}"),
        ("  browser", consent["confirmed_user_agent"] or "-"),
    ]
    for label, value in lines:
        click.echo(f"{label:<11} {value}")
    for event in record["events"]:
        click.echo(f"{'event':<11} {when(event['at'])} {event['event']} ({event['source'] or '-'})")
    for report in record["bounces"]:
        click.echo(
            f"{'report':<11} {when(report['received_at'])} {report['kind']}: {report['detail'] or '-'}"
        )


@subscribers.command()
@click.argument("email")
def remove(email: str) -> None:
    """Unsubscribe an address: no more mail, and a later import does not bring it back.

    digest subscribers remove ann@example.org
    """
    from digest.subscribers import remove_subscriber

    row = remove_subscriber(engine(), email, now())
    click.echo(f"unsubscribed: {row.email}")


@subscribers.command()
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout)."
)
@cadence_option(default=None)
@click.option("--status", type=click.Choice(STATUSES))
def export(out: Path | None, cadence: str | None, status: str | None) -> None:
    """Export subscribers as CSV (email,name,cadence,status,created_at); re-importable.

    digest subscribers export --out subscribers.csv
    """
    from digest.subscribers import export_csv

    if out is None:
        export_csv(engine(), sys.stdout, cadence, status)
        return
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        count = export_csv(engine(), handle, cadence, status)
    tmp.replace(out)
    click.echo(f"exported {count} subscribers to {out}", err=True)
