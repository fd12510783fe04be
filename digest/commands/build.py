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
@click.option("--locale", help="Language to render it in (default DIGEST_LOCALE): en, es, fr, de, pt, ar.")
def build(cadence: str, period, out_dir, locale: str | None) -> None:
    """Render one digest to DIR/<cadence>-<period>.html, .txt and .eml, and print the paths.

    The .eml is the complete message a sample subscriber would get, with a sample unsubscribe link.

        digest build --cadence weekly --period 2023-W45 --out build/
        digest build --cadence weekly --locale ar --out build/ar/
    """
    from dataclasses import replace
    from pathlib import Path

    from digest.compose import build_files
    from digest.locales import normalize_locale

    config = settings()
    if locale:
        try:
            config = replace(config, locale=normalize_locale(locale))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--locale") from None
    for path in build_files(config, engine(), cadence, period, Path(out_dir), now()):
        click.echo(path)
