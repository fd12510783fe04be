"""The confirmation mail of a sign-up: rendered in the digests' style, built, and sent.

It is a transactional message, not a digest: no List-* headers (it is not list mail, and a one-click
unsubscribe from a list the reader is not on would mean nothing), no delivery-log row, no archive.
It goes through the same transport as digests (SMTP, or the outbox folder when no host is set).
It is written in the language of the sign-up (the pending subscriber's locale, else DIGEST_LOCALE),
right to left for Arabic, like the digests that follow it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from digest.config import Settings
from digest.locales import N_, available_locales, plural_count, text_direction
from digest.mail import POLICY, Outgoing, envelope_sender, sender, sender_domain
from digest.render.colors import theme
from digest.render.html import compile_mjml, inline_css
from digest.render.i18n import translations
from digest.render.templates import environment, render
from digest.text import single_line
from digest.transport import DeliveryError, Transport, open_transport

HTML_TEMPLATE = "confirm.mjml"
TEXT_TEMPLATE = "confirm.txt"


@dataclass(frozen=True)
class ConfirmContext:
    """What confirm.mjml / confirm.txt show; the names base.mjml expects are all here."""

    lang: str
    name: str
    cadence: str
    subject: str
    preheader: str
    period_words: str
    confirm_url: str
    hours: str
    footer_text: str
    postal_address: str | None
    logo_url: str | None
    accent: str
    accent_dark_mode: str
    archive_url: str = ""
    unsubscribe_url: str = ""
    dir: str = "ltr"  # base.mjml's text direction
    hours_count: int = 0  # picks the plural form of "N hours"


PREHEADERS = {
    "weekly": N_("One click and the weekly digest of %(name)s is yours."),
    "monthly": N_("One click and the monthly digest of %(name)s is yours."),
}


def confirm_context(settings: Settings, cadence: str, link: str, lang: str | None = None) -> ConfirmContext:
    """The mail's words in `lang` (the sign-up's language; None: DIGEST_LOCALE)."""
    lang = lang if lang in available_locales() else settings.locale  # it goes into a header
    _ = translations(lang, settings.templates_dir).gettext
    name = single_line(settings.name)
    site = settings.base_url.split("://", 1)[-1]
    footer = _("You get this email because this address was entered in the sign-up form at %(site)s.")
    return ConfirmContext(
        lang=lang,
        name=name,
        cadence=cadence,
        subject=single_line(_("Confirm your subscription to %(name)s") % {"name": name}),
        preheader=_(PREHEADERS.get(cadence, PREHEADERS["weekly"])) % {"name": name},
        period_words=_("Confirm your subscription"),
        confirm_url=link,
        hours=f"{settings.confirm_hours:g}",
        footer_text=footer % {"site": site},
        postal_address=single_line(settings.postal_address) or None,
        logo_url=settings.logo_url,
        dir=text_direction(lang),
        hours_count=plural_count(settings.confirm_hours),
        **theme(settings.brand_color),
    )


def render_confirmation(settings: Settings, context: ConfirmContext) -> tuple[str, str]:
    """(html, text) of the mail; pure."""
    env = environment(settings.templates_dir, context.lang)
    mjml = render(env, HTML_TEMPLATE, digest=context)
    html = inline_css(compile_mjml(mjml, HTML_TEMPLATE), render(env, "theme.css", digest=context))
    return html, render(env, TEXT_TEMPLATE, digest=context)


def build_confirmation(
    settings: Settings,
    email: str,
    name: str | None,
    cadence: str,
    link: str,
    now: datetime,
    lang: str | None = None,
) -> EmailMessage:
    context = confirm_context(settings, cadence, link, lang)
    html, text = render_confirmation(settings, context)
    message = EmailMessage(policy=POLICY)
    message["From"] = sender(settings)
    message["To"] = Address(display_name=single_line(name), addr_spec=email)
    message["Subject"] = context.subject
    message["Date"] = format_datetime(now.astimezone(settings.timezone))
    message["Message-ID"] = f"<confirm.{uuid.uuid4().hex}@{sender_domain(settings)}>"
    if settings.reply_to:
        reply_name, reply_addr = parseaddr(settings.reply_to)
        message["Reply-To"] = Address(display_name=single_line(reply_name), addr_spec=reply_addr)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    # After the parts exist (add_alternative moves Content-* headers into the first part); the
    # value is a shipped language code, never the reader's raw input.
    message["Content-Language"] = context.lang
    return message


def send_confirmation(
    settings: Settings,
    email: str,
    name: str | None,
    cadence: str,
    link: str,
    now: datetime,
    transport: Transport | None = None,
    lang: str | None = None,
) -> None:
    """Raises DeliveryError when the transport refuses it (the caller lets the reader ask again)."""
    message = build_confirmation(settings, email, name, cadence, link, now, lang)
    connection = (transport or open_transport(settings)).connect()
    try:
        connection.send(Outgoing(envelope_sender(settings), email, message.as_bytes(), message["Message-ID"]))
    finally:
        connection.close()


__all__ = ["DeliveryError", "build_confirmation", "render_confirmation", "send_confirmation"]
