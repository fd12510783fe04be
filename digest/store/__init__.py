"""The database: one engine per process, schema brought up to date on open."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from digest.clock import utc_now
from digest.errors import DigestError
from digest.store.schema import MIGRATIONS, metadata, schema_version

__all__ = ["current_version", "migrate", "open_engine"]

_MIGRATION_LOCK = 4_242_001  # any constant: the advisory lock id of schema upgrades


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (preview, serve) work while a send writes; busy_timeout makes writers queue
    # instead of failing at once when two processes share the file. synchronous=NORMAL (with WAL):
    # a commit is written to the WAL before it returns, so a process crash (SIGKILL included) loses
    # nothing committed, but it is fsynced only at checkpoints, so only a power cut or an OS crash
    # can lose the last commits. It makes a send's group commits several times cheaper.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # pysqlite's own transaction handling is off (see open_engine): start every transaction as
    # IMMEDIATE so that a read-then-write (a claim) cannot be overtaken by another process.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_engine(url: str, *, upgrade: bool = True) -> Engine:
    """An engine whose schema is current. Errors become one readable DigestError."""
    try:
        engine = _create(url)
        if upgrade:
            migrate(engine)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DigestError(f"DIGEST_DATABASE_URL: cannot use {url!r}: {exc}") from None
    except OperationalError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise DigestError(f"cannot open database {url!r}: {reason}") from None
    return engine


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool, connect_args={"isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def current_version(engine: Engine) -> int:
    with engine.connect() as connection:
        return _version(connection)


def _version(connection: Connection) -> int:
    if not connection.dialect.has_table(connection, "schema_version"):
        return 0
    return connection.execute(select(func.max(schema_version.c.version))).scalar() or 0


def _serialize_migrations(connection: Connection) -> None:
    # Two processes may open a new database at once (a scheduler and a send). On SQLite the
    # transaction's BEGIN IMMEDIATE already makes the second wait; PostgreSQL needs a lock.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})


def migrate(engine: Engine) -> int:
    """Apply every migration newer than the database, each in its own transaction.

    The version is read inside the transaction that applies the next step, under a lock, so
    concurrent openers apply each step exactly once.
    """
    while True:
        with engine.begin() as connection:
            _serialize_migrations(connection)
            metadata.create_all(connection, tables=[schema_version])
            version = _version(connection)
            if version >= len(MIGRATIONS):
                return len(MIGRATIONS)
            MIGRATIONS[version](connection)
            connection.execute(insert(schema_version).values(version=version + 1, applied_at=utc_now()))
