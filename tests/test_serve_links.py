"""`digest serve`: the sample link every sample and test copy carries, and a health check that knows
the schema."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from digest.tokens import manage_url_for, sample_unsubscribe_url
from tests.test_serve import running_server


def test_sample_link_explains_itself_and_acts_on_no_one(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        link = sample_unsubscribe_url(server.url)
        assert link.startswith(f"{server.url}/unsubscribe/")
        page = httpx.get(link, timeout=10)
        assert page.status_code == 200
        assert "sample" in page.text.lower() and "Not found" not in page.text
        one_click = httpx.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert one_click.status_code == 200 and "sample" in one_click.text.lower()
        preferences = httpx.get(manage_url_for(link), timeout=10)  # the footer's preferences link
        assert preferences.status_code == 200 and "This is a sample link" in preferences.text
        with server.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM subscribers")).scalar() == 0


def test_healthz_fails_when_the_schema_is_missing_or_old(tmp_path: Path) -> None:
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}") as server:
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        with server.engine.begin() as connection:
            top = connection.execute(text("SELECT max(version) FROM schema_version")).scalar()
            connection.execute(text("DELETE FROM schema_version WHERE version = :v"), {"v": top})
        answer = httpx.get(f"{server.url}/healthz", timeout=10)
        assert answer.status_code == 503 and "schema" in answer.text
        with server.engine.begin() as connection:
            connection.execute(text("DROP TABLE schema_version"))
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 503
