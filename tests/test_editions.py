"""The pure rules of an edition and the intro's rendering: no database, no clock."""

from __future__ import annotations

import pytest

from digest.editions import (
    Edition,
    EditionHeld,
    EditionLocked,
    after_edit,
    arrange,
    check_editable,
    check_sendable,
    chosen,
    clean_subject,
    waits_for_approval,
)
from digest.errors import DigestError
from digest.models import UNSUBSCRIBE_MARK, Item
from digest.render.intro import render_intro

ITEMS = [Item(title=f"Item {n}", url=f"https://example.org/{n}") for n in range(5)]
IDS = [item.id for item in ITEMS]


def titles(entries) -> list[str]:
    return [entry.item.title for entry in entries]


def test_pinned_items_lead_in_pin_order_and_excluded_ones_stay_marked_in_place() -> None:
    edition = Edition("weekly", "2023-W45", excluded=frozenset({IDS[1]}), pinned=(IDS[3], IDS[0]))
    entries = arrange(edition, ITEMS)
    assert titles(entries) == ["Item 3", "Item 0", "Item 1", "Item 2", "Item 4"]
    assert [(e.pinned, e.excluded) for e in entries][:3] == [(True, False), (True, False), (False, True)]
    assert [i.title for i in chosen(entries)] == ["Item 3", "Item 0", "Item 2", "Item 4"]


def test_a_frozen_edition_keeps_only_its_items_and_ignores_marks_of_others() -> None:
    edition = Edition("weekly", "2023-W45", pinned=("gone",), frozen=frozenset(IDS[:3]))
    assert titles(arrange(edition, ITEMS)) == ["Item 0", "Item 1", "Item 2"]


@pytest.mark.parametrize("state", ["sending", "sent"])
def test_an_edition_that_went_out_cannot_be_edited(state: str) -> None:
    with pytest.raises(EditionLocked, match=f"weekly 2023-W45 is {state}: it can no longer be edited"):
        check_editable(Edition("weekly", "2023-W45", state=state))


def test_an_edit_withdraws_an_approval_but_keeps_a_hold() -> None:
    assert after_edit(Edition("weekly", "w", state="approved")) == "open"
    assert after_edit(Edition("weekly", "w", state="held")) == "held"


def test_held_is_never_sent_and_unapproved_waits_only_when_approval_is_required() -> None:
    with pytest.raises(EditionHeld):
        check_sendable(Edition("weekly", "w", state="held"))
    assert waits_for_approval(Edition("weekly", "w"), True)
    assert not waits_for_approval(Edition("weekly", "w"), False)
    assert not waits_for_approval(Edition("weekly", "w", state="approved"), True)


def test_subject_is_one_bounded_line() -> None:
    assert clean_subject("  Our\r\nBcc: x@example.org  ") == "Our Bcc: x@example.org"
    assert "\n" not in (clean_subject("Line one\nBcc: victim@example.org") or "")
    assert clean_subject("   ") is None
    with pytest.raises(DigestError):
        clean_subject("x" * 201)


def test_intro_markdown_is_sanitized_and_its_text_keeps_link_addresses() -> None:
    intro = render_intro(
        "Hi **all**, see [the guide](https://example.org/g).\n\n<script>alert(1)</script>\n\n"
        "[x](javascript:alert(2)) <img src=x onerror=alert(3)>\n\n- one\n- two"
    )
    html = str(intro.html)
    assert "<strong>all</strong>" in html and 'href="https://example.org/g"' in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert intro.paragraphs[0] == "Hi all, see the guide <https://example.org/g>."
    assert intro.paragraphs[1] == "<script>alert(1)</script>"
    assert intro.paragraphs[-2:] == ("- one", "- two")


def test_intro_cannot_forge_the_unsubscribe_marker() -> None:
    intro = render_intro(f"[unsubscribe]({UNSUBSCRIBE_MARK}) and {UNSUBSCRIBE_MARK}")
    assert UNSUBSCRIBE_MARK not in str(intro.html) and UNSUBSCRIBE_MARK not in " ".join(intro.paragraphs)
