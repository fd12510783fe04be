"""A subscriber's own language and time zone: set by add and import, validated, listed, migrated."""

from __future__ import annotations

import json

from sqlalchemy import inspect, text

from digest.store import current_version, open_engine
from digest.store.schema import MIGRATIONS, _subscriber_locale_and_timezone


def listed(digest) -> dict[str, dict]:
    result = digest("subscribers", "list", "--json")
    assert result.code == 0, result.err
    return {row["email"]: row for row in json.loads(result.out)}


def test_add_sets_locale_and_timezone_and_list_shows_them(digest):
    result = digest(
        "subscribers", "add", "ana@example.org", "--locale", "es-MX", "--timezone", "America/Chicago"
    )
    assert result.code == 0, result.err
    digest("subscribers", "add", "bob@example.org")
    rows = listed(digest)
    assert rows["ana@example.org"]["locale"] == "es"
    assert rows["ana@example.org"]["timezone"] == "America/Chicago"
    assert rows["bob@example.org"]["locale"] is None and rows["bob@example.org"]["timezone"] is None


def test_add_again_without_them_keeps_locale_and_timezone(digest):
    digest("subscribers", "add", "ana@example.org", "--locale", "ar", "--timezone", "Asia/Tokyo")
    assert digest("subscribers", "add", "ana@example.org", "--name", "Ana").code == 0
    row = listed(digest)["ana@example.org"]
    assert (row["locale"], row["timezone"]) == ("ar", "Asia/Tokyo")


def test_unknown_locale_or_zone_is_refused_in_one_line_and_stores_nothing(digest):
    for option, value in (("--locale", "xx"), ("--timezone", "Mars/Olympus_Mons"), ("--timezone", "../etc")):
        result = digest("subscribers", "add", "ana@example.org", option, value)
        assert result.code != 0
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
        assert value in result.err
    assert listed(digest) == {}


def test_import_reads_locale_and_timezone_columns_and_skips_bad_rows(digest, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name,cadence,locale,timezone\n"
        "ana@example.org,Ana,weekly,es,Europe/Madrid\n"
        "amal@example.org,Amal,weekly,ar,Asia/Riyadh\n"
        "bad@example.org,Bad,weekly,tlh,Europe/Berlin\n"
        "zone@example.org,Zone,weekly,de,Europe/Atlantis\n"
        "plain@example.org,Plain,monthly,,\n"
    )
    result = digest("subscribers", "import", str(people))
    assert result.code == 1
    assert ":4: skipped: unknown locale 'tlh'" in result.err
    assert ":5: skipped: unknown IANA time zone 'Europe/Atlantis'" in result.err
    rows = listed(digest)
    assert set(rows) == {"ana@example.org", "amal@example.org", "plain@example.org"}
    assert (rows["amal@example.org"]["locale"], rows["amal@example.org"]["timezone"]) == ("ar", "Asia/Riyadh")
    assert rows["plain@example.org"]["locale"] is None


def test_export_round_trips_locale_and_timezone(digest, tmp_path):
    digest("subscribers", "add", "ana@example.org", "--locale", "pt", "--timezone", "America/Sao_Paulo")
    out = tmp_path / "out.csv"
    assert digest("subscribers", "export", "--out", str(out)).code == 0
    header, row = out.read_text().splitlines()
    assert header.endswith(",locale,timezone") and row.endswith(",pt,America/Sao_Paulo")


def test_bad_digest_locale_stops_every_command_in_one_line(digest):
    result = digest("subscribers", "list", extra_env={"DIGEST_LOCALE": "elvish"})
    assert result.code == 2
    assert "DIGEST_LOCALE" in result.err and "Traceback" not in result.err


def test_a_store_from_before_locales_gets_the_columns_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = open_engine(url)
    with engine.begin() as connection:  # make it the store of the previous version, with a subscriber
        connection.execute(text("ALTER TABLE subscribers DROP COLUMN locale"))
        connection.execute(text("ALTER TABLE subscribers DROP COLUMN timezone"))
        before = MIGRATIONS.index(_subscriber_locale_and_timezone)  # the version that predates it
        connection.execute(text("DELETE FROM schema_version WHERE version > :v"), {"v": before})
        connection.execute(
            text(
                "INSERT INTO subscribers (email, email_key, cadence, status, bounce_count, created_at,"
                " updated_at) VALUES ('old@example.org', 'old@example.org', 'weekly', 'active', 0,"
                " '2023-01-01 00:00:00', '2023-01-01 00:00:00')"
            )
        )
    engine.dispose()
    engine = open_engine(url)
    assert current_version(engine) == len(MIGRATIONS)
    columns = {c["name"] for c in inspect(engine).get_columns("subscribers")}
    assert {"locale", "timezone"} <= columns
    with engine.connect() as connection:
        assert connection.execute(text("SELECT email, locale FROM subscribers")).all() == [
            ("old@example.org", None)
        ]
