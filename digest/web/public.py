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
- The archive lists digests that reached at least one subscriber (a delivery accepted by the
  server), newest period first: once the first copy is out, its "view in browser" link must work,
  and a digest the server refused for everyone is not public. A digest's page shows every item it
  held, also those its mail only linked as "and N more".
- Archive pages replace the personal unsubscribe marker with a link to `/unsubscribe`, a page that
  explains how to leave from one's own copy: no personal link is ever shown to a stranger.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from jinja2 import Environment
from sqlalchemy import Engine, Row
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
from digest.locales import N_, available_locales, negotiate, text_direction
from digest.models import PERSONAL_MARKS
from digest.periods import CADENCES, Period, parse_period
from digest.render.formats import period_words
from digest.render.i18n import translations
from digest.render.templates import environment
from digest.store import current_version
from digest.store import digests as digest_store
from digest.store.contents import held_items
from digest.store.schema import MIGRATIONS
from digest.tokens import SAMPLE_TOKEN, read_token
from digest.web import subscription
from digest.web.common import SecurityHeaders, error_handlers, read_form, run_app
from digest.web.preferences_pages import PreferencePages
from digest.web.signup_pages import TOKEN_PATHS, SignupPages

TOKEN_IN_PATH = r"(/unsubscribe/)[^/?\s]+"
MAX_BODY = 16 * 1024

# A stored digest is an email document: inline styles and remote images, never scripts or forms.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

