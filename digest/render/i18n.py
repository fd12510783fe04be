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

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from digest.locales import DOMAIN, builtin_templates, catalog_dir


def translations(lang: str, override_dir: Path | None = None) -> gettext.NullTranslations:
    """The catalog of `lang`: the override folder's messages first, then the built-in ones."""
    folders = [override_dir, builtin_templates()] if override_dir else [builtin_templates()]
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
    root = catalog_dir(templates or builtin_templates())
    return sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")) if os.path.isdir(root) else []
