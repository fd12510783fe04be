"""The one Jinja2 environment: one search list (override folder, then the built-in templates).

It serves the mail templates (digest.mjml, digest.txt, ...), the public pages (web/...) and the
preview's own pages (preview/...); `builtin_dir()` is the one place that finds the built-in folder.

Autoescape is on for every template (.mjml, .html, .css and any name we do not know) except the
text part (.txt), which is not HTML and shows only plain, single-line or wrapped text.
StrictUndefined turns a typo into an error, and every template error becomes a DigestError
naming the file and line, never a traceback.

An environment compiles each template once; building one per render cost ~20 ms. So environments
are kept per folder and per state of its files (names, mtimes, sizes): editing, adding or removing a
template in either folder or their subfolders (the preview's live reload, a page edited while
`digest serve` runs) gives a fresh one, otherwise it is reused.
"""

from __future__ import annotations

import importlib.resources
import os
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from digest.errors import DigestError
from digest.render.wrap import wrap


def builtin_dir() -> Path:
    return Path(str(importlib.resources.files("digest.templates")))


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith(".txt")


def environment(override_dir: Path | None) -> jinja2.Environment:
    """Files in `override_dir` win by name; anything it lacks comes from the built-in theme."""
    return _environment(override_dir, _files_state(override_dir))


def _files_state(override_dir: Path | None) -> tuple:
    """What the templates' compiled form depends on: every file's name, mtime and size."""
    state: list[tuple] = []
    for folder in (override_dir, builtin_dir()):
        if folder is not None:
            _scan(str(folder), state)
    return tuple(sorted(state))


def _scan(folder: str, state: list[tuple]) -> None:
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        _scan(entry.path, state)
                    continue
                stat = entry.stat()
                state.append((folder, entry.name, stat.st_mtime_ns, stat.st_size))
    except OSError:  # a missing folder: loading a template from it reports the error
        state.append((folder, "", 0, 0))


@lru_cache(maxsize=8)
def _environment(override_dir: Path | None, files_state: tuple) -> jinja2.Environment:
    search = [str(override_dir)] if override_dir else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search, str(builtin_dir())]),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["wrap"] = wrap
    return env


def render(env: jinja2.Environment, name: str, **values: Any) -> str:
    try:
        return env.get_template(name).render(**values)
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or name}:{exc.lineno}"
        raise DigestError(f"template {where}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise DigestError(f"template {exc.name} not found (needed by {name})") from None
    except Exception as exc:  # undefined names, bad filters, errors in template expressions
        raise DigestError(f"template {_location(exc.__traceback__, env) or name}: {exc}") from None


def _location(tb: TracebackType | None, env: jinja2.Environment) -> str | None:
    """The innermost template frame: Jinja rewrites tracebacks so they carry template file and line."""
    roots = tuple(str(p) for p in env.loader.searchpath)  # type: ignore[union-attr]
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(roots):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found
