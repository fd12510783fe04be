"""2. Personalize: one recipient's message bytes from the digest encoded once, against stdlib's floor."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from bench.data import BUSY_WEEK_KEY
from bench.harness import Report, Row, rate_loop

PERSONALIZE_TARGET = 50_000


def _rendered(settings):
    from bench.build_bench import seed_items
    from digest.periods import parse_period
    from digest.render import render_digest

    period = parse_period("weekly", BUSY_WEEK_KEY, settings.timezone)
    return render_digest(settings, period, seed_items(settings), datetime.now(UTC))


def run(report: Report, count: int) -> None:
    from digest.config import load_settings
    from digest.mail import build_message, make_message_id, prepare_message
    from digest.tokens import unsubscribe_url

    settings = load_settings(
        environ={"DIGEST_FROM": "Bench <bench@example.org>", "DIGEST_SECRET_KEY": "bench-secret-padded-to-32-characters-or-more"},
        env_file=None,
    )
    now = datetime.now(UTC)
    rendered = _rendered(settings)
    prepared = prepare_message(settings, rendered, now)
    recipients = [
        (
            f"reader{n:06d}@bench.example.org",
            f"Reader {n}",
            n,
            unsubscribe_url(settings.base_url, "bench-secret-padded-to-32-characters-or-more", n),
        )
        for n in range(min(count, 10_000))
    ]
    mid = make_message_id(settings, "weekly", BUSY_WEEK_KEY, 1, recipients[0][0])
    cycle = iter(recipients * (count // len(recipients) + 1))

    def ours() -> bytes:
        email, name, sid, url = next(cycle)
        return prepared.personalize(email, name, sid, url, mid).data

    floor_message: EmailMessage = build_message(
        settings, rendered, now, *recipients[0][:2], recipients[0][3], mid
    )
    floor_count = max(50, count // 50)
    ours_rate = rate_loop(ours, count)
    floor_rate = rate_loop(floor_message.as_bytes, floor_count)

    full_cycle = iter(recipients * (count // len(recipients) + 1))

    def with_links() -> bytes:
        email, name, sid, _ = next(full_cycle)
        url = unsubscribe_url(settings.base_url, "bench-secret-padded-to-32-characters-or-more", sid)
        message_id = make_message_id(settings, "weekly", BUSY_WEEK_KEY, sid, email)
        return prepared.personalize(email, name, sid, url, message_id).data

    full_rate = rate_loop(with_links, max(1000, count // 5))
    size = len(ours())
    report.details["personalize"] = {
        "message_bytes": size,
        "personalize_per_s": ours_rate,
        "as_bytes_floor_per_s": floor_rate,
        "with_token_and_message_id_per_s": full_rate,
    }
    report.add(
        Row(
            "personalize",
            "personalize().data messages",
            ours_rate,
            "msg/s",
            reference=floor_rate,
            ratio=ours_rate / floor_rate,
            target=f"≥ {PERSONALIZE_TARGET:,} msg/s",
            met=ours_rate >= PERSONALIZE_TARGET,
            note=f"{size // 1024} KB message; ref = EmailMessage.as_bytes() of one prebuilt message",
        )
    )
    report.add(
        Row(
            "personalize",
            "+ signed unsubscribe URL + Message-ID",
            full_rate,
            "msg/s",
            reference=floor_rate,
            ratio=full_rate / floor_rate,
            note="what digest send does per recipient before the transport",
        )
    )
