import click

from digest.commands.common import DateParam, engine, json_option, print_json, settings


@click.command()
@click.option("--since", type=DateParam(), help="Published at or after (inclusive).")
@click.option("--until", type=DateParam(), help="Published before (exclusive).")
@json_option
def items(since, until, as_json: bool) -> None:
    """List stored items, newest first.

    digest items --since 2023-11-01 --until 2023-12-01 --json
    """
    from digest.store.items import items_between

    with engine().connect() as connection:
        found = list(items_between(connection, since, until))
    if as_json:
        print_json([_as_dict(item) for item in found])
        return
    tz = settings().timezone
    for item in found:
        when = item.published.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        category = f"  [{item.category}]" if item.category else ""
        click.echo(f"{when}  {item.id[:8]}  {item.title}{category}")
    click.echo(f"{len(found)} items", err=True)


def _as_dict(item) -> dict:
    return {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "summary_html": item.summary_html,
        "url": item.url,
        "published": item.published.isoformat(),
        "category": item.category,
        "author": item.author,
        "image": item.image,
        "source": item.source,
    }
