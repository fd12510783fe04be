"""Readers accept what feed readers accept: JSON Feed, Markdown without front matter, legacy
encodings, and a folder with one bad file among good ones."""

import gzip
import json
import zlib
from zoneinfo import ZoneInfo

import pytest

from digest.config import load_settings
from digest.errors import ConfigError, SourceError
from digest.netpolicy import AddressPolicy, kind_of, parse_policy, refusal
from digest.sources import read_unit
from digest.sources.fetch import read_capped

UTC = ZoneInfo("UTC")


def test_json_feed_per_spec_title_optional_and_links_resolved(tmp_path):
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "A JSON Feed",
        "home_page_url": "https://json.example.org/blog/",
        "items": [
            {"id": "1", "title": "Titled", "url": "posts/1", "content_text": "Body one.", "tags": ["News"]},
            {
                "id": "2",
                "url": "/posts/2",
                "content_html": '<p>A microblog post with <a href="../about">a link</a> and more words here</p>',
                "date_published": "2023-11-06T09:00:00Z",
                "authors": [{"name": "Ana"}],
            },
        ],
    }
    (tmp_path / "feed.json").write_text(json.dumps(feed))
    first, second = read_unit(str(tmp_path / "feed.json"), UTC).items
    assert (first.title, first.url, first.category) == (
        "Titled",
        "https://json.example.org/blog/posts/1",
        "News",
    )
    assert second.title == "A microblog post with a link and more words here"
    assert second.url == "https://json.example.org/posts/2" and second.author == "Ana"
    assert 'href="https://json.example.org/about"' in second.summary_html


def test_a_plain_json_list_still_needs_titles(tmp_path):
    (tmp_path / "items.json").write_text('[{"url": "https://example.org/x"}]')
    with pytest.raises(SourceError, match="item 1 has no title"):
        read_unit(str(tmp_path / "items.json"), UTC)


def test_markdown_without_front_matter_takes_its_first_heading(tmp_path):
    (tmp_path / "note.md").write_text("Intro line.\n\n# The *real* title\n\nFirst paragraph.\n\n## Later\n")
    (item,) = read_unit(str(tmp_path / "note.md"), UTC).items
    assert item.title == "The real title"
    assert item.summary == "Intro line."


def test_a_folder_is_ingested_file_by_file(digest, tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "a.md").write_text("---\ntitle: Good one\n---\nBody.\n")
    (posts / "b.md").write_text("---\ntitle: [unclosed\n---\nBody.\n")
    (posts / "c.md").write_text("# Good two\n\nBody.\n")
    result = digest("ingest", str(posts))
    assert result.code == 1
    assert "2 new, 0 updated, 0 unchanged (1 refused)" in result.out
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"digest: error: {posts / 'b.md'}: invalid YAML front matter: line 2")
    titles = sorted(i["title"] for i in json.loads(digest("items", "--json").out))
    assert titles == ["Good one", "Good two"]


@pytest.mark.parametrize(
    ("name", "text", "encoding", "said"),
    [
        ("notes.txt", "Café title\n\nLatin-1 summary, naïve and déjà vu.\n", "latin-1", "cp1252"),
        ("items.csv", "title,summary\nNão é possível,Ação rápida – “sim”\n", "cp1252", "cp1252"),
        ("post.md", "---\ntitle: Grüße aus München\n---\nSchöne Grüße.\n", "cp1252", "cp1252"),
        (
            "news.txt",
            "Новости дня\n\nГлавное в праздники: не переедать и хорошо выспаться перед работой. Синоптики"
            " обещают снег и мороз до минус двадцати градусов в столице и области.\n",
            "koi8-r",
            "koi8_r",
        ),
    ],
)
def test_undeclared_legacy_encodings_are_detected_and_named(tmp_path, name, text, encoding, said):
    (tmp_path / name).write_bytes(text.encode(encoding))
    found = read_unit(str(tmp_path / name), UTC)
    item = found.items[0]
    assert item.title in text and item.summary in text
    assert found.warnings == [f"no encoding declared and not UTF-8; read as {said} (detected)"]


