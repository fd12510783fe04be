"""Bounce and complaint reports: parsing, matching, the subscriber rules, idempotence, the sources."""

from __future__ import annotations

import json
import mailbox
import smtplib
import subprocess
import sys
import time
from datetime import UTC, datetime

from digest.bounces.apply import Policy, Summary, process
from digest.bounces.parse import read_report
from digest.store import deliveries as log
from digest.store import subscribers as subscriber_store
from digest.store.bounces import RAW_LIMIT
from digest.verp import delivery_of, make_tag, verp_address
from tests.bounce_reports import arf, dsn
from tests.delivery_support import SECRET, prepared_store, store_digest
from tests.smtp_server import free_port

NOW = datetime(2023, 11, 20, 8, 0, tzinfo=UTC)
POLICY = Policy(bounce_limit=1, soft_bounce_limit=3, bounce_address="bounces@example.org", secret=SECRET)


def status(engine, email: str) -> str:
    with engine.connect() as connection:
        return subscriber_store.get_by_email(connection, email).status


def sent_delivery(engine, digest_id: int, email: str, message_id: str) -> int:
    """Queue the digest for everyone and record this subscriber's copy as sent."""
    log.queue_deliveries(engine, digest_id, "weekly")
    with engine.begin() as connection:
        rows = log.claim(connection, digest_id, "test-run", 10_000, NOW)
        row = next(r for r in rows if r.email == email)
        log.mark_sent(connection, row.id, message_id, NOW)
        log.release(connection, [r.id for r in rows if r.id != row.id], "test-run")
        return row.id


def apply(engine, raw: bytes, policy: Policy = POLICY, envelope: tuple[str, ...] = ()) -> Summary:
    summary = Summary()
    process(engine, raw, "test", policy, NOW, summary, envelope=envelope)
    return summary


def test_verp_tag_names_the_delivery_and_a_forged_one_does_not_verify():
    address = verp_address("bounces@example.org", SECRET, 4711)
    assert address.startswith("bounces+") and address.endswith("@example.org")
    assert "weekly" not in address and "@example.com" not in address  # no subscriber address in it
    assert delivery_of(address, "bounces@example.org", SECRET) == 4711
    assert delivery_of(address.upper(), "bounces@example.org", SECRET) == 4711  # case folded by an MTA
    forged = "bounces+" + make_tag(SECRET, 4712).split("-")[0] + "-" + make_tag(SECRET, 4711).split("-")[1]
    assert delivery_of(forged + "@example.org", "bounces@example.org", SECRET) is None
    assert delivery_of(address, "bounces@example.org", "another secret") is None


def test_rfc3464_permanent_and_temporary_and_content_failures_are_told_apart():
    permanent = read_report(dsn("ann@example.com"))
    assert permanent.kind == "bounce"
    assert [(f.address, f.kind) for f in permanent.failures] == [("ann@example.com", "permanent")]
    assert permanent.original_message_id == "<orig@example.org>"
    delayed = read_report(dsn("ann@example.com", action="delayed", status="4.2.2"))
    assert [f.kind for f in delayed.failures] == ["temporary"]
    too_long = read_report(dsn("ann@example.com", status="5.6.0", diagnostic="smtp; 552 line too long"))
    assert [f.kind for f in too_long.failures] == ["content"]


def test_permanent_dsn_matched_by_message_id_bounces_exactly_that_subscriber(db_url):
    engine = prepared_store(db_url, weekly=3)
    delivery = sent_delivery(engine, 1, "weekly0001@example.com", "<m1@example.org>")
    summary = apply(engine, dsn("someone-else@example.net", original_message_id="<m1@example.org>"))
    assert summary.bounced == ["weekly0001@example.com"]
    assert [status(engine, f"weekly{n:04d}@example.com") for n in range(3)] == ["active", "bounced", "active"]
    with engine.connect() as connection:
        assert log.counts(connection, 1)["sent"] == 1
    assert delivery


def test_verp_tag_wins_over_message_id_and_address(db_url):
    engine = prepared_store(db_url, weekly=3)
    delivery = sent_delivery(engine, 1, "weekly0002@example.com", "<m2@example.org>")
    to = verp_address("bounces@example.org", SECRET, delivery)
    summary = apply(engine, dsn("weekly0000@example.com", to=to, original_message_id="<other@x>"))
    assert summary.bounced == ["weekly0002@example.com"]
    assert status(engine, "weekly0000@example.com") == "active"


