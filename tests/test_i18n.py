"""Languages: every catalog complete, mails in the reader's language, dates and plurals per locale."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from digest.config import load_settings
from digest.errors import ConfigError
from digest.locales import available_locales, negotiate, normalize_locale
from digest.periods import parse_period
from digest.render import render_digest, render_languages
from digest.render.formats import day_span, period_words
from digest.render.i18n import catalog_files, translations
from tests.test_render import NOW, WEEK, render_seed, sample_settings, seed_items

REPO = Path(__file__).resolve().parent.parent
REQUIRED = {"en", "es", "fr", "de", "pt", "ar"}
UTC = ZoneInfo("UTC")


def source_messages() -> dict[str, tuple[str, ...]]:
    """Every translatable string of the code and the templates, as `pybabel extract` finds them."""
    with (REPO / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, tuple[str, ...]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(str(REPO), method_map, options_map):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = tuple(i for i in ids if i)
    return found


def catalog_problems(path: Path, wanted: dict[str, tuple[str, ...]]) -> list[str]:
    """What a catalog lacks: a string, a translation, a plural form; or a placeholder it invents."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    problems = []
    for msgid, ids in wanted.items():
        message = catalog.get(ids if len(ids) > 1 else msgid)
        if message is None:
            problems.append(f"missing: {msgid!r}")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {msgid!r}")
        if len(ids) > 1 and len(strings) != catalog.num_plurals:
            problems.append(f"{len(strings)} plural forms, {catalog.num_plurals} needed: {msgid!r}")
        named = set(re.findall(r"%\((\w+)\)s", " ".join(ids)))
        for text in strings:
            if not set(re.findall(r"%\((\w+)\)s", text)) <= named:
                problems.append(f"unknown placeholder in the translation of {msgid!r}")
    return problems


def test_every_catalog_holds_every_string_of_the_code_and_templates_translated():
    wanted = source_messages()
    assert len(wanted) > 50, "the extraction found too little: is babel.cfg right?"
    files = catalog_files()
    assert {path.parent.parent.name for path in files} >= REQUIRED
    for path in files:
        problems = catalog_problems(path, wanted)
        assert not problems, f"{path.relative_to(REPO)}:\n" + "\n".join(problems)


def test_the_completeness_check_catches_a_string_a_catalog_lacks(tmp_path):
    wanted = source_messages()
    spanish = (REPO / "templates/locale/es/LC_MESSAGES/digest.po").read_text()
    entry = 'msgid "View this digest in your browser"\nmsgstr "Ver este resumen en el navegador"\n'
    assert entry in spanish
    broken = tmp_path / "digest.po"
    broken.write_text(spanish.replace(entry, ""))
    assert catalog_problems(broken, wanted) == ["missing: 'View this digest in your browser'"]
    wanted["A sentence added to a template"] = ("A sentence added to a template",)
    assert "missing: 'A sentence added to a template'" in catalog_problems(broken, wanted)


def test_english_is_the_first_of_the_shipped_languages():
    assert available_locales()[0] == "en"
    assert set(available_locales()) >= REQUIRED


@pytest.mark.parametrize(
    ("raw", "expected"), [("es", "es"), ("ES", "es"), ("es-MX", "es"), ("pt_BR", "pt"), (" ar ", "ar")]
)
def test_locale_tags_are_read_as_their_language(raw, expected):
    assert normalize_locale(raw) == expected


@pytest.mark.parametrize("raw", ["xx", "klingon", "zh", "", "es;DROP"])
def test_unknown_locale_is_refused_in_one_line(raw):
    with pytest.raises(ValueError) as caught:
        normalize_locale(raw)
    assert "\n" not in str(caught.value) and "unknown locale" in str(caught.value)


def test_bad_digest_locale_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"DIGEST_LOCALE": "xx"}, env_file=None)
    assert "DIGEST_LOCALE" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.5", "es"),
        ("ja,ar;q=0.8", "ar"),
        ("fr;q=0.1,de;q=0.9", "de"),
        ("ja", "en"),
        ("", "en"),
        ("es;q=0", "en"),
        ("es;q=abc,pt", "pt"),
    ],
)
def test_browser_language_is_negotiated_among_the_catalogs(header, expected):
    assert negotiate(header, "en") == expected


