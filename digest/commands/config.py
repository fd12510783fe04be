import click


@click.group()
def config() -> None:
    """Check the configuration or print an example .env."""


@config.command()
def check() -> None:
    """Validate every key and report all problems at once.

    digest config check
    """
    from digest.commands.common import settings

    current = settings()
    click.echo(f"configuration is valid (database {current.database_url}, zone {current.timezone.key})")


@config.command()
def example() -> None:
    """Print config.example.env: every key with its default and a comment."""
    from digest.config import example_env

    click.echo(example_env(), nl=False)


@config.command()
def secret() -> None:
    """Print a new random secret key for DIGEST_SECRET_KEY (64 characters).

    To rotate: move the current key to DIGEST_OLD_SECRET_KEYS, so links in mail already sent keep
    working, and set the new one as DIGEST_SECRET_KEY.

    digest config secret
    """
    import secrets

    click.echo(secrets.token_urlsafe(48))
