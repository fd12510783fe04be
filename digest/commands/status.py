"""`digest status`: every digest with its state and delivery counts, from the store."""

from __future__ import annotations

import click

from digest.commands.common import engine, json_option, print_json


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Show every digest, newest first: state (queued, sending, incomplete, sent) and how many
    recipients are pending, sent, failed and bounced. Works from any host sharing the database.

    digest status --json
    """
    from digest.send.progress import digest_progress

    rows = digest_progress(engine())
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    if not rows:
        click.echo("no digest has been sent or queued yet")
    for row in rows:
        click.echo(
            f"{row.cadence:8} {row.period:9} {row.state:10} pending {row.pending}, sent {row.sent}, "
            f"failed {row.failed}, bounced {row.bounced}"
        )
