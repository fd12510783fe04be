import click

from digest.commands.common import not_built_yet


@click.group()
def subscribers() -> None:
    """Manage subscribers: add, import, list, remove. (Not built yet.)"""


@subscribers.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def add(args) -> None:
    """Add or re-activate a subscriber. (Not built yet.)"""
    not_built_yet("`digest subscribers add`")


@subscribers.command(name="import", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def import_(args) -> None:
    """Import subscribers from a CSV file. (Not built yet.)"""
    not_built_yet("`digest subscribers import`")


@subscribers.command(name="list", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def list_(args) -> None:
    """List subscribers. (Not built yet.)"""
    not_built_yet("`digest subscribers list`")


@subscribers.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def remove(args) -> None:
    """Unsubscribe an address. (Not built yet.)"""
    not_built_yet("`digest subscribers remove`")
