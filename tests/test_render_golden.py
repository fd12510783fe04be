"""Golden files: the seed's weekly digest, byte for byte, in tests/golden/.

Refresh after an intended change to the templates or the renderer (and review the diff):

    DIGEST_REFRESH_GOLDEN=1 ./run.sh test tests/test_render_golden.py tests/test_render_browser.py

The render is deterministic: fixed item dates, a fixed "now", explicit settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_render import render_seed

GOLDEN = Path(__file__).resolve().parent / "golden"


# English, then the same digest in Spanish and in Arabic (right to left), next to it.
GOLDEN_FILES = [
    ("weekly-2023-W45.html", "html", "en"),
    ("weekly-2023-W45.txt", "text", "en"),
    ("weekly-2023-W45.es.html", "html", "es"),
    ("weekly-2023-W45.es.txt", "text", "es"),
    ("weekly-2023-W45.ar.html", "html", "ar"),
    ("weekly-2023-W45.ar.txt", "text", "ar"),
]


@pytest.mark.parametrize(("name", "part", "lang"), GOLDEN_FILES)
def test_seed_digest_matches_golden_file(name, part, lang):
    rendered = getattr(render_seed(lang, postal_address="12 Example Street, London N1 1AA"), part)
    path = GOLDEN / name
    if os.environ.get("DIGEST_REFRESH_GOLDEN"):
        path.write_bytes(rendered.encode())
    expected = path.read_bytes().decode()
    assert rendered == expected, f"{name} changed; if intended, refresh: see {__name__}'s docstring"
