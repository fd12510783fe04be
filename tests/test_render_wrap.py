"""The text part's word wrap gives textwrap's output, byte for byte, on every kind of prose."""

from __future__ import annotations

import random
import textwrap

import pytest

from digest.render import wrap as wrap_module
from digest.render.wrap import wrap

WORDS = (
    "a I of the digest newsletter council housing énergie 東京 emoji🙂 right-to-left مرحبا no\u00a0break "
    "well-known hyphen-ated-words end. (aside) «quoted» https://example.org/2024/03/a-very-long-path"
    "/with/many/segments/and?query=string&more=values#fragment supercalifragilisticexpialidocious"
    "supercalifragilisticexpialidocious "
    + "x" * 77
    + " "
    + "y" * 78
    + " "
    + "z" * 79
    + " "
    + "w" * 200
    + " "
    + "n" * 19
    + " "
    + "m" * 76
).split(" ")
SHAPES = [
    (78, "", None),
    (78, "   ", " * "),
    (78, "   ", None),
    (78, "     ", "- "),
    (40, "  ", "- "),
    (30, " ", "---> "),
    (20, "", "> "),
    (10, "", None),
]


def reference(text: str, width: int, indent: str, first: str | None) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    )


def texts(rng: random.Random, count: int) -> list[str]:
    ordinary = [w for w in WORDS if len(w) < 20]
    out = []
    for n in range(count):
        pool = WORDS if n % 3 == 0 else ordinary  # a third with long words and URLs
        out.append(" ".join(rng.choice(pool) for _ in range(rng.randint(1, 120))))
        if n % 5 == 0:  # a word longer than the first line but not the others, right after it
            out.append(" ".join(["short"] * rng.randint(1, 20) + ["n" * rng.randint(15, 30)] + ["end"]))
    return out


@pytest.mark.parametrize(("width", "indent", "first"), SHAPES)
def test_wrap_equals_textwrap_on_generated_prose(width, indent, first) -> None:
    for text in texts(random.Random(width * 31 + len(indent)), 400):
        assert wrap(text, width, indent, first) == reference(text, width, indent, first), text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        " leading space",
        "trailing space ",
        "double  space inside",
        "tab\tinside and\nnewline",
        "x" * 78,
        "x" * 79,
        "word " + "x" * 74,
        "word " + "x" * 75,
        "a " * 60,
        "see https://example.org/" + "p" * 120 + " for more",
        "\u00a0".join(["nbsp"] * 30),
    ],
)
def test_wrap_equals_textwrap_on_edge_cases(text) -> None:
    for width, indent, first in SHAPES:
        assert wrap(text, width, indent, first) == reference(text, width, indent, first)


def test_ordinary_prose_takes_the_fast_path(monkeypatch) -> None:
    """The point of the module: single-spaced prose with ordinary words never reaches textwrap."""

    def fail(*args, **kwargs):
        raise AssertionError("textwrap used")

    monkeypatch.setattr(wrap_module, "_textwrap", fail)
    text = " ".join(["council housing report"] * 40)
    assert max(len(line) for line in wrap(text, 78, "   ", " * ").split("\n")) <= 78
