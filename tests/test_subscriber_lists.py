"""Subscriber lists as organizers handle them: re-adding, duplicate rows, exports opened in a
spreadsheet, and a subscriber list given to `ingest` by mistake."""

from __future__ import annotations

import csv
import io
import json

from digest.store import open_engine
from digest.subscribers import add_subscriber, export_csv, import_csv, list_subscribers
from tests.delivery_support import NOW


def test_add_of_an_existing_subscriber_keeps_the_cadence_unless_given(digest):
    assert digest("subscribers", "add", "ana@example.org", "--cadence", "monthly").code == 0
    result = digest("subscribers", "add", "ana@example.org", "--name", "Ana Lima")
    assert result.code == 0, result.err
    assert "monthly" in result.out
    listed = json.loads(digest("subscribers", "list", "--json").out)
    assert [(s["email"], s["cadence"], s["name"]) for s in listed] == [
        ("ana@example.org", "monthly", "Ana Lima")
    ]
    assert digest("subscribers", "add", "ana@example.org", "--cadence", "weekly").code == 0
    assert json.loads(digest("subscribers", "list", "--json").out)[0]["cadence"] == "weekly"


def test_a_new_subscriber_without_cadence_is_weekly(digest):
    assert digest("subscribers", "add", "bo@example.org").code == 0
    assert json.loads(digest("subscribers", "list", "--json").out)[0]["cadence"] == "weekly"


def test_an_address_twice_in_one_import_is_reported(digest, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name,cadence\nana@example.org,Ana,weekly\nbo@example.org,Bo,weekly\nANA@example.org,Ana L,monthly\n"
    )
    result = digest("subscribers", "import", str(people))
    assert result.code == 1
    assert f"{people}:4: skipped: ANA@example.org is also on line 2" in result.err
    listed = json.loads(digest("subscribers", "list", "--json").out)
    assert {(s["email"], s["cadence"]) for s in listed} == {
        ("ana@example.org", "weekly"),
        ("bo@example.org", "weekly"),
    }


def test_export_neutralizes_spreadsheet_formulas(db_url, tmp_path):
    engine = open_engine(db_url)
    names = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "+1+1", "-2+3", "\tTab", "\rCR", "Ana"]
    for number, name in enumerate(names):
        add_subscriber(engine, f"p{number}@example.org", name, "weekly", NOW)
    out = io.StringIO()
    export_csv(engine, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    exported = [row["name"] for row in rows]
    assert exported[:4] == ['\'=HYPERLINK("http://evil.example","x")', "'@SUM(1+1)", "'+1+1", "'-2+3"]
    assert exported[-1] == "Ana"
    assert all(not name.startswith(("=", "+", "-", "@", "\t", "\r")) for name in exported)
    exported_file = tmp_path / "export.csv"
    exported_file.write_text(out.getvalue())
    again = open_engine(f"sqlite:///{tmp_path / 'again.db'}")
    assert import_csv(again, exported_file, NOW).added == len(names)
    assert [row.name for row in list_subscribers(again)] == [name.strip() for name in names]


def test_ingest_refuses_a_subscriber_list_with_a_hint(digest, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("email,name,cadence\nana@example.org,Ana Lima,weekly\n")
    result = digest("ingest", str(people))
    assert result.code == 1
    assert "subscribers import" in result.err
    assert json.loads(digest("items", "--json").out) == []
    # A CSV of items may still call its title column `name` when it has no email column.
    items = tmp_path / "items.csv"
    items.write_text("name,url\nLaunch day,https://example.org/launch\n")
    assert digest("ingest", str(items)).code == 0
