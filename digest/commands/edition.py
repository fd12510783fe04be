"""`digest edition ...`: the organizer's review of one digest, thin wrappers around digest/review.py."""

from __future__ import annotations

from pathlib import Path

import click

from digest.commands.common import engine, json_option, now, print_json, settings

CADENCE = click.Choice(["weekly", "monthly"], case_sensitive=False)
MAX_INTRO_BYTES = 80_000


def _where(function):
    function = click.option(
        "--period",
        "period_key",
        metavar="KEY",
        help="2023-W45 or 2023-11 (default: the one the next scheduled send sends).",
    )(function)
    return click.option("--cadence", type=CADENCE, default="weekly", show_default=True)(function)


@click.group()
def edition() -> None:
    """Review one digest before it goes: items, order, intro, subject, approve or hold.

    digest edition show --cadence weekly --period 2023-W45
    """


def _period(cadence: str, key: str | None):
    from digest.cron import make_trigger, next_fire
    from digest.periods import last_complete, parse_period

    config = settings()
    if key:
        try:
            return parse_period(cadence, key, config.timezone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
    fire = next_fire(make_trigger(config.cron_for(cadence), config.timezone), now())
    return last_complete(cadence, fire or now(), config.timezone)


def _act(cadence: str, key: str | None, action: str, value: str = "") -> None:
    from digest.compose import act

    view = act(settings(), engine(), _period(cadence, key), action, value, now())
    _summary(view)


def _summary(view) -> None:
    e = view.edition
    left_out = sum(1 for x in view.entries if x.excluded)
    pinned = sum(1 for x in view.entries if x.pinned)
    click.echo(
        f"{e.cadence} {e.period}: {e.state}; {len(view.entries) - left_out} items"
        f" ({pinned} pinned, {left_out} excluded)"
    )


@edition.command()
@_where
@json_option
def show(cadence: str, period_key: str | None, as_json: bool) -> None:
    """Show the edition: state, subject, intro and its items in the order they will be sent.

    digest edition show --cadence weekly --period 2023-W45 --json
    """
    from digest.review import show as load

    view = load(settings(), engine(), _period(cadence, period_key))
    if as_json:
        print_json(view.as_dict())
        return
    e = view.edition
    click.echo(f"{e.cadence} {e.period}: {e.state}")
    click.echo(f"subject: {e.subject or '(default)'}")
    click.echo(f"intro: {len(e.intro)} characters" if e.intro else "intro: (none)")
    for entry in view.entries:
        mark = "pinned  " if entry.pinned else "excluded" if entry.excluded else "        "
        click.echo(f"  {mark} {entry.item.id}  {entry.item.title}")


@edition.command()
@_where
def approve(cadence: str, period_key: str | None) -> None:
    """Approve the edition as it is now: its item list freezes (later items go to the next one),
    and it goes out at its scheduled time. Approving a held edition releases it.

    digest edition approve --cadence weekly --period 2023-W45
    """
    _act(cadence, period_key, "approve")


@edition.command()
@_where
def hold(cadence: str, period_key: str | None) -> None:
    """Hold the edition: neither the scheduler nor `digest send` sends it until it is approved.

    digest edition hold --cadence weekly --period 2023-W45
    """
    _act(cadence, period_key, "hold")


def _item_command(action: str, doc: str):
    @edition.command(name=action, help=doc)
    @click.argument("item_id")
    @_where
    def command(item_id: str, cadence: str, period_key: str | None) -> None:
        _act(cadence, period_key, action, item_id)

    return command


exclude = _item_command(
    "exclude",
    "Leave ITEM_ID out of the edition (ids: `digest edition show`; a unique start of 6+ characters "
    "is enough).\n\n    digest edition exclude 3f2a9c --period 2023-W45",
)
include = _item_command(
    "include", "Put an excluded ITEM_ID back.\n\n    digest edition include 3f2a9c --period 2023-W45"
)
pin = _item_command(
    "pin",
    "Pin ITEM_ID to the top: pinned items come first, in the order they were pinned.\n\n"
    "    digest edition pin 3f2a9c --period 2023-W45",
)
unpin = _item_command(
    "unpin", "Return a pinned ITEM_ID to its place.\n\n    digest edition unpin 3f2a9c --period 2023-W45"
)


@edition.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@_where
def intro(file: Path, cadence: str, period_key: str | None) -> None:
    """Set the intro from a Markdown FILE (`-` reads stdin; an empty file removes the intro).

    Raw HTML in it is shown as text; links may be http(s) or mailto only.

    digest edition intro note.md --cadence weekly --period 2023-W45
    """
    _act(cadence, period_key, "intro", _read_text(file))


@edition.command()
@click.argument("text")
@_where
def subject(text: str, cadence: str, period_key: str | None) -> None:
    """Set the subject line of the edition (an empty TEXT restores the default).

    digest edition subject "Our pick of the week" --period 2023-W45
    """
    _act(cadence, period_key, "subject", text)


def _read_text(file: Path) -> str:
    from digest.errors import DigestError

    try:
        with click.open_file(str(file), "rb") as stream:
            data = stream.read(MAX_INTRO_BYTES + 1)
    except OSError as exc:
        raise DigestError(f"cannot read {file}: {exc.strerror or exc}") from None
    if len(data) > MAX_INTRO_BYTES:
        raise DigestError(f"{file} is larger than {MAX_INTRO_BYTES} bytes; an intro is a few paragraphs")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DigestError(f"{file} is not UTF-8 text") from None
