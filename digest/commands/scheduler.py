import click

from digest.commands.common import not_built_yet


@click.group()
def scheduler() -> None:
    """Send digests automatically on their cron schedule. (Not built yet.)"""


@scheduler.command()
def run() -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C. (Not built yet.)"""
    not_built_yet("`digest scheduler run`")


@scheduler.command(name="list")
def list_() -> None:
    """Show each scheduled job and its next run time. (Not built yet.)"""
    not_built_yet("`digest scheduler list`")
