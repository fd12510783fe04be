import click

from digest.commands.common import engine, now, settings


@click.command()
@click.option(
    "--cadence",
    type=click.Choice(["weekly", "monthly"]),
    default="weekly",
    show_default=True,
    help="Which digest.",
)
@click.option("--period", "key", metavar="KEY", help="2023-W45 or 2023-11; default: the latest with items.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write into (created if missing).",
)
def build(cadence: str, key: str | None, out_dir) -> None:
    """Render one digest to DIR/<cadence>-<period>.html, .txt and .eml, and print the paths.

    The .eml is the complete message a sample subscriber would get, with a sample unsubscribe link.

        digest build --cadence weekly --period 2023-W45 --out build/
    """
    from pathlib import Path

    from digest.periods import parse_period
    from digest.pipeline import build_files

    if key:
        try:
            parse_period(cadence, key, settings().timezone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
    for path in build_files(settings(), engine(), cadence, key, Path(out_dir), now()):
        click.echo(path)
