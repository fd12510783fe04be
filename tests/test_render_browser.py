"""The rendered digest in a real browser: Debian's headless Chromium driven by Playwright.

`DIGEST_REFRESH_GOLDEN=1` also rewrites the screenshots in docs/ (see tests/golden/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_render import NOW, WEEK, hostile_items, render_seed, sample_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"

pytestmark = pytest.mark.browser


def open_page(browser, html: str, width: int, scheme: str = "light"):
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page.route("**/*", lambda route: route.abort())  # nothing may load from anywhere
    page.set_content(html, wait_until="load")
    return page


def scroll_width(browser, html: str, width: int) -> int:
    page = open_page(browser, html, width)
    try:
        return page.evaluate("document.documentElement.scrollWidth")
    finally:
        page.close()


def test_seed_digest_never_scrolls_sideways_on_a_phone(browser):
    assert scroll_width(browser, render_seed().html, 375) <= 375


def test_hostile_digest_never_scrolls_sideways_on_a_phone(browser):
    from digest.render import render_digest

    html = render_digest(sample_settings(), WEEK, hostile_items(), NOW).html
    assert scroll_width(browser, html, 375) <= 375


def test_dark_mode_turns_the_card_dark_and_keeps_text_light(browser):
    html = render_seed().html
    colours = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, html, 800, scheme)
        colours[scheme] = page.evaluate(
            """() => {
              const card = document.querySelector('.card');
              const title = document.querySelector('.title');
              return [getComputedStyle(card).backgroundColor, getComputedStyle(title).color];
            }"""
        )
        page.close()
    assert colours["light"] == ["rgb(255, 255, 255)", "rgb(31, 35, 40)"]
    assert colours["dark"] == ["rgb(28, 28, 31)", "rgb(232, 232, 236)"]


def test_content_is_about_600_px_wide_on_a_desktop(browser):
    page = open_page(browser, render_seed().html, 1200)
    width = page.evaluate("document.querySelector('.card').getBoundingClientRect().width")
    page.close()
    assert width == 600


def test_arabic_digest_reads_right_to_left_on_a_phone(browser):
    page = open_page(browser, render_seed("ar").html, 375)
    try:
        found = page.evaluate(
            """() => {
              const edge = (sel) => document.querySelector(sel).getBoundingClientRect();
              const card = edge('.card'), title = edge('.title'), intro = edge('.intro');
              return {
                direction: getComputedStyle(document.querySelector('.intro')).direction,
                align: getComputedStyle(document.querySelector('.intro')).textAlign,
                introRightGap: card.right - intro.right,
                scroll: document.documentElement.scrollWidth,
              };
            }"""
        )
    finally:
        page.close()
    assert found["direction"] == "rtl" and found["align"] == "right"
    assert found["introRightGap"] <= 28  # starts at the right edge, inside the card's padding
    assert found["scroll"] <= 375


@pytest.mark.skipif(not os.environ.get("DIGEST_REFRESH_GOLDEN"), reason="only DIGEST_REFRESH_GOLDEN=1")
def test_refresh_screenshots(browser):
    DOCS.mkdir(exist_ok=True)
    shots = [("en", width, height) for width, height in ((375, 812), (800, 1100))] + [("ar", 375, 812)]
    for lang, width, height in shots:
        html = render_seed(lang).html
        for scheme in ("light", "dark"):
            page = open_page(browser, html, width, scheme)
            page.set_viewport_size({"width": width, "height": height})
            name = f"digest-{width}-{scheme}.png" if lang == "en" else f"digest-{lang}-{width}-{scheme}.png"
            page.screenshot(path=DOCS / name)
            page.close()
