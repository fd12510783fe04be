"""The sign-up pages of `digest serve`: /subscribe and /confirm/TOKEN (/manage/TOKEN: preferences_pages.py).

Decisions, and why:
- POST /subscribe always answers the same "check your inbox" page, whether the address was new,
  pending, active, throttled or a bot's (honeypot): the form tells nobody who is subscribed. The
  confirmation mail is sent after the answer (a background task), so timing tells nothing either.
- GET /confirm/TOKEN changes nothing: link scanners in corporate mail fetch every link. It answers a
  page whose small inline script posts the confirmation at once (allowed by a CSP hash), with a
  button for browsers without scripts: no "triple opt-in".
- The pages speak the reader's language: the sign-up's own (its stored locale) once there is one,
  else the browser's (Accept-Language, or `?lang=` on the form), else DIGEST_LOCALE. The form
  offers the language choice, preset to the page's; a second tiny hash-allowed script puts the
  browser's time zone in a hidden field (without scripts the sign-up simply has no zone).
- The sign-up form posts to itself from any site (the organizer's copy of the snippet), so it
  checks no Origin; it creates nothing but a pending row and one mail an hour per address.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from typing import Protocol

from sqlalchemy import Engine
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest import signup, subscribers
from digest.clock import Clock
from digest.config import Settings
from digest.locales import N_, language_choices, normalize_locale, plural_count
from digest.periods import CADENCES
from digest.store import subscribers as subscriber_store
from digest.tokens import confirm_url, make_token, read_confirm_token
from digest.web.common import DEFAULT_CSP, read_form
from digest.web.ratelimit import RateLimit


class Site(Protocol):
    """What these pages use of the public site (digest/web/public.py)."""

    settings: Settings
    engine: Engine
    clock: Clock

    def page(self, name: str, status_code: int = 200, lang: str | None = None, **context) -> Response: ...

    def reader_language(self, request: Request) -> str: ...

    def subscriber_id(self, request: Request) -> int: ...

    def check_form(self, request: Request, form: dict[str, str], subscriber_id: int) -> None: ...


log = logging.getLogger("digest.web")

HONEYPOT = "website"
SIGNUPS_PER_IP_PER_HOUR = 10
CONFIRM_SCRIPT = 'document.getElementById("confirm-form").submit();'
ZONE_SCRIPT = (
    'try{document.getElementById("timezone").value='
    'Intl.DateTimeFormat().resolvedOptions().timeZone||""}catch(e){}'
)


def script_policy(script: str) -> str:
    """The site's policy, allowing this one inline script by its hash (no inline handlers, no eval)."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return DEFAULT_CSP + f"; script-src 'sha256-{digest}'"


CONFIRM_CSP = script_policy(CONFIRM_SCRIPT)
SUBSCRIBE_CSP = script_policy(ZONE_SCRIPT)
TOKEN_PATHS = (r"(/confirm/)[^/?\s]+", r"(/manage/)[^/?\s]+")

# (title, message), shown through `_()` in the reader's language; "expired" says how long links work.
PROBLEMS = {
    "invalid": (
        N_("This link is not valid"),
        N_("The link may be cut short or altered. Sign up again below."),
    ),
    "unknown": (
        N_("This sign-up is gone"),
        N_("Unconfirmed sign-ups are deleted when their link expires."),
    ),
    "expired": (N_("This link has expired"), ""),
    "used": (
        N_("This link was already used"),
        N_("It was used or replaced by a newer one. Sign up again below."),
    ),
}
FORM_ERRORS = {
    "email": N_("Please enter a valid email address."),
    "cadence": N_("Please choose weekly or monthly."),
    "locale": N_("Please choose one of the languages in the list."),
}


