"""`digest build` as a user runs it: a real subprocess, a real SQLite file, the seed content."""

from __future__ import annotations

import re
import shutil
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.models import UNSUBSCRIBE_MARK
from tests.conftest import SEEDS, require_tool
from tests.test_render import no_network  # noqa: F401  (a fixture)


@pytest.fixture
def seeded(digest):
    result = digest("ingest", str(SEEDS))
    assert result.code == 0, result.err
    return digest


def built(result, cadence: str) -> dict[str, Path]:
    assert result.code == 0, result.err
    paths = [Path(line) for line in result.out.split()]
    assert [p.suffix for p in paths] == [".html", ".txt", ".eml"]
    assert all(re.fullmatch(rf"{cadence}-\d{{4}}-(W\d\d|\d\d)", p.stem) for p in paths)
    return {p.suffix: p for p in paths}


def test_build_writes_html_text_and_a_sample_message(seeded, tmp_path):
    files = built(seeded("build", "--out", "out", extra_env={"DIGEST_NAME": "IMT News"}), "weekly")
    html = (tmp_path / files[".html"]).read_text(encoding="utf-8")
    text = (tmp_path / files[".txt"]).read_text(encoding="utf-8")
    assert "Washington Communists Take a Stand for the Intifada!" in html
    assert "Washington Communists Take a Stand for the Intifada!" in text
    assert html.count(UNSUBSCRIBE_MARK) == 1

    message = message_from_bytes((tmp_path / files[".eml"]).read_bytes(), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["To"] == "Sample Reader <reader@example.org>"
    assert message["Subject"].startswith("IMT News: Week ")
    assert message["From"] and message["Date"] and message["Message-ID"] and message["List-Id"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(http://127\.0\.0\.1:8080/unsubscribe/\S+)>", message["List-Unsubscribe"]).group(1)
    plain, page = (part.get_content() for part in message.iter_parts())
    assert link in plain and link in page
    assert UNSUBSCRIBE_MARK not in plain + page


def test_build_monthly_with_an_explicit_period(seeded, tmp_path):
    first = built(seeded("build", "--cadence", "monthly", "--out", "out"), "monthly")
    key = first[".html"].stem.removeprefix("monthly-")
    again = built(seeded("build", "--cadence", "monthly", "--period", key, "--out", "again"), "monthly")
    assert again[".html"].name == first[".html"].name


def test_empty_period_fails_with_a_clear_message(seeded, tmp_path):
    result = seeded("build", "--period", "2023-W45", "--out", "out")
    assert result.code == 1
    assert result.err.strip() == "digest: error: no items in weekly 2023-W45"
    assert "Traceback" not in result.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_empty_store_fails_with_a_clear_message(digest):
    result = digest("build", "--out", "out")
    assert result.code == 1
    assert "no items" in result.err and "Traceback" not in result.err


def test_bad_period_key_is_one_line(seeded):
    result = seeded("build", "--cadence", "monthly", "--period", "2023-13", "--out", "out")
    assert result.code == 1
    assert result.err.strip() == "digest: error: invalid monthly period '2023-13' (expected e.g. 2023-11)"


def spam_score(eml: Path) -> tuple[float, list[str]]:
    report = subprocess.run(
        ["spamassassin", "-L", "-t"], stdin=eml.open("rb"), capture_output=True, timeout=120, check=True
    ).stdout.decode("utf-8", "replace")
    score = float(re.search(r"\((-?[\d.]+) points, [\d.]+ required\)", report).group(1))
    rules = re.findall(r"^\s*(-?[\d.]+) (\w+)\s", report.split("---- ----", 1)[-1], re.MULTILINE)
    return score, [f"{name} {points}" for points, name in rules]


def test_spamassassin_scores_the_sample_message_below_one(seeded, tmp_path):
    require_tool("spamassassin", shutil.which("spamassassin") is not None)
    env = {"DIGEST_NAME": "IMT News", "DIGEST_POSTAL_ADDRESS": "12 Example Street, London N1 1AA"}
    files = built(seeded("build", "--out", "out", extra_env=env), "weekly")
    score, rules = spam_score(tmp_path / files[".eml"])
    assert score < 1.0, rules


@pytest.mark.usefixtures("no_network")
def test_build_works_with_the_network_off(db_url, tmp_path):
    from datetime import UTC, datetime

    from digest.compose import build_files
    from digest.config import load_settings
    from digest.ingest import ingest_all
    from digest.store import open_engine

    settings = load_settings(environ={"DIGEST_DATABASE_URL": db_url}, env_file=None)
    engine = open_engine(db_url)
    now = datetime(2023, 11, 8, 12, tzinfo=UTC)
    ingest_all(engine, [str(SEEDS)], settings.timezone, now)
    paths = build_files(settings, engine, "weekly", None, tmp_path / "out", now)
    assert [p.name for p in paths] == ["weekly-2023-W45.html", "weekly-2023-W45.txt", "weekly-2023-W45.eml"]
