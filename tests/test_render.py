"""Rendering a digest: the real pipeline (Jinja2 -> MJML -> mjml-python -> css-inline, and the text part)."""

from __future__ import annotations

import binascii
import re
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import Settings, load_settings
from digest.errors import DigestError
from digest.models import UNSUBSCRIBE_MARK, Item, RenderedDigest
from digest.periods import month_of, parse_period
from digest.render import render_digest
from digest.sources.text import read_text

SEED = Path(__file__).resolve().parent.parent / "seeds" / "imt-news.txt"
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)
WEEK = parse_period("weekly", "2023-W45", UTC_ZONE)
GMAIL_CLIP = 102_000  # bytes; the strict reading of "102 KB"
URL_ONLY = re.compile(r"^(\[\d+\] )?https?://\S+$")


def sample_settings(**changes) -> Settings:
    settings = load_settings(
        environ={"DIGEST_NAME": "IMT News", "DIGEST_BASE_URL": "https://news.example.org"}, env_file=None
    )
    return replace(settings, **changes)


def seed_items() -> list[Item]:
    """The seed file, dated a fixed hour apart inside week 2023-W45, newest first."""
    items = read_text(SEED.read_text(encoding="utf-8"), "seeds/imt-news.txt", UTC_ZONE).items
    start = datetime(2023, 11, 10, 18, 0, tzinfo=UTC)
    return [item.with_changes(published=start - timedelta(hours=n)) for n, item in enumerate(items)]


def render_seed(lang: str = "en", **changes) -> RenderedDigest:
    return render_digest(sample_settings(**changes), WEEK, seed_items(), NOW, lang=lang)


def many_items(count: int, month: datetime) -> list[Item]:
    categories = ["Europe", "Americas", "Asia", "Africa", None]
    return [
        Item(
            title=f"Item {n}: workers and students organize a public meeting in city number {n}",
            summary="A realistic summary sentence of moderate length that says what happened. " * 3,
            url=f"https://example.org/news/2023/11/item-{n}",
            category=categories[n % 5],
            published=month - timedelta(hours=3 * n),
        )
        for n in range(count)
    ]


def fits_gmail(html: str) -> bool:
    """Under Gmail's clipping size both as a page and as quoted-printable in the message."""
    return len(html.encode()) < GMAIL_CLIP and len(binascii.b2a_qp(html.encode())) < GMAIL_CLIP


def long_lines(text: str) -> list[str]:
    """Lines past 78 columns, except a lone URL (links are listed as '[n] URL' and cannot wrap)."""
    return [line for line in text.splitlines() if len(line) > 78 and not URL_ONLY.match(line.strip())]


