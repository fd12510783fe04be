import click

from digest.commands.common import cadence_option, engine, now, period_option, settings


@click.command()
@cadence_option(help="Which digest.")
@period_option("2023-W45 or 2023-11; default: the latest with items.", usage_error=False)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write into (created if missing).",
)
def build(cadence: str, period, out_dir) -> None:
    """Render one digest to DIR/<cadence>-<period>.html, .txt and .eml, and print the paths.

    The .eml is the complete message a sample subscriber would get, with a sample unsubscribe link.

        digest build --cadence weekly --period 2023-W45 --out build/
    """
    from pathlib import Path

    from digest.compose import build_files

    for path in build_files(settings(), engine(), cadence, period, Path(out_dir), now()):
        click.echo(path)
