"""Hostile inputs: each is refused or bounded. `digest ingest` runs as a real subprocess against a
real loopback HTTP server; its own peak RSS stays under 256 MB and it ends within 30 s."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.conftest import REPO
from tests.hostile_http import hostile_server

MAX_RSS_MB = 256
MAX_SECONDS = 30
LOOPBACK_OK = {"DIGEST_FETCH_ALLOW_PRIVATE": "true"}
DIGEST = (sys.executable, "-m", "digest")


@dataclass
class Measured:
    code: int
    out: str
    err: str
    seconds: float
    rss_mb: float


def _address_space_limit() -> None:
    # A safety net, not the measure: should a guard regress, the run fails at 2 GB instead of
    # taking the shared machine down.
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.fixture
def ingest(tmp_path, env):
    """`digest ingest SOURCES` measured by bench/peak_rss.py (a tiny parent, so RSS is digest's own)."""

    def run(*sources: str, extra_env: dict[str, str] | None = None) -> Measured:
        figures = tmp_path / "figures.json"
        completed = subprocess.run(
            [
                sys.executable,
                "-S",
                str(REPO / "bench" / "peak_rss.py"),
                str(figures),
                *DIGEST,
                "ingest",
                *sources,
            ],
            cwd=tmp_path,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=MAX_SECONDS + 30,
            preexec_fn=_address_space_limit,
        )
        done = json.loads(figures.read_text())
        return Measured(
            done["code"], completed.stdout, completed.stderr, done["seconds"], done["max_rss_kb"] / 1024
        )

    return run


def assert_bounded(result: Measured) -> None:
    print(f"\nMEASURED peak RSS {result.rss_mb:.0f} MB, {result.seconds:.1f} s: {result.err.strip()[:160]}")
    assert "Traceback" not in result.err, result.err
    assert result.rss_mb < MAX_RSS_MB, f"peak RSS {result.rss_mb:.0f} MB"
    assert result.seconds < MAX_SECONDS, f"took {result.seconds:.1f} s"


def assert_refused(result: Measured, *words: str) -> None:
    assert_bounded(result)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digest: error: "), result.err
    for word in words:
        assert word in lines[0], lines[0]


def stored(digest) -> list[dict]:
    return json.loads(digest("items", "--json").out)


@pytest.fixture(scope="module")
def server():
    with hostile_server() as url:
        yield url


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/entity-bomb.xml", ["entity declarations would expand", "refused"]),
        ("/gzip-gzip", ["more than one layer", "refused"]),
        ("/gzip-bomb", ["larger than 10 MB", "refused"]),
        ("/big-ill-formed.xml", ["ill-formed XML", "larger than 2 MB", "refused"]),
    ],
)
def test_hostile_body_is_refused_within_bounds(ingest, digest, server, path, words):
    result = ingest(server + path, extra_env=LOOPBACK_OK)
    assert_refused(result, server + path, *words)
    assert stored(digest) == []


@pytest.mark.slow
def test_trickled_body_ends_at_the_overall_deadline(ingest, server):
    result = ingest(server + "/trickle", extra_env=LOOPBACK_OK)
    assert_refused(result, "took longer than 20 s in all")
    assert result.seconds >= 19


@pytest.mark.slow
def test_feed_that_parses_too_slowly_is_stopped(ingest, server):
    """A URL's parse has DIGEST_FETCH_TIMEOUT too (20 s by default; 3 s here, so that a fast
    machine, which reads this feed in well under 20 s, still shows the stop)."""
    result = ingest(server + "/slow-lenient.xml", extra_env={**LOOPBACK_OK, "DIGEST_FETCH_TIMEOUT": "3"})
    assert_refused(result, "reading the feed took longer than 3 s; refused")


def test_redirect_to_loopback_is_refused_naming_the_address(ingest, digest, server):
    """The feed server (127.0.0.2, allowed here) redirects to 127.0.0.1, which is not."""
    with hostile_server("127.0.0.2") as feed_server:
        url = f"{feed_server}/redirect?to={server}/feed.xml"
        result = ingest(url, extra_env={"DIGEST_FETCH_ALLOW_PRIVATE": "127.0.0.2/32"})
    assert_refused(result, "refused: 127.0.0.1 is a loopback address")
    assert stored(digest) == []


