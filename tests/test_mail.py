"""The spliced per-recipient message must parse to exactly what a freshly built one holds."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from digest.config import load_settings
from digest.mail import build_message, make_message_id, prepare_message
from digest.models import UNSUBSCRIBE_MARK, RenderedDigest
from digest.tokens import read_token, unsubscribe_url

NOW = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)


def make_settings(**env: str):
    base = {
        "DIGEST_FROM": "Ünïcode News <news@example.org>",
        "DIGEST_SECRET_KEY": "test-secret-padded-to-32-characters-or-more",
        "DIGEST_BASE_URL": "https://news.example.org",
        "DIGEST_TIMEZONE": "Europe/Paris",
    }
    return load_settings({**base, **env}, env_file=None)


def rendered(text: str | None = None, html: str | None = None) -> RenderedDigest:
    long_line = "Ωmega " * 60
    return RenderedDigest(
        cadence="weekly",
        period="2023-W45",
        subject="Digest — Week 45 · 6–12 November 2023, a subject long enough to need folding",
        preheader="This week",
        html=html
        if html is not None
        else (
            '<!doctype html><html><body><p style="color:#333">Café crème = 3€</p>'
            f'<p>{long_line}</p><a href="{UNSUBSCRIBE_MARK}">Unsubscribe</a>'
            f"<p>or paste {UNSUBSCRIBE_MARK}</p></body></html>"
        ),
        text=text if text is not None else f"Hello\r\nCafé\n{long_line}\nUnsubscribe: {UNSUBSCRIBE_MARK}\n",
        item_count=3,
    )


def parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def signature(message) -> tuple:
    """Headers (without the random MIME boundary) and decoded parts: what a reader sees.

    Header values are compared after unfolding (RFC 5322 2.2.3): the email package folds a long
    List-Unsubscribe before the URL and keeps the leading space, the splice keeps it on one line."""
    headers = [(k, " ".join(str(v).split())) for k, v in message.items() if k != "Content-Type"]
    parts = [(p.get_content_type(), p.get_content_charset(), p.get_content()) for p in message.iter_parts()]
    return headers, message.get_content_type(), parts


def both(settings, digest, email, name, subscriber_id=7):
    url = unsubscribe_url(settings.base_url, settings.secret_key, subscriber_id)
    mid = make_message_id(settings, digest.cadence, digest.period, subscriber_id, email)
    spliced = prepare_message(settings, digest, NOW).personalize(email, name, subscriber_id, url, mid).data
    fresh = build_message(settings, digest, NOW, email, name, url, mid).as_bytes()
    return spliced, fresh, url


@pytest.mark.parametrize(
    "name",
    [
        "Ann Smith",
        "",
        None,
        "Zoë Ångström-Łukasiewicz",
        'J. R. "Bob" O\'Neil, Jr.',
        "山田 太郎",
        'Zoë "Z" <zoe@evil.example>, Jr.',
        "Ünïcode =?utf-8?q?not_a_word?=",
        "Åsa-Britt Öberg-Lindqvist",  # 28 chars, 34 bytes: the one-encoded-word fast path
        "Åsa-Britt Öberg-Lindqvist Ærø Ål",  # over the fast path's size: the email package folds
        "A very long display name that goes on and on well past the seventy-eight column limit",
        "Eve\r\nBcc: victim@example.com",
        "Mallory\nSubject: free money\r\n\r\nbody",
    ],
)
def test_spliced_message_parses_like_a_fresh_one(name):
    settings = make_settings(
        DIGEST_REPLY_TO="Desk <desk@example.org>", DIGEST_UNSUBSCRIBE_MAILTO="u@example.org"
    )
    spliced, fresh, _ = both(settings, rendered(), "reader@example.com", name)
    assert signature(parse(spliced)) == signature(parse(fresh))


def test_spliced_message_matches_with_marker_at_edges_and_no_mailto():
    digest = rendered(text=f"{UNSUBSCRIBE_MARK}", html=f"{UNSUBSCRIBE_MARK}x{UNSUBSCRIBE_MARK}")
    spliced, fresh, url = both(make_settings(), digest, "a@example.com", "A")
    assert signature(parse(spliced)) == signature(parse(fresh))
    assert parse(spliced).get_body(("plain",)).get_content().strip() == url


def test_hostile_name_never_creates_a_header():
    spliced, _, _ = both(make_settings(), rendered(), "reader@example.com", "Eve\r\nBcc: victim@example.com")
    message = parse(spliced)
    assert message["Bcc"] is None
    assert message["To"].addresses[0].addr_spec == "reader@example.com"
    assert b"\r\nBcc:" not in spliced


def test_message_has_every_header_a_mailbox_provider_expects():
    settings = make_settings(DIGEST_REPLY_TO="desk@example.org", DIGEST_UNSUBSCRIBE_MAILTO="u@example.org")
    spliced, _, url = both(settings, rendered(), "reader@example.com", "Zoë")
    message = parse(spliced)
    assert message["From"].addresses[0].addr_spec == "news@example.org"
    assert message["To"].addresses[0].display_name == "Zoë"
    assert "=?utf-8?" in spliced.split(b"\r\n\r\n")[0].decode("ascii")  # RFC 2047, headers stay ASCII
    assert message["Subject"].startswith("Digest — Week 45")
    assert message["Date"].datetime.utcoffset() is not None and message["Date"].endswith("+0100")
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Reply-To"] == "desk@example.org"
    assert message["List-Id"].endswith("<digest-weekly.example.org>")
    assert message["List-Unsubscribe"] == f"<{url}>, <mailto:u@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())


def test_personal_link_is_the_same_in_header_and_both_bodies():
    spliced, _, url = both(make_settings(), rendered(), "reader@example.com", "Ann", subscriber_id=42)
    message = parse(spliced)
    assert read_token("test-secret-padded-to-32-characters-or-more", url.rsplit("/", 1)[1]) == 42
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert f"Unsubscribe: {url}" in message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert html.count(url) == 2 and UNSUBSCRIBE_MARK not in html
    assert "reader@example.com" not in url


def test_lines_stay_within_rfc5322_limits():
    spliced, _, _ = both(make_settings(), rendered(), "reader@example.com", "Ann")
    head, _, body = spliced.partition(b"\r\n\r\n")
    assert all(len(line) <= 78 for line in body.split(b"\r\n"))
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert b"\n" not in spliced.replace(b"\r\n", b"")  # CRLF only, no bare line feeds
    assert spliced.isascii()


def test_message_id_is_stable_per_recipient_and_distinct_between_them():
    settings = make_settings()
    first = make_message_id(settings, "weekly", "2023-W45", 1, "a@example.com")
    assert first == make_message_id(settings, "weekly", "2023-W45", 1, "a@example.com")
    assert first != make_message_id(settings, "weekly", "2023-W45", 2, "b@example.com")
    assert first != make_message_id(settings, "weekly", "2023-W46", 1, "a@example.com")
    assert make_message_id(settings, "weekly", "2023-W45", None) != make_message_id(
        settings, "weekly", "2023-W45", None
    )


def test_sample_message_without_a_sender_configured_still_builds():
    settings = load_settings({}, env_file=None)
    prepared = prepare_message(settings, rendered(), NOW)
    raw = prepared.personalize(
        "reader@example.com", "Sample Reader", None, "https://x.test/u/t", "<a@b>"
    ).data
    assert parse(raw)["From"].addresses[0].addr_spec == "digest@localhost"


@pytest.mark.parametrize("base", ["https://news.example.org", "https://n.example.org/a.b.c/" + "x." * 40])
def test_wire_form_is_the_message_dot_stuffed_for_smtp_data(base):
    from digest.transport import wire_data, wire_form

    text = f".NET notes\n..two dots\nUnsubscribe: {UNSUBSCRIBE_MARK}\n.\n"
    html = f'<p>x</p>\n.leading dot\n<a href="{UNSUBSCRIBE_MARK}">off</a>\n'
    settings = make_settings(DIGEST_BASE_URL=base, DIGEST_UNSUBSCRIBE_MAILTO="off@example.org")
    prepared = prepare_message(settings, rendered(text=text, html=html), NOW)
    for subscriber_id in range(1, 40):  # tokens of every length and dot position
        url = unsubscribe_url(settings.base_url, settings.secret_key, subscriber_id * 7919)
        personal = prepared.personalize("a@example.com", "Ann", subscriber_id, url, "<m@example.org>")
        assert (
            personal.data
            == prepared.personalize("a@example.com", "Ann", subscriber_id, url, "<m@example.org>").data
        )
        assert wire_form(personal) == wire_data(personal.data)
    wire = wire_form(personal)
    assert b"\r\n..NET notes" in wire and b"\r\n...two dots" in wire
