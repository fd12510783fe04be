"""Pieces every digest web app shares: security headers, error pages, running under uvicorn.

Both the public app (`digest serve`) and the organizers' preview server build on these, so that
neither can forget a header, leak a stack trace, or log an unsubscribe token.
"""

from __future__ import annotations

import copy
import html
import logging
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

import uvicorn
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.errors import DigestError

log = logging.getLogger("digest.web")

# No scripts, no plugins, no framing, forms only to ourselves. Pages that show a stored digest set
# their own, looser policy for its inline styles and remote images (see public.py).
DEFAULT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# Tokens travel in URLs: never hand them to another site through Referer.
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

STATUS_TEXT = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "This request is not allowed."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "The request was too large."),
    500: ("Something went wrong", "The server had a problem. Please try again in a moment."),
    503: ("Not available", "This page is not available right now."),
}


class SecurityHeaders:
    """ASGI wrapper adding security headers to every response, error pages included.

    Put it outside the Starlette app (`SecurityHeaders(app)`), not in its middleware list, so that the
    500 page made by Starlette's outermost ServerErrorMiddleware gets the headers too. A response
    that already sets a header (a page with its own CSP) keeps its value.
    """

    def __init__(self, app: ASGIApp, csp: str = DEFAULT_CSP, frame_options: str | None = "DENY") -> None:
        self.app = app
        extra = dict(BASE_HEADERS, **{"content-security-policy": csp})
        if frame_options is None:
            extra.pop("x-frame-options")
        else:
            extra["x-frame-options"] = frame_options
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_form(request: Request) -> dict[str, str]:
    """Our forms are urlencoded; other bodies (an RFC 8058 multipart POST) simply carry no action."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        await request.body()
        return {}
    body = await request.body()
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def plain_error_page(status: int, title: str, message: str) -> str:
    """A page that cannot fail: the last resort when even the error template breaks."""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></html>"
    )


ErrorPage = Callable[[Request, int, str, str], Response]


def error_handlers(page: ErrorPage | None = None) -> dict:
    """Starlette exception handlers: HTTP errors and crashes become pages, never stack traces.

    `page(request, status, title, message)` renders the app's own error page; it falls back to a
    plain page if it fails itself. Unexpected exceptions are logged in full on the server side.
    """

    def respond(request: Request, status: int, detail: str | None = None) -> Response:
        title, message = STATUS_TEXT.get(status, ("Error", "The request failed."))
        if detail and (status < 500 or status == 503) and detail != _default_phrase(status):
            message = detail
        if page is not None:
            try:
                return page(request, status, title, message)
            except Exception:
                log.exception("error page failed to render")
        return HTMLResponse(plain_error_page(status, title, message), status_code=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = respond(request, exc.status_code, exc.detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def crash(request: Request, exc: Exception) -> Response:
        # ServerErrorMiddleware logs the traceback and re-raises after sending this response.
        return respond(request, 500)

    return {HTTPException: http_error, 500: crash}


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class RedactPaths(logging.Filter):
    """Rewrites secrets in logged request paths: `/unsubscribe/<token>` is logged as `/unsubscribe/…`.

    uvicorn's access log passes the path as the third argument of its record.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            path = record.args[2]
            for pattern in self.patterns:
                path = pattern.sub(r"\g<1>…", path)
            record.args = (*record.args[:2], path, *record.args[3:])
        return True


def log_config() -> dict:
    """uvicorn's logging, with timestamps, and our own `digest.web` logger on the same handler."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for formatter in config["formatters"].values():
        formatter["fmt"] = "%(asctime)s " + formatter["fmt"]
    config["loggers"]["digest.web"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def bind(host: str, port: int) -> socket.socket:
    """Listen before uvicorn starts, so a busy port is one clear error instead of a log line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def run_app(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    redact: Iterable[str] = (),
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run an ASGI app under uvicorn in the foreground until SIGTERM or Ctrl-C, with access logs.

    `redact` lists regular expressions whose first group is kept and the rest of the match hidden
    in the access log (e.g. `r"(/unsubscribe/)[^/?]+"`).
    """
    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=log_config(),
        log_level="info",
        access_log=True,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
    )
    logging.getLogger("uvicorn.access").addFilter(RedactPaths(redact))
    shown_host = f"[{host}]" if ":" in host else host
    if announce is not None:
        announce(f"Serving on http://{shown_host}:{sock.getsockname()[1]}/ (Ctrl-C to stop)")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
