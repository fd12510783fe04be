"""Usage errors of `send` and `build` exit 2, and a test copy carries the sample link."""

from __future__ import annotations

from digest.tokens import sample_unsubscribe_url
from tests.delivery_support import SECRET, WEEK, prepared_store

SENDER = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET}


def test_a_test_copy_links_to_the_sample_page_not_a_subscriber(digest, db_url, smtp_server):
    prepared_store(db_url, weekly=2)
    server = smtp_server()
    result = digest(
        "send", "--period", WEEK, "--to", "editor@example.org", extra_env={**SENDER, **server.env()}
    )
    assert result.code == 0, result.err
    message = server.received[0].message()
    link = sample_unsubscribe_url("http://127.0.0.1:8080")
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert link in message.get_body(("plain",)).get_content()


def test_send_to_an_invalid_address_is_a_usage_error(digest, db_url):
    prepared_store(db_url, weekly=2)
    result = digest("send", "--period", WEEK, "--to", "not-an-email", extra_env=SENDER)
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1 and "--to" in result.err


def test_a_weekly_key_for_a_monthly_digest_is_a_usage_error(digest, db_url, tmp_path):
    prepared_store(db_url, weekly=2)
    for command in (["send", "--dry-run"], ["build", "--out", str(tmp_path / "out")]):
        result = digest(*command, "--cadence", "monthly", "--period", "2023-W45", extra_env=SENDER)
        assert result.code == 2, (command, result.err)
        assert "--period" in result.err and "Traceback" not in result.err
