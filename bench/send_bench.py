"""3. Send and 4. Memory: the real `digest send` to smtp-sink, against smtplib to the same sink."""

from __future__ import annotations

import os
import resource
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from bench.data import BUSY_WEEK_KEY, add_subscribers, write_week
from bench.harness import Measured, Report, Row, check, digest_env, run_digest
from bench.sink import SmtpSink
from bench.smtp_reference import send_reference
from bench.source_reference import SESSIONS, send_source

# Issue 17: the whole `digest send` run against whole runs of the two reference clients.
SMTPLIB_RATIO_TARGET = 1.5
SOURCE_RATIO_TARGET = 0.8
RSS_GROWTH_TARGET_MB = 30.0
# The memory runs only need to finish: more connections make the 100,000-message run shorter, and
# both sizes use the same number, so the growth between them is still the subscribers' share.
MEMORY_CONCURRENCY = 16


def concurrency() -> int:
    return int(os.environ.get("DIGEST_SEND_CONCURRENCY", "4"))


def prepare_store(workdir: Path, subscribers: int) -> tuple[Path, dict[str, str]]:
    """A store with one 12-item week and `subscribers` active weekly subscribers."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "send.db"
    db.unlink(missing_ok=True)
    env = digest_env(workdir, db)
    source = write_week(workdir / "week.json", 12)
    check(run_digest(["ingest", str(source)], env, workdir), "digest ingest")
    add_subscribers(env["DIGEST_DATABASE_URL"], subscribers)
    return db, env


def digest_send(
    workdir: Path, env: dict[str, str], expected: int, connections: int | None = None
) -> tuple[Measured, float | None, int]:
    """One `digest send` run to a fresh sink: (the run, the sink-side rate, messages the sink got)."""
    with SmtpSink() as sink:
        send_env = {
            **env,
            "DIGEST_SMTP_HOST": "127.0.0.1",
            "DIGEST_SMTP_PORT": str(sink.port),
            "DIGEST_SMTP_SECURITY": "none",
            "DIGEST_SEND_CONCURRENCY": str(connections or concurrency()),
            **_processes(),
        }
        measured = run_digest(["send", "--cadence", "weekly", "--period", BUSY_WEEK_KEY], send_env, workdir)
        sink.wait_for(expected, timeout=5)
        return measured, sink.rate(sink.count), sink.count


def reference_send(message: bytes, total: int) -> tuple[float, float | None, float]:
    """(wall-clock rate, sink-side rate, CPU seconds) of the smtplib reference client."""
    with SmtpSink() as sink:
        before = resource.getrusage(resource.RUSAGE_SELF)
        seconds = send_reference(sink.port, message, total, concurrency())
        after = resource.getrusage(resource.RUSAGE_SELF)
        sink.wait_for(total, timeout=5)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return total / seconds, sink.rate(sink.count), cpu


def sample_message(env: dict[str, str]) -> tuple[bytes, str]:
    """The bytes digest sends to one recipient, when mail.py and compose.py exist; else a stand-in."""
    try:
        from digest.compose import render_period
        from digest.config import load_settings
        from digest.mail import prepare_message
        from digest.periods import parse_period
        from digest.store import open_engine
        from digest.tokens import unsubscribe_url
    except ImportError:
        return _stand_in(), "stand-in 40 KB message (digest.mail/compose not available)"
    settings = load_settings(environ=env, env_file=None)
    engine = open_engine(settings.database_url)
    now = datetime.now(UTC)
    rendered = render_period(
        settings, engine, "weekly", parse_period("weekly", BUSY_WEEK_KEY, settings.timezone), now
    )
    prepared = prepare_message(settings, rendered, now)
    url = unsubscribe_url(settings.base_url, settings.secret_key, 1)
    data = prepared.personalize(
        "reader000000@bench.example.org", "Reader 0", 1, url, "<bench.1@example.org>"
    ).data
    engine.dispose()
    return data, "digest's own message for one recipient"


def _stand_in() -> bytes:
    message = EmailMessage()
    message["From"] = "Bench <bench@example.org>"
    message["To"] = "reader@bench.example.org"
    message["Subject"] = "Bench digest"
    message.set_content("Plain text part. " * 400)
    message.add_alternative(
        "<p>HTML part with enough markup to weigh like a digest.</p>" * 600, subtype="html"
    )
    return message.as_bytes()


def run_send(report: Report, workdir: Path, subscribers: int) -> None:
    _, env = prepare_store(workdir, subscribers)
    message, what = sample_message(env)
    ref_before = reference_send(message, subscribers)
    source_before = send_source(subscribers, len(message))
    ours, our_sink_rate, delivered = digest_send(workdir, env, subscribers)
    source_after = send_source(subscribers, len(message))
    ref_after = reference_send(message, subscribers)
    # The reference runs bracket ours in time: their mean stands for the machine's state during
    # our run (other work on a shared machine moves all of them).
    ref_wall = (ref_before[0] + ref_after[0]) / 2
    ref_sink = _mean(ref_before[1], ref_after[1])
    ref_cpu_ms = (ref_before[2] + ref_after[2]) / 2 / subscribers * 1000
    source = _mean(source_before, source_after)
    details = {
        "subscribers": subscribers,
        "concurrency": concurrency(),
        "processes": _processes().get("DIGEST_SEND_PROCESSES", "default (one, on SQLite)"),
        "message_bytes": len(message),
        "reference_message": what,
        "reference_wall_rates": [ref_before[0], ref_after[0]],
        "reference_sink_rates": [ref_before[1], ref_after[1]],
        "reference_cpu_ms_per_msg": ref_cpu_ms,
        "smtp_source_rates": [source_before, source_after],
    }
    report.details["send"] = details
    if ours.code != 0 or delivered < subscribers:
        note = _last(ours.err) if ours.code != 0 else f"sink got {delivered} of {subscribers}"
        report.add(Row("send", f"digest send to {subscribers:,}", None, "msg/s", ref_sink, note=note))
        return
    cpu_ms = ours.cpu_s / subscribers * 1000
    details.update(
        wall_s=ours.seconds, sink_rate=our_sink_rate, rss_mb=ours.max_rss_mb, cpu_ms_per_msg=cpu_ms
    )
    _send_rows(report, subscribers, ours, our_sink_rate, ref_sink, ref_wall, source, cpu_ms, ref_cpu_ms)


def _send_rows(report, subscribers, ours, our_sink_rate, ref_sink, ref_wall, source, cpu_ms, ref_cpu_ms):
    wall = subscribers / ours.seconds
    report.add(
        Row(
            "send",
            f"digest send, {subscribers:,} msgs, sink-side rate",
            our_sink_rate,
            "msg/s",
            reference=ref_sink,
            ratio=our_sink_rate / ref_sink if our_sink_rate and ref_sink else None,
            note=f"{concurrency()} connections; reference: smtplib, {concurrency()} threads",
        )
    )
    ratio = wall / ref_wall
    report.add(
        Row(
            "send",
            "digest send, whole CLI run vs smtplib",
            wall,
            "msg/s",
            reference=ref_wall,
            ratio=ratio,
            target=f"≥ {SMTPLIB_RATIO_TARGET} × ref",
            met=ratio >= SMTPLIB_RATIO_TARGET,
            note=f"{ours.seconds:.1f} s wall (start-up and render included)",
        )
    )
    source_ratio = wall / source if source else None
    report.add(
        Row(
            "send",
            f"digest send, whole CLI run vs smtp-source -s {SESSIONS}",
            wall,
            "msg/s",
            reference=source,
            ratio=source_ratio,
            target=f"≥ {SOURCE_RATIO_TARGET} × ref",
            met=None if source_ratio is None else source_ratio >= SOURCE_RATIO_TARGET,
            note="smtp-source: whole run, same message length" if source else "smtp-source not installed",
        )
    )
    report.add(
        Row(
            "send",
            "CPU time per message (user + sys)",
            cpu_ms,
            "ms",
            reference=ref_cpu_ms,
            ratio=cpu_ms / ref_cpu_ms if ref_cpu_ms else None,
            note="less sensitive to other load than rates; digest's includes start-up and render",
        )
    )


def run_memory(report: Report, workdir: Path, small: int, large: int) -> None:
    peaks = {}
    for count in (small, large):
        _, env = prepare_store(workdir / f"mem-{count}", count)
        measured, _, delivered = digest_send(workdir / f"mem-{count}", env, count, MEMORY_CONCURRENCY)
        if measured.code != 0 or delivered < count:
            note = _last(measured.err) if measured.code != 0 else f"sink got {delivered} of {count}"
            report.add(Row("memory", f"peak RSS, send to {count:,}", None, "MB", note=note))
            return
        peaks[count] = measured.max_rss_mb
        report.add(
            Row(
                "memory",
                f"peak RSS, send to {count:,}",
                measured.max_rss_mb,
                "MB",
                note=f"{MEMORY_CONCURRENCY} connections; {count / measured.seconds:,.0f} msg/s wall",
            )
        )
    growth = peaks[large] - peaks[small]
    report.add(
        Row(
            "memory",
            f"RSS growth {small:,} → {large:,}",
            growth,
            "MB",
            target=f"< {RSS_GROWTH_TARGET_MB:.0f} MB",
            met=growth < RSS_GROWTH_TARGET_MB,
        )
    )
    report.details["memory"] = {"peak_rss_mb": peaks}


def _processes() -> dict[str, str]:
    """BENCH_SEND_PROCESSES=1 measures the one-process send (the bench's environment drops DIGEST_*)."""
    wanted = os.environ.get("BENCH_SEND_PROCESSES")
    return {"DIGEST_SEND_PROCESSES": wanted} if wanted else {}


def _mean(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _last(text: str) -> str:
    return (text.strip().splitlines() or ["failed"])[-1][:120]
