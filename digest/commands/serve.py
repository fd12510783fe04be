import click

from digest.commands.common import not_built_yet


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args) -> None:
    """The public web endpoints: unsubscribe and the archive. (Not built yet.)"""
    not_built_yet("`digest serve`: the public web app")
