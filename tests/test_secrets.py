"""No password is ever printed, and store errors are one plain line (no SQL, no parameters)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

PASSWORD = "Sup3rS3cret"


def test_config_check_hides_the_database_password(digest):
    url = f"postgresql+psycopg://digest:{PASSWORD}@127.0.0.1:1/digest"
    result = digest("config", "check", extra_env={"DIGEST_DATABASE_URL": url})
    assert result.code == 0, result.err
    assert PASSWORD not in result.out + result.err
    assert "digest:***@127.0.0.1:1/digest" in result.out


def test_cannot_open_database_hides_the_password(digest):
    # Port 1 on loopback refuses at once: the error names the URL without its password.
    url = f"postgresql+psycopg://digest:{PASSWORD}@127.0.0.1:1/digest"
    result = digest("items", extra_env={"DIGEST_DATABASE_URL": url})
    assert result.code == 1
    assert PASSWORD not in result.out + result.err
    assert "cannot open database" in result.err and "***" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_url_validator_hides_the_password(digest):
    url = f"not a url with digest:{PASSWORD}@host"
    result = digest("config", "check", extra_env={"DIGEST_DATABASE_URL": url})
    assert result.code == 2
    assert PASSWORD not in result.err
    assert "DIGEST_DATABASE_URL" in result.err


def test_unusable_url_hides_the_password(digest):
    result = digest("items", extra_env={"DIGEST_DATABASE_URL": f"nosuchdb://u:{PASSWORD}@h/db"})
    assert result.code == 2
    assert PASSWORD not in result.err


def test_mysql_url_is_a_clear_config_error(digest):
    result = digest("items", extra_env={"DIGEST_DATABASE_URL": f"mysql://u:{PASSWORD}@127.0.0.1/db"})
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert "ModuleNotFoundError" not in result.err and "unexpected" not in result.err
    assert "sqlite" in lines[0] and "postgresql" in lines[0]
    assert PASSWORD not in result.err


def test_a_store_error_is_one_line_without_sql_or_parameters(digest, tmp_path: Path):
    assert digest("ingest", str(Path(__file__).parent.parent / "seeds")).code == 0
    with sqlite3.connect(tmp_path / "digest.db") as connection:
        connection.execute("DROP TABLE items")
    result = digest("items", "--since", "2020-01-01")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "SQL" not in result.err and "SELECT" not in result.err and "parameters" not in result.err
    assert "no such table: items" in lines[0]
    assert lines[0].startswith("digest: error: database error")


def test_a_date_the_store_cannot_hold_is_one_line_without_sql(digest, tmp_path: Path):
    (tmp_path / "old.json").write_text('[{"title": "Year one", "published": "0001-01-01T00:00:00+14:00"}]')
    result = digest("ingest", "old.json")
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "SQL" not in result.err and "parameters" not in result.err, result.err
    # Refused item by item before the store sees it (issue 13's 1970-2200 rule), nothing stored.
    assert "outside 1970–2200" in lines[0] and "0 new" in result.out
