"""`digest serve` end to end: a real server process on loopback, real HTTP, a real SQLite file."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, insert, text

from digest.models import UNSUBSCRIBE_MARK, RenderedDigest
from digest.store import digests as digest_store
from digest.store import open_engine
from digest.store import subscribers as subscriber_store
from digest.store.schema import deliveries
from digest.tokens import make_token, unsubscribe_url
from tests.conftest import environ_without_digest

SECRET = "serve-test-secret-padded-to-32-characters-or-more"
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}
T0 = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)


@dataclass
class Server:
    url: str
    db_url: str
    engine: Engine
    process: subprocess.Popen
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(db_url: str, **extra: str) -> dict[str, str]:
    return environ_without_digest(
        DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY=SECRET, DIGEST_NAME="IMT News", **extra
    )


@contextmanager
def running_server(
    workdir: Path,
    db_url: str,
    port: int | None = None,
    make_env: Callable[[str], dict[str, str]] | None = None,
    **extra_env: str,
) -> Iterator[Server]:
    """Start `python -m digest serve` on `port` (else a free one) and wait until it answers
    /healthz. Its environment: `make_env(base_url)`, else a clean one with `extra_env`."""
    engine = open_engine(db_url)  # migrate before the server opens the file
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = make_env(url) if make_env else clean_env(db_url, **{"DIGEST_BASE_URL": url, **extra_env})
    log = workdir / f"serve-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, db_url, engine, process, log)
    try:
        wait_until_up(server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)
        engine.dispose()


def wait_until_up(server: Server, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"digest serve exited early:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"digest serve did not answer within {seconds} s:\n{server.log_text()}")


def add_subscriber(engine: Engine, email: str, cadence: str = "weekly") -> int:
    with engine.begin() as connection:
        return subscriber_store.insert_subscriber(connection, email, None, cadence, "test", T0)


def subscriber(engine: Engine, subscriber_id: int):
    with engine.connect() as connection:
        return subscriber_store.get_by_id(connection, subscriber_id)


def add_digest(
    engine: Engine, cadence: str, period: str, created: datetime, sent: bool = True, reached: bool = True
) -> None:
    body = (
        f"<!doctype html><html><body><h1>{cadence} {period}</h1><p>Body of {period}</p>"
        f'<a href="{UNSUBSCRIBE_MARK}">Unsubscribe</a></body></html>'
    )
    rendered = RenderedDigest(
        cadence, period, f"IMT News {period}", "preheader", body, f"{period}\n{UNSUBSCRIBE_MARK}\n", 3
    )
    with engine.begin() as connection:
        digest_id = digest_store.save_digest(connection, rendered, created)
        if reached:  # the archive shows only digests that reached someone
            mark_reached(connection, digest_id, cadence, period, created)
        if sent:
            digest_store.mark_complete(connection, digest_id, created + timedelta(minutes=5))


def mark_reached(connection, digest_id: int, cadence: str, period: str, when: datetime) -> None:
    """One copy accepted by the server: what makes a digest public in the archive."""
    reader = subscriber_store.insert_subscriber(
        connection, f"reader-{cadence}-{period}@example.org", None, cadence, "test", when
    )
    connection.execute(
        insert(deliveries).values(
            digest_id=digest_id, subscriber_id=reader, email="r@example.org", state="sent", attempts=1
        )
    )


def personal_path(subscriber_id: int, secret: str = SECRET) -> str:
    return f"/unsubscribe/{make_token(secret, subscriber_id)}"


def form_nonce(page: str) -> str:
    match = re.search(r'name="nonce" value="([^"]+)"', page)
    assert match, "the page has no preference form"
    return match[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve")
    with running_server(workdir, f"sqlite:///{workdir / 'digest.db'}") as running:
        yield running


# --- unsubscribe -----------------------------------------------------------------------------------


def test_get_of_personal_link_shows_masked_address_and_changes_nothing(server: Server) -> None:
    sid = add_subscriber(server.engine, "reader.get@example.org")
    before = subscriber(server.engine, sid)
    with server.client() as client:
        response = client.get(personal_path(sid))
    assert response.status_code == 200
    assert "r•••@example.org" in response.text
    assert "reader.get@example.org" not in response.text
    assert '<button type="submit" class="button danger">Unsubscribe</button>' in response.text
    assert subscriber(server.engine, sid) == before


def test_one_click_post_unsubscribes_at_once_without_redirect(server: Server) -> None:
    sid = add_subscriber(server.engine, "oneclick@example.org")
    with server.client() as client:
        first = client.post(personal_path(sid), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert first.status_code == 200
        assert subscriber(server.engine, sid).status == "unsubscribed"
        again = client.post(personal_path(sid), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert again.status_code == 200
    assert "You are unsubscribed" in again.text
    assert subscriber(server.engine, sid).status == "unsubscribed"
    assert not client.cookies


def test_one_click_post_as_multipart_unsubscribes(server: Server) -> None:
    sid = add_subscriber(server.engine, "multipart@example.org")
    with server.client() as client:
        response = client.post(personal_path(sid), files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert subscriber(server.engine, sid).status == "unsubscribed"


@pytest.mark.parametrize(
    "token",
    [
        make_token("another-secret", 1),
        make_token(SECRET, 1)[:-2] + "xx",
        "not-a-token",
        "eyJmb28iOiJiYXIifQ",
    ],
)
def test_forged_or_malformed_token_is_refused_and_changes_nothing(server: Server, token: str) -> None:
    sid = add_subscriber(server.engine, f"victim-{abs(hash(token))}@example.org")
    forged_for_sid = make_token("another-secret", sid)
    with server.client() as client:
        for path in (f"/unsubscribe/{token}", f"/unsubscribe/{forged_for_sid}"):
            assert client.get(path).status_code == 404
            response = client.post(path, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
            assert response.status_code == 404
            assert "not valid" in response.text
    assert subscriber(server.engine, sid).status == "active"


def test_valid_token_of_unknown_subscriber_is_404(server: Server) -> None:
    with server.client() as client:
        assert client.get(personal_path(999_999)).status_code == 404
        response = client.post(
            personal_path(999_999), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK
        )
    assert response.status_code == 404


# --- preferences -----------------------------------------------------------------------------------


def test_preferences_switch_cadence_and_stay_subscribed(server: Server) -> None:
    sid = add_subscriber(server.engine, "switch@example.org", "weekly")
    with server.client() as client:
        page = client.get(personal_path(sid)).text
        form = {"action": "cadence", "cadence": "monthly", "nonce": form_nonce(page)}
        response = client.post(personal_path(sid), data=form)
        assert response.status_code == 200
        assert "monthly digest" in response.text
        row = subscriber(server.engine, sid)
        assert (row.cadence, row.status) == ("monthly", "active")
        form = {"action": "cadence", "cadence": "weekly", "nonce": form_nonce(response.text)}
        assert client.post(personal_path(sid), data=form).status_code == 200
    assert subscriber(server.engine, sid).cadence == "weekly"


def test_preference_form_without_valid_nonce_changes_nothing(server: Server) -> None:
    sid = add_subscriber(server.engine, "nonce@example.org", "weekly")
    other = add_subscriber(server.engine, "other-nonce@example.org", "weekly")
    with server.client() as client:
        other_nonce = form_nonce(client.get(personal_path(other)).text)
        for nonce in ("", "garbage", other_nonce):
            form = {"action": "cadence", "cadence": "monthly", "nonce": nonce}
            assert client.post(personal_path(sid), data=form).status_code == 400
        good = form_nonce(client.get(personal_path(sid)).text)
        form = {"action": "cadence", "cadence": "monthly", "nonce": good}
        foreign = client.post(personal_path(sid), data=form, headers={"origin": "https://evil.example"})
        assert foreign.status_code == 403
        bad_cadence = client.post(personal_path(sid), data={**form, "cadence": "daily"})
        assert bad_cadence.status_code == 400
    row = subscriber(server.engine, sid)
    assert (row.cadence, row.status) == ("weekly", "active")


def test_unsubscribed_reader_can_come_back_with_a_new_cadence(server: Server) -> None:
    sid = add_subscriber(server.engine, "comeback@example.org", "weekly")
    with server.client() as client:
        left = client.post(personal_path(sid), data={"action": "unsubscribe"})
        assert "Subscribe monthly" in left.text
        form = {"action": "resubscribe", "cadence": "monthly", "nonce": form_nonce(left.text)}
        back = client.post(personal_path(sid), data=form)
    assert back.status_code == 200
    assert "Welcome back" in back.text
    row = subscriber(server.engine, sid)
    assert (row.cadence, row.status) == ("monthly", "active")


# --- archive ---------------------------------------------------------------------------------------


def test_archive_lists_sent_digests_newest_first(server: Server) -> None:
    add_digest(server.engine, "weekly", "2023-W44", T0)
    add_digest(server.engine, "weekly", "2023-W45", T0 + timedelta(days=7))
    add_digest(server.engine, "monthly", "2023-11", T0 + timedelta(days=20), sent=False)  # still sending
    with server.client() as client:
        response = client.get("/archive")
    assert response.status_code == 200
    page = response.text
    links = re.findall(r'href="/archive/(\w+/[\w-]+)"', page)
    assert links[:3] == ["monthly/2023-11", "weekly/2023-W45", "weekly/2023-W44"]
    assert "Week 45 · 6–12 November 2023" in page


def test_archived_digest_is_shown_without_personal_links(server: Server) -> None:
    add_digest(server.engine, "weekly", "2023-W40", T0 - timedelta(days=35))
    with server.client() as client:
        response = client.get("/archive/weekly/2023-W40")
        how_to = client.get("/unsubscribe")
    assert response.status_code == 200
    assert "Body of 2023-W40" in response.text
    assert UNSUBSCRIBE_MARK not in response.text
    assert f'href="{server.url}/unsubscribe"' in response.text
    assert "/unsubscribe/" not in response.text
    assert "script-src" not in response.headers["content-security-policy"]
    assert how_to.status_code == 200 and "your own copy" in how_to.text


@pytest.mark.parametrize(
    "path", ["/archive/weekly/2019-W01", "/archive/daily/2023-W44", "/archive/weekly/../../etc/passwd"]
)
def test_unsent_or_unknown_period_is_404(server: Server, path: str) -> None:
    with server.client() as client:
        response = client.get(path)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text


# --- the server itself -----------------------------------------------------------------------------


def test_every_page_carries_security_headers(server: Server) -> None:
    sid = add_subscriber(server.engine, "headers@example.org")
    with server.client() as client:
        for path in ("/archive", personal_path(sid), "/nowhere", "/unsubscribe/forged"):
            headers = client.get(path).headers
            assert headers["referrer-policy"] == "no-referrer", path
            assert headers["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in headers["content-security-policy"], path
            assert headers["x-frame-options"] == "DENY", path
            assert "server" not in headers, path
        assert client.get(personal_path(sid)).headers["cache-control"] == "no-store"


def test_access_log_hides_unsubscribe_tokens(server: Server) -> None:
    sid = add_subscriber(server.engine, "logged@example.org")
    token = make_token(SECRET, sid)
    with server.client() as client:
        client.get(f"/unsubscribe/{token}")
    time.sleep(0.2)
    log = server.log_text()
    assert '"GET /unsubscribe/… HTTP/1.1" 200' in log
    assert token not in log
    assert f"Serving on http://127.0.0.1:{server.url.rsplit(':', 1)[1]}/" in log


def test_a_crash_answers_a_500_page_without_stack_trace(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        with server.engine.begin() as connection:
            connection.execute(text("DROP TABLE digests"))
        with server.client() as client:
            response = client.get("/archive")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "Traceback" not in response.text and "digests" not in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "Traceback" in server.log_text()  # the organizer still gets the details


def test_serve_without_secret_key_fails_with_one_line(tmp_path: Path) -> None:
    env = clean_env(f"sqlite:///{tmp_path / 'digest.db'}")
    del env["DIGEST_SECRET_KEY"]
    done = subprocess.run(
        [sys.executable, "-m", "digest", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "digest: config error: DIGEST_SECRET_KEY is required for serve"


def test_serve_on_a_busy_port_fails_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "digest", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(f"sqlite:///{tmp_path / 'digest.db'}"),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert done.stderr.startswith(f"digest: error: cannot listen on 127.0.0.1:{port}:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_unsubscribe_url_of_the_contract_points_at_this_server(server: Server) -> None:
    sid = add_subscriber(server.engine, "contract@example.org")
    url = unsubscribe_url(server.url, SECRET, sid)
    response = httpx.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=10)
    assert response.status_code == 200
    assert subscriber(server.engine, sid).status == "unsubscribed"


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        server.process.terminate()
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why it ended
        assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log_text()
    assert "Traceback" not in server.log_text()


def test_pages_link_under_the_path_of_the_base_url(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'digest.db'}"
    base = {"DIGEST_BASE_URL": "https://example.org/news"}
    with running_server(tmp_path, db_url, **base) as server, server.client() as client:
        page = client.get("/archive").text
        home = client.get("/")
    assert 'href="/news/site.css"' in page and 'href="/news/archive"' in page
    assert home.headers["location"] == "/news/archive"
