"""Render one digest once, for everyone: context -> Jinja2 -> MJML -> HTML (+ inlined CSS), and text.

The stages, in order: build the context (render/context.py), render the MJML and the text from
templates (render/templates.py), compile and inline the HTML (render/html.py), then put the
personal-link marker in. Gmail clips messages past 102 KB, so when a digest would be larger, fewer
items are shown and the rest are linked as "and N more". The size that counts is the HTML as it
travels (quoted-printable, about 8% larger than the page itself), so that is what is measured.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import jinja2

from digest.config import Settings
from digest.editions import Edition
from digest.models import MANAGE_MARK, UNSUBSCRIBE_MARK, Item, RenderedDigest
from digest.periods import Period
from digest.render.context import DigestContext, build_context, without_mark
from digest.render.html import compile_mjml, inline_css
from digest.render.templates import environment, render

HTML_TEMPLATE = "digest.mjml"
TEXT_TEMPLATE = "digest.txt"
CSS_TEMPLATE = "theme.css"
# Gmail clips at 102 KB; keep room for CRLF line ends and personal links longer than the marker.
HTML_BUDGET = 98_000


@dataclass(frozen=True)
class Parts:
    mjml: str
    html: str
    text: str


def render_digest(
    settings: Settings,
    period: Period,
    items: Sequence[Item],
    now: datetime,
    edition: Edition | None = None,
) -> RenderedDigest:
    """`items` in send order, already chosen (the edition applied). Pure: no database, no clock,
    no network. `edition` gives the organizer's intro and subject."""
    env = environment(settings.templates_dir)
    placeholder = f"https://digest.invalid/u-{secrets.token_hex(12)}"
    manage_placeholder = f"https://digest.invalid/m-{secrets.token_hex(12)}"
    limit = min(settings.item_limit, len(items))
    while True:
        context = build_context(settings, period, items, placeholder, limit, manage_placeholder, edition)
        parts = render_parts(env, context)
        size = encoded_size(parts.html)
        if size <= HTML_BUDGET or limit <= 1:
            break
        limit = max(1, min(limit - 1, int(limit * HTML_BUDGET / size * 0.97)))
    return RenderedDigest(
        cadence=period.cadence,
        period=period.key,
        subject=context.subject,
        preheader=context.preheader,
        html=_personal(parts.html, placeholder, manage_placeholder),
        text=_personal(parts.text, placeholder, manage_placeholder),
        item_count=context.item_count,
        mjml=_personal(parts.mjml, placeholder, manage_placeholder),
    )


def render_parts(env: jinja2.Environment, context: DigestContext) -> Parts:
    mjml = render(env, HTML_TEMPLATE, digest=context)
    html = inline_css(compile_mjml(mjml, HTML_TEMPLATE), render(env, CSS_TEMPLATE, digest=context))
    text = render(env, TEXT_TEMPLATE, digest=context)
    return Parts(mjml=mjml, html=html, text=text)


def encoded_size(html: str) -> int:
    """Bytes of the HTML part once quoted-printable encoded for mail."""
    return len(binascii.b2a_qp(html.encode()))


def _personal(document: str, placeholder: str, manage_placeholder: str) -> str:
    """Only our own placeholders become the markers; any copy content smuggled through is removed."""
    return (
        without_mark(document).replace(placeholder, UNSUBSCRIBE_MARK).replace(manage_placeholder, MANAGE_MARK)
    )
