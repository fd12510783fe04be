"""How one item looks in the mail: its date in words like the header, and its image."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from digest.models import Item
from digest.render import encoded_size, render_digest
from tests.test_render import NOW, WEEK, sample_settings, seed_items

PUBLISHED = datetime(2023, 11, 7, 9, 30, tzinfo=UTC)
IMAGE = "https://images.example.org/photo.png"


def one_item(**fields) -> Item:
    values = {
        "title": "Dockers strike in Rotterdam",
        "summary": "They stopped the port.",
        "url": "https://example.org/a",
    }
    return Item(published=PUBLISHED, **{**values, **fields})


def render(*items: Item):
    return render_digest(sample_settings(), WEEK, list(items), NOW)


def test_item_dates_are_in_words_like_the_header():
    rendered = render(one_item())
    assert "7 November 2023" in rendered.html and "7 November 2023" in rendered.text
    assert '<time datetime="2023-11-07">7 November 2023</time>' in rendered.html
    assert "2023-11-07" not in rendered.text
    assert "6–12 November 2023" in rendered.text  # the header's style


def test_an_https_image_is_shown_with_alt_text_and_a_width_limit():
    rendered = render(one_item(image=IMAGE))
    found = re.search(r"<img\b[^>]*\bsrc=\"https://images\.example\.org/photo\.png\"[^>]*>", rendered.html)
    assert found, "the item's image is not shown"
    tag = found[0]
    assert 'alt="Dockers strike in Rotterdam"' in tag
    width = int(re.search(r'\swidth="(\d+)"', tag)[1])
    assert width <= 544
    style = tag.replace(" ", "")
    assert "width:100%" in style and f"max-width:{width}px" in style and "height:auto" in style


@pytest.mark.parametrize(
    "image", ["http://images.example.org/photo.png", "javascript:alert(1)", "data:image/png;base64,AAAA"]
)
def test_an_image_that_is_not_https_is_not_shown(image):
    rendered = render(one_item(image=image))
    assert "<img" not in rendered.html.split('class="card', 1)[1].split('class="footer', 1)[0]


def test_images_keep_a_long_digest_within_the_size_budget():
    from digest.render import HTML_BUDGET

    items = [
        item.with_changes(image=f"https://images.example.org/{n}.jpg")
        for n, item in enumerate(seed_items() * 12)
    ]
    rendered = render_digest(sample_settings(item_limit=400), WEEK, items, NOW)
    assert encoded_size(rendered.html) <= HTML_BUDGET


def wide_png(width: int = 1600, height: int = 900) -> bytes:
    """A real PNG wider than any phone, made here (no file, no network)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes([40, 90, 160]) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 800])
def test_a_wide_image_fits_the_column_on_phone_and_desktop(browser, width, tmp_path):
    items = [one_item(image=IMAGE), *seed_items()[:2]]
    html = render(*items).html
    page = browser.new_page(viewport={"width": width, "height": 900})
    png = wide_png()
    page.route(
        "**/*",
        lambda route: (
            route.fulfill(body=png, content_type="image/png") if route.request.url == IMAGE else route.abort()
        ),
    )
    page.set_content(html, wait_until="load")
    try:
        box = page.evaluate(
            """() => { const img = document.querySelector('img.item-image');
                       const text = img.closest('.item').getBoundingClientRect();
                       return [img.naturalWidth, img.getBoundingClientRect().width, text.width,
                               document.documentElement.scrollWidth]; }"""
        )
        page.screenshot(path=tmp_path / f"image-{width}.png", full_page=False)
    finally:
        page.close()
    natural, shown, column, scroll = box
    assert natural == 1600  # it loaded
    assert shown <= column and shown <= 544
    assert scroll <= width