@pytest.mark.parametrize(
    ("target", "allow", "words"),
    [
        ("http://10.1.2.3/feed.xml", "127.0.0.2", "10.1.2.3 is a private address"),
        ("http://192.168.0.1/feed.xml", "127.0.0.2", "192.168.0.1 is a private address"),
        ("http://[::ffff:127.0.0.1]:9/feed.xml", "127.0.0.2", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "true", "169.254.169.254 is a cloud metadata address"),
    ],
)
def test_redirect_to_a_private_or_metadata_address_is_refused(ingest, target, allow, words):
    """Refused before any connection is tried: nothing but loopback is ever reached from a test."""
    with hostile_server("127.0.0.2") as feed_server:
        result = ingest(
            f"{feed_server}/redirect?to={target}", extra_env={"DIGEST_FETCH_ALLOW_PRIVATE": allow}
        )
    assert_refused(result, words)


def test_loopback_url_is_refused_unless_allowed(ingest, digest, server):
    refused = ingest(server + "/feed.xml")
    assert_refused(refused, "127.0.0.1 is a loopback address", "DIGEST_FETCH_ALLOW_PRIVATE")
    allowed = ingest(server + "/feed.xml", extra_env=LOOPBACK_OK)
    assert allowed.code == 0, allowed.err
    assert [i["title"] for i in stored(digest)] == ["A good item"]


def test_yaml_alias_bomb_is_refused(ingest, tmp_path):
    bomb = "---\ntitle: Bomb\na: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n"
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    bomb += "---\nBody.\n"
    (tmp_path / "bomb.md").write_text(bomb)
    assert len(bomb) < 1000
    assert_refused(ingest(str(tmp_path / "bomb.md")), "aliases (*name) are not allowed")


def test_huge_front_matter_is_refused(ingest, tmp_path):
    (tmp_path / "big.md").write_text("---\ntitle: Big\n" + "k: v\n" * 50_000 + "---\nBody.\n")
    assert_refused(ingest(str(tmp_path / "big.md")), "front matter is larger than 64 KB")


def test_deep_json_is_refused_and_other_sources_still_go_in(ingest, digest, tmp_path):
    (tmp_path / "deep.json").write_text("[" * 5_000_000)
    (tmp_path / "good.json").write_text('[{"title": "Still here", "url": "https://example.org/s"}]')
    result = ingest(str(tmp_path / "deep.json"), str(tmp_path / "good.json"))
    assert_refused(result, "deep.json", "nested too deeply")
    assert "good.json: 1 new" in result.out
    assert [i["title"] for i in stored(digest)] == ["Still here"]


def test_dates_of_year_1_and_9999_are_refused_per_item(ingest, digest, tmp_path):
    (tmp_path / "items.json").write_text(
        json.dumps(
            [
                {"title": "Kept", "url": "https://example.org/k", "published": "2024-01-01"},
                {"title": "Year 1", "url": "https://example.org/1", "published": "0001-01-01T00:00:00+01:00"},
                {
                    "title": "Year 9999",
                    "url": "https://example.org/9",
                    "published": "9999-12-31T23:59:59-05:00",
                },
            ]
        )
    )
    result = ingest(str(tmp_path / "items.json"))
    assert_bounded(result)
    assert result.code == 0 and "1 new" in result.out
    assert len(result.err.strip().splitlines()) == 2 and "outside 1970–2200" in result.err
    assert [i["title"] for i in stored(digest)] == ["Kept"]


def test_relative_links_of_a_fetched_feed_are_stored_absolute(digest, server):
    result = digest("ingest", server + "/relative.xml", extra_env=LOOPBACK_OK)
    assert result.code == 0, result.err
    (item,) = stored(digest)
    assert item["url"] == f"{server}/posts/1?p=1&utm_source=rss"
    for link in (f'href="{server}/more.html"', 'href="http://cdn.example.org/x"'):
        assert link in item["summary_html"], item
