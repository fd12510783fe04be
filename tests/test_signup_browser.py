"""Sign-up end to end: headless Chromium against a real `digest serve` process, with the confirmation
mail and the digests going through a real SMTP server (aiosmtpd) on loopback.

Screenshots of every sign-up page (375 and 800 px, light and dark) go to a folder when asked:
    DIGEST_SIGNUP_SCREENSHOTS=/tmp/shots .venv/bin/python -m pytest -q tests/test_signup_browser.py
"""

from __future__ import annotations

import concurrent.futures
import email
import hashlib
import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import update

from digest.store import subscribers as subscriber_store
from digest.store.schema import subscribers as subscriber_table
from tests.conftest import REPO, environ_without_digest
from tests.delivery_support import run_send
from tests.smtp_server import FaultyHandler, SMTPServer
from tests.test_serve import Server, free_port, running_server
from tests.test_serve_send import store_digest

pytestmark = pytest.mark.browser

KEY = "signup-test-key-" + "k" * 32
NEW_KEY = "signup-test-new-key-" + "n" * 32
FROM = "IMT News <news@example.org>"
AXE = REPO / "tests" / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
SIZES = {"375": (375, 740), "800": (800, 900)}


def serve_env(db_url: str, url: str, smtp, **extra: str) -> dict[str, str]:
    values = {
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_BASE_URL": url,
        "DIGEST_SECRET_KEY": KEY,
        "DIGEST_NAME": "IMT News",
        "DIGEST_FROM": FROM,
        **smtp.env(),
        **extra,
    }
    return environ_without_digest(**values)


def serving(workdir: Path, db_url: str, smtp, port: int | None = None, **extra: str):
    """`digest serve` with the sign-up settings, mailing through `smtp`."""
    return running_server(workdir, db_url, port, lambda url: serve_env(db_url, url, smtp, **extra))


@contextmanager
def signup_site(workdir: Path) -> Iterator[Server]:
    """One server and one SMTP server (`server.smtp`) for a test module: every test uses
    addresses of its own."""
    smtp = SMTPServer(FaultyHandler()).start()
    try:
        with serving(workdir, f"sqlite:///{workdir / 'digest.db'}", smtp) as server:
            server.smtp = smtp
            yield server
    finally:
        smtp.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with signup_site(tmp_path_factory.mktemp("signup")) as server:
        yield server


def stored(server: Server, address: str):
    """The subscriber row of `address`, or None."""
    with server.engine.connect() as connection:
        return subscriber_store.get_by_email(connection, address)


def status_of(server: Server, address: str) -> str | None:
    row = stored(server, address)
    return row.status if row else None


