"""send_period against a real aiosmtpd on loopback, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from digest.send import SendAborted, send_period
from digest.store.schema import deliveries, digests, subscribers
from digest.tokens import read_token
from digest.transport import MemoryTransport
from tests.delivery_support import NOW, SECRET, address, composed, prepared_store, settings_for, week
from tests.smtp_server import free_port

HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "MIME-Version",
)


def states(engine) -> Counter:
    with engine.connect() as connection:
        return Counter(connection.execute(select(deliveries.c.state)).scalars())


def subscriber_ids(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            row.email: row.id for row in connection.execute(select(subscribers.c.email, subscribers.c.id))
        }


def test_weekly_send_reaches_each_weekly_subscriber_once_with_every_header(any_db_url, smtp_server):
    engine = prepared_store(any_db_url, weekly=200, monthly=20)
    server = smtp_server()
    settings = settings_for(any_db_url, **server.env())
    report = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert (report.sent, report.failed, report.pending, report.complete) == (200, 0, 0, True)
    assert server.recipients() == sorted(address("weekly", n) for n in range(200))
    ids, links, message_ids = subscriber_ids(engine), set(), set()
    for received in server.received:
        message = received.message()
        assert all(message[h] for h in HEADERS), [h for h in HEADERS if not message[h]]
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        assert received.mail_from == "news@example.org"
        link = message["List-Unsubscribe"].strip("<>")
        assert read_token(SECRET, link.rsplit("/", 1)[1]) == ids[received.rcpt_tos[0]]
        assert link in message.get_body(("plain",)).get_content()
        links.add(link)
        message_ids.add(message["Message-ID"])
    assert len(links) == len(message_ids) == 200
    with engine.connect() as connection:
        assert connection.execute(select(digests.c.status)).scalar_one() == "sent"

    rerun = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert (rerun.sent, rerun.already_sent, rerun.complete) == (0, 200, True)
    assert len(server.received) == 200


def test_faulty_server_gives_every_good_address_one_copy_and_never_retries_550(any_db_url, smtp_server):
    engine = prepared_store(any_db_url, weekly=200)
    bad = {address("weekly", 17), address("weekly", 150)}
    server = smtp_server(temp_fail_every=7, drop_every=23, reject=bad)
    settings = settings_for(any_db_url, **server.env())
    report = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    # A hang-up after the end of data is ambiguous: not retried in the run, left for the next one.
    dropped = server.handler.counts["dropped"]
    assert dropped > 0 and report.ambiguous == dropped and report.retried > 0
    assert (report.sent, report.failed, report.complete) == (198 - dropped, 2, False)
    fixed = smtp_server()
    fixed_settings = settings_for(any_db_url, **fixed.env())
    rerun = send_period(fixed_settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert (rerun.sent, rerun.complete) == (dropped, True)
    received = server.recipients() + fixed.recipients()
    assert sorted(received) == sorted(set(address("weekly", n) for n in range(200)) - bad)
    assert server.handler.counts["rejected"] == 2  # asked once each, never again
    assert states(engine) == Counter(sent=198, failed=2)
    with engine.connect() as connection:
        rows = connection.execute(
            select(subscribers.c.email, subscribers.c.status, subscribers.c.bounce_count)
        )
        bounced = {r.email for r in rows if r.status == "bounced" and r.bounce_count == 1}
    assert bounced == bad
    send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert server.handler.counts["rejected"] == 2


def test_an_ambiguous_delivery_is_sent_once_more_by_the_next_run_with_the_same_message_id(
    db_url, smtp_server
):
    # The server keeps the message but the connection drops before its "250": the sender cannot
    # know. Not within the run (a loop would multiply copies); the next run sends it once more,
    # and the copy carries the same Message-ID.
    engine = prepared_store(db_url, weekly=20)
    server = smtp_server(drop_after_accept_every=10)
    settings = settings_for(db_url, **server.env())
    report = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert (report.sent, report.ambiguous, report.complete) == (18, 2, False)
    report = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert (report.sent, report.complete) == (2, True)
    copies = Counter(server.recipients())
    doubled = [email for email, n in copies.items() if n == 2]
    assert set(copies) == {address("weekly", n) for n in range(20)}
    assert len(doubled) == server.handler.counts["dropped_after_accept"] >= 2
    for email in doubled:
        ids = {r.message()["Message-ID"] for r in server.received if r.rcpt_tos == [email]}
        assert len(ids) == 1


def test_server_down_stops_with_a_clear_error_and_the_next_run_resumes(any_db_url, smtp_server):
    engine = prepared_store(any_db_url, weekly=30)
    down = settings_for(
        any_db_url,
        DIGEST_SMTP_HOST="127.0.0.1",
        DIGEST_SMTP_PORT=str(free_port()),
        DIGEST_SMTP_SECURITY="none",
    )
    with pytest.raises(SendAborted, match="failed attempts in a row") as error:
        send_period(down, engine, composed(down, engine, week(down), NOW), NOW)
    assert error.value.report.pending == 30 and not error.value.report.complete
    assert states(engine) == Counter(pending=30)

    server = smtp_server()
    up = settings_for(any_db_url, **server.env())
    report = send_period(up, engine, composed(up, engine, week(up), NOW), NOW)
    assert (report.sent, report.complete) == (30, True)
    assert len(server.recipients()) == 30


def test_a_server_rejecting_everyone_bounces_no_one_and_leaves_all_owed(any_db_url, smtp_server):
    engine = prepared_store(any_db_url, weekly=40)
    server = smtp_server(reject={address("weekly", n) for n in range(40)})  # e.g. "relay denied"
    settings = settings_for(any_db_url, **server.env())
    with pytest.raises(SendAborted, match="failed attempts in a row") as error:
        send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert (error.value.report.failed, error.value.report.pending) == (0, 40)
    assert states(engine) == Counter(pending=40)
    with engine.connect() as connection:
        rows = list(connection.execute(select(subscribers.c.status, subscribers.c.bounce_count)))
    assert {(r.status, r.bounce_count) for r in rows} == {("active", 0)}


def test_refused_login_stops_at_once_and_sends_nothing(db_url, smtp_server):
    engine = prepared_store(db_url, weekly=10)
    server = smtp_server(auth=("mailer", "right"))
    settings = settings_for(
        db_url, **server.env(), DIGEST_SMTP_USERNAME="mailer", DIGEST_SMTP_PASSWORD="wrong"
    )
    with pytest.raises(SendAborted, match="refused the login") as error:
        send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert "wrong" not in str(error.value)
    assert states(engine) == Counter(pending=10)


def test_bounce_limit_counts_permanent_failures_across_digests(db_url, smtp_server):
    engine = prepared_store(db_url, weekly=3)
    server = smtp_server(reject={address("weekly", 1)})
    settings = settings_for(db_url, **server.env(), DIGEST_BOUNCE_LIMIT="2")
    send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    with engine.connect() as connection:
        row = connection.execute(select(subscribers).where(subscribers.c.email == address("weekly", 1))).one()
    assert (row.status, row.bounce_count) == ("active", 1)


def test_subscriber_who_leaves_before_their_turn_is_skipped(db_url):
    engine = prepared_store(db_url, weekly=5)
    settings = settings_for(db_url)
    memory = MemoryTransport()
    from digest.store.deliveries import queue_deliveries
    from digest.subscribers import remove_subscriber

    with engine.connect() as connection:
        digest_id = connection.execute(select(digests.c.id)).scalar_one()
    queue_deliveries(engine, digest_id, "weekly")
    remove_subscriber(engine, address("weekly", 2), NOW)
    report = send_period(
        settings, engine, composed(settings, engine, week(settings), NOW), NOW, transport=memory
    )
    assert (report.sent, report.skipped, report.complete) == (4, 1, True)
    assert address("weekly", 2) not in [m[1] for m in memory.messages]


def test_stop_event_finishes_in_flight_and_leaves_the_rest_pending(db_url, smtp_server):
    engine = prepared_store(db_url, weekly=60)
    server = smtp_server(delay=0.02)
    settings = settings_for(db_url, **server.env())
    stop = threading.Event()

    def stop_after_ten() -> None:
        while len(server.received) < 10:
            time.sleep(0.005)
        stop.set()

    threading.Thread(target=stop_after_ten, daemon=True).start()
    report = send_period(
        settings, engine, composed(settings, engine, week(settings), NOW), NOW, stop_event=stop
    )
    assert 0 < report.sent < 60 and report.pending == 60 - report.sent and not report.complete
    assert states(engine) == Counter(sent=report.sent, pending=60 - report.sent)
    assert len(server.received) == report.sent
    rest = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    assert rest.complete and sorted(server.recipients()) == sorted(address("weekly", n) for n in range(60))


def test_rate_limit_spaces_messages(db_url):
    engine = prepared_store(db_url, weekly=11)
    settings = settings_for(db_url, DIGEST_SEND_RATE="50")
    started = time.monotonic()
    report = send_period(
        settings, engine, composed(settings, engine, week(settings), NOW), NOW, transport=MemoryTransport()
    )
    assert report.sent == 11 and time.monotonic() - started >= 0.19


def test_waiting_for_the_rate_limit_does_not_spin(db_url):
    engine = prepared_store(db_url, weekly=21)
    settings = settings_for(db_url, DIGEST_SEND_RATE="20")
    digest = composed(settings, engine, week(settings), NOW)
    wall, cpu = time.monotonic(), time.process_time()
    report = send_period(settings, engine, digest, NOW, transport=MemoryTransport())
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert report.sent == 21 and wall >= 0.9
    assert cpu < 0.4 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s waiting for the rate limit"


def test_no_smtp_host_writes_one_eml_per_subscriber(db_url, tmp_path):
    engine = prepared_store(db_url, weekly=12, monthly=3)
    settings = settings_for(db_url, DIGEST_OUTBOX=str(tmp_path / "outbox"))
    report = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert report.sent == 12 and len(files) == 12
    assert not [p for p in (tmp_path / "outbox").iterdir() if p.suffix != ".eml"]
    from email import message_from_bytes, policy

    recipients = {
        message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec for f in files
    }
    assert recipients == {address("weekly", n) for n in range(12)}


def test_send_requires_a_sender_and_a_secret(db_url):
    from digest.errors import ConfigError

    engine = prepared_store(db_url, weekly=1)
    settings = settings_for(db_url, DIGEST_FROM="", DIGEST_SECRET_KEY="")
    with pytest.raises(ConfigError, match="DIGEST_FROM"):
        send_period(
            settings,
            engine,
            composed(settings, engine, week(settings), NOW),
            NOW,
            transport=MemoryTransport(),
        )


def test_while_the_log_cannot_commit_each_connection_sends_at_most_one_more_message(db_url, smtp_server):
    """The crash promise, made visible: hold the database's write lock so no outcome can be
    committed; whatever the connections send meanwhile is sent-but-unrecorded, and must stay
    within DIGEST_SEND_CONCURRENCY (4) however long the log is stuck."""
    from digest.store import open_engine

    engine = prepared_store(db_url, weekly=200)
    server = smtp_server(delay=0.002)
    settings = settings_for(db_url, **server.env())
    result: list = []
    sender = threading.Thread(
        target=lambda: result.append(
            send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
        )
    )
    sender.start()
    while len(server.received) < 20:
        time.sleep(0.002)
    blocker = open_engine(db_url).connect()
    with blocker.begin():  # BEGIN IMMEDIATE: the send's next commit waits behind it
        recorded = Counter(blocker.execute(select(deliveries.c.state)).scalars())["sent"]
        time.sleep(1.0)
        unrecorded = len(server.received) - recorded
    blocker.close()
    sender.join(timeout=60)
    assert 0 <= unrecorded <= 4, unrecorded
    assert result[0].complete and sorted(server.recipients()) == sorted(
        address("weekly", n) for n in range(200)
    )
