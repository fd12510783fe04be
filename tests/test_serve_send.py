"""From a really sent message to the next send: the leaver's List-Unsubscribe link, used against a real
`digest serve` process, keeps them out of the following digest."""

from __future__ import annotations

import email
from datetime import UTC, timedelta
from email import policy
from pathlib import Path

import httpx

from digest.config import load_settings
from digest.models import UNSUBSCRIBE_MARK, RenderedDigest
from digest.periods import parse_period
from digest.send import send_period
from digest.store import digests as digest_store
from digest.transport import MemoryTransport
from tests.delivery_support import composed
from tests.test_serve import SECRET, T0, add_subscriber, clean_env, running_server, subscriber


def store_digest(engine, period: str) -> None:
    """A digest rendered by hand, stored so that send_period sends it as is."""
    html = f'<!doctype html><html><body><p>{period}</p><a href="{UNSUBSCRIBE_MARK}">Leave</a></body></html>'
    rendered = RenderedDigest(
        "weekly", period, f"IMT News {period}", "", html, f"{period}\n{UNSUBSCRIBE_MARK}\n", 1
    )
    with engine.begin() as connection:
        digest_store.save_digest(connection, rendered, T0)


def send(server, period: str) -> MemoryTransport:
    env = clean_env(server.db_url, DIGEST_BASE_URL=server.url, DIGEST_FROM="IMT News <news@example.org>")
    settings = load_settings(environ=env, env_file=None)
    transport = MemoryTransport()
    week = parse_period("weekly", period, UTC)
    now = week.end + timedelta(hours=8)
    report = send_period(
        settings, server.engine, composed(settings, server.engine, week, now), now, transport
    )
    assert report.complete and report.failed == 0
    return transport


def message_to(transport: MemoryTransport, address: str) -> email.message.EmailMessage:
    [raw] = [data for _, recipient, data in transport.messages if recipient == address]
    return email.message_from_bytes(raw, policy=policy.default)


def test_the_next_send_skips_whoever_used_the_one_click_link(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        leaver = add_subscriber(server.engine, "leaver@example.org")
        add_subscriber(server.engine, "stayer@example.org")
        store_digest(server.engine, "2023-W45")
        first = send(server, "2023-W45")
        assert sorted(r for _, r, _ in first.messages) == ["leaver@example.org", "stayer@example.org"]

        message = message_to(first, "leaver@example.org")
        link = str(message["List-Unsubscribe"]).strip("<>")
        assert link.startswith(f"{server.url}/unsubscribe/")
        assert link in message.get_body(("html",)).get_content()  # the footer link is the same one
        assert SECRET not in link

        assert httpx.get(link, timeout=10).status_code == 200  # a scanner's prefetch
        assert subscriber(server.engine, leaver).status == "active"
        body = str(message["List-Unsubscribe-Post"]).encode()
        one_click = httpx.post(
            link, content=body, headers={"content-type": "application/x-www-form-urlencoded"}, timeout=10
        )
        assert one_click.status_code == 200 and not one_click.is_redirect
        assert subscriber(server.engine, leaver).status == "unsubscribed"

        store_digest(server.engine, "2023-W46")
        second = send(server, "2023-W46")
        assert [r for _, r, _ in second.messages] == ["stayer@example.org"]

        archived = httpx.get(f"{server.url}/archive/weekly/2023-W46", timeout=10)
        assert archived.status_code == 200 and "/unsubscribe/" not in archived.text
