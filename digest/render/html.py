"""MJML to mail-ready HTML: compile, check what mjml-python does not, inline the theme CSS.

mjml-python validates nothing (bad MJML is a bare ValueError, unknown tags pass through silently),
so unknown `mj-*` tags are caught here and both are reported with the template's name. css-inline
(Rust) inlines only the theme stylesheet, given as extra CSS: the page's own <style> blocks (MJML's,
head.css and dark.css: dark mode, phone rules) are neither applied nor rewritten, so they stay as
written, `!important` and media queries included. It replaced premailer, whose per-element style
merging in cssutils took ~17 µs per styled element (24 ms of a 200-item digest, more than the whole
render budget; see bench/README.md). Nothing is fetched: no web fonts, no remote stylesheets.
"""

from __future__ import annotations

import re
from functools import lru_cache

import css_inline
from mjml import mjml2html

from digest.errors import DigestError

# Every tag of MJML 4; mjml-python passes anything else through as if it were HTML.
_TAG_NAMES = (
    "mjml mj-head mj-body mj-attributes mj-all mj-class mj-breakpoint mj-font mj-html-attributes "
    "mj-html-attribute mj-selector mj-preview mj-style mj-title mj-accordion mj-accordion-element "
    "mj-accordion-title mj-accordion-text mj-button mj-carousel mj-carousel-image mj-column "
    "mj-divider mj-group mj-hero mj-image mj-navbar mj-navbar-link mj-raw mj-section mj-social "
    "mj-social-element mj-spacer mj-table mj-text mj-wrapper mj-include"
)
MJML_TAGS = frozenset(_TAG_NAMES.split())
_MJ_TAG = re.compile(r"<(mj-[\w-]+|mjml)\b", re.IGNORECASE)
_FONT_LINK = re.compile(
    r"<link\b[^>]*fonts\.googleapis\.com[^>]*>|@import url\([^)]*fonts\.googleapis[^)]*\);?"
)
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>\s*", re.IGNORECASE)


def check_mjml(source: str, template: str) -> None:
    for match in _MJ_TAG.finditer(source):
        tag = match.group(1).lower()
        if tag not in MJML_TAGS:
            line = source.count("\n", 0, match.start()) + 1
            text = source.splitlines()[line - 1].strip()[:80]
            raise DigestError(
                f"template {template}: unknown MJML tag <{tag}> (line {line} of the rendered MJML: {text!r})"
            )


def compile_mjml(source: str, template: str) -> str:
    check_mjml(source, template)
    try:
        html = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise DigestError(f"template {template}: invalid MJML: {exc}{_where(source, str(exc))}") from None
    # MJML adds no font link when mj-all sets font-family; an override might not. (A bare scan of the
    # page with this regex took 1 ms of 200 items' 3; the substring test, 20 µs.)
    return _FONT_LINK.sub("", html) if "fonts.googleapis" in html else html


def _where(source: str, message: str) -> str:
    """mjml-python reports a character position; a line of the rendered MJML is easier to find."""
    found = re.search(r"position (\d+)", message)
    if not found:
        return ""
    line = source.count("\n", 0, int(found.group(1))) + 1
    return f" (line {line} of the rendered MJML: {source.splitlines()[line - 1].strip()[:80]!r})"


def inline_css(html: str, css: str) -> str:
    """Inline `css` into the elements; leave every <style> already in the page untouched."""
    try:
        inlined = _inliner(css).inline(html)
    except css_inline.InlineError as exc:  # lenient with bad CSS; this is the last line of defence
        raise DigestError(f"template theme.css: cannot inline it: {exc}") from None
    return "<!doctype html>\n" + _without_doctype(inlined)


@lru_cache(maxsize=8)
def _inliner(css: str) -> css_inline.CSSInliner:
    """One per theme stylesheet: a digest's languages (and its fitting passes) share the parsed CSS."""
    return css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        load_remote_stylesheets=False,
        minify_css=True,
        extra_css=css,
    )


def _without_doctype(html: str) -> str:
    """A match at the start only: `re.sub` would try the pattern at every position of the page."""
    found = _DOCTYPE.match(html)
    return html[found.end() :] if found else html
