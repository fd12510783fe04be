"""The organizer's review in the preview: the `digest edition` actions as forms, and the intro's
live render. Every POST carries the page's nonce (like the send-test form), and one that a browser
says comes from another site is refused even with it: a page elsewhere cannot act here.

Each action is a form POST answered with a redirect (the page reloads showing the change; a reload
never repeats it). The intro editor also asks /intro for the Markdown rendered as it types.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from digest.compose import act
from digest.errors import DigestError
from digest.periods import Period
from digest.review import ACTIONS, EditionView, show
from digest.web.preview_state import Preview

MAX_FORM_BYTES = 100_000  # an intro of INTRO_CHARS, percent-encoded


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


async def read_form(request: Request, preview: Preview) -> dict[str, str]:
    """The form, once it proved it came from a page of this server."""
    # Browsers say where a request comes from: Sec-Fetch-Site, and Origin unless the page's
    # no-referrer policy makes it "null". Either one naming another site is enough to refuse.
    origin = request.headers.get("origin", "null")
    site = request.headers.get("sec-fetch-site", "same-origin")
    if site not in ("same-origin", "none") or (
        origin != "null" and urlsplit(origin).netloc != request.headers.get("host", "")
    ):
        raise Refused(403, "this form was posted from another site")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "the form is larger than an edition form can be")
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if not secrets.compare_digest(str(form.get("token", "")), preview.token):
        raise Refused(403, "this form was not made by this preview server (restarted?): reload and try again")
    return form


def edition_context(preview: Preview, period: Period) -> dict:
    """What the Edition view shows: the edition, its intro rendered, whether it can change."""
    from digest.editions import EDITABLE
    from digest.render.intro import render_intro

    settings = preview.settings()
    view: EditionView = show(settings, preview.engine(settings), period)
    return {
        "edition": view,
        "intro_html": render_intro(view.edition.intro).html,
        "editable": view.edition.state in EDITABLE,
    }


def _act(preview: Preview, cadence: str, key: str, action: str, value: str) -> tuple[bool, str]:
    settings = preview.settings()
    period = preview.period(settings, cadence, key)
    try:
        view = act(settings, preview.engine(settings), period, action, value, preview.clock())
    except DigestError as exc:
        return False, str(exc)
    return True, f"{_done(action)}; the edition is {view.edition.state}."


def _done(action: str) -> str:
    return {
        "approve": "Approved",
        "hold": "Held",
        "exclude": "Item left out",
        "include": "Item put back",
        "pin": "Item pinned to the top",
        "unpin": "Item unpinned",
        "intro": "Intro saved",
        "subject": "Subject saved",
    }[action]


async def edition_action(request: Request) -> Response:
    """POST /digest/{cadence}/{period}/edition: action, value (item id, intro, subject), token."""
    preview: Preview = request.app.state.preview
    cadence, key = request.path_params["cadence"], request.path_params["period"]
    try:
        form = await read_form(request, preview)
    except Refused as exc:
        return Response(f"Not changed: {exc.reason}\n", status_code=exc.status, media_type="text/plain")
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        return Response(f"Not changed: unknown action {action!r}\n", status_code=400, media_type="text/plain")
    ok, message = await run_in_threadpool(_act, preview, cadence, key, action, str(form.get("value", "")))
    notice = preview.add_notice(ok, message, "")
    query = urlencode({"view": "edition", "notice": notice})
    return RedirectResponse(f"/digest/{cadence}/{key}?{query}", status_code=303)


async def intro_render(request: Request) -> Response:
    """POST /intro: the Markdown as the digest will show it (sanitized HTML), for the live render."""
    from digest.editions import check_intro
    from digest.render.intro import render_intro

    preview: Preview = request.app.state.preview
    try:
        form = await read_form(request, preview)
        intro = render_intro(check_intro(str(form.get("value", ""))))
    except Refused as exc:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)
    except DigestError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"html": str(intro.html or ""), "text": "\n\n".join(intro.paragraphs)})
