"""The store: schema versioning and time handling on a real SQLite file."""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, Integer, MetaData, Table, inspect

from digest.models import Item
from digest.store import current_version, migrate, open_engine
from digest.store import schema as schema_module
from digest.store.items import items_between, upsert_items


def test_new_database_is_created_at_the_latest_version(db_url):
    engine = open_engine(db_url)
    assert current_version(engine) == len(schema_module.MIGRATIONS)
    assert {"items", "subscribers", "digests", "deliveries"} <= set(inspect(engine).get_table_names())


def test_existing_database_upgrades_in_place_and_keeps_its_rows(db_url, monkeypatch):
    engine = open_engine(db_url)
    now = datetime(2023, 11, 6, 9, tzinfo=UTC)
    with engine.begin() as connection:
        upsert_items(connection, [Item(title="kept", summary="s")], now)
    extra = Table("upgrade_probe", MetaData(), Column("id", Integer, primary_key=True))
    monkeypatch.setattr(schema_module, "MIGRATIONS", [*schema_module.MIGRATIONS, extra.create])
    monkeypatch.setattr("digest.store.MIGRATIONS", schema_module.MIGRATIONS)
    reopened = open_engine(db_url)
    assert current_version(reopened) == len(schema_module.MIGRATIONS)
    assert "upgrade_probe" in inspect(reopened).get_table_names()
    with reopened.connect() as connection:
        assert [i.title for i in items_between(connection)] == ["kept"]
    assert migrate(reopened) == len(schema_module.MIGRATIONS)  # a second run changes nothing


def test_times_come_back_aware_and_equal(db_url):
    engine = open_engine(db_url)
    published = datetime(2023, 11, 12, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with engine.begin() as connection:
        upsert_items(connection, [Item(title="t", published=published)], datetime.now(UTC))
    with engine.connect() as connection:
        (item,) = items_between(connection)
    assert item.published == published and item.published.tzinfo is not None
    with engine.connect() as connection:
        assert list(items_between(connection, since=published + timedelta(seconds=1))) == []


def test_sqlite_runs_in_wal_mode_without_an_fsync_per_commit(db_url):
    # WAL + synchronous=NORMAL: a commit survives the process being killed (it is in the WAL
    # before COMMIT returns); only a power cut can lose the last ones (README: Delivery guarantees).
    engine = open_engine(db_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_processes_opening_a_new_database_at_once_each_step_runs_once(any_db_url, tmp_path):
    """A scheduler and a send started together on a fresh database must not trip over each other."""
    import subprocess
    import sys

    script = "import sys; from digest.store import open_engine; open_engine(sys.argv[1])"
    runs = [
        subprocess.Popen([sys.executable, "-c", script, any_db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
    engine = open_engine(any_db_url)
    with engine.connect() as connection:
        versions = connection.execute(schema_module.schema_version.select()).fetchall()
    assert [row.version for row in versions] == list(range(1, len(schema_module.MIGRATIONS) + 1))