@pytest.fixture
def no_network(monkeypatch):
    """A guard: any connection or name lookup beyond loopback fails the test."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "::1", "localhost")
            and self.family != socket.AF_UNIX
        ):
            raise AssertionError(f"network access during render: {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"name lookup during render: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_every_seed_title_is_in_both_parts(no_network):
    rendered = render_seed()
    titles = [item.title for item in seed_items()]
    assert len(titles) == 12
    flowed = " ".join(rendered.text.split())  # long titles wrap onto two lines
    for title in titles:
        assert title in flowed
        assert title in rendered.html
    assert rendered.item_count == 12


def test_seed_digest_has_header_sections_and_footer():
    rendered = render_seed(postal_address="12 Example Street, London", footer_text="You asked for it.")
    assert rendered.subject == "IMT News: Week 45 · 6–12 November 2023"
    for part in (rendered.html, rendered.text):
        assert "IMT News" in part
        assert "Week 45 · 6–12 November 2023" in part
        assert "You asked for it." in part
        assert "12 Example Street, London" in part
        assert "https://news.example.org/archive/weekly/2023-W45" in part
        assert part.count(UNSUBSCRIBE_MARK) == 1
    assert '<html lang="en"' in rendered.html
    assert "<title>IMT News: Week 45 · 6–12 November 2023</title>" in rendered.html
    assert rendered.html.startswith("<!doctype html>")


def test_html_stays_under_gmail_clip_for_seed_and_200_item_month():
    assert fits_gmail(render_seed().html)
    month_end = datetime(2023, 11, 30, 12, tzinfo=UTC)
    month = month_of(month_end, UTC_ZONE)
    items = many_items(200, month_end)
    default = render_digest(sample_settings(), month, items, NOW)
    assert fits_gmail(default.html)
    assert "And 170 more articles in the online archive" in default.html
    everything = render_digest(sample_settings(item_limit=200), month, items, NOW)
    assert fits_gmail(everything.html)
    shown = everything.html.count('class="title"')
    assert 30 < shown < 200
    assert f"And {200 - shown} more articles" in everything.html
    assert f"And {200 - shown} more articles" in everything.text


def test_text_lines_fit_78_columns_with_numbered_links():
    items = [
        item.with_changes(url=f"https://www.marxist.com/{'very-long-path-' * (n + 1)}{n}.htm")
        for n, item in enumerate(seed_items())
    ]
    rendered = render_digest(sample_settings(), WEEK, items, NOW)
    assert long_lines(rendered.text) == []
    assert "Links:" in rendered.text
    assert f"[1] {items[0].url}" in rendered.text
    assert f"{items[0].title} [1]" in rendered.text
    assert not any(line != line.rstrip() for line in rendered.text.splitlines())


def test_items_are_grouped_by_category_with_uncategorized_last():
    items = seed_items()
    categories = ["Asia", None, "Europe", "asia"] * 3
    items = [item.with_changes(category=c) for item, c in zip(items, categories, strict=True)]
    rendered = render_digest(sample_settings(), WEEK, items, NOW)
    headings = re.findall(r'<h2 class="section"[^>]*>([^<]+)</h2>', rendered.html)
    assert headings == ["Asia", "Europe", "Other"]
    assert rendered.text.index("ASIA") < rendered.text.index("EUROPE") < rendered.text.index("OTHER")


def test_read_more_links_say_where_they_go():
    items = [item.with_changes(url=f"https://www.marxist.com/a{n}") for n, item in enumerate(seed_items())]
    html = render_digest(sample_settings(), WEEK, items, NOW).html
    assert html.count(">Read more on marxist.com</a>") == 12
    assert '<a class="title-link" href="https://www.marxist.com/a0"' in html


def test_fonts_are_local_and_dark_mode_survives_inlining():
    html = render_seed().html
    assert "fonts.googleapis" not in html
    assert "<link" not in html
    assert "font-family:-apple-system" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    dark = html[html.index("@media (prefers-color-scheme: dark)") :]
    assert "background-color: #1c1c1f !important" in dark[: dark.index("}\n}")]
    assert 'class="title"' in html  # classes kept so the dark rules still apply
    assert 'style="margin:0 0 4px' in html  # and the theme was inlined


def test_preheader_is_hidden_without_a_colour_trick():
    html = render_seed().html
    match = re.search(r'<div class="preheader" style="([^"]+)">([^<]+)</div>', html)
    assert match, "no preheader"
    style, text = match.groups()
    assert "display:none" in style and "opacity:0" in style
    assert "color" not in style
    assert text.startswith("12 articles: Washington Communists Take a Stand for the Intifada!")


def test_brand_colour_and_logo_come_from_settings():
    html = render_seed(brand_color="#2563eb", logo_url="https://news.example.org/logo.png").html
    assert "background-color:#2563eb" in html
    assert re.search(
        r'<img[^>]+alt="IMT News"[^>]+src="https://news.example.org/logo.png"', html
    ) or re.search(r'<img[^>]+src="https://news.example.org/logo.png"[^>]+alt="IMT News"', html)


def test_pale_brand_colour_is_darkened_for_readable_links():
    from digest.render.colors import DARK_BACKGROUND, contrast, theme

    shades = theme("#fde68a")
    assert contrast(shades["accent"], "#ffffff") >= 4.5
    assert contrast(shades["accent_dark_mode"], DARK_BACKGROUND) >= 4.5
    html = render_seed(brand_color="#fde68a").html
    assert f"background-color:{shades['accent']}" in html
    assert "background-color:#fde68a" not in html


class Tags(HTMLParser):
    """What a browser would see as markup: tag names, attribute names, link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: set[str] = set()
        self.hrefs: list[str] = []
        self.bare_links = 0

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src")]
        self.bare_links += tag == "a" and "href" not in dict(attrs)


