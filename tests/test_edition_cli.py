"""`digest edition ...` end to end: the CLI edits, a real SMTP server receives, the archive shows it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.test_serve import running_server

SECRET = "edition-test-secret-that-is-long-enough"
WEEK = "2023-W45"
HOSTILE_INTRO = """Welcome to **week 45**. Read [our guide](https://example.org/guide).

<script>alert("owned")</script>

<img src=x onerror=alert(2)> [bad](javascript:alert(3))
"""


def write_items(folder: Path) -> list[dict]:
    items = [
        {
            "title": f"Story {n}",
            "summary": f"Summary of story {n}.",
            "url": f"https://example.org/story-{n}",
            "published": f"2023-11-0{6 + n}T09:00:00+00:00",
        }
        for n in range(4)
    ]
    (folder / "items.json").write_text(json.dumps(items))
    return items


def edition_json(digest, *where: str) -> dict:
    result = digest("edition", "show", *where, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def ids_by_title(shown: dict) -> dict[str, str]:
    return {item["title"]: item["id"] for item in shown["items"]}


def one_reader(digest, smtp_server, folder: Path) -> tuple[object, dict[str, str]]:
    """The four items of WEEK ingested, one weekly reader (ann@example.com) and an SMTP server:
    (the server, the environment `digest send` needs)."""
    write_items(folder)
    server = smtp_server()
    assert digest("ingest", "items.json").code == 0
    assert digest("subscribers", "add", "ann@example.com").code == 0
    return server, {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET, **server.env()}


def test_exclude_pin_and_hostile_intro_reach_the_sent_message_and_the_archive(
    digest, smtp_server, tmp_path, env
) -> None:
    server, send_env = one_reader(digest, smtp_server, tmp_path)
    where = ("--cadence", "weekly", "--period", WEEK)
    ids = ids_by_title(edition_json(digest, *where))
    assert list(ids) == ["Story 3", "Story 2", "Story 1", "Story 0"]  # newest first

    assert digest("edition", "exclude", ids["Story 2"][:8], *where).code == 0
    assert digest("edition", "pin", ids["Story 0"], *where).code == 0
    (tmp_path / "intro.md").write_text(HOSTILE_INTRO)
    assert digest("edition", "intro", "intro.md", *where).code == 0
    shown = edition_json(digest, *where)
    assert [(i["title"], i["excluded"], i["pinned"]) for i in shown["items"]] == [
        ("Story 0", False, True),
        ("Story 3", False, False),
        ("Story 2", True, False),
        ("Story 1", False, False),
    ]
    assert shown["state"] == "open" and shown["intro"] == HOSTILE_INTRO.strip()

    sent = digest("send", *where, extra_env=send_env)
    assert sent.code == 0, sent.err
    [received] = server.received
    message = received.message()
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    for part in (html, text):
        assert "Story 2" not in part
        assert part.index("Story 0") < part.index("Story 3") < part.index("Story 1")
        assert "week 45" in part and "our guide" in part
    assert_intro_inert(html)
    assert "<https://example.org/guide>" in text
    assert '<script>alert("owned")</script>' in text  # shown as words in plain text: inert there

    assert edition_json(digest, *where)["state"] == "sent"
    refused = digest("edition", "exclude", ids["Story 3"], *where)
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert "weekly 2023-W45 is sent: it can no longer be edited" in refused.err

    with running_server(tmp_path, env["DIGEST_DATABASE_URL"]) as site:
        page = httpx.get(f"{site.url}/archive/weekly/{WEEK}", timeout=10).text
    assert "Story 2" not in page
    assert page.index("Story 0") < page.index("Story 3") < page.index("Story 1")
    assert_intro_inert(page)


def assert_intro_inert(html: str) -> None:
    assert "<strong>week 45</strong>" in html
    lowered = html.lower()
    assert "<script" not in lowered, lowered[lowered.index("<script") - 200 :][:400]
    assert "<img" not in lowered and 'href="javascript' not in lowered
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_send_of_a_held_edition_refuses_with_one_line_and_approve_releases_it_as_approved(
    digest, smtp_server, tmp_path
) -> None:
    server, send_env = one_reader(digest, smtp_server, tmp_path)
    where = ("--cadence", "weekly", "--period", WEEK)
    assert digest("edition", "hold", *where).code == 0

    refused = digest("send", *where, extra_env=send_env)
    assert refused.code == 1
    assert refused.err == "digest: error: weekly 2023-W45 is held: `digest edition approve` releases it\n"
    assert server.received == []

    assert digest("edition", "approve", *where).code == 0
    changed = json.loads((tmp_path / "items.json").read_text())
    changed[1]["summary"] = "Rewritten after the approval."
    (tmp_path / "items.json").write_text(json.dumps(changed))
    assert digest("ingest", "items.json").code == 0  # the item changes in the store

    assert digest("send", *where, extra_env=send_env).code == 0
    assert server.recipients() == ["ann@example.com"]
    text = server.received[0].message().get_body(("plain",)).get_content()
    assert "Summary of story 1." in text and "Rewritten" not in text  # exactly as approved


def test_items_arriving_after_approval_go_to_the_next_edition(digest, tmp_path) -> None:
    write_items(tmp_path)
    digest("ingest", "items.json")
    where = ("--cadence", "weekly", "--period", WEEK)
    assert digest("edition", "approve", *where).code == 0
    late = [{"title": "Late story", "summary": "x", "url": "https://example.org/late",
             "published": "2023-11-08T10:00:00+00:00"}]  # fmt: skip
    (tmp_path / "late.json").write_text(json.dumps(late))
    assert digest("ingest", "late.json").code == 0

    approved = edition_json(digest, *where)
    following = edition_json(digest, "--cadence", "weekly", "--period", "2023-W46")
    assert "Late story" not in ids_by_title(approved) and len(approved["items"]) == 4
    assert list(ids_by_title(following)) == ["Late story"]


def test_an_item_left_out_of_a_sent_edition_is_not_carried_into_the_next(
    digest, smtp_server, tmp_path
) -> None:
    _server, send_env = one_reader(digest, smtp_server, tmp_path)
    where = ("--cadence", "weekly", "--period", WEEK)
    left_out = edition_json(digest, *where)["items"][0]
    assert digest("edition", "exclude", left_out["id"], *where).code == 0
    assert digest("send", *where, extra_env=send_env).code == 0
    late = [{"title": "Late story", "summary": "x", "url": "https://example.org/late",
             "published": "2023-11-08T10:00:00+00:00"}]  # fmt: skip
    (tmp_path / "late.json").write_text(json.dumps(late))
    assert digest("ingest", "late.json").code == 0

    following = edition_json(digest, "--cadence", "weekly", "--period", "2023-W46")
    assert list(ids_by_title(following)) == ["Late story"]  # the late one, not the one left out


def test_edit_after_approval_withdraws_it_and_bad_input_is_one_line(digest, tmp_path) -> None:
    write_items(tmp_path)
    digest("ingest", "items.json")
    where = ("--cadence", "weekly", "--period", WEEK)
    digest("edition", "approve", *where)
    assert digest("edition", "subject", "Our pick", *where).code == 0
    shown = edition_json(digest, *where)
    assert (shown["state"], shown["subject"]) == ("open", "Our pick")

    for args in (
        ("edition", "pin", "nosuchitem", *where),
        ("edition", "intro", "missing.md", *where),
        ("edition", "show", "--cadence", "weekly", "--period", "2023-99"),
    ):
        result = digest(*args)
        assert result.code in (1, 2) and result.err.count("\n") == 1, (args, result.err)
        assert "Traceback" not in result.err
