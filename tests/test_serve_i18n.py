"""The public pages in the reader's language: a real `digest serve`, real HTTP, real Chromium + axe-core.

tests/axe.min.js is axe-core 4.14.1 from npm (MPL-2.0, its licence header kept), vendored so the test
needs no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from digest.store import subscribers as subscriber_store
from tests.test_render import render_seed
from tests.test_serve import T0, Server, add_digest, personal_path, running_server

AXE = Path(__file__).resolve().parent / "axe.min.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve-i18n")
    with running_server(workdir, f"sqlite:///{workdir / 'digest.db'}") as running:
        add_digest(running.engine, "weekly", "2023-W45", T0 + timedelta(days=7))
        yield running


def add_reader(engine: Engine, email: str, locale: str | None) -> int:
    with engine.begin() as connection:
        return subscriber_store.insert_subscriber(
            connection, email, None, "weekly", "test", T0, **({"locale": locale} if locale else {})
        )


def test_personal_page_speaks_the_subscribers_language_right_to_left(server: Server) -> None:
    reader = add_reader(server.engine, "amal@example.org", "ar")
    with server.client() as client:
        page = client.get(personal_path(reader), headers={"accept-language": "de"})
    assert page.status_code == 200
    assert re.search(r'<html lang="ar" dir="rtl">', page.text), "their own locale wins over the browser's"
    assert "تصلك النشرة <strong>الأسبوعية</strong> على" in page.text
    assert page.headers["content-language"] == "ar"


def test_page_of_a_subscriber_without_locale_follows_the_browser(server: Server) -> None:
    reader = add_reader(server.engine, "ana@example.org", None)
    with server.client() as client:
        page = client.get(personal_path(reader), headers={"accept-language": "es-MX,es;q=0.9"})
    assert '<html lang="es" dir="ltr">' in page.text
    assert "¿Darte de baja de IMT News?" in page.text


def test_archive_follows_accept_language_and_names_periods_in_words(server: Server) -> None:
    with server.client() as client:
        spanish = client.get("/archive", headers={"accept-language": "es"}).text
        english = client.get("/archive").text
        unknown = client.get("/archive", headers={"accept-language": "ja"}).text
    assert "Semana 45 · 6–12 de noviembre de 2023" in spanish and "<h1>Archivo</h1>" in spanish
    assert "Week 45 · 6–12 November 2023" in english and '<html lang="en" dir="ltr">' in english
    assert '<html lang="en"' in unknown


def test_error_page_is_translated(server: Server) -> None:
    with server.client() as client:
        page = client.get("/unsubscribe/forged-token", headers={"accept-language": "fr"})
    assert page.status_code == 404
    assert "Ce lien n’est pas valide." in page.text


def serious_violations(browser, url: str | None = None, html: str | None = None) -> list[str]:
    context = browser.new_context(bypass_csp=True, viewport={"width": 375, "height": 800}, locale="ar")
    page = context.new_page()
    try:
        if url:
            page.goto(url)
        else:
            page.route("**/*", lambda route: route.abort())
            page.set_content(html or "", wait_until="load")
        page.add_script_tag(content=AXE.read_text())
        found = page.evaluate("async () => (await axe.run(document)).violations")
    finally:
        context.close()
    return [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.browser
def test_axe_finds_nothing_serious_on_arabic_pages(browser, server: Server) -> None:
    reader = add_reader(server.engine, "nour@example.org", "ar")
    for path in (personal_path(reader), "/archive", "/unsubscribe", "/archive/weekly/1999-W01"):
        assert serious_violations(browser, url=server.url + path) == [], path


@pytest.mark.browser
def test_axe_finds_nothing_serious_in_the_arabic_mail(browser) -> None:
    assert serious_violations(browser, html=render_seed("ar").html) == []
