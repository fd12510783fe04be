import click

from digest.commands.common import not_built_yet


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def send(args) -> None:
    """Send one digest to that cadence's active subscribers. (Not built yet.)"""
    not_built_yet("`digest send`: sending")
