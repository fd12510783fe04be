"""The Edition view of `digest preview` in real headless Chromium: edits made with the UI go out.

Refresh the screenshots in docs/ with:
    DIGEST_PREVIEW_SCREENSHOTS=docs .venv/bin/python -m pytest -q tests/test_edition_browser.py
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import REPO
from tests.test_preview import SEED_TITLES, running_preview, this_week

pytestmark = pytest.mark.browser

INTRO = "Hello **readers**, see [the guide](https://example.org/guide).\n\n<script>alert('x')</script>"


def snap_all(browser, url: str, name: str) -> None:
    """The Edition view at 375 and 800 px, light and dark, when screenshots are asked for."""
    folder = os.environ.get("DIGEST_PREVIEW_SCREENSHOTS")
    if not folder:
        return
    for width in (375, 800):
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            page.goto(url)
            page.locator("section.edition").screenshot(
                path=str(REPO / folder / f"{name}-{width}-{scheme}.png")
            )
            context.close()


def edition(preview, week: str) -> dict:
    done = preview.cli("edition", "show", "--period", week, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def settled(preview) -> None:
    """Wait until the preview's fingerprint holds still (a first import writes __pycache__ files
    under the template folder), so no live reload races the first click."""
    before = preview.version()
    for _ in range(20):
        time.sleep(1.2)
        now = preview.version()
        if now == before:
            return
        before = now


def submit(page, button) -> None:
    """Click a form button and wait for the page the action redirects to."""
    with page.expect_navigation(url="**notice=**"):
        button.click()


def press(page, title: str, button: str) -> None:
    submit(page, page.locator("ol.edition-items li", has_text=title).get_by_role("button", name=button))


def test_edits_made_in_the_browser_are_what_is_sent(browser, smtp_server, tmp_path) -> None:
    server = smtp_server()
    with running_preview(tmp_path, **server.env()) as preview:
        assert preview.cli("subscribers", "add", "ann@example.com").returncode == 0
        week = this_week()
        settled(preview)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{preview.url}/digest/weekly/{week}?view=edition")
        left_out, pinned = SEED_TITLES[0], SEED_TITLES[-1]

        press(page, left_out, "Exclude")
        assert page.locator("li.excluded", has_text=left_out).is_visible()
        press(page, pinned, "Pin to top")
        assert page.locator("ol.edition-items li").first.inner_text().strip().startswith(pinned)

        page.locator("#intro-source").fill(INTRO)
        page.locator("#intro-render strong").wait_for()  # rendered by the server as it was typed
        live = page.locator("#intro-render").inner_html()
        assert "<strong>readers</strong>" in live and "<script" not in live
        submit(page, page.get_by_role("button", name="Save intro"))
        page.locator("#subject").fill("Our pick of the week")
        submit(page, page.get_by_role("button", name="Save subject"))
        submit(page, page.get_by_role("button", name="Approve"))
        assert page.locator("#edition-state").inner_text() == "approved"
        frame = page.frame_locator('iframe[title="The digest as the edition stands"]')
        shown = frame.locator("body").inner_text(timeout=15_000)
        assert left_out not in shown and shown.index(pinned) < shown.index(SEED_TITLES[1])
        snap_all(browser, f"{preview.url}/digest/weekly/{week}?view=edition", "preview-edition")
        assert errors == []

        sent = preview.cli("send", "--period", week, "--unfinished")
        assert sent.returncode == 0, sent.stderr
    [received] = server.received
    message = received.message()
    assert message["Subject"] == "Our pick of the week"
    for body in (message.get_body(("html",)).get_content(), message.get_body(("plain",)).get_content()):
        part = " ".join(body.split())  # the text part wraps long titles
        assert left_out not in part and "readers" in part
        assert part.index(pinned) < part.index(SEED_TITLES[1])
    assert "<script" not in message.get_body(("html",)).get_content()


class _Attacker(BaseHTTPRequestHandler):
    """A page on another origin that posts the edition forms at once, as a hostile site would."""

    target = ""

    def do_GET(self) -> None:
        body = f"""<!doctype html><form id="f" method="post" action="{self.target}">
            <input name="token" value="guessed"><input name="action" value="hold"></form>
            <script>document.getElementById('f').submit()</script>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_cross_origin_post_to_the_edition_actions_is_refused(browser, tmp_path) -> None:
    with running_preview(tmp_path) as preview:
        week = this_week()
        action = f"{preview.url}/digest/weekly/{week}/edition"
        _Attacker.target = action
        evil = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            page = browser.new_page()
            with page.expect_response(action) as answer:
                page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
            assert answer.value.status == 403
        finally:
            evil.shutdown()
        # Even with the page's real nonce, a request that says it comes from elsewhere is refused.
        html = httpx.get(f"{preview.url}/digest/weekly/{week}?view=edition", timeout=30).text
        token = html.split('name="token" value="', 1)[1].split('"', 1)[0]
        forged = httpx.post(
            action, data={"token": token, "action": "hold"}, headers={"Origin": "http://evil.example"}
        )
        assert forged.status_code == 403
        assert edition(preview, week)["state"] == "open"
        before = preview.version()
        same = httpx.post(action, data={"token": token, "action": "hold"}, headers={"Origin": preview.url})
        assert same.status_code == 303 and edition(preview, week)["state"] == "held"
        assert preview.version() != before  # open pages reload and show the change
        held = preview.version()
        assert preview.cli("edition", "approve", "--period", week).returncode == 0
        assert preview.version() != held  # an edit from another terminal too