HOSTILE_TITLE = "<script>alert(1)</script> Breaking\r\nBcc: victim@example.org"


def hostile_items() -> list[Item]:
    when = datetime(2023, 11, 9, 12, tzinfo=UTC)
    return [
        Item(title=HOSTILE_TITLE, summary="Plain <b>not bold</b> & <iframe src=x>", published=when),
        Item(
            title="Sanitized? <img src=x onerror=alert(1)>",
            summary_html=(
                '<p onclick="steal()">Hi <a href="javascript:alert(1)">click</a>'
                '<iframe src="https://evil.example"></iframe><script>alert(2)</script>'
                f'<a href="{UNSUBSCRIBE_MARK}">unsubscribe everyone</a></p>'
            ),
            url="javascript:alert(3)",
            published=when - timedelta(minutes=1),
        ),
        Item(
            title="Long",
            summary="word " * 4000,
            url="https://example.org/long",
            published=when - timedelta(minutes=2),
        ),
        Item(title="Unbroken", summary="x" * 20_000, published=when - timedelta(minutes=3)),
        Item(
            title="مرحبا بالعالم — عنوان عربي",
            summary="שלום עולם, זה סיכום בעברית.",
            published=when - timedelta(minutes=4),
        ),
        Item(
            title="Launch day 🚀 👩🏽‍💻",
            summary="Emoji 🎉 stay intact.",
            published=when - timedelta(minutes=5),
        ),
        Item(
            title=f"Forged {UNSUBSCRIBE_MARK}",
            summary=f"Click {UNSUBSCRIBE_MARK} or https://digest.invalid/unsubscribe-https://digest.invalid/unsubscribe-markmark",
            url=UNSUBSCRIBE_MARK,
            published=when - timedelta(minutes=6),
        ),
    ]


def test_hostile_items_render_inert_and_intact(no_network):
    rendered = render_digest(sample_settings(), WEEK, hostile_items(), NOW)
    html, text = rendered.html, rendered.text
    tags = Tags()
    tags.feed(html)
    assert not {"script", "iframe", "img", "object", "embed", "form"} & tags.names
    assert [a for a in tags.attributes if a.startswith("on")] == []
    assert all(re.match(r"^(https?:|mailto:)", href) for href in tags.hrefs), tags.hrefs
    assert "javascript:" not in html.lower()
    assert tags.bare_links == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Breaking Bcc: victim@example.org" in html
    assert "<script>alert(1)</script> Breaking Bcc: victim@example.org" in text
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert "Plain &lt;b&gt;not bold&lt;/b&gt; &amp; &lt;iframe src=x&gt;" in html
    for intact in (
        "مرحبا بالعالم — عنوان عربي",
        "שלום עולם, זה סיכום בעברית.",
        "Launch day 🚀 👩🏽‍💻",
        "Emoji 🎉",
    ):
        assert intact in html and intact in text
    assert 'dir="auto"' in html
    assert html.count(UNSUBSCRIBE_MARK) == 1 and text.count(UNSUBSCRIBE_MARK) == 1
    assert "x" * 700 not in html and "word " * 200 not in html  # summaries are teasers, not the article
    assert fits_gmail(html)
    assert long_lines(text) == []


def test_template_override_wins_file_by_file(tmp_path):
    (tmp_path / "item.mjml").write_text('<p class="title">OVERRIDE {{ item.title }}</p>\n', encoding="utf-8")
    rendered = render_digest(sample_settings(templates_dir=tmp_path), WEEK, seed_items(), NOW)
    assert "OVERRIDE Washington Communists Take a Stand for the Intifada!" in rendered.html
    assert "Read more" not in rendered.html
    assert " * Washington Communists Take a Stand" in rendered.text  # digest.txt still built in


