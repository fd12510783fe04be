"""The public archive: newest period first, only digests that reached someone, every item of each."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from digest.store.schema import deliveries
from tests.conftest import environ_without_digest
from tests.test_serve import SECRET, T0, add_digest, add_subscriber, running_server


def deliver(engine, cadence: str, period: str, state: str) -> None:
    from digest.store.digests import get_digest

    sid = add_subscriber(engine, f"{state}-{cadence}-{period}@example.org", cadence)
    with engine.begin() as connection:
        digest_id = get_digest(connection, cadence, period).id
        connection.execute(
            insert(deliveries).values(
                digest_id=digest_id, subscriber_id=sid, email="x@example.org", state=state, attempts=1
            )
        )


def archive_links(page: str) -> list[str]:
    return re.findall(r'href="/archive/(\w+/[\w-]+)"', page)


def test_archive_is_newest_period_first_whatever_the_send_order(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        add_digest(server.engine, "weekly", "2023-W45", T0, reached=False)
        add_digest(server.engine, "weekly", "2023-W43", T0 + timedelta(days=1), reached=False)  # sent late
        add_digest(server.engine, "weekly", "2023-W44", T0 + timedelta(days=2), reached=False)
        for key in ("2023-W43", "2023-W44", "2023-W45"):
            deliver(server.engine, "weekly", key, "sent")
        with server.client() as client:
            page = client.get("/archive").text
    assert archive_links(page) == ["weekly/2023-W45", "weekly/2023-W44", "weekly/2023-W43"]


def test_a_digest_that_reached_no_one_is_not_public(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        add_digest(server.engine, "weekly", "2023-W45", T0, sent=False, reached=False)
        deliver(server.engine, "weekly", "2023-W45", "failed")  # the server refused everyone
        add_digest(
            server.engine, "weekly", "2023-W44", T0, sent=False, reached=False
        )  # nothing delivered yet
        with server.client() as client:
            page = client.get("/archive").text
            refused = client.get("/archive/weekly/2023-W45")
            queued = client.get("/archive/weekly/2023-W44")
            deliver(server.engine, "weekly", "2023-W44", "sent")
            reached = client.get("/archive/weekly/2023-W44")
    assert archive_links(page) == []
    assert refused.status_code == 404 and queued.status_code == 404
    assert reached.status_code == 200


def test_the_archive_page_of_a_digest_shows_every_item_of_it(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'digest.db'}"
    titles = [f"Story number {n}" for n in range(7)]
    (tmp_path / "items.json").write_text(
        json.dumps(
            [
                {
                    "title": t,
                    "published": f"2023-11-0{7 + n % 3}T10:00:00Z",
                    "url": f"https://example.org/{n}",
                }
                for n, t in enumerate(titles)
            ]
        )
    )
    env = environ_without_digest(
        DIGEST_DATABASE_URL=db_url,
        DIGEST_SECRET_KEY=SECRET,
        DIGEST_FROM="News <news@example.org>",
        DIGEST_ITEM_LIMIT="3",
        DIGEST_OUTBOX=str(tmp_path / "outbox"),
    )
    for args in (
        ["ingest", "items.json"],
        ["subscribers", "add", "reader@example.org"],
        ["send", "--period", "2023-W45"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "digest", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    mail = next((tmp_path / "outbox").glob("*.eml")).read_text()
    assert "And 4 more articles in the online archive" in " ".join(mail.split())
    with running_server(tmp_path, db_url, DIGEST_ITEM_LIMIT="3") as server, server.client() as client:
        page = client.get("/archive/weekly/2023-W45")
    assert page.status_code == 200
    assert all(title in page.text for title in titles), [t for t in titles if t not in page.text]
    assert "more articles in the online archive" not in page.text