def test_address_match_when_nothing_else_is_known_and_unknown_addresses_are_counted(db_url):
    engine = prepared_store(db_url, weekly=2)
    summary = apply(engine, dsn("WEEKLY0001@example.com", original_message_id="<unknown@x>"))
    assert summary.bounced == ["weekly0001@example.com"]
    stranger = apply(engine, dsn("stranger@example.net", original_message_id="<unknown@x>"))
    assert stranger.as_dict()["unmatched"] == 1 and stranger.bounced == []


def test_the_same_report_twice_changes_nothing(db_url):
    engine = prepared_store(db_url, weekly=2)
    engine_limit = Policy(2, 3, "bounces@example.org", SECRET)
    report = dsn("weekly0001@example.com", report_id="<same@mx>")
    first = apply(engine, report, engine_limit)
    second = apply(engine, report, engine_limit)
    assert first.as_dict()["permanent"] == 1 and second.as_dict()["duplicate"] == 1
    with engine.connect() as connection:
        assert subscriber_store.get_by_email(connection, "weekly0001@example.com").bounce_count == 1
    assert status(engine, "weekly0001@example.com") == "active"  # limit 2: one report is one failure


def test_temporary_failures_bounce_after_the_limit_in_a_row_and_a_delivery_resets_them(db_url):
    engine = prepared_store(db_url, weekly=1)
    email = "weekly0000@example.com"
    periods = ["2023-W46", "2023-W47", "2023-W48", "2023-W49", "2023-W50"]
    ids = {}
    for period in periods:
        digest_id = store_digest(engine, period=period)
        ids[period] = sent_delivery(engine, digest_id, email, f"<{period}@example.org>")
    soft = Policy(1, 2, "bounces@example.org", SECRET)

    def delayed(period):
        to = verp_address("bounces@example.org", SECRET, ids[period])
        return apply(engine, dsn(email, action="delayed", status="4.2.2", to=to), soft)

    delayed("2023-W46")
    assert status(engine, email) == "active"
    # W47 drew no bounce: it was delivered, so W48 starts a new run of one
    delayed("2023-W48")
    assert status(engine, email) == "active"
    assert delayed("2023-W49").bounced == [email]


def test_arf_complaint_marks_complained_and_a_content_refusal_counts_nothing(db_url):
    engine = prepared_store(db_url, weekly=2)
    original = b"From: news@example.org\r\nTo: weekly0000@example.com\r\nMessage-ID: <c1@x>\r\n\r\nHi\r\n"
    summary = apply(engine, arf(original, "weekly0000@example.com"))
    assert summary.complained == ["weekly0000@example.com"]
    assert status(engine, "weekly0000@example.com") == "complained"
    refused = apply(
        engine, dsn("weekly0001@example.com", status="5.6.0", diagnostic="smtp; 552 line too long")
    )
    assert refused.as_dict()["content"] == 1 and status(engine, "weekly0001@example.com") == "active"


def test_unparseable_and_hostile_reports_are_kept_and_counted_not_fatal(db_url):
    engine = prepared_store(db_url, weekly=1)
    for raw in (
        b"",
        b"\xff\xfe garbage \x00",
        b"Subject: out of office\r\n\r\nI am away.\r\n",
        b"x" * 3_000_000,
    ):
        summary = apply(engine, raw)
        assert summary.as_dict()["unparsed"] == 1
    huge = dsn("weekly0000@example.com") + b"y" * (RAW_LIMIT * 3)
    apply(engine, huge)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT max(length(raw)) FROM bounce_reports").scalar()
    assert stored <= RAW_LIMIT


def cli_env(env, db_url, **extra):
    return {
        **env,
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_FROM": "Test News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_BOUNCE_ADDRESS": "bounces@example.org",
        **extra,
    }


