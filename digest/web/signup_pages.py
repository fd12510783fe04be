"""The sign-up pages of `digest serve`: /subscribe, /confirm/TOKEN and /manage/TOKEN.

Decisions, and why:
- POST /subscribe always answers the same "check your inbox" page, whether the address was new,
  pending, active, throttled or a bot's (honeypot): the form tells nobody who is subscribed. The
  confirmation mail is sent after the answer (a background task), so timing tells nothing either.
- GET /confirm/TOKEN changes nothing: link scanners in corporate mail fetch every link. It answers a
  page whose small inline script posts the confirmation at once (allowed by a CSP hash, the only
  script the site runs), with a button for browsers without scripts: no "triple opt-in".
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
from digest.periods import CADENCES
from digest.store import subscribers as subscriber_store
from digest.tokens import confirm_url, make_token, read_confirm_token
from digest.web import subscription
from digest.web.common import DEFAULT_CSP, read_form
from digest.web.ratelimit import RateLimit


class Site(Protocol):
    """What these pages use of the public site (digest/web/public.py)."""

    settings: Settings
    engine: Engine
    clock: Clock

    def page(self, name: str, status_code: int = 200, **context) -> Response: ...

    def subscriber_id(self, request: Request) -> int: ...

    def check_form(self, request: Request, form: dict[str, str], subscriber_id: int) -> None: ...


log = logging.getLogger("digest.web")

HONEYPOT = "website"
SIGNUPS_PER_IP_PER_HOUR = 10
CONFIRM_SCRIPT = 'document.getElementById("confirm-form").submit();'
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(CONFIRM_SCRIPT.encode()).digest()).decode()
CONFIRM_CSP = DEFAULT_CSP + f"; script-src 'sha256-{_SCRIPT_HASH}'"
TOKEN_PATHS = (r"(/confirm/)[^/?\s]+", r"(/manage/)[^/?\s]+")

PROBLEMS = {
    "invalid": ("This link is not valid", "The link may be cut short or altered. Sign up again below."),
    "unknown": ("This sign-up is gone", "Unconfirmed sign-ups are deleted when their link expires."),
    "expired": ("This link has expired", "Confirmation links work for {hours} hours."),
    "used": ("This link was already used", "It was used or replaced by a newer one. Sign up again below."),
}


class SignupPages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.settings = site.settings
        self.per_ip = RateLimit(SIGNUPS_PER_IP_PER_HOUR, 3600)

    # --- /subscribe -----------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.settings.double_opt_in and not self.settings.from_addr:
            raise HTTPException(503, "Sign-up is not open yet: the organizer has not set DIGEST_FROM.")

    async def form(self, request: Request) -> Response:
        self.check_open()
        cadence = request.query_params.get("cadence", "weekly")
        return self.form_page(cadence=cadence if cadence in CADENCES else "weekly")

    def form_page(self, status_code: int = 200, **values) -> Response:
        fields = {"email": "", "reader_name": "", "cadence": "weekly", "error": None, **values}
        return self.site.page("subscribe.html", status_code, cadences=CADENCES, honeypot=HONEYPOT, **fields)

    async def submit(self, request: Request) -> Response:
        self.check_open()
        form = await read_form(request)
        if form.get(HONEYPOT):
            log.info("sign-up refused: honeypot filled")
            return self.check_inbox()
        wanted = signup.SignupRequest(
            form.get("email", ""),
            form.get("name"),
            form.get("cadence", "weekly"),
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
        try:
            checked = signup.check_request(wanted)
        except ValueError as exc:
            error = str(exc) if "cadence" in str(exc) else "Please enter a valid email address."
            return self.form_page(
                400, email=wanted.email[:320], reader_name=(wanted.name or "")[:200], error=error
            )
        if not self.per_ip.allow(checked.ip or "", time.monotonic()):
            log.warning("sign-up refused: too many from one address in an hour")
            return self.check_inbox()
        now = self.site.clock()
        result = await run_in_threadpool(
            signup.sign_up, self.site.engine, checked, now, self.settings.double_opt_in
        )
        return self.check_inbox(result)

    def check_inbox(self, result: signup.Signup | None = None) -> Response:
        response = self.site.page("check-inbox.html")
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
                self.settings, result.email, result.name, result.cadence, link, self.site.clock()
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
            return self.problem("invalid")
        state = await run_in_threadpool(self.peek, claim)
        if state != "ready":
            return self.problem(state) if state in PROBLEMS else self.done(claim.subscriber_id, state)
        response = self.site.page("confirm.html", script=CONFIRM_SCRIPT)
        response.headers["content-security-policy"] = CONFIRM_CSP
        return response

    def peek(self, claim) -> str:
        """What POSTing this link would do, without doing it."""
        with self.site.engine.connect() as connection:
            row = subscriber_store.get_by_id(connection, claim.subscriber_id)
        if row is None:
            return "unknown"
        if row.confirm_nonce != claim.nonce:
            return "already" if row.status == "active" else "used"
        return "expired" if claim.expired else "ready"

    async def confirm(self, request: Request) -> Response:
        claim = self.claim(request)
        form = await read_form(request)
        if claim is None:
            return self.problem("invalid")
        if form.get("action") == "resend":
            result = await run_in_threadpool(signup.ask_again, self.site.engine, claim, self.site.clock())
            return self.check_inbox(result)
        ip = request.client.host if request.client else None
        done = await run_in_threadpool(
            signup.confirm, self.site.engine, claim, self.site.clock(), ip, request.headers.get("user-agent")
        )
        if done.outcome in PROBLEMS:
            return self.problem(done.outcome)
        return self.done(done.subscriber_id, done.outcome)

    def done(self, subscriber_id: int, outcome: str) -> Response:
        sub = subscribers.subscription(self.site.engine, subscriber_id)
        token = make_token(self.settings.signing_keys, subscriber_id)
        return self.site.page("confirmed.html", sub=sub, token=token, already=outcome == "already")

    def problem(self, kind: str) -> Response:
        title, message = PROBLEMS[kind]
        status = 410 if kind in ("expired", "unknown", "used") else 400
        message = message.format(hours=f"{self.settings.confirm_hours:g}")
        return self.site.page("confirm-problem.html", status, kind=kind, title=title, message=message)

    # --- /manage/TOKEN ----------------------------------------------------------------------------

    async def manage(self, request: Request) -> Response:
        subscriber_id = self.site.subscriber_id(request)
        sub = await run_in_threadpool(subscribers.subscription, self.site.engine, subscriber_id)
        return self.preferences(sub, request.query_params.get("saved"))

    def preferences(self, sub, notice: str | None = None) -> Response:
        if sub is None:
            raise HTTPException(404, "We have no subscription for this link. It may have been deleted.")
        nonce = subscription.form_nonce(self.settings.secret_key or "", sub.id)
        notices = {
            "cadence": "Saved.",
            "unsubscribed": "You are unsubscribed.",
            "resubscribed": "Welcome back.",
        }
        return self.site.page(
            "preferences.html", sub=sub, nonce=nonce, cadences=CADENCES, notice=notices.get(notice or "")
        )

    async def change(self, request: Request) -> Response:
        subscriber_id = self.site.subscriber_id(request)
        form = await read_form(request)
        action, now, engine = form.get("action", ""), self.site.clock(), self.site.engine
        if action == "unsubscribe":
            sub = await run_in_threadpool(subscribers.unsubscribe, engine, subscriber_id, now)
            return self.preferences(sub, "unsubscribed")
        if action not in ("cadence", "resubscribe"):
            raise HTTPException(400, "Please use the buttons on the page.")
        self.site.check_form(request, form, subscriber_id)
        cadence = form.get("cadence", "")
        if cadence not in CADENCES:
            raise HTTPException(400, "Please choose weekly or monthly.")
        change = subscribers.set_cadence if action == "cadence" else subscribers.resubscribe
        sub = await run_in_threadpool(change, engine, subscriber_id, cadence, now)
        return self.preferences(sub, action)

    def routes(self) -> list[Route]:
        return [
            Route("/subscribe", self.form, methods=["GET"]),
            Route("/subscribe", self.submit, methods=["POST"]),
            Route("/confirm/{token}", self.confirm_page, methods=["GET"]),
            Route("/confirm/{token}", self.confirm, methods=["POST"]),
            Route("/manage/{token}", self.manage, methods=["GET"]),
            Route("/manage/{token}", self.change, methods=["POST"]),
        ]