def test_environment_is_reused_until_a_template_file_changes(tmp_path):
    from digest.render.templates import environment

    (tmp_path / "item.mjml").write_text("<p>{{ item.title }}</p>\n", encoding="utf-8")
    first = environment(tmp_path)
    assert environment(tmp_path) is first  # templates are compiled once, not per render
    (tmp_path / "digest.txt").write_text("{{ digest.name }}\n", encoding="utf-8")
    assert environment(tmp_path) is not first


def test_edited_and_added_override_templates_apply_to_the_next_render(tmp_path):
    """The preview re-renders on every template change: a cached environment must not hide one."""
    item = tmp_path / "item.mjml"
    item.write_text("<p>FIRST {{ item.title }}</p>\n", encoding="utf-8")
    settings = sample_settings(templates_dir=tmp_path)
    assert "FIRST Washington" in render_digest(settings, WEEK, seed_items(), NOW).html
    item.write_text("<p>EDITED AGAIN {{ item.title }}</p>\n", encoding="utf-8")
    (tmp_path / "digest.txt").write_text("ADDED {{ digest.name }}\n", encoding="utf-8")
    rendered = render_digest(settings, WEEK, seed_items(), NOW)
    assert "EDITED AGAIN Washington" in rendered.html and "FIRST" not in rendered.html
    assert rendered.text == "ADDED IMT News\n"
    item.unlink()
    assert '<div class="item"' in render_digest(settings, WEEK, seed_items(), NOW).html  # built-in again


def test_theme_override_is_inlined_and_nothing_is_fetched(tmp_path):
    """css-inline is Rust: the socket guard cannot see it, so a real server counts any request."""
    import http.server
    import threading

    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b".title { color: #ff0000; }")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = f"http://127.0.0.1:{server.server_port}"
    try:
        (tmp_path / "theme.css").write_text(
            f'@import url("{remote}/import.css");\n.title {{ margin: 0; color: #123456; }}\n',
            encoding="utf-8",
        )
        (tmp_path / "item.mjml").write_text(
            f'<link rel="stylesheet" href="{remote}/link.css"><p class="title">{{{{ item.title }}}}</p>\n',
            encoding="utf-8",
        )
        html = render_digest(sample_settings(templates_dir=tmp_path), WEEK, seed_items(), NOW).html
    finally:
        server.shutdown()
        server.server_close()
    assert requests == []
    assert 'class="title" style="margin:0;color:#123456"' in html
    assert "#ff0000" not in html
    assert "background-color: #1c1c1f !important" in html  # the head's dark-mode rules, as written


def test_override_templates_are_autoescaped(tmp_path):
    (tmp_path / "item.mjml").write_text("<p>{{ item.title }}</p>\n", encoding="utf-8")
    items = [Item(title="<b onmouseover=x>bold</b>", published=datetime(2023, 11, 9, tzinfo=UTC))]
    html = render_digest(sample_settings(templates_dir=tmp_path), WEEK, items, NOW).html
    assert "&lt;b onmouseover=x&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("item.mjml", "<p>\n{{ item.nope }}\n</p>\n", r"template .*item\.mjml:2: .*nope"),
        ("digest.txt", "{{ digest.name }}\n{% if %}\n", r"template .*digest\.txt:2: "),
        (
            "item.mjml",
            "<mj-bogus>{{ item.title }}</mj-bogus>\n",
            r"template digest\.mjml: unknown MJML tag <mj-bogus>",
        ),
        (
            "digest.mjml",
            "<mjml><mj-body><mj-section></mj-body></mjml>\n",
            r"template digest\.mjml: invalid MJML",
        ),
    ],
)
def test_template_mistakes_name_the_template(tmp_path, name, body, expected):
    (tmp_path / name).write_text(body, encoding="utf-8")
    with pytest.raises(DigestError, match=expected):
        render_digest(sample_settings(templates_dir=tmp_path), WEEK, seed_items(), NOW)


def test_rendering_is_deterministic():
    first, second = render_seed(), render_seed()
    assert first.html == second.html and first.text == second.text and first.mjml == second.mjml
