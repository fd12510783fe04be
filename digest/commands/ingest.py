import click

from digest.commands.common import engine, now, settings


@click.command()
@click.argument("sources", nargs=-1, required=True)
def ingest(sources: tuple[str, ...]) -> None:
    """Store items from files, folders or http(s) URLs.

    Formats: the plain-text format of seeds/, Markdown with YAML front matter, JSON, CSV, RSS and
    Atom. Ingesting the same item again changes nothing; a changed item is updated. A source that
    cannot be read is reported and nothing of it is stored.

        digest ingest seeds/ posts/ https://example.org/feed.xml
    """
    from digest.errors import DigestError
    from digest.ingest import ingest_all

    results = ingest_all(engine(), sources, settings().timezone, now())
    failed = [r for r in results if r.error]
    for result in results:
        if result.counts:
            c = result.counts
            click.echo(f"{result.source}: {c.new} new, {c.updated} updated, {c.unchanged} unchanged")
    for result in failed[:-1]:
        click.echo(f"digest: error: {result.error}", err=True)
    if failed:
        raise DigestError(str(failed[-1].error))
