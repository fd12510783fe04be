import click

from digest.commands.common import not_built_yet


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def preview(args) -> None:
    """Local preview server for organizers. (Not built yet.)"""
    not_built_yet("`digest preview`: the preview server")
