"""Sign-up rules on a real SQLite file: double opt-in, one mail an hour, confirmation once, clean-up,
the consent record, signed links across a key rotation, and the secret key's minimum length."""

from __future__ import annotations

import concurrent.futures
import email
import email.policy
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from digest import signup
from digest.config import load_settings
from digest.confirmation import send_confirmation
from digest.errors import ConfigError
from digest.schedule import service
from digest.schedule.runs import Context
from digest.store import open_engine
from digest.store import subscribers as store
from digest.store.schema import subscriber_events
from digest.subscribers import add_subscriber, remove_subscriber, subscriber_record
from digest.tokens import make_confirm_token, make_token, read_confirm_token, read_token
from digest.transport import MemoryTransport

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "k" * 40
OLD_KEY = "o" * 40


@pytest.fixture
def engine(any_db_url: str) -> Engine:
    """Every rule on SQLite and on the real PostgreSQL."""
    return open_engine(any_db_url)


def ask(engine: Engine, email: str, at: datetime = T0, **options) -> signup.Signup:
    request = signup.check_request(
        signup.SignupRequest(email, "Ann", "weekly", ip="192.0.2.7", user_agent="Browser/1.0")
    )
    return signup.sign_up(engine, request, at, **options)


def row(engine: Engine, email: str):
    with engine.connect() as connection:
        return store.get_by_email(connection, email)


def claim_for(result: signup.Signup, expired: bool = False) -> signup.ConfirmClaim:
    return signup.ConfirmClaim(result.subscriber_id, result.nonce, expired)


def test_a_new_address_waits_pending_with_one_link_owed(engine: Engine) -> None:
    result = ask(engine, "Ann@Example.org")
    assert result.action == "pending" and result.mail_owed
    assert row(engine, "ann@example.org").status == "pending"


def test_without_double_opt_in_a_new_address_is_active_at_once(engine: Engine) -> None:
    result = ask(engine, "ann@example.org", double_opt_in=False)
    assert result.action == "active" and not result.mail_owed
    assert row(engine, "ann@example.org").status == "active"


def test_concurrent_sign_ups_for_one_address_owe_one_mail(engine: Engine) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda i: ask(engine, "ann@example.org", T0 + timedelta(seconds=i)), range(40))
        )
    assert sum(r.mail_owed for r in results) == 1
    assert len([r for r in store_rows(engine) if r.email == "ann@example.org"]) == 1


def test_the_scheduler_job_deletes_expired_sign_ups(engine: Engine) -> None:
    ask(engine, "old@example.org", datetime.now(UTC) - timedelta(hours=80))
    settings = load_settings(environ={"DIGEST_CONFIRM_HOURS": "72"}, env_file=None)
    service._context = Context(settings, engine, threading.Event())
    try:
        service.purge()
    finally:
        service._context = None
    assert row(engine, "old@example.org") is None


def test_a_burst_of_sign_ups_for_one_address_owes_one_mail_an_hour(engine: Engine) -> None:
    results = [ask(engine, "ann@example.org", T0 + timedelta(seconds=i)) for i in range(50)]
    assert sum(r.mail_owed for r in results) == 1
    later = ask(engine, "ann@example.org", T0 + timedelta(hours=1, seconds=1))
    assert later.mail_owed and later.nonce == results[0].nonce  # the same sign-up, a fresh mail


def test_an_active_address_signing_up_again_gets_nothing_and_no_second_row(engine: Engine) -> None:
    add_subscriber(engine, "ann@example.org", None, "monthly", T0)
    result = ask(engine, "ANN@example.org", T0 + timedelta(days=1))
    assert result.action == "already" and not result.mail_owed
    assert [r.email for r in store_rows(engine)] == ["ann@example.org"]
    assert row(engine, "ann@example.org").cadence == "monthly"


def store_rows(engine: Engine) -> list:
    with engine.connect() as connection:
        return list(store.iter_subscribers(connection))


def test_an_address_that_left_must_confirm_again_and_stays_out_until_it_does(engine: Engine) -> None:
    add_subscriber(engine, "ann@example.org", None, "weekly", T0)
    remove_subscriber(engine, "ann@example.org", T0 + timedelta(days=1))
    result = ask(engine, "ann@example.org", T0 + timedelta(days=2), double_opt_in=False)
    assert result.mail_owed
    assert row(engine, "ann@example.org").status == "unsubscribed"
    done = signup.confirm(engine, claim_for(result), T0 + timedelta(days=2, hours=1), "192.0.2.8", "B/2")
    assert done.outcome == "confirmed"
    assert row(engine, "ann@example.org").status == "active"


