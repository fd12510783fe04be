"""Tables (SQLAlchemy Core) and the migrations that build them.

Portable SQL only: the same schema runs on SQLite and PostgreSQL. Times are stored as UTC and read
back as aware datetimes (`UTCDateTime`), because SQLite keeps no zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
    text,
)


class UTCDateTime(TypeDecorator):
    """Aware in, aware out: naive datetimes never enter the store."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("guid", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("summary_html", Text),
    Column("url", Text),
    Column("published", UTCDateTime, nullable=False),
    Column("dated_by_ingest", Integer, nullable=False, default=0),
    Column("category", Text),
    Column("author", Text),
    Column("image", Text),
    Column("source", Text, nullable=False, default=""),
    Column("content_hash", String(32), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_items_published", "published"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("email_key", String(320), unique=True),  # lowercase: duplicates are found case-insensitively
    Column("name", Text),
    Column("cadence", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", Text),
    Column("bounce_count", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("locale", String(16)),  # language code (`es`); NULL: DIGEST_LOCALE
    Column("timezone", String(64)),  # IANA zone; NULL: DIGEST_TIMEZONE
    Index("ix_subscribers_cadence_status", "cadence", "status"),
)

# The consent record (when, from where, how the address was given; when and from where it was
# confirmed) and the pending confirmation (one-time nonce, when its mail went). Kept when the
# subscriber leaves: it is the proof of consent for the mail they did get.
CONSENT_COLUMNS = (
    ("consent_at", UTCDateTime),
    ("consent_ip", String(64)),
    ("consent_user_agent", Text),
    ("confirmed_at", UTCDateTime),
    ("confirm_ip", String(64)),
    ("confirm_user_agent", Text),
    ("confirm_nonce", String(64)),
    ("confirm_sent_at", UTCDateTime),
)
for _name, _type in CONSENT_COLUMNS:
    subscribers.append_column(Column(_name, _type))

digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cadence", String(16), nullable=False),
    Column("period", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    UniqueConstraint("cadence", "period", name="uq_digests_cadence_period"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest_id", Integer, ForeignKey("digests.id"), nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("ambiguous", Integer, nullable=False, default=0, server_default="0"),
    Column("last_error", Text),
    Column("message_id", Text),
    Column("claimed_by", String(64)),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("digest_id", "subscriber_id", name="uq_deliveries_digest_subscriber"),
    Index("ix_deliveries_digest_state", "digest_id", "state"),
)


def _create_v1(connection) -> None:
    metadata.create_all(connection, tables=[items, subscribers, digests, deliveries])


def _subscriber_email_key_v2(connection) -> None:
    """v1 stores that predate `email_key` get it, filled from the stored (normalized) email."""
    columns = {c["name"] for c in inspect(connection).get_columns("subscribers")}
    if "email_key" in columns:  # created by v1 from the current table definition
        return
    connection.execute(text("ALTER TABLE subscribers ADD COLUMN email_key VARCHAR(320)"))
    connection.execute(text("UPDATE subscribers SET email_key = lower(email)"))
    connection.execute(text("CREATE UNIQUE INDEX ux_subscribers_email_key ON subscribers (email_key)"))


# The scheduler (digest/schedule/): one lock row per database, one state row per cadence.
scheduler_lock = Table(
    "scheduler_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    # The fencing token: +1 at every change of leader; a leader's actions check it in their transaction.
    Column("epoch", Integer, nullable=False, server_default="1"),
)

scheduler_jobs = Table(
    "scheduler_jobs",
    metadata,
    Column("cadence", String(100), primary_key=True),  # a schedule: `weekly`, or `weekly@Asia/Tokyo`
    Column("created_at", UTCDateTime, nullable=False),
    Column("handled_until", UTCDateTime, nullable=False),
    Column("last_fire_time", UTCDateTime),
    Column("last_run_at", UTCDateTime),
    Column("last_outcome", String(16)),
    Column("last_detail", Text),
    Column("last_duration", Float),
)


def _scheduler_v3(connection) -> None:
    metadata.create_all(connection, tables=[scheduler_lock, scheduler_jobs])


# What happened to the list, one row per event, for the organizer's view and the consent history.
# No foreign key: when an unconfirmed sign-up is deleted its events stay, anonymised, so the
# weekly counts do not change after the fact.
subscriber_events = Table(
    "subscriber_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber_id", Integer),
    Column("kind", String(24), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("source", Text),
    Column("ip", String(64)),
    Column("user_agent", Text),
    Column("detail", Text),
    Index("ix_subscriber_events_at", "at"),
    Index("ix_subscriber_events_subscriber", "subscriber_id"),
)


def _signup_consent_events_v4(connection) -> None:
    """Sign-ups from the web: consent columns on subscribers, and the events table."""
    present = {c["name"] for c in inspect(connection).get_columns("subscribers")}
    for name, kind in CONSENT_COLUMNS:
        if name not in present:  # created by v1 from the current table definition otherwise
            type_sql = kind.compile(dialect=connection.dialect)
            connection.execute(text(f"ALTER TABLE subscribers ADD COLUMN {name} {type_sql}"))
    connection.execute(text("UPDATE subscribers SET consent_at = created_at WHERE consent_at IS NULL"))
    metadata.create_all(connection, tables=[subscriber_events])


def _scheduler_lock_epoch(connection) -> None:
    """Standby schedulers: the lock row gets its fencing token (v3 stores that predate it)."""
    columns = {c["name"] for c in inspect(connection).get_columns("scheduler_lock")}
    if "epoch" not in columns:
        connection.execute(text("ALTER TABLE scheduler_lock ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1"))


# Queue workers (digest/send/fleet.py): one row holds the fleet-wide DIGEST_SEND_RATE schedule.
send_rate = Table(
    "send_rate",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_at", Float, nullable=False),  # Unix time of the fleet's next free sending slot
)


def _fleet_send_rate(connection) -> None:
    metadata.create_all(connection, tables=[send_rate])
    connection.execute(send_rate.insert().values(name="fleet", next_at=0.0))


# The organizer's review (digest/editions.py): one edition per cadence and period, and per item of
# it the organizer's marks. `frozen` is the item list as approved (or as sent): items that arrive
# later are not in it and go to the next edition.
editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cadence", String(16), nullable=False),
    Column("period", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("intro", Text, nullable=False, default=""),
    Column("subject", Text),
    Column("frozen", Integer, nullable=False, default=0),
    Column("frozen_at", UTCDateTime),
    Column("review_mailed_at", UTCDateTime),  # the review copy went to the reviewers
    Column("scheduled_for", UTCDateTime),  # a scheduled send that waits (held, not approved)
    Column("waiting_mailed_at", UTCDateTime),  # the reviewers were told it waits
    Column("updated_at", UTCDateTime, nullable=False),
    # The digest as approved, rendered at that moment: what a send of an approved edition stores.
    Column("approved_subject", Text),
    Column("approved_preheader", Text),
    Column("approved_html", Text),
    Column("approved_text", Text),
    Column("approved_item_count", Integer),
    UniqueConstraint("cadence", "period", name="uq_editions_cadence_period"),
)

edition_items = Table(
    "edition_items",
    metadata,
    Column("edition_id", Integer, ForeignKey("editions.id"), primary_key=True),
    Column("item_id", String(32), primary_key=True),
    Column("excluded", Integer, nullable=False, default=0),
    Column("pin_rank", Integer),  # pinned items come first, lowest rank first
    Column("member", Integer, nullable=False, default=0),  # in the frozen list
)


def _add_editions(connection) -> None:
    metadata.create_all(connection, tables=[editions, edition_items])


# Which items each stored digest holds: what decides where a late item goes (store/contents.py)
# and what a digest's archive page lists.
digest_items = Table(
    "digest_items",
    metadata,
    Column("digest_id", Integer, ForeignKey("digests.id"), primary_key=True),
    Column("item_id", String(32), primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_digest_items_item", "item_id"),
)


def _record_digest_items(connection) -> None:
    """Digests stored before this table: the items of their period that were in the store when
    they were stored (period bounds read in UTC: the zone of that time is not in the database)."""
    from digest.periods import parse_period

    metadata.create_all(connection, tables=[digest_items])
    columns = (digests.c.id, digests.c.cadence, digests.c.period, digests.c.created_at)
    stored = connection.execute(digests.select().with_only_columns(*columns)).fetchall()
    for digest_id, cadence, key, created_at in stored:
        try:
            period = parse_period(cadence, key, UTC)
        except ValueError:
            continue
        rows = connection.execute(
            items.select()
            .with_only_columns(items.c.id)
            .where(
                items.c.published >= period.start,
                items.c.published < period.end,
                items.c.first_seen <= created_at,
            )
            .order_by(items.c.published.desc(), items.c.id)
        ).scalars()
        values = [
            {"digest_id": digest_id, "item_id": item_id, "position": n} for n, item_id in enumerate(rows)
        ]
        if values:
            connection.execute(digest_items.insert(), values)


def _subscriber_locale_and_timezone(connection) -> None:
    """Each reader's language and time zone; NULL (every existing row) means the organizer's."""
    columns = {c["name"] for c in inspect(connection).get_columns("subscribers")}
    for name, kind in (("locale", "VARCHAR(16)"), ("timezone", "VARCHAR(64)")):
        if name not in columns:  # a store created by v1 from the current table has them already
            connection.execute(text(f"ALTER TABLE subscribers ADD COLUMN {name} {kind}"))


def _scheduler_schedules_per_time_zone(connection) -> None:
    """Local-time delivery keeps one schedule per cadence and zone (`weekly@America/Argentina/...`):
    the key outgrows the 16 characters a cadence needed (SQLite does not enforce the length)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE scheduler_jobs ALTER COLUMN cadence TYPE VARCHAR(100)"))


# Bounce and complaint reports (digest/bounces/): each raw report kept, size-capped, with what it
# was read as, so a misclassification can be checked. `fingerprint` makes a report count once.
bounce_reports = Table(
    "bounce_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # permanent, temporary, complaint, unparsed
    Column("recipient", String(320), nullable=False),  # "" when none could be read
    Column("subscriber_id", Integer, ForeignKey("subscribers.id")),
    Column("delivery_id", Integer, ForeignKey("deliveries.id")),
    Column("matched_by", String(16)),  # verp, message-id, address
    Column("detail", Text),
    Column("source", Text),
    Column("size", Integer, nullable=False),
    Column("raw", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("fingerprint", "recipient", name="uq_bounce_reports_fingerprint_recipient"),
    Index("ix_bounce_reports_subscriber", "subscriber_id"),
    Index("ix_bounce_reports_delivery", "delivery_id"),
)


def add_bounce_reports(connection) -> None:
    metadata.create_all(connection, tables=[bounce_reports])
    connection.execute(text("CREATE INDEX IF NOT EXISTS ix_deliveries_message_id ON deliveries (message_id)"))


def add_delivery_ambiguous(connection) -> None:
    """How many times a delivery's end of data went unanswered (digest.send: at most twice)."""
    columns = {c["name"] for c in inspect(connection).get_columns("deliveries")}
    if "ambiguous" not in columns:  # a new database got it from the table definition
        connection.execute(text("ALTER TABLE deliveries ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0"))


# Append only: each entry upgrades an existing database by one version, in one transaction.
MIGRATIONS = [
    _create_v1,
    _subscriber_email_key_v2,
    _scheduler_v3,
    _signup_consent_events_v4,
    _scheduler_lock_epoch,
    _fleet_send_rate,
    _add_editions,
    _record_digest_items,
    _subscriber_locale_and_timezone,
    _scheduler_schedules_per_time_zone,
    add_bounce_reports,
    add_delivery_ambiguous,
]
