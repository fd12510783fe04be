"""Which languages digest speaks, and reading a reader's language: cheap, no templates loaded.

A language is one we ship (or an override folder ships) a catalog for; it is kept as its language
code (`es`, `ar`). Config, the subscriber rules and the web pages all validate through here.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError

DOMAIN = "digest"
DEFAULT_LOCALE = "en"


def catalog_dir(templates: Path) -> Path:
    return templates / "locale"


def builtin_templates() -> Path:
    return Path(str(importlib.resources.files("digest.templates")))


@lru_cache(maxsize=1)
def available_locales() -> tuple[str, ...]:
    """Languages with a built-in catalog, English first."""
    root = catalog_dir(builtin_templates())
    found = sorted(p.name for p in root.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file())
    return tuple(sorted(found, key=lambda lang: lang != DEFAULT_LOCALE))


def normalize_locale(raw: str | None) -> str:
    """`es`, `ES`, `es-MX`, `es_MX` -> `es`; ValueError (one line) for a language we have no catalog for."""
    value = (raw or "").strip()
    try:
        language = Locale.parse(value.replace("-", "_")).language if value else ""
    except (UnknownLocaleError, ValueError):
        language = ""
    locales = available_locales()
    if language not in locales:
        raise ValueError(f"unknown locale {value!r} (one of {', '.join(locales)})")
    return language


def negotiate(accept_language: str | None, default: str) -> str:
    """The reader's language from an Accept-Language header (`es-MX,es;q=0.9,en;q=0.5`), among
    those we have catalogs for; `default` when none matches or the header is unreadable."""
    ranked = []
    for position, part in enumerate((accept_language or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            ranked.append((-float(quality), position, tag.strip()))
        except ValueError:
            continue
    for weight, _, tag in sorted(ranked):
        if weight >= 0:
            break
        try:
            return normalize_locale(tag)
        except ValueError:
            continue
    return default


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


@lru_cache(maxsize=64)
def text_direction(lang: str) -> str:
    """`rtl` for Arabic, Hebrew, Persian, ...; `ltr` otherwise (CLDR's character order)."""
    return "rtl" if Locale.parse(lang).character_order == "right-to-left" else "ltr"


@lru_cache(maxsize=1)
def language_choices() -> tuple[tuple[str, str], ...]:
    """(code, name in its own language) of every shipped language, for a reader to pick from:
    `("es", "Español")`, `("ar", "العربية")`."""
    return tuple((lang, _own_name(lang)) for lang in available_locales())


def _own_name(lang: str) -> str:
    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


def plural_count(value: float) -> int:
    """The count to pick a plural form for `value`: itself when whole; for a fraction (1.5 hours)
    100, whose form is the plural ("other") one in every shipped language, as CLDR has for fractions."""
    return int(value) if float(value).is_integer() else 100
