"""The public web app behind DIGEST_BASE_URL: personal unsubscribe/preferences links and the archive.

Decisions, and why:
- GET of a personal link only shows a page: mail scanners prefetch links, so GET changes nothing.
- Any POST to a personal link unsubscribes at once, unless it is one of our own preference forms
  (`action=cadence|resubscribe`). That covers the RFC 8058 one-click body `List-Unsubscribe=One-Click`
  (urlencoded or multipart, no cookies, no auth), the page's own button, and any client that gets the
  body wrong: a wish to leave is always honoured. The answer is 200 with a page, never a redirect.
- CSRF: the signed token in the URL is the capability. Preference forms also need a signed,
  7-day nonce bound to the subscriber, and are refused when an Origin header names another site.
  (Browsers send `Origin: null` from our pages because of `Referrer-Policy: no-referrer`, so Origin
  alone cannot be relied on; the nonce can.)
- The archive lists digests whose status is `sending` or `sent`: once the first copy is on its way,
  its "view in browser" link must work. A digest saved in any other state is not public.
- Archive pages replace the personal unsubscribe marker with a link to `/unsubscribe`, a page that
  explains how to leave from one's own copy: no personal link is ever shown to a stranger.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from digest import subscribers
from digest.clock import Clock, utc_now
from digest.config import Settings
from digest.models import PERSONAL_MARKS
from digest.periods import CADENCES, describe, parse_period
from digest.render.templates import environment
from digest.store import digests as digest_store
from digest.tokens import read_token
from digest.web import subscription
from digest.web.common import SecurityHeaders, error_handlers, read_form, run_app
from digest.web.signup_pages import TOKEN_PATHS, SignupPages

PUBLIC_STATUSES = ("sending", "sent")
TOKEN_IN_PATH = r"(/unsubscribe/)[^/?\s]+"
MAX_BODY = 16 * 1024

# A stored digest is an email document: inline styles and remote images, never scripts or forms.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

NOTICES = {
    "weekly": "Saved: you will get the weekly digest.",
    "monthly": "Saved: you will get the monthly digest.",
    "resubscribed": "Welcome back: you are subscribed again.",
}


class PublicSite:
    """The endpoints, holding what they share: settings, the engine, the templates and a clock."""

    def __init__(self, settings: Settings, engine: Engine, clock: Clock = utc_now) -> None:
        settings.require("secret_key", purpose="serve")
        self.settings = settings
        self.secret: str = settings.secret_key or ""
        self.engine = engine
        self.clock = clock
        # Links in pages start with the path of DIGEST_BASE_URL, for a proxy that serves us under a prefix.
        self.root = urlsplit(settings.base_url).path.rstrip("/")

    def templates(self):
        """Per request, so a page edited in DIGEST_TEMPLATES_DIR shows without a restart."""
        return environment(self.settings.templates_dir)

    def page(self, name: str, status_code: int = 200, **context) -> HTMLResponse:
        body = (
            self.templates()
            .get_template(f"web/{name}")
            .render(
                site_name=self.settings.name,
                postal_address=self.settings.postal_address,
                root=self.root,
                **context,
            )
        )
        return HTMLResponse(body, status_code=status_code, headers={"cache-control": "no-store"})

    def error_page(self, request: Request, status: int, title: str, message: str) -> Response:
        return self.page("error.html", status, title=title, message=message, status=status)

    # --- personal links -------------------------------------------------------------------------

    def subscriber_id(self, request: Request) -> int:
        subscriber_id = read_token(self.settings.signing_keys, request.path_params["token"])
        if subscriber_id is None:
            raise HTTPException(404, "This link is not valid. Please use the link in your latest email.")
        return subscriber_id

    def manage_page(self, sub: subscribers.Subscription | None, notice: str | None = None) -> Response:
        if sub is None:
            raise HTTPException(404, "We have no subscription for this link. It may have been deleted.")
        nonce = subscription.form_nonce(self.secret, sub.id)
        return self.page(
            "manage.html",
            sub=sub,
            nonce=nonce,
            notice=NOTICES.get(notice or ""),
            just_left=notice == "unsubscribed",
            other_cadence="monthly" if sub.cadence == "weekly" else "weekly",
            cadences=CADENCES,
            mailto=self.settings.unsubscribe_mailto,
        )

    async def show(self, request: Request) -> Response:
        subscriber_id = self.subscriber_id(request)
        return self.manage_page(await run_in_threadpool(subscribers.subscription, self.engine, subscriber_id))

    async def act(self, request: Request) -> Response:
        subscriber_id = self.subscriber_id(request)
        form = await read_form(request)
        action = form.get("action", "")
        if action not in ("cadence", "resubscribe"):
            sub = await run_in_threadpool(subscribers.unsubscribe, self.engine, subscriber_id, self.clock())
            return self.manage_page(sub, "unsubscribed")
        self.check_form(request, form, subscriber_id)
        cadence = form.get("cadence", "")
        if cadence not in CADENCES:
            raise HTTPException(400, "Please choose weekly or monthly.")
        change = subscribers.set_cadence if action == "cadence" else subscribers.resubscribe
        sub = await run_in_threadpool(change, self.engine, subscriber_id, cadence, self.clock())
        return self.manage_page(sub, cadence if action == "cadence" else "resubscribed")

    def check_form(self, request: Request, form: dict[str, str], subscriber_id: int) -> None:
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin != _origin(self.settings.base_url):
            raise HTTPException(403, "This form was sent from another site.")
        if not subscription.nonce_is_valid(self.secret, form.get("nonce", ""), subscriber_id):
            raise HTTPException(400, "This form has expired. Please reload the page and try again.")

    # --- archive --------------------------------------------------------------------------------

    async def archive(self, request: Request) -> Response:
        rows = await run_in_threadpool(self._public_digests)
        entries = [(row, self._describe(row.cadence, row.period)) for row in rows]
        return self.page("archive.html", entries=entries)

    def _describe(self, cadence: str, period: str) -> str:
        try:
            return describe(parse_period(cadence, period, self.settings.timezone))
        except ValueError:
            return period

    def _public_digests(self) -> list:
        with self.engine.connect() as connection:
            return [r for r in digest_store.list_digests(connection) if r.status in PUBLIC_STATUSES]

    async def archived(self, request: Request) -> Response:
        cadence, period = request.path_params["cadence"], request.path_params["period"]
        row = await run_in_threadpool(self._public_digest, cadence, period)
        if row is None:
            raise HTTPException(404, "There is no sent digest for this period.")
        html = row.html
        for mark in PERSONAL_MARKS:  # no personal link is shown to a stranger
            html = html.replace(mark, f"{self.settings.base_url}/unsubscribe")
        return HTMLResponse(html, headers={"content-security-policy": ARCHIVE_CSP})

    def _public_digest(self, cadence: str, period: str):
        if cadence not in CADENCES:
            return None
        with self.engine.connect() as connection:
            row = digest_store.get_digest(connection, cadence, period)
        return row if row is not None and row.status in PUBLIC_STATUSES else None

    # --- the rest -------------------------------------------------------------------------------

    async def how_to_leave(self, request: Request) -> Response:
        return self.page("how-to-unsubscribe.html", mailto=self.settings.unsubscribe_mailto)

    async def stylesheet(self, request: Request) -> Response:
        css = self.templates().get_template("web/site.css").render(brand=self.settings.brand_color)
        return Response(css, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    async def health(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self._ping)
        except Exception:
            return PlainTextResponse("database unavailable\n", status_code=503)
        return PlainTextResponse("ok\n")

    def _ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def routes(self) -> list[Route]:
        return [
            Route("/", lambda request: RedirectResponse(f"{self.root}/archive", 303)),
            Route("/healthz", self.health),
            Route("/site.css", self.stylesheet),
            Route("/unsubscribe", self.how_to_leave),
            Route("/unsubscribe/{token}", self.show, methods=["GET"]),
            Route("/unsubscribe/{token}", self.act, methods=["POST"]),
            Route("/archive", self.archive),
            Route("/archive/{cadence}/{period}", self.archived),
            *SignupPages(self).routes(),
        ]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(settings: Settings, engine: Engine, clock: Clock = utc_now) -> ASGIApp:
    site = PublicSite(settings, engine, clock)
    app = Starlette(
        routes=site.routes(),
        exception_handlers=error_handlers(site.error_page),
        max_body_size=MAX_BODY,
    )
    return SecurityHeaders(app)


def serve(settings: Settings, engine: Engine, host: str, port: int, announce=None) -> None:
    """Run the public app until SIGTERM or Ctrl-C; unsubscribe tokens never reach the access log."""
    run_app(create_app(settings, engine), host, port, redact=[TOKEN_IN_PATH, *TOKEN_PATHS], announce=announce)
