"""Subscribers: normalization, add/import/remove/export, on SQLite and PostgreSQL, and via the CLI."""

from __future__ import annotations

import json

import pytest

from digest.errors import DigestError
from digest.store import open_engine
from digest.subscribers import (
    add_subscriber,
    export_csv,
    import_csv,
    list_subscribers,
    normalize_email,
    remove_subscriber,
)
from tests.delivery_support import NOW


def test_emails_are_normalized_to_lowercase_domain_and_ascii():
    assert normalize_email("  Ann.Smith@ExAmple.ORG ") == "Ann.Smith@example.org"
    assert normalize_email("x@bücher.de") == "x@xn--bcher-kva.de"
    with pytest.raises(ValueError, match="invalid email"):
        normalize_email("not an address")
    with pytest.raises(ValueError):
        normalize_email("evil@example.org\r\nBcc: x@y.z")


def test_add_finds_duplicates_case_insensitively_and_reactivates(any_db_url):
    engine = open_engine(any_db_url)
    row, action = add_subscriber(engine, "Ann@Example.org", "Ann", "weekly", NOW)
    assert (action, row.email, row.status) == ("added", "Ann@example.org", "active")
    _, action = add_subscriber(engine, "ANN@example.ORG", None, "weekly", NOW)
    assert action == "unchanged"
    remove_subscriber(engine, "ann@EXAMPLE.org", NOW)
    row, action = add_subscriber(engine, "ann@example.org", None, "monthly", NOW)
    assert (action, row.status, row.cadence, row.name) == ("reactivated", "active", "monthly", "Ann")
    assert len(list(list_subscribers(engine))) == 1


def test_add_rejects_a_bad_address_with_a_clear_error(any_db_url):
    engine = open_engine(any_db_url)
    with pytest.raises(DigestError, match="invalid email"):
        add_subscriber(engine, "nobody-at-example.org", None, "weekly", NOW)
    with pytest.raises(DigestError, match="unknown cadence"):
        add_subscriber(engine, "a@example.org", None, "daily", NOW)


def test_import_skips_bad_rows_by_line_and_keeps_unsubscribed(any_db_url, tmp_path):
    engine = open_engine(any_db_url)
    add_subscriber(engine, "gone@example.org", "Gone", "weekly", NOW)
    remove_subscriber(engine, "gone@example.org", NOW)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "email,name,cadence\n"
        "a@example.org,Ann,weekly\n"
        "not-an-email,Bad,weekly\n"
        "B@Example.org,Bob,monthly\n"
        "c@example.org,Cy,daily\n"
        "GONE@example.org,Gone Again,weekly\n"
        '"d@example.org","Dee, ""the"" Reader",\n'
        "e@example.org,Extra,weekly,surplus\n",
        encoding="utf-8",
    )
    report = import_csv(engine, csv_file, NOW)
    assert [line for line, _ in report.errors] == [3, 5, 8]
    assert (report.added, report.kept_unsubscribed) == (3, 1)
    people = {row.email: row for row in list_subscribers(engine)}
    assert people["gone@example.org"].status == "unsubscribed"
    assert people["B@example.org"].cadence == "monthly"
    assert people["d@example.org"].name == 'Dee, "the" Reader'
    assert people["d@example.org"].cadence == "weekly"
    assert "not-an-email" not in people and "e@example.org" not in people
    again = import_csv(engine, csv_file, NOW)
    assert (again.added, again.unchanged, again.kept_unsubscribed) == (0, 3, 1)


def test_import_without_an_email_column_fails_whole(tmp_path, db_url):
    engine = open_engine(db_url)
    bad = tmp_path / "bad.csv"
    bad.write_text("address,name\na@example.org,A\n")
    with pytest.raises(DigestError, match="no 'email' column"):
        import_csv(engine, bad, NOW)
    assert list(list_subscribers(engine)) == []


def test_export_reimports_to_the_same_list(db_url, tmp_path):
    engine = open_engine(db_url)
    add_subscriber(engine, "a@example.org", "Zoë", "weekly", NOW)
    add_subscriber(engine, "b@example.org", None, "monthly", NOW)
    out = tmp_path / "export.csv"
    with out.open("w", newline="") as handle:
        assert export_csv(engine, handle) == 2
    other = open_engine(f"sqlite:///{tmp_path / 'other.db'}")
    assert import_csv(other, out, NOW).added == 2
    strip = [(r.email, r.name, r.cadence, r.status) for r in list_subscribers(other)]
    assert strip == [
        ("a@example.org", "Zoë", "weekly", "active"),
        ("b@example.org", None, "monthly", "active"),
    ]


def test_cli_add_list_remove_and_import(digest, tmp_path):
    assert digest("subscribers", "add", "Ann@Example.org", "--name", "Ann").code == 0
    (tmp_path / "in.csv").write_text("email,name,cadence\nb@example.org,Bob,monthly\nbroken,,\n")
    result = digest("subscribers", "import", "in.csv")
    assert result.code == 1 and "in.csv:3: skipped" in result.err and "added 1" in result.out
    assert digest("subscribers", "remove", "ann@example.org").code == 0
    listed = json.loads(digest("subscribers", "list", "--json").out)
    assert [{k: p[k] for k in ("email", "name", "cadence", "status")} for p in listed] == [
        {"email": "Ann@example.org", "name": "Ann", "cadence": "weekly", "status": "unsubscribed"},
        {"email": "b@example.org", "name": "Bob", "cadence": "monthly", "status": "active"},
    ]
    exported = digest("subscribers", "export")
    assert exported.out.splitlines()[0] == "email,name,cadence,status,created_at,locale,timezone"


def test_cli_bad_address_is_one_line_and_nonzero(digest):
    result = digest("subscribers", "add", "nope")
    assert result.code == 1
    assert result.err.startswith("digest: error: invalid email") and len(result.err.splitlines()) == 1
    missing = digest("subscribers", "remove", "who@example.org")
    assert missing.code == 1 and "no subscriber" in missing.err
