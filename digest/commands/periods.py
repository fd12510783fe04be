import click

from digest.commands.common import cadence_option, engine, json_option, print_json, settings


@click.command()
@cadence_option(default=None, help="Only this cadence.")
@json_option
def periods(cadence: str | None, as_json: bool) -> None:
    """List the weekly and monthly periods that have items, newest first, with item counts.

    digest periods --cadence weekly
    """
    from digest.periods import CADENCES, group_by_period
    from digest.store.items import published_times

    with engine().connect() as connection:
        times = published_times(connection)
    tz = settings().timezone
    rows = [
        {
            "cadence": c,
            "period": p.key,
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "items": len(group),
        }
        for c in ([cadence] if cadence else CADENCES)
        for p, group in group_by_period(times, c, tz, lambda t: t)
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['cadence']:8} {row['period']:9} {row['items']:5} items")
