"""5. DKIM: the cost of signing one recipient's message, and what signing does to the send rate.

Signing is per recipient (every message is personalized), so its cost is paid once per message.
Measured in the same run: our signer (OpenSSL RSA through `cryptography`, canonical forms computed
once per piece) against dkimpy's own `dkim.sign` on the same message, and `digest send` to the
same sink with and without DIGEST_DKIM_PRIVATE_KEY. Target: signing takes less than half of the
send rate (the signed run keeps more than half the unsigned run's rate).
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import Report, Row, rate_loop

SIGNED_RATE_TARGET = 0.5


def _key_file(workdir: Path) -> tuple[Path, object]:
    from digest.dkim import generate_key, private_pem

    key = generate_key()
    path = workdir / "dkim.pem"
    path.write_bytes(private_pem(key))
    return path, key


def _letters(env: dict[str, str], key_path: Path | None):
    """The send's own message factory for the bench week, signing with `key_path` if given."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from bench.data import BUSY_WEEK_KEY
    from digest.compose import render_period
    from digest.config import load_settings
    from digest.letters import Letters
    from digest.periods import parse_period
    from digest.store import open_engine

    settings = load_settings(environ=env, env_file=None)
    if key_path is not None:
        settings = replace(settings, dkim_private_key=key_path, dkim_selector="bench")
    engine = open_engine(settings.database_url)
    now = datetime.now(UTC)
    rendered = render_period(
        settings, engine, "weekly", parse_period("weekly", BUSY_WEEK_KEY, settings.timezone), now
    )
    engine.dispose()
    return Letters(settings, rendered, now)


def run_signing(report: Report, workdir: Path, count: int) -> None:
    """Per recipient: Letters.to unsigned, Letters.to signed (what a send does), and dkimpy's own
    dkim.sign on the same message (the reference)."""
    import dkim

    from bench.send_bench import prepare_store
    from digest.dkim import dns_value, verify
    from digest.mail import Recipient

    _, env = prepare_store(workdir, 1)
    path, key = _key_file(workdir)
    plain, signed = _letters(env, None), _letters(env, path)
    people = [
        Recipient(f"reader{n:06d}@bench.example.org", f"Reader {n}", n, delivery_id=n) for n in range(1000)
    ]
    cycle = iter(people * (count // len(people) + 2))
    sample = signed.to(people[0]).data
    assert verify(sample, dns_value(key)), "the bench's signature does not verify"
    unsigned_rate = rate_loop(lambda: plain.to(next(cycle)).message.values, count)
    signed_rate = rate_loop(lambda: signed.to(next(cycle)).message.values, count)
    message, pem = plain.to(people[0]).data, path.read_bytes()
    reference = rate_loop(
        lambda: dkim.sign(message, b"bench", b"example.org", pem, canonicalize=(b"relaxed", b"relaxed")),
        max(5, count // 20),
    )
    cost_ms = max(0.0, 1000 / signed_rate - 1000 / unsigned_rate)
    report.details["dkim"] = {
        "message_bytes": len(message),
        "letters_unsigned_per_s": unsigned_rate,
        "letters_signed_per_s": signed_rate,
        "dkimpy_sign_per_s": reference,
        "signing_ms_per_message": cost_ms,
    }
    report.add(
        Row(
            "dkim",
            "signing cost per message (RSA-2048)",
            cost_ms,
            "ms",
            reference=1000 / reference,
            ratio=cost_ms * reference / 1000,
            note=f"signed minus unsigned Letters.to; ref = dkimpy dkim.sign; {len(message) // 1024} KB",
        )
    )


def run_send_signed(report: Report, workdir: Path, subscribers: int) -> None:
    """`digest send` unsigned, signed, unsigned again: the mean of the unsigned runs brackets the
    signed one in time, as the send bench does with its reference."""
    from bench.send_bench import digest_send, prepare_store

    _, env = prepare_store(workdir, subscribers)
    path, _ = _key_file(workdir)
    signed_env = {**env, "DIGEST_DKIM_PRIVATE_KEY": str(path), "DIGEST_DKIM_SELECTOR": "bench"}
    rates = []
    for run_env in (env, signed_env, env):
        _reset_deliveries(env)
        measured, sink_rate, delivered = digest_send(workdir, run_env, subscribers)
        if measured.code != 0 or delivered < subscribers or not sink_rate:
            report.add(Row("dkim", "send with signing", None, "msg/s", note=f"sink got {delivered}"))
            return
        rates.append(sink_rate)
    unsigned = (rates[0] + rates[2]) / 2
    ratio = rates[1] / unsigned
    details = report.details.setdefault("dkim", {})
    details.update(send_rates=rates)
    if "signing_ms_per_message" in details:
        share = details["signing_ms_per_message"] / (1000 / unsigned)
        report.add(
            Row(
                "dkim",
                "in-process signing / unsigned send time",
                share,
                "×",
                note="what signing would cost in the sending process; a send signs in a helper process",
            )
        )
    report.add(
        Row(
            "dkim",
            f"digest send signed, {subscribers:,} msgs",
            rates[1],
            "msg/s",
            reference=unsigned,
            ratio=ratio,
            target=f"≥ {SIGNED_RATE_TARGET} × unsigned",
            met=ratio >= SIGNED_RATE_TARGET,
            note="ref = the same send unsigned (mean of a run before and after)",
        )
    )


def _reset_deliveries(env: dict[str, str]) -> None:
    """Each run sends the same digest to everyone again: forget the previous run's log."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DIGEST_DATABASE_URL"])
    with engine.begin() as connection:
        if connection.dialect.has_table(connection, "deliveries"):
            connection.execute(text("DELETE FROM deliveries"))
            connection.execute(text("UPDATE digests SET status = 'pending', completed_at = NULL"))
    engine.dispose()
