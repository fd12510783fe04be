"""Real mail through a private Postfix on loopback: its DSNs for unknown users, fed to
`digest bounces process` from the Maildir they land in, bounce exactly those subscribers."""

from __future__ import annotations

import json
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import insert

from digest.store import open_engine
from digest.store.schema import subscribers
from tests import postfix
from tests.bounce_reports import arf
from tests.conftest import require_tool
from tests.delivery_support import NOW, SECRET, WEEK, store_digest

KNOWN = ["ann", "bob"]
UNKNOWN = ["ghost1", "ghost2"]

pytestmark = pytest.mark.slow


@pytest.fixture
def mta():
    require_tool("postfix (as root)", postfix.available())
    with postfix.running_postfix([*KNOWN, "news"]) as instance:
        yield instance


def store_with(db_url: str, locals_: list[str]) -> None:
    """A store holding the week's digest and these subscribers at the test domain."""
    engine = open_engine(db_url)
    rows = [
        dict(
            email=f"{local}@{postfix.DOMAIN}",
            email_key=f"{local}@{postfix.DOMAIN}",
            name=local.title(),
            cadence="weekly",
            status="active",
            source="test",
            bounce_count=0,
            created_at=NOW,
            updated_at=NOW,
        )
        for local in locals_
    ]
    with engine.begin() as connection:
        connection.execute(insert(subscribers), rows)
    store_digest(engine)


def send_through(mta, env, db_url, **extra) -> dict:
    return {
        **env,
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_FROM": f"Test News <news@{postfix.DOMAIN}>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(mta.port),
        "DIGEST_SMTP_SECURITY": "none",
        "DIGEST_SMTP_TIMEOUT": "10",
        **extra,
    }


def statuses(digest, run_env) -> dict[str, str]:
    listed = json.loads(digest("subscribers", "list", "--json", extra_env=run_env).out)
    return {row["email"].split("@")[0]: row["status"] for row in listed}


def test_postfix_dsns_bounce_exactly_the_unknown_users_and_twice_changes_nothing(mta, db_url, digest, env):
    store_with(db_url, KNOWN + UNKNOWN)
    run_env = send_through(mta, env, db_url, DIGEST_BOUNCE_ADDRESS=f"news@{postfix.DOMAIN}")
    sent = digest("send", "--period", WEEK, extra_env=run_env)
    assert sent.code == 0, sent.err
    for local in KNOWN:
        mta.wait_for_files(local, 1)
    bounce_files = mta.wait_for_files("news", len(UNKNOWN))
    assert all(b"report-type=delivery-status" in f.read_bytes() for f in bounce_files)

    first = digest("bounces", "process", str(mta.maildir("news")), "--json", extra_env=run_env)
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert sorted(report["bounced"]) == [f"{u}@{postfix.DOMAIN}" for u in UNKNOWN]
    assert report["permanent"] == len(UNKNOWN) and report["unmatched"] == 0
    assert statuses(digest, run_env) == {
        "ann": "active",
        "bob": "active",
        "ghost1": "bounced",
        "ghost2": "bounced",
    }

    again = json.loads(
        digest("bounces", "process", str(mta.maildir("news")), "--json", extra_env=run_env).out
    )
    assert again["bounced"] == [] and again["duplicate"] == len(UNKNOWN) and again["permanent"] == 0
    shown = json.loads(
        digest("subscribers", "show", f"ghost1@{postfix.DOMAIN}", "--json", extra_env=run_env).out
    )
    assert len(shown["bounces"]) == 1 and "5.1.1" in shown["bounces"][0]["detail"]
    assert shown["bounces"][0]["matched_by"] == "verp"


def test_messages_through_postfix_verify_with_dkimpy_and_sign_both_unsubscribe_headers(
    mta, db_url, digest, env, tmp_path
):
    from digest.dkim import dns_value, load_key, verify

    store_with(db_url, KNOWN)
    keygen = digest("dkim", "keygen", "--selector", "dg", "--out", "dkim.pem", "--domain", postfix.DOMAIN)
    assert keygen.code == 0, keygen.err
    run_env = send_through(
        mta, env, db_url, DIGEST_DKIM_PRIVATE_KEY=str(tmp_path / "dkim.pem"), DIGEST_DKIM_SELECTOR="dg"
    )
    assert digest("send", "--period", WEEK, extra_env=run_env).code == 0
    record = dns_value(load_key(tmp_path / "dkim.pem"))
    assert record in keygen.out.replace('" "', "").replace('"', "")
    for local in KNOWN:
        delivered = (
            mta.wait_for_files(local, 1)[0].read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        )
        assert verify(delivered, record), local
        message = message_from_bytes(delivered, policy=email_policy.default)
        tags = dict(
            t.strip().split("=", 1)
            for t in "".join(message["DKIM-Signature"].split()).split(";")
            if t.strip()
        )
        signed = tags["h"].split(":")
        assert {"list-unsubscribe", "list-unsubscribe-post", "from", "to", "subject"} <= set(signed)
        assert tags["d"] == postfix.DOMAIN and tags["s"] == "dg"
        assert not verify(delivered.replace(b"Subject: ", b"Subject: Re: ", 1), record)


def test_arf_about_a_message_postfix_delivered_marks_its_subscriber_complained(
    mta, db_url, digest, env, tmp_path
):
    store_with(db_url, KNOWN)
    run_env = send_through(mta, env, db_url)
    assert digest("send", "--period", WEEK, extra_env=run_env).code == 0
    delivered = mta.wait_for_files("bob", 1)[0].read_bytes()
    message = message_from_bytes(delivered, policy=email_policy.default)
    # The provider's report names no recipient: only the original's Message-ID ties it to bob.
    report = arf(
        delivered.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), recipient="redacted@example.net"
    )
    assert message["Message-ID"]
    (tmp_path / "arf.eml").write_bytes(report)
    first = json.loads(
        digest("bounces", "process", str(tmp_path / "arf.eml"), "--json", extra_env=run_env).out
    )
    assert first["complained"] == [f"bob@{postfix.DOMAIN}"]
    again = json.loads(
        digest("bounces", "process", str(tmp_path / "arf.eml"), "--json", extra_env=run_env).out
    )
    assert again["complained"] == [] and again["duplicate"] == 1
    assert statuses(digest, run_env) == {"ann": "active", "bob": "complained"}
