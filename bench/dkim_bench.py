"""5. DKIM: the cost of signing one recipient's message, and what signing does to the send rate.

Signing is per recipient (every message is personalized), so its cost is paid once per message.
Measured in the same run: our signer (OpenSSL RSA through `cryptography`, canonical forms computed
once per piece) against dkimpy's own `dkim.sign` on the same message, and `digest send` to the
same sink with and without DIGEST_DKIM_PRIVATE_KEY. Target: signing takes less than half of the
send rate (the signed run keeps more than half the unsigned run's rate).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import Report, Row, rate_loop

SIGNED_RATE_TARGET = 0.5


def _key_file(workdir: Path) -> tuple[Path, object]:
    from digest.dkim import generate_key, private_pem

    key = generate_key()
    path = workdir / "dkim.pem"
    path.write_bytes(private_pem(key))
    return path, key


def run_signing(report: Report, workdir: Path, count: int) -> None:
    import dkim

    from bench.send_bench import prepare_store, sample_message
    from digest.dkim import Signer, dns_value, verify

    _, env = prepare_store(workdir, 1)
    message, _ = sample_message(env)
    path, key = _key_file(workdir)
    signer = Signer(key, "bench", "example.org")
    now = int(time.time())
    assert verify(signer.sign(message, now) + message, dns_value(key))
    ours = rate_loop(lambda: signer.sign(message, now), count)
    pem = path.read_bytes()
    reference = rate_loop(
        lambda: dkim.sign(message, b"bench", b"example.org", pem, canonicalize=(b"relaxed", b"relaxed")),
        max(5, count // 20),
    )
    report.details["dkim"] = {"message_bytes": len(message), "ours_per_s": ours, "dkimpy_per_s": reference}
    report.add(
        Row(
            "dkim",
            "sign one message (RSA-2048)",
            1000 / ours,
            "ms",
            reference=1000 / reference,
            ratio=reference / ours,
            note=f"ref = dkimpy dkim.sign (pure-Python RSA); {len(message) // 1024} KB message",
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
    report.details.setdefault("dkim", {}).update(send_rates=rates)
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
