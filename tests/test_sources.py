"""Readers: each format to Items, with dates, zones and untrusted HTML handled."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.errors import SourceError
from digest.periods import period_of
from digest.sources import read_source

DATA = Path(__file__).parent / "data"
SEEDS = Path(__file__).parent.parent / "seeds"
UTC = ZoneInfo("UTC")


def by_title(items):
    return {item.title: item for item in items}


def test_seed_items_keep_their_exact_text():
    items = read_source(str(SEEDS), UTC)
    assert len(items) == 12
    titles = [item.title for item in items]
    assert titles[0] == "Washington Communists Take a Stand for the Intifada!"
    assert (
        "“Halla Bol” Youth Convention in Pakistan: An Important Milestone in the Struggle for Socialist Revolution!"
        in titles
    )
    summaries = " ".join(item.summary for item in items)
    for exact in ("“One Solution: Intifada, Revolution!”", "IMT’s", "August 7–12", "March 11 […]"):
        assert exact in summaries
    assert all(item.published is None for item in items)


def test_text_format_reads_optional_metadata():
    items = by_title(read_source(str(DATA / "dated.txt"), UTC))
    dated = items["A dated seed item"]
    assert dated.published == datetime.fromisoformat("2023-11-12T23:30:00-05:00")
    assert (dated.url, dated.category, dated.summary) == (
        "https://example.org/dated",
        "Americas",
        "Its summary paragraph.",
    )
    assert items["An undated item"].url == "https://example.org/undated"


def test_rss_dates_authors_and_html_are_handled():
    items = by_title(read_source(str(DATA / "feed.rss"), UTC))
    ny = items["Sunday night in New York"]
    assert ny.published == datetime.fromisoformat("2023-11-12T23:30:00-05:00")
    assert period_of(ny.published, "weekly", ZoneInfo("America/New_York")).key == "2023-W45"
    assert period_of(ny.published, "weekly", UTC).key == "2023-W46"
    assert ny.author == "José Núñez" and ny.category == "Americas" and ny.guid == "bulletin-1"
    assert "<script" not in ny.summary_html and "javascript:" not in ny.summary_html
    assert "onclick" not in ny.summary_html and 'href="https://example.org/more"' in ny.summary_html
    assert ny.summary.startswith("Rally at Union Square — “Bread & Roses”.")
    assert "alert" not in ny.summary
    paris = items["Midnight in Paris"]
    assert period_of(paris.published, "monthly", ZoneInfo("Europe/Paris")).key == "2023-12"
    assert period_of(paris.published, "monthly", UTC).key == "2023-11"
    assert paris.author == "Zoë Lefèvre"


def test_atom_entries_with_hostile_html_and_week_53():
    items = by_title(read_source(str(DATA / "feed.atom"), UTC))
    new_year = items["New Year greetings"]
    assert new_year.author == "Łukasz Żółw"
    assert period_of(new_year.published, "monthly", ZoneInfo("Europe/Paris")).key == "2024-01"
    assert period_of(new_year.published, "weekly", UTC).key == "2023-W52"
    for bad in ("<img", "onerror", "<iframe", "evil.example"):
        assert bad not in new_year.summary_html
    assert new_year.summary == "First post of the year."
    week53 = items["Week 53"]
    assert period_of(week53.published, "weekly", ZoneInfo("America/Sao_Paulo")).key == "2020-W53"
    assert period_of(week53.published, "weekly", UTC).key == "2021-W01"


def test_markdown_posts_are_rendered_safely():
    items = by_title(read_source(str(DATA / "posts"), UTC))
    first = items["A post with <b>markup</b>"]
    assert "<strong>bold</strong>" in first.summary_html
    assert "<script" not in first.summary_html and "&lt;script&gt;" in first.summary_html
    assert first.category == "Essays" and first.url == "https://example.org/posts/first"
    second = items["Second post"]
    assert second.published == datetime(2023, 11, 8, tzinfo=UTC)
    assert "href" not in (second.summary_html or "")  # markdown-it refuses javascript: links


def test_json_and_csv_records():
    json_items = by_title(read_source(str(DATA / "items.json"), UTC))
    assert json_items["JSON two"].summary == "Second JSON item."
    assert json_items["JSON two"].url == "https://example.org/j2"
    assert json_items["JSON one"].published == datetime.fromisoformat("2023-11-06T09:00:00+01:00")
    csv_items = by_title(read_source(str(DATA / "items.csv"), ZoneInfo("Europe/Paris")))
    assert csv_items["CSV one"].summary == "A summary, with a comma"
    assert 'CSV "two"' in csv_items and csv_items['CSV "two"'].category is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.txt", "no such file"),
        ("broken.xml", "broken feed XML"),
        ("page.html", "not an RSS or Atom feed"),
        ("no-title.csv", "no 'title' column"),
        ("bad-row.csv", "line 3"),
        ("invalid.json", "invalid JSON"),
        ("title-only.txt", "has no summary"),
    ],
)
def test_malformed_sources_are_refused_with_a_reason(name, reason):
    with pytest.raises(SourceError) as raised:
        read_source(str(DATA / name), UTC)
    assert reason in str(raised.value)
    assert name in str(raised.value)


def test_the_same_item_gets_the_same_id_from_any_source(tmp_path):
    (tmp_path / "a.json").write_text('[{"title": "T", "url": "https://example.org/same"}]')
    (tmp_path / "b.csv").write_text("title,url\nOther title,https://example.org/same\n")
    ids = {item.id for item in read_source(str(tmp_path), UTC)}
    assert len(ids) == 1