NOTICES = {
    "weekly": N_("Saved: you will get the weekly digest."),
    "monthly": N_("Saved: you will get the monthly digest."),
    "resubscribed": N_("Welcome back: you are subscribed again."),
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

    def page(self, name: str, status_code: int = 200, lang: str | None = None, **context) -> HTMLResponse:
        """A page in `lang` (the subscriber's or the browser's language, else DIGEST_LOCALE). A
        value we do not ship (a row written by hand) never reaches a path or a header."""
        lang = lang if lang in available_locales() else self.settings.locale
        body = (
            self.templates(lang)
            .get_template(f"web/{name}")
            .render(
                site_name=self.settings.name,
                postal_address=self.settings.postal_address,
                root=self.root,
                dir=text_direction(lang),
                **context,
            )
        )
        headers = {"cache-control": "no-store", "content-language": lang, "vary": "Accept-Language"}
        return HTMLResponse(body, status_code=status_code, headers=headers)

    def templates(self, lang: str | None = None) -> Environment:
        """Per request, so a page edited in DIGEST_TEMPLATES_DIR shows without a restart."""
        return environment(self.settings.templates_dir, lang or self.settings.locale)

    def reader_language(self, request: Request) -> str:
        return negotiate(request.headers.get("accept-language"), self.settings.locale)

    def error_page(self, request: Request, status: int, title: str, message: str) -> Response:
        lang = self.reader_language(request)
        return self.page("error.html", status, lang, title=title, message=message, status=status)

    # --- personal links -------------------------------------------------------------------------

    def subscriber_id(self, request: Request) -> int:
        subscriber_id = read_token(self.settings.signing_keys, request.path_params["token"])
        if subscriber_id is None:
            raise HTTPException(404, N_("This link is not valid. Please use the link in your latest email."))
        return subscriber_id

    def manage_page(
        self, request: Request, sub: subscribers.Subscription | None, notice: str | None = None
    ) -> Response:
        if sub is None:
            raise HTTPException(404, N_("We have no subscription for this link. It may have been deleted."))
        nonce = subscription.form_nonce(self.secret, sub.id)
        return self.page(
            "manage.html",
            lang=sub.locale or self.reader_language(request),
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
        sub = await run_in_threadpool(subscribers.subscription, self.engine, subscriber_id)
        return self.manage_page(request, sub)

    async def act(self, request: Request) -> Response:
        subscriber_id = self.subscriber_id(request)
        form = await read_form(request)
        action = form.get("action", "")
        if action not in ("cadence", "resubscribe"):
            sub = await run_in_threadpool(subscribers.unsubscribe, self.engine, subscriber_id, self.clock())
            return self.manage_page(request, sub, "unsubscribed")
        self.check_form(request, form, subscriber_id)
        cadence = form.get("cadence", "")
        if cadence not in CADENCES:
            raise HTTPException(400, N_("Please choose weekly or monthly."))
        change = subscribers.set_cadence if action == "cadence" else subscribers.resubscribe
        sub = await run_in_threadpool(change, self.engine, subscriber_id, cadence, self.clock())
        return self.manage_page(request, sub, cadence if action == "cadence" else "resubscribed")

    def check_form(self, request: Request, form: dict[str, str], subscriber_id: int) -> None:
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin != _origin(self.settings.base_url):
            raise HTTPException(403, N_("This form was sent from another site."))
        if not subscription.nonce_is_valid(self.secret, form.get("nonce", ""), subscriber_id):
            raise HTTPException(400, N_("This form has expired. Please reload the page and try again."))

    # --- archive --------------------------------------------------------------------------------

    async def archive(self, request: Request) -> Response:
        rows = await run_in_threadpool(self._public_digests)
        lang = self.reader_language(request)
        gettext = translations(lang, self.settings.templates_dir).gettext
        entries = [(row, period_words(period, lang, gettext)) for period, row in rows]
        return self.page("archive.html", lang=lang, entries=entries)

    def _period(self, cadence: str, key: str) -> Period | None:
        try:
            return parse_period(cadence, key, self.settings.timezone)
        except ValueError:
            return None

    def _public_digests(self) -> list[tuple[Period, Row]]:
        """Newest period first (by its end, so a month sorts after the weeks it closes); a digest
        sent late by hand still sorts by the period it is about."""
        with self.engine.connect() as connection:
            rows = digest_store.public_digests(connection)
        dated = [(period, row) for row in rows if (period := self._period(row.cadence, row.period))]
        return sorted(dated, key=lambda pair: (pair[0].end, pair[0].start), reverse=True)

    async def archived(self, request: Request) -> Response:
        cadence, period = request.path_params["cadence"], request.path_params["period"]
        html = await run_in_threadpool(self._archived_html, cadence, period)
        if html is None:
            raise HTTPException(404, N_("There is no sent digest for this period."))
        for mark in PERSONAL_MARKS:  # no personal link is shown to a stranger
            html = html.replace(mark, f"{self.settings.base_url}/unsubscribe")
        return HTMLResponse(html, headers={"content-security-policy": ARCHIVE_CSP})

    def _archived_html(self, cadence: str, key: str) -> str | None:
        """The copy that went out; when it named only the first items ("and N more", whose link
        leads here), every item it held, rendered with the same templates."""
        period = self._period(cadence, key) if cadence in CADENCES else None
        if period is None:
            return None
        with self.engine.connect() as connection:
            row = digest_store.public_digest(connection, cadence, key)
            held = held_items(connection, row.id) if row is not None else []
        if row is None:
            return None
        if len(held) <= 1 or 'class="more-link"' not in row.html:
            return row.html
        from digest.render import render_digest  # only here: serve starts without the mail renderer

        return render_digest(self.settings, period, held, row.created_at, every_item=True).html

    # --- the rest -------------------------------------------------------------------------------

    async def how_to_leave(self, request: Request) -> Response:
        lang = self.reader_language(request)
        return self.page("how-to-unsubscribe.html", lang=lang, mailto=self.settings.unsubscribe_mailto)

    async def sample_link(self, request: Request) -> Response:
        """Samples and test copies link here: a page that changes nothing, on GET and POST alike."""
        if request.method == "POST":
            await request.body()
        return self.page("sample-link.html", lang=self.reader_language(request))

    async def stylesheet(self, request: Request) -> Response:
        css = self.templates().get_template("web/site.css").render(brand=self.settings.brand_color)
        return Response(css, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    async def health(self, request: Request) -> Response:
        """ok only when the store answers with the schema this code expects (tables present)."""
        try:
            version = await run_in_threadpool(current_version, self.engine)
        except Exception:
            return PlainTextResponse("database unavailable\n", status_code=503)
        if version != len(MIGRATIONS):
            return PlainTextResponse(
                f"database schema is version {version}, expected {len(MIGRATIONS)}\n", status_code=503
            )
        return PlainTextResponse("ok\n")

    def routes(self) -> list[Route]:
        return [
            Route("/", lambda request: RedirectResponse(f"{self.root}/archive", 303)),
            Route("/healthz", self.health),
            Route("/site.css", self.stylesheet),
            Route("/unsubscribe", self.how_to_leave),
            Route(f"/unsubscribe/{SAMPLE_TOKEN}", self.sample_link, methods=["GET", "POST"]),
            Route(f"/manage/{SAMPLE_TOKEN}", self.sample_link, methods=["GET", "POST"]),
            Route("/unsubscribe/{token}", self.show, methods=["GET"]),
            Route("/unsubscribe/{token}", self.act, methods=["POST"]),
            Route("/archive", self.archive),
            Route("/archive/{cadence}/{period}", self.archived),
            *SignupPages(self).routes(),
            *PreferencePages(self).routes(),
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
