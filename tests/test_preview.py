"""`digest preview` over real HTTP: a real server process on a real SQLite file, fed by the real CLI."""

from __future__ import annotations

import email
import email.policy
import html
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from digest.periods import month_of, week_of
from digest.sources.text import read_text
from tests.conftest import SEEDS, environ_without_digest, require_tool

SEED_TITLES = [item.title for item in read_text((SEEDS / "imt-news.txt").read_text(), "seed", UTC).items]


@dataclass
class Preview:
    url: str
    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Another process working on the same store, as an organizer's second terminal."""
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def version(self) -> str:
        return httpx.get(f"{self.url}/version", timeout=30).json()["version"]


def preview_env(workdir: Path, **extra: str) -> dict[str, str]:
    return environ_without_digest(
        DIGEST_DATABASE_URL=f"sqlite:///{workdir / 'digest.db'}",
        DIGEST_OUTBOX=str(workdir / "outbox"),
        DIGEST_FROM="IMT News <news@example.org>",
        DIGEST_SECRET_KEY="preview-test-secret-padded-to-32-characters-or-more",
        **extra,
    )


@contextmanager
def running_preview(
    workdir: Path, *, seed: bool = True, host: str = "127.0.0.1", **extra_env: str
) -> Iterator[Preview]:
    """`python -m digest preview --port 0` in `workdir`, after `digest ingest seeds/` by the CLI."""
    env = preview_env(workdir, **extra_env)
    log = workdir / "preview.log"
    preview = Preview("", workdir, env, None, log)  # type: ignore[arg-type]
    if seed:
        done = preview.cli("ingest", str(SEEDS))
        assert done.returncode == 0, done.stderr
    with log.open("wb") as sink:
        preview.process = subprocess.Popen(
            [sys.executable, "-m", "digest", "preview", "--host", host, "--port", "0"],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        preview.url = wait_for_address(preview)
        yield preview
    finally:
        preview.process.terminate()
        preview.process.wait(timeout=15)


def wait_for_address(preview: Preview, seconds: float = 30) -> str:
    """The server prints its address once it listens; with --port 0 that is the only way to know."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = preview.log.read_text(errors="replace")
        if found := re.search(r"Preview on (http://\S+?)/ ", text):
            return found[1]
        if preview.process.poll() is not None:
            pytest.fail(f"digest preview exited early:\n{text}")
        time.sleep(0.1)
    pytest.fail(f"digest preview printed no address within {seconds} s:\n{preview.log.read_text()}")


@pytest.fixture(scope="module")
def preview(tmp_path_factory) -> Iterator[Preview]:
    with running_preview(tmp_path_factory.mktemp("preview")) as running:
        yield running


def squash(page: str) -> str:
    """The page's text with entities decoded and all whitespace one space: wrapped lines still match."""
    return " ".join(html.unescape(page).split())


def this_week() -> str:
    return week_of(datetime.now(UTC), UTC).key


def this_month() -> str:
    return month_of(datetime.now(UTC), UTC).key


def test_index_lists_this_week_and_this_month_with_counts(preview: Preview) -> None:
    page = preview.client().get("/")
    assert page.status_code == 200
    for cadence, key in (("weekly", this_week()), ("monthly", this_month())):
        row = re.search(rf'href="/digest/{cadence}/{key}">.*?</tr>', page.text, re.S)
        assert row, f"{cadence} {key} is not listed"
        assert f">{len(SEED_TITLES)}<" in row[0]
        assert "not sent" in row[0]


def test_empty_store_says_what_to_do_and_updates_after_an_ingest(tmp_path: Path) -> None:
    with running_preview(tmp_path, seed=False) as running:
        page = running.client().get("/").text
        assert page.count("No items yet") == 2
        before = running.version()
        done = running.cli("ingest", str(SEEDS))
        assert done.returncode == 0, done.stderr
        assert running.version() != before
        assert f'href="/digest/weekly/{this_week()}"' in running.client().get("/").text


def test_index_lists_older_periods_after_newer_ones(preview: Preview) -> None:
    source = preview.workdir / "old.txt"
    source.write_text(
        "From November 2023\nDate: 2023-11-08\n\nAn older item.\n\n"
        "From October 2023\nDate: 2023-10-30\n\nAn even older one, in week 44 of 2023.\n"
    )
    done = preview.cli("ingest", str(source))
    assert done.returncode == 0, done.stderr
    page = preview.client().get("/").text
    weekly = re.findall(r'href="/digest/weekly/([^"]+)"', page)
    monthly = re.findall(r'href="/digest/monthly/([^"]+)"', page)
    assert weekly == [this_week(), "2023-W45", "2023-W44"]
    assert monthly == [this_month(), "2023-11", "2023-10"]


def test_every_view_of_a_digest_answers(preview: Preview) -> None:
    client = preview.client()
    base = f"/digest/weekly/{this_week()}"
    expected = {
        "desktop": f'src="/raw/weekly/{this_week()}"',
        "phone": "Phone preview",
        "dark": "?dark=1",
        "text": SEED_TITLES[-1],
        "html": "&lt;!doctype html&gt;",
        "mjml": "&lt;mjml",
        "headers": "List-Unsubscribe-Post",
        "send": 'name="email"',
    }
    for view, marker in expected.items():
        page = client.get(base, params={"view": view})
        assert page.status_code == 200, view
        assert marker in page.text or squash(marker) in squash(page.text), view


def test_text_view_is_the_plain_text_part_with_a_sample_link(preview: Preview) -> None:
    page = preview.client().get(f"/digest/monthly/{this_month()}", params={"view": "text"})
    for title in SEED_TITLES:
        assert title in squash(page.text)
    assert "digest.invalid" not in page.text  # the marker was replaced, as in a real message
    assert "/unsubscribe/" in page.text


def test_headers_view_shows_what_a_subscriber_gets(preview: Preview) -> None:
    page = preview.client().get(f"/digest/weekly/{this_week()}", params={"view": "headers"}).text
    for header in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Id", "Content-Type"):
        assert f'<th scope="row">{header}</th>' in page
    assert "multipart/alternative" in page
    download = preview.client().get(f"/eml/weekly/{this_week()}")
    assert download.headers["content-type"] == "message/rfc822"
    message = email.message_from_bytes(download.content, policy=email.policy.default)
    assert message["To"] == "Sample Reader <reader@example.org>"
    assert message["List-Unsubscribe"] in page.replace("&lt;", "<").replace("&gt;", ">")


def test_digest_frames_are_sandboxed_without_scripts(preview: Preview) -> None:
    client = preview.client()
    page = client.get(f"/digest/weekly/{this_week()}", params={"view": "dark"}).text
    frames = re.findall(r"<iframe [^>]*>", page)
    assert len(frames) == 2
    for frame in frames:
        assert "sandbox=" in frame and "allow-scripts" not in frame and "allow-forms" not in frame
    raw = client.get(f"/raw/weekly/{this_week()}")
    policy = raw.headers["content-security-policy"]
    assert policy.startswith("sandbox ") and "allow-scripts" not in policy and "script-src" not in policy
    assert SEED_TITLES[0].split(":")[0] in raw.text


def test_dark_frame_applies_the_dark_rules_without_asking_the_browser(preview: Preview) -> None:
    client = preview.client()
    light = client.get(f"/raw/weekly/{this_week()}").text
    dark = client.get(f"/raw/weekly/{this_week()}", params={"dark": "1"}).text
    # Desktop and Phone are the light mail whatever the organizer's own system prefers.
    assert not re.search(r"prefers-color-scheme:\s*dark", light)
    assert '<meta name="color-scheme" content="light">' in light
    assert not re.search(r"prefers-color-scheme:\s*dark", dark)
    assert '<meta name="color-scheme" content="dark">' in dark


def test_version_changes_when_another_process_ingests(preview: Preview) -> None:
    before = preview.version()
    assert preview.version() == before  # stable while nothing changes: no reload loop
    source = preview.workdir / "extra.txt"
    source.write_text("An item from another terminal\n\nIngested while the preview runs.\n")
    done = preview.cli("ingest", str(source))
    assert done.returncode == 0, done.stderr
    assert preview.version() != before


def test_version_changes_when_env_file_changes(preview: Preview) -> None:
    before = preview.version()
    (preview.workdir / ".env").write_text("DIGEST_NAME=Renamed in .env\n")
    try:
        assert preview.version() != before
        page = preview.client().get(f"/digest/weekly/{this_week()}", params={"view": "text"}).text
        assert "Renamed in .env" in page  # settings were re-read, not only the fingerprint
    finally:
        (preview.workdir / ".env").unlink()


def test_broken_env_file_is_shown_then_forgotten_once_fixed(preview: Preview) -> None:
    env_file = preview.workdir / ".env"
    env_file.write_text("DIGEST_TIMEZONE=Mars/Olympus_Mons\nDIGEST_SEND_RATE=fast\n")
    try:
        page = preview.client().get("/")
        assert page.status_code == 500
        assert "DIGEST_TIMEZONE" in page.text and "DIGEST_SEND_RATE" in page.text  # all problems at once
        assert preview.client().get("/version").status_code == 200  # still live: the fix reloads it
    finally:
        env_file.unlink()
    assert preview.client().get("/").status_code == 200


def test_sent_status_comes_from_the_store(preview: Preview, tmp_path: Path) -> None:
    from digest.models import RenderedDigest
    from digest.store import digests, open_engine

    engine = open_engine(preview.env["DIGEST_DATABASE_URL"])
    rendered = RenderedDigest("monthly", this_month(), "s", "p", "<p>h</p>", "t", 1)
    with engine.begin() as connection:
        digest_id = digests.save_digest(connection, rendered, datetime.now(UTC))
        digests.mark_complete(connection, digest_id, datetime.now(UTC))
    engine.dispose()
    page = preview.client().get("/").text
    row = re.search(rf'href="/digest/monthly/{this_month()}">.*?</tr>', page, re.S)
    assert row and 'class="badge sent"' in row[0]


def test_unknown_period_and_view_are_pages_not_crashes(preview: Preview) -> None:
    client = preview.client()
    assert client.get("/digest/weekly/1999-W01").status_code == 404
    assert "no items in weekly 1999-W01" in client.get("/digest/weekly/1999-W01").text
    assert client.get("/digest/weekly/not-a-week").status_code == 404
    assert client.get("/digest/yearly/2023").status_code == 404
    assert client.get(f"/digest/weekly/{this_week()}", params={"view": "nope"}).status_code == 404


def test_checks_show_size_parts_links_and_spam_score(preview: Preview) -> None:
    require_tool("spamassassin")
    page = preview.client().get(f"/digest/weekly/{this_week()}", params={"view": "checks"}).text
    assert "of Gmail&#39;s 102 KB clip" in page
    assert "multipart/alternative with text/html and text/plain" in page
    # DIGEST_BASE_URL defaults to http://: the unsubscribe link is flagged and shown
    assert "not https" in page and "http://127.0.0.1:8080/unsubscribe/" in page
    score = re.search(r"Score <strong>(-?[\d.]+)</strong>", page)
    assert score, "no SpamAssassin score on the page"
    assert float(score[1]) < 5
    assert re.search(r"<code>[A-Z_]+</code>", page)  # the rules that fired


def test_template_error_shows_file_and_line_and_server_keeps_running(tmp_path: Path) -> None:
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    broken = overrides / "digest.txt"
    with running_preview(tmp_path, DIGEST_TEMPLATES_DIR=str(overrides)) as running:
        client = running.client()
        before = running.version()
        broken.write_text("first line\n\n{% if %}\n")
        assert running.version() != before  # an open page reloads and shows the error by itself
        page = client.get(f"/digest/weekly/{this_week()}", params={"view": "text"})
        assert page.status_code == 500
        assert re.search(r"digest\.txt:3\b", page.text), page.text
        assert 'meta name="digest-version"' in page.text  # still live: fixing it reloads the page
        broken.unlink()
        page = client.get(f"/digest/weekly/{this_week()}", params={"view": "text"})
        assert page.status_code == 200
        assert SEED_TITLES[0].split(":")[0] in page.text


def send_form(preview: Preview, email: str, token: str | None = None) -> httpx.Response:
    client = preview.client()
    base = f"/digest/weekly/{this_week()}"
    page = client.get(base, params={"view": "send"}).text
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, "the send form carries no token"
    answer = client.post(f"{base}/send", data={"email": email, "token": token or found[1]})
    if answer.status_code != 303:
        return answer
    return client.get(answer.headers["location"])


def test_send_test_delivers_one_copy_through_the_configured_transport(preview: Preview) -> None:
    outbox = preview.workdir / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    page = send_form(preview, " organizer@Example.ORG ")
    assert page.status_code == 200
    notice = re.search(r"class=\"notice.*?</p>", page.text, re.S)
    assert notice, "no notice on the page"
    assert "Sent a test copy of weekly" in notice[0] and "organizer@example.org" in notice[0], notice[0]
    written = set(outbox.glob("*.eml")) - before
    assert len(written) == 1
    message = email.message_from_bytes(written.pop().read_bytes(), policy=email.policy.default)
    assert message["To"] == "organizer@example.org"
    assert message["From"] == "IMT News <news@example.org>"
    body = message.get_body(("plain",)).get_content()
    assert SEED_TITLES[0] in " ".join(body.split())


def test_send_test_refuses_a_bad_address_and_sends_nothing(preview: Preview) -> None:
    outbox = preview.workdir / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    page = send_form(preview, "not an address")
    assert "invalid email" in page.text and "Sent a test copy" not in page.text
    assert 'value="not an address"' in page.text  # kept in the field to correct it
    assert send_form(preview, "x@example.org\r\nBcc: y@example.org").status_code == 200
    assert (set(outbox.glob("*.eml")) if outbox.exists() else set()) == before


def test_send_test_refuses_a_form_from_elsewhere(preview: Preview) -> None:
    answer = send_form(preview, "organizer@example.org", token="forged")
    assert answer.status_code == 403


def test_busy_port_is_one_clear_error(preview: Preview) -> None:
    port = preview.url.rsplit(":", 1)[1]
    done = preview.cli("preview", "--port", port)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"digest: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in done.stderr


def test_foreign_host_header_is_refused(preview: Preview) -> None:
    answer = preview.client().get("/", headers={"Host": "attacker.example"})
    assert answer.status_code == 400


def test_a_non_ascii_form_token_is_refused_not_a_crash(preview: Preview) -> None:
    answer = send_form(preview, "organizer@example.org", token="jeton-été")
    assert answer.status_code == 403


@pytest.mark.parametrize("host", ["::1", "127.0.0.2"])
def test_every_loopback_address_refuses_a_foreign_host_header(tmp_path: Path, host: str) -> None:
    with running_preview(tmp_path, seed=False, host=host) as running:
        client = running.client()
        assert client.get("/").status_code == 200  # the address it printed works
        assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400
        assert client.get("/", headers={"Host": "localhost"}).status_code == 200


def test_a_period_in_progress_says_what_send_does_by_default(preview: Preview) -> None:
    page = squash(preview.client().get(f"/digest/weekly/{this_week()}").text)
    assert "This period is still in progress" in page and "--unfinished" in page


def test_the_next_digest_shows_the_late_items_it_will_hold(tmp_path: Path) -> None:
    from digest.periods import following, week_of

    with running_preview(tmp_path) as running:
        assert running.cli("subscribers", "add", "reader@example.org").returncode == 0
        sent = running.cli("send", "--unfinished")  # this week's digest goes out early
        assert sent.returncode == 0, sent.stderr
        late = tmp_path / "late.json"
        late.write_text('[{"title": "Arrived after the send", "url": "https://example.org/late"}]')
        assert running.cli("ingest", str(late)).returncode == 0  # dated now: this week, already sent
        next_week = following(week_of(datetime.now(UTC), UTC), UTC).key
        page = running.client().get(f"/digest/weekly/{next_week}", params={"view": "text"})
    assert page.status_code == 200
    text = squash(page.text)
    assert "Arrived after the send" in text
    assert "Includes 1 item published before this period that no digest held yet" in text


def test_checks_show_whether_dkim_is_configured_and_verifies(preview: Preview, tmp_path: Path) -> None:
    def text(page: str) -> str:
        return squash(re.sub(r"<[^>]+>", " ", page))

    page = text(preview.client().get(f"/digest/weekly/{this_week()}", params={"view": "checks"}).text)
    assert "DKIM signature needs a look" in page and "not configured" in page
    key = tmp_path / "dkim.pem"
    made = preview.cli("dkim", "keygen", "--selector", "dg", "--out", str(key))
    assert made.returncode == 0, made.stderr
    signed_env = {"DIGEST_DKIM_PRIVATE_KEY": str(key), "DIGEST_DKIM_SELECTOR": "dg"}
    (tmp_path / "signed").mkdir()
    with running_preview(tmp_path / "signed", **signed_env) as signed:
        page = text(signed.client().get(f"/digest/weekly/{this_week()}", params={"view": "checks"}).text)
    assert "DKIM signature passed" in page, page[page.find("DKIM") - 200 : page.find("DKIM") + 400]
    assert "signed by d=example.org s=dg; verifies against the key" in page
    assert "dg._domainkey.example.org" in page
