"""Sign-up in the reader's language and time zone: a real `digest serve`, real HTTP, a real SQLite file
and the confirmation mail through a real SMTP server on loopback.

The sign-up guesses the language (the form's choice, else Accept-Language among the shipped ones,
else DIGEST_LOCALE) and takes the browser's time zone from a hidden field; the confirmation mail and
every sign-up page speak that language; /manage/TOKEN changes language and zone, refusing values it
did not offer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest

from digest.store import subscribers as subscriber_store
from digest.tokens import make_token
from tests.test_serve import Server, form_nonce
from tests.test_signup_browser import KEY, confirm_link, mails_to, sign_up, signup_site, stored


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Server]:
    with signup_site(tmp_path_factory.mktemp("signup-i18n")) as server:
        yield server


def get(server: Server, path: str, language: str | None = None) -> httpx.Response:
    headers = {"accept-language": language} if language else {}
    return httpx.get(server.url + path, headers=headers, timeout=10)


# --- the form -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "lang", "heading"),
    [
        ("es-MX,es;q=0.9", "es", "Suscríbete a IMT News"),
        ("fr-CA", "fr", "Abonnez-vous à IMT News"),
        ("de", "de", "IMT News abonnieren"),
        ("pt-BR", "pt", "Inscreva-se em IMT News"),
        ("ar", "ar", "اشترك في IMT News"),
        ("ja", "en", "Subscribe to IMT News"),  # not shipped: DIGEST_LOCALE
    ],
)
def test_the_sign_up_form_speaks_the_browsers_language(site: Server, header, lang, heading) -> None:
    page = get(site, "/subscribe", header)
    direction = "rtl" if lang == "ar" else "ltr"
    assert page.status_code == 200
    assert f'<html lang="{lang}" dir="{direction}">' in page.text
    assert f"<h1>{heading}</h1>" in page.text
    assert page.headers["content-language"] == lang
    assert re.search(rf'<option value="{lang}" lang="{lang}" selected>', page.text)  # preset to the page's


def test_a_link_can_ask_for_the_forms_language(site: Server) -> None:
    page = get(site, "/subscribe?lang=fr&cadence=monthly", "de")
    assert '<html lang="fr"' in page.text and 'value="monthly" checked' in page.text
    assert '<html lang="de"' in get(site, "/subscribe?lang=xx", "de").text


def test_every_language_is_offered_in_its_own_words(site: Server) -> None:
    page = get(site, "/subscribe", "en").text
    names = re.findall(r'<option value="(\w+)" lang="\1"[^>]*>([^<]+)</option>', page)
    assert dict(names) == {
        "en": "English",
        "es": "Español",
        "fr": "Français",
        "de": "Deutsch",
        "pt": "Português",
        "ar": "العربية",
    }


def test_the_time_zone_script_is_the_one_the_policy_allows(site: Server) -> None:
    page = get(site, "/subscribe")
    [script] = re.findall(r"<script>(.*?)</script>", page.text, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"script-src 'sha256-{digest}'" in policy and "unsafe-inline" not in policy.split("script-src")[1]
    assert "timezone" in script and not re.search(r"\son\w+=", page.text)  # no inline handlers


# --- what a sign-up stores, and the mail it gets ---------------------------------------------------


def test_a_sign_up_keeps_the_browsers_language_and_zone_through_confirmation(site: Server) -> None:
    address = "lucia@example.org"
    answer = httpx.post(
        f"{site.url}/subscribe",
        data={"email": address, "name": "Lucía", "cadence": "monthly", "timezone": "America/Mexico_City"},
        headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"},
        timeout=10,
    )
    assert answer.status_code == 200 and "<h1>Revisa tu bandeja de entrada</h1>" in answer.text
    row = stored(site, address)
    assert (row.status, row.locale, row.timezone) == ("pending", "es", "America/Mexico_City")
    [mail] = mails_to(site.smtp, address)
    assert mail["Subject"] == "Confirma tu suscripción a IMT News"
    assert mail["Content-Language"] == "es"
    text = mail.get_body(("plain",)).get_content()
    assert "pidió recibir el resumen mensual de IMT News" in text and "72 horas" in text
    html = mail.get_body(("html",)).get_content()
    assert 'lang="es"' in html and "Sí, suscríbeme" in html and "<strong>mensual</strong>" in html
    link = confirm_link(mail)
    waiting = httpx.get(link, timeout=10)
    assert '<html lang="es"' in waiting.text and "Confirmar mi suscripción" in waiting.text
    done = httpx.post(
        link, headers={"accept-language": "de"}, timeout=10
    )  # their language, not the browser's
    assert "<h1>Te has suscrito</h1>" in done.text
    row = stored(site, address)
    assert (row.status, row.locale, row.timezone) == ("active", "es", "America/Mexico_City")


def test_the_arabic_confirmation_mail_is_right_to_left(site: Server) -> None:
    sign_up(site, "amal@example.org", locale="ar", timezone="Asia/Riyadh")
    [mail] = mails_to(site.smtp, "amal@example.org")
    assert mail["Subject"] == "أكِّد اشتراكك في IMT News"
    html = mail.get_body(("html",)).get_content()
    assert 'lang="ar" dir="rtl"' in html and "direction:rtl" in html
    assert "نعم، أريد الاشتراك" in html and "النشرة <strong>الأسبوعية</strong>" in html
    assert "تصلك هذه الرسالة لأن هذا العنوان" in mail.get_body(("plain",)).get_content()


def test_the_forms_language_choice_wins_over_the_browser(site: Server) -> None:
    answer = httpx.post(
        f"{site.url}/subscribe",
        data={"email": "klaus@example.org", "cadence": "weekly", "locale": "ar"},
        headers={"accept-language": "de"},
        timeout=10,
    )
    assert '<html lang="ar" dir="rtl">' in answer.text
    assert stored(site, "klaus@example.org").locale == "ar"


def test_without_a_known_browser_language_the_sign_up_gets_digest_locale(site: Server) -> None:
    httpx.post(
        f"{site.url}/subscribe",
        data={"email": "kenji@example.org", "cadence": "weekly", "timezone": "Asia/Tokyo"},
        headers={"accept-language": "ja"},
        timeout=10,
    )
    row = stored(site, "kenji@example.org")
    assert (row.locale, row.timezone) == ("en", "Asia/Tokyo")
    assert mails_to(site.smtp, "kenji@example.org")[0]["Subject"] == "Confirm your subscription to IMT News"


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus_Mons",
        "Europe/../../etc/passwd",
        "<script>alert(1)</script>",
        "x" * 5000,
        "Etc/GMT+5\r\nX: y",
    ],
)
def test_a_zone_the_tz_database_does_not_know_is_ignored_not_an_error(site: Server, zone: str) -> None:
    address = f"zone-{hashlib.sha1(zone.encode()).hexdigest()[:8]}@example.org"
    answer = sign_up(site, address, timezone=zone)
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    row = stored(site, address)
    assert row.status == "pending" and row.timezone is None


def test_a_language_the_form_did_not_offer_is_refused_and_nothing_is_stored(site: Server) -> None:
    answer = sign_up(site, "xx@example.org", locale="xx")
    assert answer.status_code == 400
    assert "Please choose one of the languages in the list." in answer.text
    assert 'id="locale" name="locale" aria-invalid="true"' in answer.text
    assert stored(site, "xx@example.org") is None


def test_form_errors_are_in_the_readers_language(site: Server) -> None:
    answer = httpx.post(
        f"{site.url}/subscribe",
        data={"email": "not an address", "name": "<b>Ana</b>", "cadence": "weekly"},
        headers={"accept-language": "pt-BR"},
        timeout=10,
    )
    assert answer.status_code == 400 and "Informe um endereço de e-mail válido." in answer.text
    assert "&lt;b&gt;Ana&lt;/b&gt;" in answer.text and "<b>Ana</b>" not in answer.text


# --- the confirmation pages -------------------------------------------------------------------------


def test_link_problems_are_explained_in_the_readers_language(site: Server) -> None:
    page = get(site, "/confirm/forged", "fr")
    assert page.status_code == 400
    assert "<h1>Ce lien n’est pas valide</h1>" in page.text and "Rien n’a été modifié." in page.text
    arabic = get(site, "/confirm/forged", "ar")
    assert '<html lang="ar" dir="rtl">' in arabic.text and "هذا الرابط غير صالح" in arabic.text


def test_a_used_link_answers_in_the_sign_ups_language(site: Server) -> None:
    sign_up(site, "jean@example.org", locale="fr")
    link = confirm_link(mails_to(site.smtp, "jean@example.org")[0])
    httpx.post(link, timeout=10)
    again = httpx.get(link, headers={"accept-language": "en"}, timeout=10)
    assert "<h1>Vous êtes déjà abonné</h1>" in again.text
    assert "Ce lien a déjà servi" in again.text


def test_the_sample_link_page_follows_the_browser(site: Server) -> None:
    page = get(site, "/manage/sample", "de")
    assert "<h1>Dies ist ein Beispiel-Link</h1>" in page.text


# --- /manage/TOKEN: language and time zone ----------------------------------------------------------


def reader(site: Server, address: str, locale: str | None = None, timezone: str | None = None) -> str:
    place = {key: value for key, value in (("locale", locale), ("timezone", timezone)) if value}
    with site.engine.begin() as connection:
        subscriber_id = subscriber_store.insert_subscriber(
            connection, address, None, "weekly", "test", _now(), **place
        )
    return f"{site.url}/manage/{make_token(KEY, subscriber_id)}"


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_the_manage_page_speaks_the_subscribers_language_and_shows_their_zone(site: Server) -> None:
    url = reader(site, "sofia@example.org", "es", "Europe/Madrid")
    page = httpx.get(url, headers={"accept-language": "de"}, timeout=10)
    assert '<html lang="es" dir="ltr">' in page.text and "<h1>Tus preferencias de IMT News</h1>" in page.text
    assert '<option value="es" lang="es" selected>Español</option>' in page.text
    assert 'value="Europe/Madrid"' in page.text and '<option value="Asia/Tokyo">' in page.text
    assert "déjalo vacío para usar UTC" in page.text


def test_choosing_language_and_zone_saves_both_and_the_page_follows(site: Server) -> None:
    url = reader(site, "omar@example.org", "en")
    nonce = form_nonce(httpx.get(url, timeout=10).text)
    form = {
        "action": "preferences",
        "nonce": nonce,
        "cadence": "monthly",
        "locale": "ar",
        "timezone": "Asia/Tokyo",
    }
    saved = httpx.post(url, data=form, timeout=10)
    assert saved.status_code == 200
    assert '<html lang="ar" dir="rtl">' in saved.text and "تم الحفظ." in saved.text
    row = stored(site, "omar@example.org")
    assert (row.cadence, row.locale, row.timezone, row.status) == ("monthly", "ar", "Asia/Tokyo", "active")
    cleared = httpx.post(url, data={**form, "timezone": ""}, timeout=10)
    assert cleared.status_code == 200 and stored(site, "omar@example.org").timezone is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("locale", "xx", "Please choose one of the languages in the list."),
        ("locale", "", "Please choose one of the languages in the list."),
        ("timezone", "Mars/Olympus_Mons", "Please choose a time zone from the list"),
        ("timezone", "<script>alert(1)</script>", "Please choose a time zone from the list"),
        ("timezone", "Europe/Berlin" + "x" * 100, "Please choose a time zone from the list"),
        ("cadence", "daily", "Please choose weekly or monthly."),
    ],
)
def test_a_value_the_page_did_not_offer_is_refused_and_nothing_is_saved(
    site: Server, field, value, message
) -> None:
    address = f"refuse-{field}-{hashlib.sha1(value.encode()).hexdigest()[:8]}@example.org"
    url = reader(site, address, "en", "Europe/Paris")
    nonce = form_nonce(httpx.get(url, timeout=10).text)
    form = {
        "action": "preferences",
        "nonce": nonce,
        "cadence": "monthly",
        "locale": "de",
        "timezone": "Asia/Tokyo",
    }
    refused = httpx.post(url, data={**form, field: value}, timeout=10)
    assert refused.status_code == 400
    assert message in refused.text and "Nothing was saved." in refused.text and 'role="alert"' in refused.text
    assert "<script>alert" not in refused.text
    row = stored(site, address)
    assert (row.cadence, row.locale, row.timezone) == ("weekly", "en", "Europe/Paris")


def test_language_and_zone_need_the_forms_nonce(site: Server) -> None:
    url = reader(site, "forged@example.org", "en")
    forged = {
        "action": "preferences",
        "nonce": "forged",
        "cadence": "weekly",
        "locale": "ar",
        "timezone": "Asia/Tokyo",
    }
    assert httpx.post(url, data=forged, timeout=10).status_code == 400
    other_site = httpx.post(
        url,
        data={**forged, "nonce": form_nonce(httpx.get(url, timeout=10).text)},
        headers={"origin": "https://evil.example"},
        timeout=10,
    )
    assert other_site.status_code == 403
    row = stored(site, "forged@example.org")
    assert (row.locale, row.timezone) == ("en", None)


def test_a_locale_written_by_hand_in_the_store_never_reaches_a_path_or_header(site: Server) -> None:
    url = reader(site, "hand@example.org", "../../../etc\r\nX-Evil: 1")
    page = httpx.get(url, headers={"accept-language": "fr"}, timeout=10)
    assert page.status_code == 200 and page.headers["content-language"] == "en"
    assert "x-evil" not in page.headers and '<html lang="en"' in page.text


def test_the_confirmation_mail_of_an_unknown_locale_is_in_digest_locale() -> None:
    from datetime import UTC, datetime

    from digest.config import load_settings
    from digest.confirmation import build_confirmation

    settings = load_settings(
        environ={"DIGEST_FROM": "news@example.org", "DIGEST_SECRET_KEY": KEY, "DIGEST_LOCALE": "de"},
        env_file=None,
    )
    link = "http://127.0.0.1/confirm/x"
    message = build_confirmation(
        settings, "a@example.org", None, "weekly", link, datetime.now(UTC), "xx\r\nBcc: y"
    )
    assert message["Content-Language"] == "de" and message["Bcc"] is None
    assert message["Subject"].startswith("Bestätigen Sie Ihr Abonnement")
