"""Each reader gets the digest in their language, at their local morning: real SMTP on loopback,
a real SQLite file, the scheduler's runs driven by a clock of the test's own."""

from __future__ import annotations

import email
import html
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from digest import compose
from digest import render as render_module
from digest.schedule import runs
from digest.store import open_engine
from digest.store import subscribers as subscriber_store
from digest.store.items import upsert_items
from digest.store.schema import deliveries, digests
from tests.delivery_support import SECRET
from tests.pg import postgres_server  # noqa: F401 (fixture)
from tests.test_render import seed_items

PEOPLE = {"ana@example.org": "es", "amal@example.org": "ar", "eve@example.org": None}


def parsed(received) -> dict[str, email.message.EmailMessage]:
    return {r.rcpt_tos[0]: r.message() for r in received}


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def write_items(tmp_path, items) -> str:
    path = tmp_path / "items.json"
    records = [{"title": i.title, "summary": i.summary, "published": i.published.isoformat()} for i in items]
    path.write_text(json.dumps(records), encoding="utf-8")
    return str(path)


def test_spanish_arabic_and_english_readers_get_one_weekly_digest_each_in_their_language(
    digest, smtp_server, tmp_path
):
    server = smtp_server()
    extra = {
        "DIGEST_FROM": "IMT News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_NAME": "IMT News",
        **server.env(),
    }
    assert digest("ingest", write_items(tmp_path, seed_items()), extra_env=extra).code == 0
    for address, locale in PEOPLE.items():
        assert (
            digest(
                "subscribers", "add", address, *(["--locale", locale] if locale else []), extra_env=extra
            ).code
            == 0
        )
    result = digest("send", "--cadence", "weekly", "--period", "2023-W45", extra_env=extra)
    assert result.code == 0, result.err
    mails = parsed(server.received)
    assert sorted(server.recipients()) == sorted(PEOPLE)
    spanish, arabic, english = mails["ana@example.org"], mails["amal@example.org"], mails["eve@example.org"]
    assert spanish["Subject"] == "IMT News: Semana 45 · 6–12 de noviembre de 2023"
    assert arabic["Subject"] == "IMT News: الأسبوع 45 · 6–12 نوفمبر 2023"
    assert english["Subject"] == "IMT News: Week 45 · 6–12 November 2023"
    assert "12 artículos esta semana." in text_of(spanish) and "10 de noviembre de 2023" in html_of(spanish)
    assert '<html lang="ar" dir="rtl"' in html_of(arabic) and "10 نوفمبر 2023" in text_of(arabic)
    assert "12 articles this week." in text_of(english) and "rtl" not in html_of(english)
    titles = [html.escape(i.title, quote=False) for i in seed_items()]
    for message in (spanish, arabic, english):  # the same digest: every item, untranslated
        assert all(title in html_of(message) for title in titles)
    assert len({m["Message-ID"] for m in mails.values()}) == 3


def test_a_send_renders_once_per_language_not_per_reader(tmp_path, monkeypatch, smtp_server):
    from tests.delivery_support import settings_for

    server = smtp_server()
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    engine = open_engine(url)
    when = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)
    with engine.begin() as connection:
        upsert_items(connection, seed_items(), when)
        for n in range(30):
            locale = ("es", "ar", None)[n % 3]
            extra = {"locale": locale} if locale else {}
            subscriber_store.insert_subscriber(
                connection, f"r{n}@example.org", None, "weekly", "test", when, **extra
            )
    calls = []
    real = render_module.render_digest

    def counting(*args, **kwargs):
        calls.append(kwargs.get("lang"))
        return real(*args, **kwargs)

    monkeypatch.setattr(render_module, "render_digest", counting)
    monkeypatch.setattr(compose, "render_digest", counting)
    settings = settings_for(url, **server.env())
    period = compose.choose_period(settings, engine, "weekly", None)
    stored = compose.stored_digest(settings, engine, "weekly", period, when)
    languages = compose.renderings(settings, engine, stored, period, when)
    from digest.send import send_period

    report = send_period(settings, engine, stored, when, renderings=languages)
    assert report.complete and len(server.received) == 30
    assert sorted(lang or "en" for lang in calls) == ["ar", "en", "es"]


