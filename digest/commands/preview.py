import click

from digest.commands.common import settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one)."
)
def preview(host: str, port: int) -> None:
    """Local preview server for organizers: every digest, desktop and phone, dark, text and source.

    Shows each weekly and monthly period that has items, the checks a digest should pass, and sends
    test copies. The open page reloads by itself when items, templates or .env change.

        digest preview --port 8000   # then open http://127.0.0.1:8000/
    """
    from digest.web.preview import run

    settings()  # a broken configuration stops here, with every problem listed
    try:
        run(host, port)
    except KeyboardInterrupt:  # Ctrl-C is how a preview ends: not an error
        click.echo("Preview stopped.")
