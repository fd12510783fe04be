import click

from digest.commands.common import engine, settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
def serve(host: str, port: int) -> None:
    """The public web endpoints: unsubscribe links (GET page, RFC 8058 one-click POST), preferences
    and the archive of sent digests. Runs until Ctrl-C or SIGTERM. Needs DIGEST_SECRET_KEY.

    Put it behind a TLS reverse proxy that forwards DIGEST_BASE_URL here. Example:

        DIGEST_SECRET_KEY=... digest serve --port 8080
    """
    from digest.web.public import serve as run

    current = settings()
    current.require("secret_key", purpose="serve")
    run(current, engine(), host, port, announce=lambda line: click.echo(line, err=True))
