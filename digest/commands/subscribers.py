"""`digest subscribers ...`: thin wrappers around digest/subscribers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.commands.common import cadence_option, engine, json_option, now, print_json


@click.group()
def subscribers() -> None:
    """Manage subscribers: add, import, list, remove, export.

    digest subscribers add ann@example.org --name "Ann" --cadence monthly
    """


@subscribers.command()
@click.argument("email")
@click.option("--name", help="Display name used in the To header.")
@cadence_option()
def add(email: str, name: str | None, cadence: str) -> None:
    """Add a subscriber, or re-activate one who had unsubscribed or bounced.

    digest subscribers add ann@example.org --name "Ann Smith" --cadence weekly
    """
    from digest.subscribers import add_subscriber

    row, action = add_subscriber(engine(), email, name, cadence, now())
    click.echo(f"{action}: {row.email} ({row.cadence}, {row.status})")


@subscribers.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_(file: Path) -> None:
    """Import subscribers from a CSV file with a header row: email,name,cadence.

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
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced", "complained"]))
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
    """One subscriber: status, cadence, and every bounce or complaint report about them.

    digest subscribers show ann@example.org --json
    """
    from digest.subscribers import show_subscriber

    data = show_subscriber(engine(), email)
    if as_json:
        print_json(data)
        return
    for key in ("email", "name", "status", "cadence", "bounce_count", "source", "created_at"):
        click.echo(f"{key + ':':<14}{'' if data[key] is None else data[key]}")
    click.echo(f"bounces:      {len(data['bounces'])} reports")
    for report in data["bounces"]:
        click.echo(f"  {report['received_at']:%Y-%m-%d %H:%M} {report['kind']:<10} {report['detail']}")


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
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced", "complained"]))
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