@pytest.mark.parametrize(
    ("lang", "key", "expected"),
    [
        ("es", "2023-W45", "Semana 45 · 6–12 de noviembre de 2023"),
        ("es", "2023-W44", "Semana 44 · 30 de octubre\u2009–\u20095 de noviembre de 2023"),
        ("fr", "2023-W45", "Semaine 45 · 6–12 novembre 2023"),
        ("de", "2023-W45", "Woche 45 · 6.–12. November 2023"),
        ("pt", "2023-W45", "Semana 45 · 6\u2009–\u200912 de novembro de 2023"),
        ("ar", "2023-W45", "الأسبوع 45 · 6–12 نوفمبر 2023"),
        ("ar", "2024-W01", "الأسبوع 1 · 1–7 يناير 2024"),
        ("de", "2020-W53", "Woche 53 · 28. Dezember 2020\u2009–\u20093. Januar 2021"),
        ("en", "2023-W45", "Week 45 · 6–12 November 2023"),
    ],
)
def test_week_names_are_written_in_words_in_each_language(lang, key, expected):
    period = parse_period("weekly", key, UTC)
    assert period_words(period, lang, translations(lang).gettext) == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("es", "Noviembre de 2023"), ("fr", "Novembre 2023"), ("ar", "نوفمبر 2023"), ("en", "November 2023")],
)
def test_month_names_are_written_in_words(lang, expected):
    period = parse_period("monthly", "2023-11", UTC)
    assert period_words(period, lang, translations(lang).gettext) == expected


def test_day_span_writes_the_month_out_even_where_cldr_abbreviates():
    assert day_span(date(2023, 10, 30), date(2023, 11, 5), "fr") == "30 octobre\u2009–\u20095 novembre 2023"


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, "مقال واحد"), (2, "مقالان"), (3, "3 مقالات"), (11, "11 مقالًا"), (100, "100 مقال")],
)
def test_arabic_counts_take_the_plural_form_of_their_number(n, expected):
    assert translations("ar").ngettext("%(num)s article", "%(num)s articles", n) % {"num": n} == expected


def render_in(lang: str, **changes):
    settings = sample_settings(postal_address="12 Example Street, London N1 1AA", **changes)
    return render_digest(settings, WEEK, seed_items(), NOW, lang=lang)


def test_spanish_digest_speaks_spanish_but_keeps_the_items_own_words():
    rendered = render_in("es")
    english = render_seed(postal_address="12 Example Street, London N1 1AA")
    assert rendered.subject == "IMT News: Semana 45 · 6–12 de noviembre de 2023"
    assert rendered.locale == "es"
    assert '<html lang="es"' in rendered.html
    for part in (rendered.html, rendered.text):
        assert "12 artículos esta semana." in part
        assert "10 de noviembre de 2023" in part
        assert "Darse de baja de IMT News" in part
        assert "Unsubscribe" not in part and "this week" not in part
    titles = [html.escape(item.title, quote=False) for item in seed_items()]
    assert all(title in english.html for title in titles)
    assert all(title in rendered.html for title in titles), "item content is never translated"


def test_arabic_digest_is_right_to_left_throughout():
    rendered = render_in("ar")
    assert re.search(r'<html lang="ar" dir="rtl"', rendered.html)
    assert re.search(r'<div[^>]*lang="ar" dir="rtl"', rendered.html), "the body wrapper keeps dir in Gmail"
    body = re.sub(r"\s", "", rendered.html.split("<body", 1)[1])
    assert "direction:ltr" not in body, "MJML's sections and columns default to ltr"
    assert "direction:rtl" in body and "text-align:right" in body
    assert "الأسبوع 45 · 6–12 نوفمبر 2023" in rendered.html
    assert "12 مقالًا هذا الأسبوع." in rendered.text


def test_left_to_right_digests_have_no_rtl_markup():
    for lang in ("en", "es", "fr", "de", "pt"):
        assert "rtl" not in render_in(lang).html


def test_default_language_comes_from_digest_locale():
    settings = load_settings(environ={"DIGEST_LOCALE": "de", "DIGEST_NAME": "IMT News"}, env_file=None)
    assert "Diese Ausgabe im Browser ansehen" in render_digest(settings, WEEK, seed_items(), NOW).html


def test_render_languages_renders_each_language_once_showing_the_same_items():
    settings = sample_settings(item_limit=5)
    renderings = render_languages(settings, WEEK, seed_items(), NOW, ["ar", "es", "ar", "en"])
    assert list(renderings) == ["ar", "es", "en"]
    assert {r.locale for r in renderings.values()} == {"ar", "es", "en"}
    assert {r.shown for r in renderings.values()} == {5}
    assert renderings["en"].text == render_seed(item_limit=5).text  # the same as rendering it alone
