"""`digest preview`: a local web app where organizers look at every digest before it is sent.

Pages are rendered on the server and work without JavaScript; one small script (live.js) polls
/version and reloads the page when the store, the templates or `.env` change. The digest itself is
shown in sandboxed iframes fed by the /raw route: no scripts can run in them (no allow-scripts, and
a CSP without script-src); allow-same-origin only lets live.js read the frame's height.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from markupsafe import Markup
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from digest.compose import in_progress_note, period_contents
from digest.config import Settings
from digest.errors import ConfigError, DigestError, EmptyPeriodError
from digest.periods import Period, describe
from digest.render.templates import builtin_dir, environment
from digest.web.common import SecurityHeaders, error_handlers, run_app
from digest.web.preview_checks import dkim_check, html_checks, spamassassin
from digest.web.preview_edition import edition_action, edition_context, intro_render
from digest.web.preview_sample import force_dark, force_light
from digest.web.preview_send import send_test_copy
from digest.web.preview_state import Preview

UI = builtin_dir() / "preview"
ASSETS = {"preview.css": "text/css", "live.js": "text/javascript", "edition.js": "text/javascript"}
VIEWS = {
    "edition": "Edition",
    "desktop": "Desktop",
    "phone": "Phone",
    "dark": "Dark",
    "text": "Text",
    "html": "HTML source",
    "mjml": "MJML source",
    "headers": "Headers",
    "checks": "Checks",
    "send": "Send test",
}
_UI_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The digest frame: no scripts at all, even when opened on its own; images and fonts as a mail app.
_FRAME_POLICY = (
    "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "img-src https: http: data:; style-src 'unsafe-inline'; font-src https: data:; frame-ancestors 'self'"
)
log = logging.getLogger("digest.web")


def _headers(policy: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    preview: Preview = request.app.state.preview
    try:
        version = preview.version()
    except Exception:  # the page still shows; live reload starts once the store answers again
        version = ""
    ui = environment(None).get_template(f"preview/{template}")
    body = ui.render(request=request, version=version, views=VIEWS, **context)
    return HTMLResponse(body, status_code=status, headers=_headers(_UI_POLICY))


def _problem(request: Request, status: int, title: str, lines: list[str]) -> HTMLResponse:
    return _page(request, "problem.html", status=status, title=title, lines=lines)


def _settings_or_page(request: Request) -> Settings | HTMLResponse:
    try:
        return request.app.state.preview.settings()
    except ConfigError as exc:
        return _problem(request, 500, "The configuration has errors", exc.problems)


def transport_summary(settings: Settings) -> str:
    from digest.transport import describe_transport, open_transport

    where = describe_transport(open_transport(settings))  # builds the object; connects nowhere
    return where if settings.smtp_host else f"{where} (no DIGEST_SMTP_HOST set)"


def config_summary(settings: Settings) -> list[tuple[str, str]]:
    """What an organizer should see before trusting a preview: where it reads and where it sends."""
    return [
        ("Newsletter", settings.name),
        ("From", settings.from_addr or "not set (DIGEST_FROM is required to send)"),
        ("Store", make_url(settings.database_url).render_as_string(hide_password=True)),
        ("Time zone", str(settings.timezone)),
        ("Templates", str(settings.templates_dir or "built-in")),
        ("Test sends go to", transport_summary(settings)),
    ]


def index(request: Request) -> Response:
    settings = _settings_or_page(request)
    if isinstance(settings, Response):
        return settings
    rows = request.app.state.preview.periods(settings)
    return _page(
        request,
        "index.html",
        weekly=[row for row in rows if row.period.cadence == "weekly"],
        monthly=[row for row in rows if row.period.cadence == "monthly"],
        config=config_summary(settings),
    )


def subscribers_page(request: Request) -> Response:
    """The organizer's view of the list: who is on it, and what happened week by week."""
    from digest.web.list_report import SERIES, load

    settings = _settings_or_page(request)
    if isinstance(settings, Response):
        return settings
    engine = request.app.state.preview.engine(settings)
    report = load(engine, datetime.now(UTC), settings.timezone)
    return _page(request, "subscribers.html", report=report, series=SERIES, chart=Markup(report.chart))


def digest_page(request: Request) -> Response:
    preview: Preview = request.app.state.preview
    view = request.query_params.get("view", "desktop")
    if view not in VIEWS:
        return _problem(request, 404, "No such view", [f"{view!r} is not one of {', '.join(VIEWS)}"])
    settings = _settings_or_page(request)
    if isinstance(settings, Response):
        return settings
    cadence, key = request.path_params["cadence"], request.path_params["period"]
    try:
        period = preview.period(settings, cadence, key)
    except DigestError as exc:
        return _problem(request, 404, "No such period", [str(exc)])
    try:
        sample = preview.sample(settings, period)
    except EmptyPeriodError as exc:
        if view == "edition" and preview.has_items(settings, period):  # all excluded: undo here
            return _page(request, "digest.html", **_context(request, period, settings), error=str(exc))
        return _problem(request, 404, "Nothing to preview", [str(exc)])
    except DigestError as exc:
        return _failed_page(request, period, settings, str(exc))
    except Exception as exc:  # a renderer bug still leaves a page that reloads once it is fixed
        log.exception("rendering %s %s failed", cadence, key)
        return _failed_page(request, period, settings, f"unexpected {exc.__class__.__name__}: {exc}")
    return _page(
        request,
        "digest.html",
        **_context(request, period, settings),
        error=None,
        sample=sample,
        checks=[*html_checks(sample.html, sample.message), _dkim_check(settings, sample.message)],
        spam=spamassassin(sample.message) if view == "checks" else None,
    )


