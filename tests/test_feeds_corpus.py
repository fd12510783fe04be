"""A corpus of real-world feeds (a sample of feedparser's own test suite plus ill-formed feeds of the
kinds found in the wild): every file feedparser reads with entries, digest ingests with the same titles.

Figures for the whole feedparser suite: `.venv/bin/python -m tests.feed_corpus PATH/TO/feedparser/tests`
(docs/feeds.md).
"""

import json
import re

from tests.feed_corpus import CORPUS, run

# Undeclared legacy encodings: feedparser without chardet reads them as Windows-1252 (mojibake);
# digest detects them (charset-normalizer). Each file's own header names the right encoding.
DETECTED_RIGHT = {
    "feedparser/illformed/chardet/eucjp.xml": "ゲーム三昧な正月",
    "feedparser/illformed/chardet/euckr.xml": "EUC-KR 에서 TypeKey 한글닉네임 표시하기",
    "feedparser/illformed/chardet/gb2312.xml": "不归移民漫画系列：专业工作",
    "feedparser/illformed/chardet/koi8r.xml": "Как пережить новогоднюю ночь",
    "feedparser/illformed/chardet/shiftjis.xml": "DrecomRSSに記事投稿が反映されない…",
    "realworld/koi8r-undeclared.xml": "Как пережить новогоднюю ночь: советы и рецепты",
}
# feedparser's only entry is empty ({}): nothing to show, so digest refuses the file.
ONLY_EMPTY = {"feedparser/illformed/rss_incomplete_cdata.xml"}


def test_every_feed_feedparser_reads_is_ingested_with_the_same_titles():
    outcomes = {o.path.relative_to(CORPUS).as_posix(): o for o in run(CORPUS)}
    assert len(outcomes) > 250
    read = {name: o for name, o in outcomes.items() if o.verdict not in ("no entries", "out of scope")}
    assert len(read) > 250
    for name, outcome in read.items():
        if name in DETECTED_RIGHT:
            assert outcome.verdict == "different titles" and DETECTED_RIGHT[name] in outcome.titles, outcome
        elif name in ONLY_EMPTY:
            assert outcome.verdict == "only empty entries", outcome
        else:
            assert outcome.verdict == "same titles", outcome
        assert outcome.seconds < 5, outcome


def test_ill_formed_feeds_are_read_with_a_warning_naming_the_problem(digest):
    folder = CORPUS / "realworld"
    result = digest("ingest", str(folder))
    assert result.code == 0, result.err
    warnings = result.err.splitlines()
    assert all(line.startswith("digest: warning: ") for line in warnings)
    said = {re.sub(r".*/realworld/", "", line).split(":")[0]: line for line in warnings}
    assert "undefined entity" in said["html-entities.xml"] and "read leniently" in said["html-entities.xml"]
    assert "invalid token" in said["bare-ampersands.xml"]
    assert "no element found" in said["truncated.xml"]
    assert "read as koi8_r" in said["koi8r-undeclared.xml"]
    assert (
        "'utf-8' does not fit" in said["cp1252-declared-utf8.xml"]
        and "cp1252" in said["cp1252-declared-utf8.xml"]
    )
    items = {i["title"]: i for i in json.loads(digest("items", "--json").out)}
    assert (
        items["Sale: shoes & bags"]["url"] == "https://shop.example.org/?p=1&utm_source=rss&utm_medium=feed"
    )
    assert "Café opens\xa0today – «finally»" in items
    assert "L’été à Paris – « enfin »" in items and "“Quoted” – and it’s fine…" in items
    assert "Third item, cut" in items and "Next item still read" in items
    assert items["Relative entry"]["url"] == "https://atom.example.org/blog/posts/1.html"
    assert 'href="https://atom.example.org/about.html"' in items["Relative entry"]["summary_html"]
    site = items["Relative to the site"]
    assert site["url"] == "https://site.example.org/news/2023/11/item.html"
    assert 'href="https://site.example.org/contact"' in site["summary_html"]
    assert items["Bell and escape [31m inside"]["summary"] == "Form feed …next."
    assert "Just shipped the new release. It fixes the sync bug many of…" in items


def test_the_whole_corpus_goes_through_the_cli_without_a_traceback(digest):
    result = digest("ingest", str(CORPUS), timeout=240)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert all(re.match(r"digest: (warning|error): ", line) for line in lines), lines
    refused = [line for line in lines if line.startswith("digest: error: ")]
    assert not any("unexpected" in line for line in refused), refused
    # Many test feeds share guids, so later files update earlier items: the counts add up per file.
    counts = re.search(
        r"feeds_corpus: (\d+) new, (\d+) updated, (\d+) unchanged \((\d+) refused\)", result.out
    )
    assert counts and int(counts[4]) == len(refused), result.out
    assert sum(int(n) for n in counts.groups()[:3]) > 250