def test_process_reads_files_maildir_and_mbox_and_shows_history(db_url, digest, tmp_path, env):
    prepared_store(db_url, weekly=4)
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(dsn("weekly0000@example.com"))
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(dsn("weekly0001@example.com"))
    box.add(b"Subject: hello\r\n\r\nnot a bounce\r\n")
    box.flush()
    (tmp_path / "one.eml").write_bytes(dsn("weekly0002@example.com"))
    paths = [str(tmp_path / "Maildir"), str(tmp_path / "bounces.mbox"), str(tmp_path / "one.eml")]
    result = digest("bounces", "process", *paths, "--json", extra_env=cli_env(env, db_url))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert sorted(data["bounced"]) == [f"weekly000{n}@example.com" for n in range(3)]
    assert data["reports"] == 4 and data["unparsed"] == 1
    again = json.loads(digest("bounces", "process", *paths, "--json", extra_env=cli_env(env, db_url)).out)
    assert again["bounced"] == [] and again["duplicate"] == 4
    shown = json.loads(
        digest("subscribers", "show", "weekly0001@example.com", "--json", extra_env=cli_env(env, db_url)).out
    )
    assert shown["status"] == "bounced"
    assert [b["kind"] for b in shown["bounces"]] == ["permanent"] and "5.1.1" in shown["bounces"][0]["detail"]
    missing = digest("bounces", "process", str(tmp_path / "nope"), extra_env=cli_env(env, db_url))
    assert missing.code == 1 and "nope" in missing.err and "Traceback" not in missing.err


def test_listen_applies_reports_sent_over_smtp_and_stops_on_sigterm(db_url, tmp_path, env):
    prepared_store(db_url, weekly=2)
    port = free_port()
    process_ = subprocess.Popen(
        [sys.executable, "-m", "digest", "bounces", "listen", "--port", str(port)],
        cwd=tmp_path,
        env=cli_env(env, db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, process_.stderr
                time.sleep(0.2)
        client.sendmail("", ["bounces@example.org"], dsn("weekly0001@example.com"))
        client.quit()
    finally:
        process_.terminate()
        out, err = process_.communicate(timeout=30)
    assert process_.returncode == 0, err
    assert "bounced: weekly0001@example.com" in out


def test_fetch_never_prints_the_imap_password(db_url, digest, env):
    url = f"imap://reader:s3cret-pw@127.0.0.1:{free_port()}/Bounces"
    result = digest("bounces", "fetch", extra_env=cli_env(env, db_url, DIGEST_BOUNCE_IMAP_URL=url))
    assert result.code == 1 and "127.0.0.1" in result.err
    assert "s3cret-pw" not in result.err + result.out
    bad = digest(
        "bounces", "fetch", extra_env=cli_env(env, db_url, DIGEST_BOUNCE_IMAP_URL="ftp://u:s3cret-pw@h/")
    )
    assert bad.code == 2 and "DIGEST_BOUNCE_IMAP_URL" in bad.err and "s3cret-pw" not in bad.err


def test_fetch_reads_unseen_reports_over_imap_flags_them_and_never_prints_the_password(db_url, digest, env):
    from tests.imap_server import ImapServer

    prepared_store(db_url, weekly=3)
    reports = [
        dsn("weekly0000@example.com"),
        b"Subject: hi\r\n\r\nnot a report\r\n",
        dsn("weekly0002@example.com"),
    ]
    server = ImapServer("reader", "s3cret-pw", "Bounces", reports).start()
    try:
        result = digest(
            "bounces", "fetch", "--json", extra_env=cli_env(env, db_url, DIGEST_BOUNCE_IMAP_URL=server.url())
        )
        assert result.code == 0, result.err
        data = json.loads(result.out)
        assert sorted(data["bounced"]) == ["weekly0000@example.com", "weekly0002@example.com"]
        assert data["unparsed"] == 1 and server.seen == {1, 2, 3}
        again = json.loads(
            digest(
                "bounces",
                "fetch",
                "--json",
                extra_env=cli_env(env, db_url, DIGEST_BOUNCE_IMAP_URL=server.url()),
            ).out
        )
        assert again["reports"] == 0  # all seen now
        wrong = digest(
            "bounces",
            "fetch",
            extra_env=cli_env(env, db_url, DIGEST_BOUNCE_IMAP_URL=server.url("wrong-pw-123")),
        )
        assert wrong.code == 1 and "cannot log in" in wrong.err
        assert "wrong-pw-123" not in wrong.err + wrong.out and "s3cret-pw" not in result.err + result.out
    finally:
        server.stop()