def _dkim_check(settings: Settings, message: bytes):
    from digest.dkim import dns_name, dns_value, load_key
    from digest.mail import sender_domain

    if settings.dkim_private_key is None:
        return dkim_check(message, None)
    domain = settings.dkim_domain or sender_domain(settings)
    record = dns_value(load_key(settings.dkim_private_key))
    return dkim_check(message, record, dns_name(settings.dkim_selector or "?", domain))


def _failed_page(request: Request, period: Period, settings: Settings, error: str) -> Response:
    context = _context(request, period, settings)
    return _page(request, "digest.html", 500, **context, error=error, sample=None, checks=None, spam=None)


def _context(request: Request, period: Period, settings: Settings) -> dict:
    """What every view of a digest page shows around the digest itself."""
    preview: Preview = request.app.state.preview
    return {
        "cadence": period.cadence,
        "key": period.key,
        "view": request.query_params.get("view", "desktop"),
        "title": describe(period),
        "send_status": preview.status(settings, period),
        "in_progress": in_progress_note(settings, period, preview.clock()),
        "carried": period_contents(settings, preview.engine(settings), period).carried,
        "notice": preview.notices.get(request.query_params.get("notice", "")),
        "token": preview.token,
        "transport": transport_summary(settings),
        **edition_context(preview, period),
    }


def raw(request: Request) -> Response:
    """The digest's HTML alone, for the frames; ?dark=1 shows it as a dark-mode mail app does."""
    preview: Preview = request.app.state.preview
    try:
        settings = preview.settings()
        period = preview.period(settings, request.path_params["cadence"], request.path_params["period"])
        page = preview.sample(settings, period).html
    except DigestError as exc:
        return HTMLResponse(f"<p>{escape(str(exc))}</p>", status_code=500, headers=_headers(_FRAME_POLICY))
    page = force_dark(page) if request.query_params.get("dark") == "1" else force_light(page)
    return HTMLResponse(page, headers=_headers(_FRAME_POLICY))


def eml(request: Request) -> Response:
    """The sample message as a file, to open in a real mail program."""
    preview: Preview = request.app.state.preview
    cadence, key = request.path_params["cadence"], request.path_params["period"]
    try:
        settings = preview.settings()
        message = preview.sample(settings, preview.period(settings, cadence, key)).message
    except DigestError as exc:
        return Response(str(exc), status_code=404, media_type="text/plain")
    name = f"{cadence}-{key}.eml"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(message, media_type="message/rfc822", headers=headers)


def version(request: Request) -> Response:
    current = request.app.state.preview.version()
    return JSONResponse({"version": current}, headers={"Cache-Control": "no-store"})


def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        return Response("not found", status_code=404)
    return FileResponse(UI / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


async def send_test(request: Request) -> Response:
    """Form POST; the answer is a redirect, so a live reload never re-sends."""
    preview: Preview = request.app.state.preview
    body = await request.body()
    if len(body) > 10_000:
        return _problem(request, 413, "Too large", ["the form is larger than a send-test form can be"])
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    cadence, key = request.path_params["cadence"], request.path_params["period"]
    # Bytes, not str: compare_digest raises on a non-ASCII str, which would be a 500, not a 403.
    if not secrets.compare_digest(str(form.get("token", "")).encode(), preview.token.encode()):
        reason = "this form was not made by this preview server (restarted?): reload the page and try again"
        return _problem(request, 403, "Not sent", [reason])
    address = str(form.get("email", "")).strip()
    ok, message = await run_in_threadpool(send_test_copy, preview, cadence, key, address)
    notice = preview.add_notice(ok, message, address)
    query = urlencode({"view": "send", "notice": notice})
    return RedirectResponse(f"/digest/{cadence}/{key}?{query}", status_code=303)


def allowed_hosts(host: str) -> list[str]:
    """Guards a loopback server against DNS rebinding; a public bind accepts any name.

    Every loopback address counts (127.0.0.0/8, ::1), however it is written; Host headers carry an
    IPv6 address in brackets."""
    if not _is_loopback(host):
        return ["*"]
    try:
        own = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        own = None
    written = f"[{own.compressed}]" if own is not None and own.version == 6 else str(own or host)
    return sorted({"127.0.0.1", "localhost", "[::1]", written.lower()})


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(host: str = "127.0.0.1", env_file: Path = Path(".env")) -> ASGIApp:
    routes = [
        Route("/", index),
        Route("/subscribers", subscribers_page),
        Route("/digest/{cadence}/{period}", digest_page),
        Route("/digest/{cadence}/{period}/send", send_test, methods=["POST"]),
        Route("/digest/{cadence}/{period}/edition", edition_action, methods=["POST"]),
        Route("/intro", intro_render, methods=["POST"]),
        Route("/raw/{cadence}/{period}", raw),
        Route("/eml/{cadence}/{period}", eml),
        Route("/version", version),
        Route("/assets/{name}", asset),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host))]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=error_handlers())
    app.state.preview = Preview(env_file)
    return SecurityHeaders(app, csp=_UI_POLICY, frame_options="SAMEORIGIN")


class _QuietPolling(logging.Filter):
    """The page asks /version every second; the access log keeps only what a person did."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        path = args[2] if len(args) >= 3 and isinstance(args[2], str) else ""
        return not path.startswith(("/version", "/assets/"))


def run(host: str, port: int) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM."""
    logging.getLogger("uvicorn.access").addFilter(_QuietPolling())
    run_app(create_app(host), host, port, announce=_announce)


def _announce(line: str) -> None:
    print(line.replace("Serving on", "Preview on"), flush=True)
