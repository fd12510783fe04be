"""/manage/TOKEN: a subscriber's preferences page, the link at the bottom of every digest.

It shows, in the subscriber's own language (else the browser's, else DIGEST_LOCALE), how often they
get the digest, in which language and for which time zone, and lets them change all three in one
form, or leave. The form needs the same signed nonce as every preference form (public.py); a value
the page did not offer (a language we do not ship, a zone the tz database does not know) is refused
with a message on the page and nothing is saved.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest import preferences, subscribers
from digest.locales import N_, language_choices
from digest.periods import CADENCES
from digest.web import subscription
from digest.web.common import read_form
from digest.web.signup_pages import Site

NOTICES = {
    "saved": N_("Saved."),
    "unsubscribed": N_("You are unsubscribed."),
    "resubscribed": N_("Welcome back: you are subscribed again."),
}


class PreferencePages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.settings = site.settings

    async def manage(self, request: Request) -> Response:
        subscriber_id = self.site.subscriber_id(request)
        sub = await run_in_threadpool(subscribers.subscription, self.site.engine, subscriber_id)
        return self.page(request, sub, notice=request.query_params.get("saved"))

    def page(
        self,
        request: Request,
        sub: subscribers.Subscription | None,
        status_code: int = 200,
        notice: str | None = None,
        refused: preferences.ChoiceError | None = None,
        **asked: str,
    ) -> Response:
        """The page; after a refused change it shows the message and what was asked, nothing saved."""
        if sub is None:
            raise HTTPException(404, N_("We have no subscription for this link. It may have been deleted."))
        lang = sub.locale or self.site.reader_language(request)
        shown = {"cadence": sub.cadence, "locale": sub.locale or lang, "timezone": sub.timezone or ""}
        return self.site.page(
            "preferences.html",
            status_code,
            lang,
            sub=sub,
            nonce=subscription.form_nonce(self.settings.secret_key or "", sub.id),
            cadences=CADENCES,
            languages=language_choices(),
            zones=preferences.zone_choices(),
            organizer_zone=self.settings.timezone.key,
            local_time=self.settings.send_local_time,
            notice=NOTICES.get(notice or ""),
            error=refused.message if refused else None,
            field=refused.field if refused else None,
            shown={**shown, **asked},
        )

    async def change(self, request: Request) -> Response:
        subscriber_id = self.site.subscriber_id(request)
        form = await read_form(request)
        action, now, engine = form.get("action", ""), self.site.clock(), self.site.engine
        if action == "unsubscribe":
            sub = await run_in_threadpool(subscribers.unsubscribe, engine, subscriber_id, now)
            return self.page(request, sub, notice="unsubscribed")
        if action not in ("preferences", "cadence", "resubscribe"):
            raise HTTPException(400, N_("Please use the buttons on the page."))
        self.site.check_form(request, form, subscriber_id)
        if action == "resubscribe":
            cadence = form.get("cadence", "")
            if cadence not in CADENCES:
                raise HTTPException(400, N_("Please choose weekly or monthly."))
            sub = await run_in_threadpool(subscribers.resubscribe, engine, subscriber_id, cadence, now)
            return self.page(request, sub, notice="resubscribed")
        return await self.save(request, form, subscriber_id)

    async def save(self, request: Request, form: dict[str, str], subscriber_id: int) -> Response:
        """Cadence, language and time zone together; a field the form did not send stays as it is."""
        fields = ("cadence", "locale", "timezone")
        asked = {key: form[key][:200] for key in fields if key in form}
        try:
            changes = preferences.check_choices(*(asked.get(key) for key in fields))
        except preferences.ChoiceError as refused:
            sub = await run_in_threadpool(subscribers.subscription, self.site.engine, subscriber_id)
            return self.page(request, sub, 400, refused=refused, **asked)
        sub = await run_in_threadpool(
            preferences.save_choices, self.site.engine, subscriber_id, changes, self.site.clock()
        )
        return self.page(request, sub, notice="saved")

    def routes(self) -> list[Route]:
        return [
            Route("/manage/{token}", self.manage, methods=["GET"]),
            Route("/manage/{token}", self.change, methods=["POST"]),
        ]