def test_a_link_confirms_once_and_then_says_it_was_used(engine: Engine) -> None:
    result = ask(engine, "ann@example.org")
    first = signup.confirm(engine, claim_for(result), T0 + timedelta(minutes=5))
    again = signup.confirm(engine, claim_for(result), T0 + timedelta(minutes=6))
    assert (first.outcome, again.outcome) == ("confirmed", "already")


def test_an_expired_link_changes_nothing_and_a_new_one_can_be_asked_for(engine: Engine) -> None:
    result = ask(engine, "ann@example.org")
    late = T0 + timedelta(hours=80)
    assert signup.confirm(engine, claim_for(result, expired=True), late).outcome == "expired"
    assert row(engine, "ann@example.org").status == "pending"
    fresh = signup.ask_again(engine, claim_for(result, expired=True), late)
    assert fresh.mail_owed
    assert not signup.ask_again(engine, claim_for(result, expired=True), late).mail_owed  # hourly


def test_unconfirmed_sign_ups_are_deleted_after_the_expiry_but_their_counts_stay(engine: Engine) -> None:
    ask(engine, "old@example.org", T0)
    ask(engine, "new@example.org", T0 + timedelta(hours=70))
    add_subscriber(engine, "kept@example.org", None, "weekly", T0)
    remove_subscriber(engine, "kept@example.org", T0)
    ask(engine, "kept@example.org", T0)  # left, asked to come back, never confirmed
    deleted = signup.purge_unconfirmed(engine, T0 + timedelta(hours=73), confirm_hours=72)
    assert deleted == 1
    assert row(engine, "old@example.org") is None
    assert row(engine, "new@example.org").status == "pending"
    kept = row(engine, "kept@example.org")
    assert kept.status == "unsubscribed" and kept.confirm_nonce is None
    with engine.connect() as connection:
        history = connection.execute(select(subscriber_events).order_by(subscriber_events.c.id)).all()
    signups = [e for e in history if e.kind == "signup"]
    assert len(signups) == 3  # the weekly counts do not change after the fact
    assert [(e.subscriber_id, e.ip, e.user_agent) for e in signups[:1]] == [(None, None, None)]
    assert [e.kind for e in history if e.subscriber_id is None] == ["signup", "expired"]


def test_the_consent_record_is_kept_after_the_subscriber_leaves(engine: Engine) -> None:
    result = ask(engine, "ann@example.org")
    signup.confirm(engine, claim_for(result), T0 + timedelta(minutes=3), "198.51.100.4", "Phone/9")
    remove_subscriber(engine, "ann@example.org", T0 + timedelta(days=30))
    record = subscriber_record(engine, "ann@example.org")
    assert record["status"] == "unsubscribed"
    assert record["consent"] == {
        "source": "form",
        "signed_up_at": T0,
        "ip": "192.0.2.7",
        "user_agent": "Browser/1.0",
        "confirmed_at": T0 + timedelta(minutes=3),
        "confirmed_ip": "198.51.100.4",
        "confirmed_user_agent": "Phone/9",
    }
    assert [e["event"] for e in record["events"]] == ["signup", "confirmed", "unsubscribed"]


def test_subscribers_show_prints_the_consent_record_as_json(digest) -> None:
    assert digest("subscribers", "add", "ann@example.org").code == 0
    shown = digest("subscribers", "show", "ann@example.org", "--json")
    assert shown.code == 0, shown.err
    record = json.loads(shown.out)
    assert record["status"] == "active" and record["consent"]["source"] == "cli"
    assert record["consent"]["confirmed_at"] is None
    missing = digest("subscribers", "show", "nobody@example.org")
    assert missing.code == 1 and "no subscriber" in missing.err


def test_links_signed_with_an_earlier_key_keep_working_after_rotation() -> None:
    old_link = make_token(OLD_KEY, 42)
    assert read_token((KEY, OLD_KEY), old_link) == 42
    assert read_token(KEY, old_link) is None  # without the old key it is refused
    assert make_token((KEY, OLD_KEY), 42) == make_token(KEY, 42)  # new links use the current key
    token = make_confirm_token(OLD_KEY, 7, "nonce")
    assert read_confirm_token((KEY, OLD_KEY), token, 3600).subscriber_id == 7
    assert read_confirm_token(KEY, token, 3600) is None


@pytest.mark.parametrize("key", ["x" * 10, "x" * 31])
def test_a_short_secret_key_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY: must be at least 32 characters"):
        load_settings(environ={"DIGEST_SECRET_KEY": key}, env_file=None)


