import click

from digest.commands.common import engine, now, settings


@click.command()
@click.argument("sources", nargs=-1, required=True)
def ingest(sources: tuple[str, ...]) -> None:
    """Store items from files, folders or http(s) URLs.

    Formats: the plain-text format of seeds/, Markdown (YAML front matter or a first `# heading`),
    JSON and JSON Feed, CSV, RSS, RDF and Atom. Ingesting the same item again changes nothing; a
    changed item is updated. A folder is read file by file. A file or URL that cannot be read is
    reported in one line and nothing of it is stored; one that was read with something forgiven
    (ill-formed XML, a guessed encoding, an item dated outside 1970-2200) gets a warning line.

        digest ingest seeds/ posts/ https://example.org/feed.xml
    """
    from digest.errors import DigestError
    from digest.ingest import ingest_all
    from digest.sources.fetch import FetchPolicy

    config = settings()
    policy = FetchPolicy(addresses=config.fetch_addresses, deadline=config.fetch_timeout)
    results = ingest_all(engine(), sources, config.timezone, now(), policy)
    for result in results:
        if result.counts:
            c = result.counts
            refused = f" ({len(result.errors)} refused)" if result.errors else ""
            click.echo(f"{result.source}: {c.new} new, {c.updated} updated, {c.unchanged} unchanged{refused}")
        for warning in result.warnings:
            click.echo(f"digest: warning: {warning}", err=True)
    errors = [error for result in results for error in result.errors]
    for error in errors[:-1]:
        click.echo(f"digest: error: {error}", err=True)
    if errors:
        raise DigestError(str(errors[-1]))