def mails_to(smtp, address: str, settle: float = 0.0) -> list[email.message.EmailMessage]:
    """Messages received for `address`; waits for the first one (sent after the page answered)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [r for r in smtp.received if address in r.rcpt_tos]
        if found:
            break
        time.sleep(0.05)
    time.sleep(settle)
    found = [r for r in smtp.received if address in r.rcpt_tos]
    return [email.message_from_bytes(r.data, policy=policy.default) for r in found]


def confirm_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    [link] = set(re.findall(r"http://\S+/confirm/\S+", text))
    return link


_clients = itertools.count(1)


def sign_up(server: Server, address: str, client_ip: str | None = None, **fields: str) -> httpx.Response:
    """A form POST, from a client address of its own unless given (the per-client limit is tested apart)."""
    client_ip = client_ip or f"203.0.113.{next(_clients)}"
    data = {"email": address, "name": "Reader", "cadence": "weekly", "website": "", **fields}
    return httpx.post(
        f"{server.url}/subscribe", data=data, headers={"x-forwarded-for": client_ip}, timeout=10
    )


def new_page(browser, size: str = "375", scheme: str = "light", **options):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme, **options)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    return page


def snap(page, name: str) -> None:
    folder = os.environ.get("DIGEST_SIGNUP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


# --- the whole way: form, mail, link, digest ----------------------------------------------------


def test_form_to_confirmation_to_the_next_digest(site: Server, browser, tmp_path: Path) -> None:
    """Done when: one mail; a plain HTTP GET leaves the reader pending; Chromium confirms with no
    click; the next digest reaches them."""
    address = "new.reader@example.org"
    page = new_page(browser)
    page.goto(f"{site.url}/subscribe")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Name (optional)").fill("New Reader")
    page.get_by_label("Weekly").check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert status_of(site, address) == "pending"

    [mail] = mails_to(site.smtp, address, settle=0.5)
    assert mail["Subject"] == "Confirm your subscription to IMT News"
    assert mail["List-Unsubscribe"] is None and mail["List-Id"] is None  # not list mail
    assert mail.get_body(("html",)) is not None and mail.get_body(("plain",)) is not None
    link = confirm_link(mail)
    assert link.startswith(f"{site.url}/confirm/")

    scanner = httpx.get(link, timeout=10)  # a link scanner: no scripts
    assert scanner.status_code == 200 and "Confirm my subscription" in scanner.text
    assert status_of(site, address) == "pending"

    page.goto(link)  # a person: no click
    page.get_by_role("heading", name="You are subscribed").wait_for()
    assert status_of(site, address) == "active"
    assert page.problems == []  # the CSP let the one script run and blocked nothing else

    store_digest(site.engine, "2023-W44")
    env = serve_env(site.db_url, site.url, site.smtp)
    sent = run_send(tmp_path, env, "--cadence", "weekly", "--period", "2023-W44")
    assert sent.returncode == 0, sent.stderr
    digests = [m for m in mails_to(site.smtp, address) if m["List-Unsubscribe"] is not None]
    assert [m["Subject"] for m in digests] == ["IMT News 2023-W44"]
    page.context.close()


def test_a_script_less_browser_confirms_with_the_button(site: Server, browser) -> None:
    sign_up(site, "noscript@example.org")
    link = confirm_link(mails_to(site.smtp, "noscript@example.org")[0])
    page = new_page(browser, java_script_enabled=False)
    page.goto(link)
    assert status_of(site, "noscript@example.org") == "pending"
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    assert status_of(site, "noscript@example.org") == "active"
    page.context.close()


# --- abuse -------------------------------------------------------------------------------------


def test_fifty_sign_ups_for_one_address_in_a_minute_send_one_mail(site: Server) -> None:
    def post(i: int) -> httpx.Response:  # from 50 different clients, so only the address limit applies
        return sign_up(site, "target@example.org", client_ip=f"198.51.100.{i + 1}")

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(50)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1  # the same answer every time
    assert len(mails_to(site.smtp, "target@example.org", settle=2.0)) == 1
    with site.engine.connect() as connection:
        rows = [r for r in subscriber_store.iter_subscribers(connection) if r.email == "target@example.org"]
    assert len(rows) == 1


def test_a_filled_honeypot_sends_nothing_and_stores_nothing(site: Server) -> None:
    bot = sign_up(site, "bot-victim@example.org", website="http://spam.example")
    human = sign_up(site, "human@example.org")
    assert bot.status_code == 200 and bot.text == human.text
    assert len(mails_to(site.smtp, "human@example.org", settle=1.0)) == 1
    assert [r for r in site.smtp.received if "bot-victim@example.org" in r.rcpt_tos] == []
    assert status_of(site, "bot-victim@example.org") is None


def test_one_client_gets_at_most_ten_sign_ups_an_hour(site: Server) -> None:
    for i in range(14):
        assert sign_up(site, f"many{i}@example.org", client_ip="192.0.2.99").status_code == 200
    mails_to(site.smtp, "many0@example.org", settle=1.5)
    assert len([r for r in site.smtp.received if r.rcpt_tos[0].startswith("many")]) == 10


def test_an_active_address_signing_up_again_gets_no_mail(site: Server) -> None:
    sign_up(site, "twice@example.org")
    link = confirm_link(mails_to(site.smtp, "twice@example.org")[0])
    httpx.post(link, data={"action": "confirm"}, timeout=10)
    assert status_of(site, "twice@example.org") == "active"
    answer = sign_up(site, "twice@example.org")
    assert "Check your inbox" in answer.text
    assert len(mails_to(site.smtp, "twice@example.org", settle=1.0)) == 1


# --- bad links -----------------------------------------------------------------------------------


class _OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 100 * 3600


def test_an_expired_link_shows_a_clear_page_changes_nothing_and_offers_a_new_one(
    site: Server, browser
) -> None:
    sign_up(site, "late@example.org")
    mails_to(site.smtp, "late@example.org")
    with site.engine.begin() as connection:  # the sign-up and its mail were 100 hours ago
        row = subscriber_store.get_by_email(connection, "late@example.org")
        long_ago = datetime.now(UTC) - timedelta(hours=100)
        connection.execute(
            update(subscriber_table).where(subscriber_table.c.id == row.id).values(confirm_sent_at=long_ago)
        )
    old = URLSafeTimedSerializer([KEY], salt="digest.confirm.v1", signer=_OldSigner)
    link = f"{site.url}/confirm/{old.dumps([row.id, row.confirm_nonce])}"

    page = new_page(browser)
    response = page.goto(link)
    assert response.status == 410
    page.get_by_role("heading", name="This link has expired").wait_for()
    assert status_of(site, "late@example.org") == "pending"
    snap(page, "signup-expired-375-light")
    page.get_by_role("button", name="Send me a new link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert status_of(site, "late@example.org") == "pending"
    fresh = mails_to(site.smtp, "late@example.org", settle=1.0)
    assert len(fresh) == 2
    page.goto(confirm_link(fresh[-1]))
    page.get_by_role("heading", name="You are subscribed").wait_for()
    assert status_of(site, "late@example.org") == "active"
    page.context.close()


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        URLSafeTimedSerializer(["someone-else-" + "x" * 32], salt="digest.confirm.v1").dumps([1, "guess"]),
    ],
    ids=["garbage", "signed-with-another-key"],
)
def test_a_forged_token_shows_a_clear_page_and_changes_nothing(site: Server, browser, token: str) -> None:
    sign_up(site, "victim@example.org")
    mails_to(site.smtp, "victim@example.org")
    page = new_page(browser)
    response = page.goto(f"{site.url}/confirm/{token}")
    assert response.status == 400
    page.get_by_role("heading", name="This link is not valid").wait_for()
    assert page.get_by_role("link", name="Sign up again").is_visible()
    assert httpx.post(f"{site.url}/confirm/{token}", timeout=10).status_code == 400
    assert status_of(site, "victim@example.org") == "pending"
    page.context.close()


# --- key rotation ------------------------------------------------------------------------------


def test_after_rotating_the_key_a_link_from_an_earlier_digest_still_unsubscribes(
    tmp_path: Path, smtp_server, browser
) -> None:
    smtp = smtp_server()
    db_url = f"sqlite:///{tmp_path / 'digest.db'}"
    port = free_port()
    with serving(tmp_path, db_url, smtp, port=port) as server:
        sign_up(server, "rotator@example.org")
        httpx.post(confirm_link(mails_to(smtp, "rotator@example.org")[0]), timeout=10)
        store_digest(server.engine, "2023-W45")
        env = serve_env(db_url, server.url, smtp)
        sent = run_send(tmp_path, env, "--cadence", "weekly", "--period", "2023-W45")
        assert sent.returncode == 0, sent.stderr
    [digest] = [m for m in mails_to(smtp, "rotator@example.org") if m["List-Unsubscribe"]]
    link = str(digest["List-Unsubscribe"]).strip("<>")

    rotated = {"DIGEST_SECRET_KEY": NEW_KEY}
    with serving(tmp_path, db_url, smtp, port=port, **rotated) as server:  # the old key forgotten
        assert httpx.get(link, timeout=10).status_code == 404
    with serving(tmp_path, db_url, smtp, port=port, DIGEST_OLD_SECRET_KEYS=KEY, **rotated) as server:
        page = new_page(browser)
        page.goto(link)
        page.get_by_role("button", name="Unsubscribe").click()
        page.get_by_role("heading", name="You are unsubscribed").wait_for()
        assert status_of(server, "rotator@example.org") == "unsubscribed"
        page.context.close()


# --- the preferences page ------------------------------------------------------------------------


def store_real_digest(server: Server) -> str:
    """The seeds rendered by the real pipeline (footer and all) and stored for sending."""
    from digest.compose import latest_period_with_items, render_period
    from digest.config import load_settings
    from digest.ingest import ingest_source
    from digest.store import digests as digest_store

    settings = load_settings(environ=serve_env(server.db_url, server.url, server.smtp), env_file=None)
    now = datetime(2023, 12, 1, tzinfo=UTC)
    ingest_source(server.engine, str(REPO / "seeds"), settings.timezone, now)
    period = latest_period_with_items(settings, server.engine, "weekly")
    rendered = render_period(settings, server.engine, "weekly", period, now)
    with server.engine.begin() as connection:
        digest_store.save_digest(connection, rendered, now)
    return period.key


def test_the_preferences_link_in_a_digest_changes_the_cadence(site: Server, browser, tmp_path: Path) -> None:
    sign_up(site, "prefs@example.org")
    httpx.post(confirm_link(mails_to(site.smtp, "prefs@example.org")[0]), timeout=10)
    period = store_real_digest(site)
    subprocess.run(
        [sys.executable, "-m", "digest", "send", "--cadence", "weekly", "--period", period],
        cwd=tmp_path,
        env=serve_env(site.db_url, site.url, site.smtp),
        capture_output=True,
        timeout=120,
        check=True,
    )
    [digest] = [m for m in mails_to(site.smtp, "prefs@example.org") if m["List-Unsubscribe"]]
    manage = str(digest["List-Unsubscribe"]).strip("<>").replace("/unsubscribe/", "/manage/")
    assert f'href="{manage}"' in digest.get_body(("html",)).get_content()  # the footer, next to unsubscribe
    assert manage in digest.get_body(("plain",)).get_content()
    page = new_page(browser)
    page.goto(manage)
    page.get_by_label("Monthly").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    with site.engine.connect() as connection:
        row = subscriber_store.get_by_email(connection, "prefs@example.org")
    assert (row.cadence, row.status) == ("monthly", "active")
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="Your IMT News preferences").wait_for()
    assert status_of(site, "prefs@example.org") == "unsubscribed"
    page.context.close()


# --- accessibility and looks --------------------------------------------------------------------


def test_axe_reports_a_serious_problem_when_there_is_one(browser) -> None:
    """The accessibility checks below can fail: an unlabelled field is reported."""
    page = new_page(browser)
    page.set_content('<html lang="en"><title>t</title><main><input type="text"></main></html>')
    assert [p for p in serious_problems(page) if p.startswith("label ")]
    page.context.close()


def axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, "tests/vendor/axe-core/axe.min.js changed"
    return data.decode()


def serious_problems(page) -> list[str]:
    page.add_script_tag(content=axe_source())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_sign_up_pages_pass_axe_and_fit_the_screen(site: Server, browser, scheme: str, size: str) -> None:
    """The form (and its error state), the confirmation pages and the preferences page."""
    address = f"axe-{scheme}-{size}@example.org"
    page = new_page(browser, size, scheme, bypass_csp=True)  # bypass only to inject axe
    pages = []

    def check(name: str) -> None:
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        pages.append((name, serious_problems(page)))
        snap(page, f"signup-{name}-{size}-{scheme}")

    page.goto(f"{site.url}/subscribe")
    check("form")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("alert").wait_for()
    check("form-error")
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    check("check-inbox")
    link = confirm_link(mails_to(site.smtp, address)[0])
    script_less = new_page(browser, size, scheme, bypass_csp=True, java_script_enabled=False)
    script_less.goto(link)  # the confirmation page as it stays without scripts
    assert script_less.get_by_role("button", name="Confirm my subscription").is_visible()
    snap(script_less, f"signup-confirm-{size}-{scheme}")
    script_less.context.close()
    page.goto(link)
    page.get_by_role("heading", name="You are subscribed").wait_for()
    check("confirmed")
    page.get_by_role("link", name="Change how often you get it, or unsubscribe").click()
    page.get_by_role("heading", name="Your IMT News preferences").wait_for()
    check("manage")
    page.goto(f"{site.url}/confirm/forged")
    check("invalid-link")
    page.context.close()
    assert [(name, found) for name, found in pages if found] == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_confirmation_page_passes_axe_before_it_submits(site: Server, browser, scheme: str) -> None:
    """axe needs scripts, and with scripts the page submits itself: check it as served, minus its
    one script (the no-script view, which is also what shows before the submit)."""
    sign_up(site, f"axe-confirm-{scheme}@example.org")
    link = confirm_link(mails_to(site.smtp, f"axe-confirm-{scheme}@example.org")[0])

    def without_script(route) -> None:
        response = route.fetch()
        route.fulfill(
            response=response, body=re.sub(r"<script>.*?</script>", "", response.text(), flags=re.S)
        )

    page = new_page(browser, "375", scheme, bypass_csp=True)
    page.route(link, without_script)
    page.goto(link)
    page.get_by_role("button", name="Confirm my subscription").wait_for()
    assert serious_problems(page) == []
    assert status_of(site, f"axe-confirm-{scheme}@example.org") == "pending"
    page.context.close()