def test_scheduler_sends_each_zone_once_at_0800_local_with_the_organizers_week(any_db_url, smtp_server):
    from tests.delivery_support import settings_for

    server = smtp_server()
    url = any_db_url
    engine = open_engine(url)
    start = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)  # Sunday; Europe moves its clocks this night
    readers = {
        "ken@example.org": "Asia/Tokyo",
        "eva@example.org": "Europe/Berlin",
        "joe@example.org": "America/Chicago",
    }
    with engine.begin() as connection:
        week = [
            i.with_changes(published=datetime(2024, 3, 29, 10, tzinfo=UTC) - timedelta(hours=n))
            for n, i in enumerate(seed_items())
        ]
        upsert_items(connection, week, start)
        for address, zone in readers.items():
            subscriber_store.insert_subscriber(
                connection, address, None, "weekly", "test", start, timezone=zone, locale="es"
            )
    settings = settings_for(
        url, DIGEST_TIMEZONE="Europe/Berlin", DIGEST_SEND_LOCAL_TIME="true", **server.env()
    )
    now = [start]
    ctx = runs.Context(settings, engine, threading.Event(), clock=lambda: now[0])
    assert sorted(runs.schedule_names(ctx)) == [
        "monthly",
        "weekly",
        "weekly@America/Chicago",
        "weekly@Asia/Tokyo",
    ]
    first_mail: dict[str, datetime] = {}
    while now[0] <= start + timedelta(hours=30):
        for name in runs.schedule_names(ctx):
            runs.tick(ctx, name, now[0])
        for address in server.recipients():
            first_mail.setdefault(address, now[0])
        now[0] += timedelta(minutes=30)
    assert first_mail == {
        "ken@example.org": datetime(2024, 3, 31, 23, 0, tzinfo=UTC),  # 08:00 in Tokyo
        "eva@example.org": datetime(2024, 4, 1, 6, 0, tzinfo=UTC),  # 08:00 in Berlin, summer time now
        "joe@example.org": datetime(2024, 4, 1, 13, 0, tzinfo=UTC),  # 08:00 in Chicago
    }
    assert sorted(server.recipients()) == sorted(readers), "each group once"
    subjects = {m["Subject"] for m in parsed(server.received).values()}
    assert subjects == {"Digest: Semana 13 · 25–31 de marzo de 2024"}, "the organizer's week, in Spanish"
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(deliveries)).scalar() == 3
        weekly = select(digests.c.period, digests.c.status).where(digests.c.cadence == "weekly")
        assert connection.execute(weekly).all() == [("2024-W13", "sent")]


def test_build_writes_the_digest_in_the_language_asked_for(digest, tmp_path):
    assert digest("ingest", write_items(tmp_path, seed_items())).code == 0
    result = digest("build", "--cadence", "weekly", "--period", "2023-W45", "--locale", "ar", "--out", "out")
    assert result.code == 0, result.err
    assert '<html lang="ar" dir="rtl"' in (tmp_path / "out" / "weekly-2023-W45.html").read_text()
    refused = digest("build", "--cadence", "weekly", "--locale", "xx", "--out", "out")
    assert refused.code == 2 and "unknown locale 'xx'" in refused.err and "Traceback" not in refused.err


@pytest.mark.postgres
def test_a_queued_send_reaches_each_worker_reader_in_their_language(postgres_server, smtp_server):  # noqa: F811
    from digest.send.fleet import FleetLimiter
    from digest.send.queue import queue_rows
    from digest.send.worker import run_batch
    from tests.delivery_support import settings_for

    server = smtp_server()
    url = postgres_server.new_database()
    engine = open_engine(url)
    when = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)
    with engine.begin() as connection:
        upsert_items(connection, seed_items(), when)
        for address, locale in PEOPLE.items():
            extra = {"locale": locale} if locale else {}
            subscriber_store.insert_subscriber(connection, address, None, "weekly", "test", when, **extra)
    settings = settings_for(url, **server.env())
    period = compose.choose_period(settings, engine, "weekly", None)
    stored = compose.stored_digest(settings, engine, "weekly", period, when)
    queue_rows(engine, stored.id, "weekly")
    with engine.connect() as connection:
        ids = sorted(connection.execute(select(deliveries.c.id)).scalars())
    batch = {"digest_id": stored.id, "first": ids[0], "last": ids[-1]}
    run_batch(settings, engine, batch, threading.Event(), FleetLimiter(engine, 0))
    engine.dispose()
    subjects = {to: m["Subject"] for to, m in parsed(server.received).items()}
    assert subjects == {
        "ana@example.org": "Digest: Semana 45 · 6–12 de noviembre de 2023",
        "amal@example.org": "Digest: الأسبوع 45 · 6–12 نوفمبر 2023",
        "eve@example.org": "Digest: Week 45 · 6–12 November 2023",
    }
