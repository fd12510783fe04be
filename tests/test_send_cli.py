"""`digest send` as a real process: crashes, concurrent runs, outbox, dry run, test copies."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from sqlalchemy import select

from digest.store.schema import deliveries
from tests.delivery_support import SECRET, WEEK, address, prepared_store, run_send, start_send

CONCURRENCY = 4


def send_env(env: dict, db_url: str, server=None, **extra: str) -> dict:
    values = {
        **env,
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_FROM": "Test News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_SEND_CONCURRENCY": str(CONCURRENCY),
        **(server.env() if server else {}),
        **extra,
    }
    return values


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def test_sigkill_part_way_then_rerun_delivers_all_with_at_most_concurrency_duplicates(
    any_db_url, smtp_server, env, tmp_path
):
    prepared_store(any_db_url, weekly=600)
    server = smtp_server(delay=0.004)
    run_env = send_env(env, any_db_url, server)
    process = start_send(tmp_path, run_env)
    wait_for(lambda: len(server.received) >= 150)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    killed_at = len(server.received)
    assert killed_at < 600, "the kill came too late to test anything"

    rerun = run_send(tmp_path, run_env)
    assert rerun.returncode == 0, rerun.stderr
    copies = Counter(server.recipients())
    assert set(copies) == {address("weekly", n) for n in range(600)}
    duplicates = sum(n - 1 for n in copies.values())
    print(f"SIGKILL at {killed_at} received: {duplicates} duplicates")
    assert duplicates <= CONCURRENCY, copies.most_common(5)


def test_two_concurrent_sends_never_send_a_copy_twice(any_db_url, smtp_server, env, tmp_path):
    prepared_store(any_db_url, weekly=300)
    server = smtp_server(delay=0.02)
    run_env = send_env(env, any_db_url, server)
    first, second = start_send(tmp_path, run_env), start_send(tmp_path, run_env)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outputs
    copies = Counter(server.recipients())
    assert len(copies) == 300 and max(copies.values()) == 1
    sent_by = [int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent_by) == 300
    assert min(sent_by) > 0, "the runs did not overlap; the test proved nothing"


def test_no_smtp_host_writes_one_eml_per_subscriber(digest, db_url, tmp_path):
    prepared_store(db_url, weekly=25, monthly=5)
    env = {"DIGEST_FROM": "Test News <news@example.org>", "DIGEST_SECRET_KEY": SECRET}
    result = digest("send", "--period", WEEK, extra_env=env)
    assert result.code == 0, result.err
    assert "sent 25" in result.out and "outbox" in result.out
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 25
    again = digest("send", "--period", WEEK, extra_env=env)
    assert again.code == 0 and "sent 0" in again.out and "already sent 25" in again.out


def test_dry_run_lists_recipients_and_sends_nothing(digest, db_url, tmp_path, smtp_server):
    engine = prepared_store(db_url, weekly=3, monthly=2)
    server = smtp_server()
    env = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET, **server.env()}
    result = digest("send", "--period", WEEK, "--dry-run", extra_env=env)
    assert result.code == 0, result.err
    assert [line.split("\t")[0] for line in result.out.splitlines()] == [
        address("weekly", n) for n in range(3)
    ]
    assert "would go to 3 recipients" in result.err
    assert server.received == []
    with engine.connect() as connection:
        assert connection.execute(select(deliveries)).first() is None


def test_to_sends_one_test_copy_outside_the_list_and_the_log(digest, db_url, smtp_server):
    engine = prepared_store(db_url, weekly=3)
    server = smtp_server()
    env = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET, **server.env()}
    result = digest("send", "--period", WEEK, "--to", "Editor@Example.org", extra_env=env)
    assert result.code == 0, result.err
    assert server.recipients() == ["Editor@example.org"]
    assert server.received[0].message()["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with engine.connect() as connection:
        assert connection.execute(select(deliveries)).first() is None


def test_send_exits_nonzero_with_one_line_while_recipients_are_owed(digest, db_url):
    from tests.smtp_server import free_port

    engine = prepared_store(db_url, weekly=5)
    env = {
        "DIGEST_FROM": "News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(free_port()),
        "DIGEST_SMTP_SECURITY": "none",
    }
    result = digest("send", "--period", WEEK, extra_env=env)
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("digest: error:")]
    assert len(errors) == 1 and "failed attempts in a row" in errors[0] and "Traceback" not in result.err
    assert "5 still owed" in result.out
    with engine.connect() as connection:
        assert set(connection.execute(select(deliveries.c.state)).scalars()) == {"pending"}


def test_send_without_sender_is_a_config_error(digest, db_url):
    prepared_store(db_url, weekly=1)
    result = digest("send", "--period", WEEK, extra_env={"DIGEST_SECRET_KEY": SECRET})
    assert result.code == 2 and "DIGEST_FROM is required" in result.err


@pytest.mark.parametrize("bad", ["2023-45", "2023-W60"])
def test_bad_period_is_a_usage_error(digest, bad):
    env = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET}
    result = digest("send", "--period", bad, extra_env=env)
    assert result.code == 2 and "Traceback" not in result.err


def test_send_renders_stores_and_sends_a_real_digest_end_to_end(digest, smtp_server):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from digest.periods import week_of
    from tests.conftest import SEEDS

    server = smtp_server()
    env = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET, **server.env()}
    assert digest("ingest", str(SEEDS), extra_env=env).code == 0
    for n in range(3):
        assert (
            digest("subscribers", "add", address("weekly", n), "--name", f"Zoë {n}", extra_env=env).code == 0
        )
    current = week_of(datetime.now(UTC), ZoneInfo("UTC")).key  # undated seed items are dated at ingest
    result = digest("send", "--period", current, "--unfinished", extra_env=env)
    assert result.code == 0, result.err
    assert server.recipients() == [address("weekly", n) for n in range(3)]
    message = server.received[0].message()
    link = message["List-Unsubscribe"].strip("<>")
    assert link in message.get_body(("html",)).get_content()
    assert link in message.get_body(("plain",)).get_content()
    assert digest("send", "--period", current, "--unfinished", extra_env=env).out.count("sent 0") == 1
    empty = digest("send", extra_env=env)  # the last complete week holds nothing
    assert empty.code == 1 and empty.err.startswith("digest: error: no items in weekly")
