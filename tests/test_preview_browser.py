"""`digest preview` in real headless Chromium against a real server process.

Refresh the screenshots in docs/ with:
    DIGEST_PREVIEW_SCREENSHOTS=docs .venv/bin/python -m pytest -q tests/test_preview_browser.py
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_preview import SEED_TITLES, Preview, running_preview, this_month, this_week

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def preview(tmp_path_factory) -> Iterator[Preview]:
    with running_preview(tmp_path_factory.mktemp("preview-browser")) as running:
        yield running


@pytest.fixture
def page(browser):
    """A fresh page that records every JavaScript error; a test fails if any was recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    yield opened
    context.close()
    assert problems == [], "JavaScript errors in the preview"


def snap(page, name: str) -> None:
    folder = os.environ.get("DIGEST_PREVIEW_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(REPO / folder / f"{name}.png"))


def frame_text(page, title: str) -> str:
    frame = page.frame_locator(f'iframe[title="{title}"]')
    return " ".join(frame.locator("body").inner_text(timeout=15_000).split())


def test_index_lists_this_week_and_this_month(preview: Preview, page) -> None:
    page.goto(preview.url + "/")
    weekly = page.get_by_role("link", name=this_week(), exact=True)
    monthly = page.get_by_role("link", name=this_month(), exact=True)
    assert weekly.is_visible() and monthly.is_visible()
    row = page.locator("tr", has=weekly)
    assert str(len(SEED_TITLES)) in row.inner_text() and "not sent" in row.inner_text()
    snap(page, "preview-index")
    weekly.click()
    page.wait_for_url(f"**/digest/weekly/{this_week()}")


def test_digest_page_shows_every_seed_title(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/weekly/{this_week()}")
    shown = frame_text(page, "Desktop preview")
    missing = [title for title in SEED_TITLES if title not in shown]
    assert missing == []
    snap(page, "preview")


def test_desktop_frame_shows_the_whole_digest_without_its_own_scrollbar(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/weekly/{this_week()}")
    page.wait_for_load_state("load")
    frame = page.locator('iframe[title="Desktop preview"]')
    inner = page.frame_locator('iframe[title="Desktop preview"]').locator("html")
    page.wait_for_function(
        "f => f.clientHeight >= f.contentDocument.documentElement.scrollHeight",
        arg=frame.element_handle(),
    )
    assert frame.evaluate("f => f.clientWidth") >= 600
    assert inner.evaluate("h => h.scrollHeight") > 1500  # twelve items: far more than one screen


def test_phone_frame_is_375_px_wide_and_fits(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/weekly/{this_week()}")
    page.get_by_role("link", name="Phone", exact=True).click()
    frame = page.locator('iframe[title="Phone preview"]')
    assert frame.evaluate("f => f.clientWidth") == 375
    inner = page.frame_locator('iframe[title="Phone preview"]').locator("html")
    assert inner.evaluate("h => h.scrollWidth <= h.clientWidth")  # no sideways scrolling on a phone
    assert SEED_TITLES[0] in frame_text(page, "Phone preview")
    snap(page, "preview-phone")


def test_clicking_text_shows_the_plain_text_version(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/monthly/{this_month()}")
    page.get_by_role("link", name="Text", exact=True).click()
    text = page.locator("#plain-text")
    text.wait_for()
    assert text.evaluate("e => e.tagName") == "PRE"
    shown = " ".join(text.inner_text().split())
    assert all(title in shown for title in SEED_TITLES)
    assert "<" not in text.inner_text().split("http")[0]  # plain text, not markup


def test_dark_view_shows_the_digest_dark(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/weekly/{this_week()}?view=dark")
    title = page.frame_locator('iframe[title="Desktop preview in dark mode"]').get_by_role(
        "heading", name=SEED_TITLES[0]
    )
    dark = title.evaluate(INK_AND_PAPER)
    snap(page, "preview-dark")
    page.goto(f"{preview.url}/digest/weekly/{this_week()}")
    title = page.frame_locator('iframe[title="Desktop preview"]').get_by_role("heading", name=SEED_TITLES[0])
    light = title.evaluate(INK_AND_PAPER)
    # light titles on a dark card in the dark frame, dark titles on a light card in the normal one
    assert luminance(dark["ink"]) > 0.7 and luminance(dark["paper"]) < 0.3, dark
    assert luminance(light["ink"]) < 0.3 and luminance(light["paper"]) > 0.7, light


# The text colour of an element and the first non-transparent background behind it.
INK_AND_PAPER = """e => {
  const ink = getComputedStyle(e).color;
  let node = e, paper = "rgb(255, 255, 255)";
  while (node && node.nodeType === 1) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && bg !== "transparent" && !bg.startsWith("rgba(0, 0, 0, 0")) { paper = bg; break; }
    node = node.parentElement;
  }
  return {ink, paper};
}"""


def luminance(css_colour: str) -> float:
    red, green, blue = (int(part) for part in css_colour.split("(")[1].split(")")[0].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_item_ingested_by_another_process_appears_without_reload(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/weekly/{this_week()}")
    assert SEED_TITLES[0] in frame_text(page, "Desktop preview")
    page.evaluate("window.__sameDocument = true")  # gone after any reload: proves one happened
    page.mouse.wheel(0, 600)
    page.wait_for_function("window.scrollY >= 600")
    title = "Late breaking: an item from a second terminal"
    source = preview.workdir / "late.txt"
    source.write_text(f"{title}\n\nIngested by another process while the page was open.\n")
    done = preview.cli("ingest", str(source))
    assert done.returncode == 0, done.stderr
    frame = page.frame_locator('iframe[title="Desktop preview"]')
    frame.get_by_role("heading", name=title).wait_for(timeout=10_000)  # no page.reload(): live reload did it
    assert page.evaluate("window.__sameDocument === undefined")
    page.wait_for_function("window.scrollY >= 600", timeout=5_000)  # the reader keeps their place


def test_send_test_form_reports_the_copy(preview: Preview, page) -> None:
    page.goto(f"{preview.url}/digest/weekly/{this_week()}")
    page.get_by_role("link", name="Send test", exact=True).click()
    page.get_by_label("Email address").fill("organizer@example.org")
    page.get_by_role("button", name="Send test").click()
    notice = page.get_by_role("status")
    assert "Sent a test copy" in notice.inner_text()
    assert "organizer@example.org" in notice.inner_text()


def test_template_error_appears_and_clears_in_the_open_page(browser, tmp_path: Path) -> None:
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    template = overrides / "digest.txt"
    with running_preview(tmp_path, DIGEST_TEMPLATES_DIR=str(overrides)) as running:
        opened = browser.new_page(viewport={"width": 1280, "height": 900})
        script_errors: list[str] = []  # a 500 page logs a failed load; only script errors count here
        opened.on("pageerror", lambda error: script_errors.append(str(error)))
        opened.goto(f"{running.url}/digest/weekly/{this_week()}?view=text")
        opened.locator("#plain-text").wait_for()
        template.write_text("{{ digest.title }}\n\n{% for item in items %}\n{% endfor %\n")
        alert = opened.get_by_role("alert")
        alert.wait_for(timeout=10_000)  # the page went to the error by itself
        assert re.search(r"digest\.txt:\d+", alert.inner_text()), alert.inner_text()  # file and line
        template.unlink()
        opened.locator("#plain-text").wait_for(timeout=10_000)  # and came back once it was fixed
        assert SEED_TITLES[0] in " ".join(opened.locator("#plain-text").inner_text().split())
        assert script_errors == []
        opened.close()


@pytest.mark.parametrize("view", ["desktop", "phone"])
def test_desktop_and_phone_show_the_light_mail_on_a_dark_system(preview: Preview, browser, view) -> None:
    """Only the Dark tab shows the dark mail: an organizer whose system is dark still sees the light one."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    try:
        dark_system = context.new_page()
        dark_system.goto(f"{preview.url}/digest/weekly/{this_week()}?view={view}")
        title = "Desktop preview" if view == "desktop" else "Phone preview"
        heading = dark_system.frame_locator(f'iframe[title="{title}"]').get_by_role(
            "heading", name=SEED_TITLES[0]
        )
        colours = heading.evaluate(INK_AND_PAPER)
    finally:
        context.close()
    assert luminance(colours["ink"]) < 0.3 and luminance(colours["paper"]) > 0.7, colours


def test_the_tab_row_is_whole_on_a_375_px_screen(preview: Preview, browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        phone = context.new_page()
        phone.goto(f"{preview.url}/digest/weekly/{this_week()}?view=phone")
        boxes = phone.locator("nav.tabs a").evaluate_all(
            "links => links.map(a => { const r = a.getBoundingClientRect(); return [a.textContent.trim(), r.left, r.right]; })"
        )
        page_width = phone.evaluate("document.documentElement.scrollWidth")
        phone.screenshot(path=str(tmp_path / "tabs-375.png"))
    finally:
        context.close()
    assert (
        len(boxes) == 10
    )  # every view: Edition, Desktop, Phone, Dark, Text, HTML, MJML, Headers, Checks, Send test
    cut = [name for name, left, right in boxes if left < 0 or right > 375]
    assert cut == [], f"tabs cut off at 375 px: {cut}"
    assert page_width <= 375