def test_latin1_text_file_is_read_with_a_warning(digest):
    from tests.test_ingest import DATA

    result = digest("ingest", str(DATA / "latin1.txt"))
    assert result.code == 0, result.err
    assert "read as cp1252" in result.err and result.err.startswith("digest: warning: ")
    assert json.loads(digest("items", "--json").out)[0]["title"] == "Café title"


def test_control_characters_are_stripped(tmp_path):
    (tmp_path / "items.json").write_text(
        json.dumps(
            [{"title": "A\x00B\x1bC\x85D\x9fE", "summary": "x\x07y", "summary_html": "<p>a\x0bb\x92c</p>"}]
        )
    )
    (item,) = read_unit(str(tmp_path / "items.json"), UTC).items
    assert (item.title, item.summary, item.summary_html) == ("A B C D E", "x y", "<p>a b c</p>")


def test_relative_links_without_a_base_are_dropped(tmp_path):
    (tmp_path / "items.json").write_text(
        json.dumps(
            [
                {
                    "title": "T",
                    "url": "/relative",
                    "summary_html": '<a href="page.html">p</a> <a href="#x">x</a>',
                }
            ]
        )
    )
    (item,) = read_unit(str(tmp_path / "items.json"), UTC).items
    assert item.url is None and "href" not in item.summary_html


def test_one_content_encoding_layer_is_undone_under_the_cap():
    body = b"<rss>" + b" " * 5000 + b"</rss>"
    assert read_capped([gzip.compress(body)], "gzip", 10_000) == body
    assert read_capped([zlib.compress(body)], "deflate", 10_000) == body
    twice = gzip.compress(body[:100]) + gzip.compress(body[100:])  # several gzip members
    assert read_capped([twice[:7], twice[7:]], "gzip", 10_000) == body
    with pytest.raises(ValueError, match="larger than"):
        read_capped([gzip.compress(body)], "gzip", 1_000)
    with pytest.raises(ValueError, match="more than one layer"):
        read_capped([gzip.compress(gzip.compress(body))], "gzip, gzip", 10_000)
    with pytest.raises(ValueError, match="unsupported content-encoding 'br'"):
        read_capped([body], "br", 10_000)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12::1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("100.64.0.1", "a non-public address"),
        ("0.0.0.0", "a private address"),
        ("192.0.2.1", "a private address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_kinds(address, kind):
    import ipaddress

    assert kind_of(ipaddress.ip_address(address)) == kind


def test_allow_private_opens_all_but_metadata_or_only_the_named_networks():
    import ipaddress

    ip = ipaddress.ip_address
    assert refusal(ip("10.0.0.5"), AddressPolicy(allow_private=True)) is None
    assert refusal(ip("169.254.169.254"), AddressPolicy(allow_private=True)) == "a cloud metadata address"
    only = parse_policy("10.0.0.0/24, 127.0.0.2")
    assert refusal(ip("10.0.0.5"), only) is None
    assert refusal(ip("10.0.1.5"), only) == "a private address"
    assert parse_policy("false") == AddressPolicy() and parse_policy("TRUE").allow_private


def test_fetch_allow_private_is_validated_with_the_other_keys():
    with pytest.raises(ConfigError) as raised:
        load_settings(
            environ={"DIGEST_FETCH_ALLOW_PRIVATE": "maybe", "DIGEST_FETCH_TIMEOUT": "0"}, env_file=None
        )
    assert len(raised.value.problems) == 2
    assert raised.value.problems[0].startswith("DIGEST_FETCH_ALLOW_PRIVATE: expected true, false or a list")


def test_time_limit_cannot_be_swallowed_by_the_code_it_limits():
    import contextlib
    import time

    from digest.sources.limits import TookTooLong, time_limit

    started = time.monotonic()
    with pytest.raises(TookTooLong, match=r"work took longer than 0\.5 s"), time_limit(0.5, "work"):
        while time.monotonic() - started < 10:
            # As feedparser's lenient parser does around its handlers: swallow everything.
            with contextlib.suppress(Exception):
                time.sleep(0.01)
    assert time.monotonic() - started < 2
