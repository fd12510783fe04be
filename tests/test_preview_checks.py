"""The digest checks: pure functions over a message, and SpamAssassin's report when installed."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.config import load_settings
from digest.mail import prepare_message
from digest.models import UNSUBSCRIBE_MARK, RenderedDigest
from digest.web.preview_checks import (
    GMAIL_CLIP_BYTES,
    images_check,
    links_check,
    parse_report,
    parts_check,
    size_check,
    spamassassin,
)
from digest.web.preview_sample import force_dark
from tests.conftest import require_tool

NOW = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)


def message(html: str, text: str = "Hello\n") -> bytes:
    settings = load_settings(environ={}, env_file=None)
    rendered = RenderedDigest("weekly", "2023-W46", "Subject", "pre", html, text, 1)
    url = "https://example.org/unsubscribe/x"
    return (
        prepare_message(settings, rendered, NOW).personalize("a@example.org", None, None, url, "<a@b.c>").data
    )


def test_html_at_gmails_clip_size_fails() -> None:
    assert size_check("x" * (GMAIL_CLIP_BYTES - 1)).ok
    assert not size_check("x" * GMAIL_CLIP_BYTES).ok
    assert not size_check("é" * (GMAIL_CLIP_BYTES // 2)).ok  # bytes, not characters


def test_links_that_are_not_https_are_listed() -> None:
    page = '<a href="https://a.org">a</a> <a href="http://b.org/x">b</a> <a href="mailto:c@d.org">c</a>'
    check = links_check(page + '<a href="javascript:alert(1)">d</a>')
    assert not check.ok
    assert check.details == ("http://b.org/x", "javascript:alert(1)")
    assert check.summary == "4 links, 2 not https"
    assert links_check('<a href="https://a.org">a</a>').ok


def test_images_without_alt_text_are_listed_and_empty_alt_is_fine() -> None:
    check = images_check('<img src="https://a.org/1.png" alt=""><img src="https://a.org/2.png">')
    assert not check.ok and check.details == ("https://a.org/2.png",)
    assert images_check('<img src="https://a.org/1.png" alt="Logo">').ok
    assert images_check("<p>no pictures</p>").summary == "no images"


def test_message_needs_both_text_and_html_parts() -> None:
    assert parts_check(message("<p>Hi</p>")).ok
    empty_text = parts_check(message("<p>Hi</p>", text=" \n"))
    assert not empty_text.ok and "text/plain" in empty_text.summary


def test_spamassassin_report_is_parsed_with_rule_descriptions() -> None:
    output = """Spam detection software ...
Content analysis details:   (2.6 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP
 2.5 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar or identical to
                            background
 0.1 MISSING_MID            Missing Message-Id: header

"""
    report = parse_report(output)
    assert (report.score, report.required, report.ok) == (2.6, 5.0, True)
    assert [rule.name for rule in report.rules] == ["NO_RELAYS", "HTML_FONT_LOW_CONTRAST", "MISSING_MID"]
    assert report.rules[1].description == "BODY: HTML font color similar or identical to background"
    assert str(report.rules[0].score) == "0.0"
    assert parse_report("garbage").error


def test_spamassassin_scores_a_real_message() -> None:
    require_tool("spamassassin")
    report = spamassassin(message(f'<p>Hello <a href="{UNSUBSCRIBE_MARK}">unsubscribe</a></p>'))
    assert report is not None and report.error is None, report
    assert report.score is not None and report.required == 5.0
    assert any(rule.name == "HTML_MESSAGE" for rule in report.rules)


def test_force_dark_makes_dark_rules_unconditional_and_light_ones_never() -> None:
    page = (
        "<html><head><style>@media (prefers-color-scheme: dark) { b { color: white } }"
        "@media screen and (prefers-color-scheme:light) { b { color: black } }</style></head></html>"
    )
    dark = force_dark(page)
    assert "prefers-color-scheme" not in dark
    assert "@media (min-width: 0px) { b { color: white } }" in dark
    assert "@media screen and (max-width: -1px)" in dark
    assert dark.index('content="dark"') < dark.index("<style>@media")