class SignupPages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.settings = site.settings
        self.per_ip = RateLimit(SIGNUPS_PER_IP_PER_HOUR, 3600)

    # --- /subscribe -----------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.settings.double_opt_in and not self.settings.from_addr:
            raise HTTPException(503, N_("Sign-up is not open yet: the organizer has not set DIGEST_FROM."))

    async def form(self, request: Request) -> Response:
        self.check_open()
        cadence = request.query_params.get("cadence", "weekly")
        lang = self.form_language(request)
        return self.form_page(lang, cadence=cadence if cadence in CADENCES else "weekly")

    def form_language(self, request: Request) -> str:
        """`?lang=es` (a link the organizer shares), else the browser's language."""
        try:
            return normalize_locale(request.query_params.get("lang", "")[:35])
        except ValueError:
            return self.site.reader_language(request)

    def form_page(self, lang: str, status_code: int = 200, **values) -> Response:
        fields = {"email": "", "reader_name": "", "cadence": "weekly", "error": None, "field": None, **values}
        response = self.site.page(
            "subscribe.html",
            status_code,
            lang,
            cadences=CADENCES,
            honeypot=HONEYPOT,
            languages=language_choices(),
            locale=values.get("locale") or lang,
            script=ZONE_SCRIPT,
            **fields,
        )
        response.headers["content-security-policy"] = SUBSCRIBE_CSP
        return response

    async def submit(self, request: Request) -> Response:
        self.check_open()
        form = await read_form(request)
        lang = self.site.reader_language(request)
        if form.get(HONEYPOT):
            log.info("sign-up refused: honeypot filled")
            return self.check_inbox(lang)
        wanted = signup.SignupRequest(
            form.get("email", ""),
            form.get("name"),
            form.get("cadence", "weekly"),
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            locale=form.get("locale", "")[:35] or lang,
            timezone=form.get("timezone"),
        )
        try:
            checked = signup.check_request(wanted)
        except ValueError as exc:
            # check_request's messages start "unknown cadence", "unknown locale" or "invalid email"
            field = next((f for f in ("cadence", "locale") if str(exc).startswith(f"unknown {f}")), "email")
            return self.form_page(
                lang,
                400,
                email=wanted.email[:320],
                reader_name=(wanted.name or "")[:200],
                error=FORM_ERRORS[field],
                field=field,
            )
        lang = checked.locale or lang
        if not self.per_ip.allow(checked.ip or "", time.monotonic()):
            log.warning("sign-up refused: too many from one address in an hour")
            return self.check_inbox(lang)
        now = self.site.clock()
        result = await run_in_threadpool(
            signup.sign_up, self.site.engine, checked, now, self.settings.double_opt_in
        )
        return self.check_inbox(lang, result)

    def check_inbox(self, lang: str, result: signup.Signup | None = None) -> Response:
        response = self.site.page("check-inbox.html", lang=lang)
        if result is not None and result.mail_owed:
            response.background = BackgroundTask(self.mail_link, result)
        return response

    def mail_link(self, result: signup.Signup) -> None:
        """After the answer: send the link; on failure let the next sign-up try again at once."""
        from digest.confirmation import DeliveryError, send_confirmation

        link = confirm_url(
            self.settings.base_url, self.settings.signing_keys, result.subscriber_id, result.nonce
        )
        try:
            send_confirmation(
                self.settings,
                result.email,
                result.name,
                result.cadence,
                link,
                self.site.clock(),
                lang=result.locale,
            )
        except DeliveryError as exc:
            log.error("confirmation mail for subscriber %s not sent: %s", result.subscriber_id, exc.reason)
            signup.release(self.site.engine, result)
        except Exception:  # the reader already has their page: log it, and let them ask again
            log.exception("confirmation mail for subscriber %s failed", result.subscriber_id)
            signup.release(self.site.engine, result)

    # --- /confirm/TOKEN ---------------------------------------------------------------------------

    def claim(self, request: Request):
        keys, hours = self.settings.signing_keys, self.settings.confirm_hours
        return read_confirm_token(keys, request.path_params["token"], hours * 3600)

    async def confirm_page(self, request: Request) -> Response:
        claim = self.claim(request)
        if claim is None:
            return self.problem(self.site.reader_language(request), "invalid")
        state, locale = await run_in_threadpool(self.peek, claim)
        lang = locale or self.site.reader_language(request)
        if state in PROBLEMS:
            return self.problem(lang, state)
        if state != "ready":
            return self.done(lang, claim.subscriber_id, state)
        response = self.site.page("confirm.html", lang=lang, script=CONFIRM_SCRIPT)
        response.headers["content-security-policy"] = CONFIRM_CSP
        return response

    def peek(self, claim) -> tuple[str, str | None]:
        """What POSTing this link would do, without doing it; and the sign-up's language."""
        with self.site.engine.connect() as connection:
            row = subscriber_store.get_by_id(connection, claim.subscriber_id)
        if row is None:
            return "unknown", None
        if row.confirm_nonce != claim.nonce:
            return ("already" if row.status == "active" else "used"), row.locale
        return ("expired" if claim.expired else "ready"), row.locale

    async def confirm(self, request: Request) -> Response:
        claim = self.claim(request)
        form = await read_form(request)
        if claim is None:
            return self.problem(self.site.reader_language(request), "invalid")
        sub = await run_in_threadpool(subscribers.subscription, self.site.engine, claim.subscriber_id)
        lang = (sub and sub.locale) or self.site.reader_language(request)
        if form.get("action") == "resend":
            result = await run_in_threadpool(signup.ask_again, self.site.engine, claim, self.site.clock())
            return self.check_inbox(lang, result)
        ip = request.client.host if request.client else None
        done = await run_in_threadpool(
            signup.confirm, self.site.engine, claim, self.site.clock(), ip, request.headers.get("user-agent")
        )
        if done.outcome in PROBLEMS:
            return self.problem(lang, done.outcome)
        return self.done(lang, done.subscriber_id, done.outcome)

    def done(self, lang: str, subscriber_id: int, outcome: str) -> Response:
        sub = subscribers.subscription(self.site.engine, subscriber_id)
        token = make_token(self.settings.signing_keys, subscriber_id)
        return self.site.page("confirmed.html", lang=lang, sub=sub, token=token, already=outcome == "already")

    def problem(self, lang: str, kind: str) -> Response:
        title, message = PROBLEMS[kind]
        status = 410 if kind in ("expired", "unknown", "used") else 400
        hours = self.settings.confirm_hours
        return self.site.page(
            "confirm-problem.html",
            status,
            lang,
            kind=kind,
            title=title,
            message=message,
            hours=f"{hours:g}",
            hours_count=plural_count(hours),
        )

    def routes(self) -> list[Route]:
        return [
            Route("/subscribe", self.form, methods=["GET"]),
            Route("/subscribe", self.submit, methods=["POST"]),
            Route("/confirm/{token}", self.confirm_page, methods=["GET"]),
            Route("/confirm/{token}", self.confirm, methods=["POST"]),
        ]
