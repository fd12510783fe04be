"""The sign-up and manage pages in Spanish and Arabic, as a person sees them: headless Chromium against
a real `digest serve`, real SQLite, the confirmation mail through aiosmtpd.

Screenshots (375 and 800 px, light and dark) go to a folder when asked:
    DIGEST_SIGNUP_SCREENSHOTS=/tmp/shots .venv/bin/python -m pytest -q tests/test_signup_i18n_browser.py
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from digest.store import subscribers as subscriber_store
from digest.tokens import make_token
from tests.test_serve import Server
from tests.test_signup_browser import (
    KEY,
    SIZES,
    mails_to,
    new_page,
    serious_problems,
    signup_site,
    snap,
    stored,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Server]:
    with signup_site(tmp_path_factory.mktemp("signup-i18n-browser")) as server:
        yield server


def manage_url(server: Server, address: str, locale: str, timezone: str | None = None) -> str:
    place = {"locale": locale, **({"timezone": timezone} if timezone else {})}
    with server.engine.begin() as connection:
        subscriber_id = subscriber_store.insert_subscriber(
            connection, address, None, "weekly", "test", datetime.now(UTC), **place
        )
    return f"{server.url}/manage/{make_token(KEY, subscriber_id)}"


def test_chromium_reports_its_time_zone_under_the_sites_script_policy(site: Server, browser) -> None:
    """No bypass of the CSP: the hidden field is filled only if the policy's hash allows the script."""
    page = new_page(browser, locale="es-ES", timezone_id="Asia/Tokyo")
    page.goto(f"{site.url}/subscribe")
    page.get_by_role("heading", name="Suscríbete a IMT News").wait_for()
    assert page.get_by_label("Idioma de los correos").input_value() == "es"
    page.get_by_label("Correo electrónico").fill("haruka@example.org")
    page.get_by_role("button", name="Suscribirse").click()
    page.get_by_role("heading", name="Revisa tu bandeja de entrada").wait_for()
    row = stored(site, "haruka@example.org")
    assert (row.status, row.locale, row.timezone) == ("pending", "es", "Asia/Tokyo")
    assert page.problems == []  # a refused script would show here as a CSP console error
    assert mails_to(site.smtp, "haruka@example.org")[0]["Subject"] == "Confirma tu suscripción a IMT News"
    page.context.close()


def test_without_scripts_the_sign_up_has_the_language_but_no_zone(site: Server, browser) -> None:
    page = new_page(browser, locale="ar", timezone_id="Asia/Riyadh", java_script_enabled=False)
    page.goto(f"{site.url}/subscribe")
    page.get_by_label("البريد الإلكتروني").fill("noscript@example.org")
    page.get_by_role("button", name="اشترك").click()
    page.get_by_role("heading", name="تحقّق من بريدك الوارد").wait_for()
    row = stored(site, "noscript@example.org")
    assert (row.locale, row.timezone) == ("ar", None)
    page.context.close()


def test_a_reader_changes_language_and_zone_on_the_manage_page(site: Server, browser) -> None:
    page = new_page(browser)
    page.goto(manage_url(site, "marta@example.org", "es"))
    page.get_by_label("Idioma", exact=True).select_option("ar")
    page.get_by_label("Zona horaria").fill("Asia/Dubai")
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("تم الحفظ.").wait_for()
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    row = stored(site, "marta@example.org")
    assert (row.locale, row.timezone, row.cadence) == ("ar", "Asia/Dubai", "weekly")
    page.get_by_label("المنطقة الزمنية").fill("Asia/Atlantis")
    page.get_by_role("button", name="حفظ").click()
    page.get_by_role("alert").wait_for()
    assert "لم يُحفظ شيء." in page.get_by_role("alert").inner_text()
    field = page.get_by_label("المنطقة الزمنية")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.evaluate("e => getComputedStyle(e).borderTopWidth") == "2px"  # marked, not only announced
    assert stored(site, "marta@example.org").timezone == "Asia/Dubai"
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["es", "ar"])
def test_spanish_and_arabic_sign_up_and_manage_pages_pass_axe_and_fit(
    site: Server, browser, lang: str, size: str, scheme: str
) -> None:
    page = new_page(browser, size, scheme, bypass_csp=True, locale=lang)  # bypass only to inject axe
    found = []

    def check(name: str) -> None:
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        expected = "rtl" if lang == "ar" else "ltr"
        assert page.evaluate("getComputedStyle(document.body).direction") == expected, name
        found.append((name, serious_problems(page)))
        snap(page, f"signup-{lang}-{name}-{size}-{scheme}")

    page.goto(f"{site.url}/subscribe")
    check("form")
    page.goto(manage_url(site, f"look-{lang}-{size}-{scheme}@example.org", lang, "America/Chicago"))
    check("manage")
    page.context.close()
    assert [(name, problems) for name, problems in found if problems] == []