def test_config_check_exits_2_for_a_ten_character_key(digest) -> None:
    result = digest("config", "check", extra_env={"DIGEST_SECRET_KEY": "0123456789"})
    assert result.code == 2
    assert result.err.strip().startswith("digest: config error: DIGEST_SECRET_KEY: must be at least 32")
    assert "0123456789" not in result.err + result.out  # the key itself is never printed


def test_config_secret_prints_a_new_key_that_config_check_accepts(digest) -> None:
    first, second = digest("config", "secret"), digest("config", "secret")
    key = first.out.strip()
    assert first.code == 0 and len(key) >= 32 and key != second.out.strip()
    assert digest("config", "check", extra_env={"DIGEST_SECRET_KEY": key}).code == 0


def test_an_old_key_too_short_is_refused(digest) -> None:
    result = digest(
        "config", "check", extra_env={"DIGEST_SECRET_KEY": KEY, "DIGEST_OLD_SECRET_KEYS": "short"}
    )
    assert result.code == 2 and "DIGEST_OLD_SECRET_KEYS" in result.err


def test_the_confirmation_mail_is_a_styled_message_without_list_headers(tmp_path) -> None:
    settings = load_settings(
        environ={
            "DIGEST_FROM": "IMT News <news@example.org>",
            "DIGEST_SECRET_KEY": KEY,
            "DIGEST_NAME": "IMT News",
        },
        env_file=None,
    )
    transport = MemoryTransport()
    link = "http://127.0.0.1:8080/confirm/abc.def"
    send_confirmation(
        settings, "ann@example.org", "Ann\r\nBcc: x@example.org", "monthly", link, T0, transport
    )
    [(sender, recipient, data)] = transport.messages
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert (sender, recipient) == ("news@example.org", "ann@example.org")
    assert message["Subject"] == "Confirm your subscription to IMT News"
    assert not [h for h in message if h.lower().startswith("list-")] and message["Bcc"] is None
    html, text = message.get_body(("html",)).get_content(), message.get_body(("plain",)).get_content()
    assert f'href="{link}"' in html and link in text and "monthly" in text
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_a_confirmation_mail_that_could_not_go_lets_the_next_sign_up_mail_again(engine: Engine) -> None:
    first = ask(engine, "ann@example.org")
    assert not ask(engine, "ann@example.org", T0 + timedelta(minutes=1)).mail_owed
    signup.release(engine, first)
    assert ask(engine, "ann@example.org", T0 + timedelta(minutes=2)).mail_owed


def test_a_sign_up_stores_its_language_and_zone_and_confirming_keeps_them(engine: Engine) -> None:
    wanted = signup.SignupRequest(
        "ana@example.org", None, "weekly", locale="es-MX", timezone="America/Bogota"
    )
    result = signup.sign_up(engine, signup.check_request(wanted), T0)
    assert result.locale == "es"
    assert (row(engine, "ana@example.org").locale, row(engine, "ana@example.org").timezone) == (
        "es",
        "America/Bogota",
    )
    signup.confirm(engine, claim_for(result), T0 + timedelta(minutes=2))
    kept = row(engine, "ana@example.org")
    assert (kept.status, kept.locale, kept.timezone) == ("active", "es", "America/Bogota")


def test_a_new_sign_up_of_a_departed_address_brings_its_own_language(engine: Engine) -> None:
    add_subscriber(engine, "jo@example.org", None, "weekly", T0, locale="de", timezone="Europe/Berlin")
    remove_subscriber(engine, "jo@example.org", T0)
    again = signup.check_request(signup.SignupRequest("jo@example.org", None, "weekly", locale="pt"))
    result = signup.sign_up(engine, again, T0 + timedelta(days=1))
    assert result.mail_owed and result.locale == "pt"
    stored = row(engine, "jo@example.org")
    assert (stored.locale, stored.timezone) == ("pt", "Europe/Berlin")  # no zone sent: the old one stays


@pytest.mark.parametrize("zone", ["Mars/Base", "", "Europe/Berlin\r\nBcc: x", "x" * 500])
def test_a_zone_the_tz_database_does_not_know_is_dropped(zone: str) -> None:
    checked = signup.check_request(signup.SignupRequest("a@example.org", None, "weekly", timezone=zone))
    assert checked.timezone is None


def test_a_language_we_do_not_ship_is_refused_at_sign_up() -> None:
    with pytest.raises(ValueError, match=r"^unknown locale"):
        signup.check_request(signup.SignupRequest("a@example.org", None, "weekly", locale="tlh"))
