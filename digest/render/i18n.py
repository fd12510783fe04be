"""Languages: gettext catalogs for the fixed words of mails and pages, Babel for dates and numbers.

Catalogs live in `templates/locale/<lang>/LC_MESSAGES/digest.po` (and, when the override folder has
one, in `DIGEST_TEMPLATES_DIR/locale/...`, whose messages win). A compiled `digest.mo` next to a
`.po` is used when it is at least as new; otherwise the `.po` is compiled in memory on first use, so
a fresh clone needs no build step and an edited `.po` is never shadowed by a stale `.mo`.

A locale is stored and passed around as its language code (`es`, `ar`): one catalog per language.
Item content is never translated; only the words digest itself writes are.
"""

from __future__ import annotations

import gettext
import io
import os
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "digest"
DEFAULT_LOCALE = "en"


def catalog_dir(templates: Path) -> Path:
    return templates / "locale"


def _builtin_templates() -> Path:
    from digest.render.templates import builtin_dir

    return builtin_dir()


def available_locales() -> tuple[str, ...]:
    """Languages with a built-in catalog, English first."""
    root = catalog_dir(_builtin_templates())
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


def text_direction(lang: str) -> str:
    """`rtl` for Arabic, Hebrew, Persian, ...; `ltr` otherwise (CLDR's character order)."""
    return "rtl" if Locale.parse(lang).character_order == "right-to-left" else "ltr"


def translations(lang: str, override_dir: Path | None = None) -> gettext.NullTranslations:
    """The catalog of `lang`: the override folder's messages first, then the built-in ones."""
    folders = [override_dir, _builtin_templates()] if override_dir else [_builtin_templates()]
    chain: gettext.NullTranslations | None = None
    for folder in folders:
        po = catalog_dir(folder) / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        found = _load(po, *_state(po))
        if found is None:
            continue
        if chain is None:
            chain = found
        else:
            chain.add_fallback(found)
    return chain or gettext.NullTranslations()


def _state(po: Path) -> tuple:
    """What the loaded catalog depends on: the .po's and the .mo's mtimes (edits reload it)."""
    stamps = []
    for path in (po, po.with_suffix(".mo")):
        try:
            stamps.append(path.stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
    return tuple(stamps)


@lru_cache(maxsize=64)
def _load(po: Path, po_mtime: int | None, mo_mtime: int | None) -> gettext.GNUTranslations | None:
    if po_mtime is None and mo_mtime is None:
        return None
    if mo_mtime is not None and (po_mtime is None or mo_mtime >= po_mtime):
        with po.with_suffix(".mo").open("rb") as handle:
            return gettext.GNUTranslations(handle)
    return gettext.GNUTranslations(io.BytesIO(compile_po(po)))


def compile_po(po: Path) -> bytes:
    """The .mo bytes of a .po file (what `pybabel compile` writes), fuzzy entries left out."""
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=po.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def catalog_files(templates: Path | None = None) -> list[Path]:
    """Every built-in (or `templates`') .po file, for the completeness test and the docs."""
    root = catalog_dir(templates or _builtin_templates())
    return sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")) if os.path.isdir(root) else []
