import click

from digest.commands.common import not_built_yet


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def build(args) -> None:
    """Render one digest to DIR/<cadence>-<period>.html, .txt and .eml. (Not built yet.)"""
    not_built_yet("`digest build`: rendering (issue: digest rendering)")
