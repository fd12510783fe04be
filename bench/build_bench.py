"""1. Build: one digest rendered stage by stage, against node's mjml + juice on the same MJML."""

from __future__ import annotations

import json
import random
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.data import BUSY_WEEK_KEY, BUSY_WEEK_START, item_record
from bench.harness import REPO, Report, Row, median_of
from bench.node_reference import ensure_node, run_reference

RENDER_RATIO_TARGET = 0.5
STAGES = ("context", "jinja2", "mjml", "inline", "text")


def seed_items(settings) -> list:
    """The 12 items of seeds/, dated inside the benchmark week, newest first."""
    from digest.sources import read_source

    found = read_source(str(REPO / "seeds"), settings.timezone)
    return [
        item.with_changes(published=BUSY_WEEK_START + timedelta(days=6, minutes=-n))
        for n, item in enumerate(found)
    ]


def generated_items(settings, count: int) -> list:
    from digest.sources.records import item_from_record

    rng = random.Random(200)
    records = [item_record(rng, n, BUSY_WEEK_START + timedelta(minutes=n)) for n in range(count)]
    items = [item_from_record(r, "bench", settings.timezone) for r in records]
    return sorted(items, key=lambda i: i.published, reverse=True)


def stage_times(settings, items: list, repeat: int) -> tuple[dict[str, float], tuple[str, str], int]:
    """Median seconds of each stage over `repeat` runs, all `items` shown; (MJML, theme CSS); HTML size."""
    from digest.periods import parse_period
    from digest.render import CSS_TEMPLATE, HTML_TEMPLATE, TEXT_TEMPLATE
    from digest.render.context import build_context
    from digest.render.html import compile_mjml, inline_css
    from digest.render.templates import environment, render

    env = environment(settings.templates_dir)
    period = parse_period("weekly", BUSY_WEEK_KEY, settings.timezone)
    placeholder = f"https://digest.invalid/u-{secrets.token_hex(12)}"
    state: dict = {}

    def context() -> None:
        state["context"] = build_context(settings, period, items, placeholder, len(items))

    def jinja2() -> None:
        state["mjml"] = render(env, HTML_TEMPLATE, digest=state["context"])

    def mjml() -> None:
        state["raw"] = compile_mjml(state["mjml"], HTML_TEMPLATE)

    def inline() -> None:
        state["css"] = render(env, CSS_TEMPLATE, digest=state["context"])
        state["html"] = inline_css(state["raw"], state["css"])

    def text() -> None:
        state["text"] = render(env, TEXT_TEMPLATE, digest=state["context"])

    functions = {"context": context, "jinja2": jinja2, "mjml": mjml, "inline": inline, "text": text}
    for function in functions.values():  # warm-up: template compilation, imports, caches
        function()
    times = {name: median_of(function, repeat) for name, function in functions.items()}
    return times, (state["mjml"], state["css"]), len(state["html"].encode())


def whole_render(settings, items: list, repeat: int) -> tuple[float, int]:
    """The library entry point as `digest build` and `digest send` call it (with its size budget)."""
    from digest.periods import parse_period
    from digest.render import render_digest

    period = parse_period("weekly", BUSY_WEEK_KEY, settings.timezone)
    now = datetime.now(UTC)
    rendered = render_digest(settings, period, items, now)
    return median_of(lambda: render_digest(settings, period, items, now), repeat), rendered.item_count


def run(report: Report, workdir: Path, sizes: tuple[int, ...], repeat: int, node_repeat: int) -> None:
    from digest.config import load_settings

    workdir.mkdir(parents=True, exist_ok=True)
    documents, ours = {}, {}
    for size in sizes:
        settings = load_settings(environ={"DIGEST_ITEM_LIMIT": str(max(size, 30))}, env_file=None)
        items = seed_items(settings) if size == 12 else generated_items(settings, size)
        times, (mjml, css), html_bytes = stage_times(settings, items, repeat)
        whole, shown = whole_render(settings, items, repeat)
        name = f"{size}-item"
        documents[name] = (mjml, css)
        ours[name] = {"stages_s": times, "html_bytes": html_bytes, "render_digest_s": whole, "shown": shown}
        (workdir / f"{name}.mjml").write_text(mjml, encoding="utf-8")
    reference, why_not = _reference(documents, node_repeat)
    report.details["build"] = {"ours": ours, "reference": reference, "reference_unavailable": why_not}
    for name, figures in ours.items():
        _rows(report, name, figures, (reference or {}).get("results", {}).get(name), why_not)


def _reference(documents: dict[str, str], repeat: int) -> tuple[dict | None, str | None]:
    why_not = ensure_node()
    if why_not:
        return None, why_not
    try:
        return run_reference(documents, warmup=max(3, repeat // 2), repeat=repeat), None
    except (RuntimeError, json.JSONDecodeError) as exc:
        return None, str(exc)


def _rows(report: Report, name: str, figures: dict, ref: dict | None, why_not: str | None) -> None:
    stages = figures["stages_s"]
    for stage in STAGES:
        ref_ms = None
        if ref and stage == "mjml":
            ref_ms = ref["mjml_ms"]
        elif ref and stage == "inline":
            ref_ms = ref["juice_ms"]
        report.add(
            Row(
                "build",
                f"{name}: {stage}",
                stages[stage] * 1000,
                "ms",
                reference=ref_ms,
                ratio=stages[stage] * 1000 / ref_ms if ref_ms else None,
                note={"mjml": "node: mjml", "inline": "node: juice"}.get(stage, ""),
            )
        )
    total_ms = sum(stages.values()) * 1000
    ref_total = ref["total_ms"] if ref else None
    ratio = total_ms / ref_total if ref_total else None
    report.add(
        Row(
            "build",
            f"{name}: whole render",
            total_ms,
            "ms",
            reference=ref_total,
            ratio=ratio,
            target=f"≤ {RENDER_RATIO_TARGET} × ref",
            met=None if ratio is None else ratio <= RENDER_RATIO_TARGET,
            note=why_not or f"{figures['html_bytes'] // 1024} KB HTML; ref = mjml + juice",
        )
    )
    report.add(
        Row(
            "build",
            f"{name}: render_digest()",
            figures["render_digest_s"] * 1000,
            "ms",
            note=f"library entry point; shows {figures['shown']} items (102 KB Gmail budget)",
        )
    )
