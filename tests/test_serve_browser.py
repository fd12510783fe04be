"""The public pages in real headless Chromium, at phone and desktop width, against `digest serve`.

Refresh the screenshots in docs/ with:
    DIGEST_SERVE_SCREENSHOTS=docs .venv/bin/python -m pytest -q -m browser tests/test_serve_browser.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import REPO
from tests.test_serve import (
    T0,
    Server,
    add_digest,
    add_subscriber,
    clean_env,
    personal_path,
    running_server,
    subscriber,
)

pytestmark = pytest.mark.browser

WIDTHS = {"phone": (375, 740), "desktop": (1280, 800)}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve-browser")
    db_url = f"sqlite:///{workdir / 'digest.db'}"
    with running_server(workdir, db_url, DIGEST_POSTAL_ADDRESS="1 Main St") as s:
        for weeks, period in enumerate(("2023-W43", "2023-W44", "2023-W45")):
            add_digest(s.engine, "weekly", period, T0 + timedelta(weeks=weeks))
        add_digest(s.engine, "monthly", "2023-10", T0 + timedelta(days=1))
        s.real_period = store_real_digest(s)
        yield s


def store_real_digest(server: Server) -> str:
    """The seeds rendered by the real pipeline, stored as a send would: the archive's real content."""
    from digest.compose import latest_period_with_items, render_period
    from digest.config import load_settings
    from digest.ingest import ingest_source
    from digest.store import digests as digest_store

    settings = load_settings(environ=clean_env(server.db_url, DIGEST_BASE_URL=server.url), env_file=None)
    now = T0 + timedelta(weeks=3)
    ingest_source(server.engine, str(REPO / "seeds"), settings.timezone, now)
    period = latest_period_with_items(settings, server.engine, "weekly")
    rendered = render_period(settings, server.engine, "weekly", period, now)
    with server.engine.begin() as connection:
        digest_store.mark_complete(connection, digest_store.save_digest(connection, rendered, now), now)
    return period.key


def open_page(browser, size: str):
    width, height = WIDTHS[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def snap(page, name: str) -> None:
    folder = os.environ.get("DIGEST_SERVE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(REPO / folder / f"serve-{name}.png"), full_page=True)


def fits_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", list(WIDTHS))
def test_clicking_unsubscribe_in_the_page_unsubscribes(server: Server, browser, size: str) -> None:
    sid = add_subscriber(server.engine, f"reader-{size}@example.org")
    page, problems = open_page(browser, size)
    page.goto(server.url + personal_path(sid))
    assert page.get_by_text("r•••@example.org").is_visible()
    assert fits_width(page)
    snap(page, f"unsubscribe-{size}")
    assert subscriber(server.engine, sid).status == "active"

    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert subscriber(server.engine, sid).status == "unsubscribed"
    assert page.get_by_role("status").is_visible()
    assert fits_width(page)
    snap(page, f"confirmation-{size}")
    assert problems == []  # the CSP blocked nothing the page needs
    page.close()


def test_switching_cadence_in_the_page_keeps_the_subscription(server: Server, browser) -> None:
    sid = add_subscriber(server.engine, "switcher@example.org", "weekly")
    page, problems = open_page(browser, "phone")
    page.goto(server.url + personal_path(sid))
    page.get_by_role("button", name="Switch to monthly").click()
    page.get_by_text("Saved: you will get the monthly digest.").wait_for()
    row = subscriber(server.engine, sid)
    assert (row.cadence, row.status) == ("monthly", "active")
    assert problems == []
    page.close()


@pytest.mark.parametrize("size", list(WIDTHS))
def test_archive_page_lists_digests_and_fits_the_screen(server: Server, browser, size: str) -> None:
    page, problems = open_page(browser, size)
    page.goto(server.url + "/archive")
    hrefs = page.eval_on_selector_all("ul.archive a", "links => links.map(a => a.getAttribute('href'))")
    newest_first = ["2023-W45", "2023-W44", "2023-10", "2023-W43"]  # by send time
    assert hrefs == [f"/archive/weekly/{server.real_period}"] + [
        f"/archive/{'monthly' if 'W' not in p else 'weekly'}/{p}" for p in newest_first
    ]
    assert fits_width(page)
    snap(page, f"archive-{size}")
    page.get_by_role("link", name="IMT News 2023-W45").click()
    page.get_by_role("heading", name="weekly 2023-W45").wait_for()
    assert problems == []
    page.close()


@pytest.mark.parametrize("size", list(WIDTHS))
def test_archived_real_digest_renders_under_the_archive_policy(server: Server, browser, size: str) -> None:
    page, problems = open_page(browser, size)
    page.goto(f"{server.url}/archive/weekly/{server.real_period}")
    assert page.locator("a", has_text="Unsubscribe").count() >= 1
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
    assert f"{server.url}/unsubscribe" in hrefs
    assert not [h for h in hrefs if "/unsubscribe/" in h or "unsubscribe-mark" in h]
    assert fits_width(page)
    snap(page, f"archived-{size}")
    assert problems == []  # the CSP blocked none of the email's styles
    page.close()
