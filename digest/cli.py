"""The `digest` command: a thin shell. Each verb lives in digest/commands/ and is imported lazily.

Errors meant for users (DigestError) become one line on stderr; anything unexpected becomes one line
too, with DIGEST_DEBUG=1 to see the traceback. No traceback reaches a user by default.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from digest.errors import ConfigError, DigestError

COMMANDS = {
    "ingest": "digest.commands.ingest:ingest",
    "items": "digest.commands.items:items",
    "build": "digest.commands.build:build",
    "preview": "digest.commands.preview:preview",
    "subscribers": "digest.commands.subscribers:subscribers",
    "send": "digest.commands.send:send",
    "serve": "digest.commands.serve:serve",
    "scheduler": "digest.commands.scheduler:scheduler",
    "config": "digest.commands.config:config",
    "periods": "digest.commands.periods:periods",
    "bounces": "digest.commands.bounces:bounces",
    "dkim": "digest.commands.dkim:dkim",
    "edition": "digest.commands.edition:edition",
    "status": "digest.commands.status:status",
    "worker": "digest.commands.worker:worker",
}


class LazyGroup(click.Group):
    """Loads a command's module only when that command runs, so `digest items` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


def fail(message: str, code: int) -> None:
    click.echo(f"digest: error: {message}", err=True)
    sys.exit(code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digest")
def cli() -> None:
    """Weekly and monthly email digests from a stream of content items.

    Configuration comes from the environment and a .env file in the working directory
    (see config.example.env). Example:

        digest ingest seeds/ && digest build --cadence weekly --out build/
    """


def _store_error(exc: Exception) -> str | None:
    """One line for a store failure (disk full, a damaged file): the reason, never the SQL or the
    parameters SQLAlchemy appends, which may hold addresses. sqlalchemy is loaded only if used."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
        return None
    from digest.store import database_reason

    orig = getattr(exc, "orig", None)  # a StatementError carries what failed (a date out of range)
    reason = (
        database_reason(exc) if isinstance(exc, sa_exc.DBAPIError) else str(orig or exc.__class__.__name__)
    )
    reason = reason.split("\n[SQL:")[0].strip().splitlines()[0]
    return f"database error: {reason}"


def main() -> None:
    try:
        cli.main(prog_name="digest", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `digest` or `digest subscribers`
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(0)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "digest"
        fail(f"{exc.format_message()} (see '{where} --help')", exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except click.Abort:
        fail("aborted", 130)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"digest: config error: {problem}", err=True)
        sys.exit(exc.exit_code)
    except DigestError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("DIGEST_DEBUG"):
            raise
        if store_problem := _store_error(exc):
            fail(store_problem, 1)
        fail(f"unexpected {exc.__class__.__name__}: {exc} (set DIGEST_DEBUG=1 for details)", 1)
