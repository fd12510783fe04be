"""6. Languages: rendering one digest for six languages, against one render of it in the same run.

A send renders once per language its readers speak (digest.render.render_languages), never once
per recipient. Target: six languages cost at most six times one render. Best of several runs, taken in
turns, in CPU time; every run starts with the render caches empty.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial

from bench.build_bench import generated_items, seed_items
from bench.data import BUSY_WEEK_KEY
from bench.harness import Report, Row

LANGS = ("en", "es", "fr", "de", "pt", "ar")
TARGET = len(LANGS)


def cold(function):
    """`function` with the render caches emptied first: a send renders a new digest's items cold."""
    from digest.render.context import _item_parts, _summary
    from digest.render.formats import item_date
    from digest.render.html import _inliner
    from digest.render.wrap import wrap

    def call():
        for cache in (_summary, _item_parts, item_date, _inliner, wrap):
            cache.cache_clear()
        return function()

    return call


def interleaved(first, second, repeat: int) -> tuple[float, float]:
    """Best of `repeat` runs of each, taken in turns, in this process's CPU seconds: on a machine
    shared by other work, wall time mostly measures who else was running (a 3 ms render took 3 or
    12 ms depending on preemption)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for function, spent in zip((first, second), times, strict=True):
            started = time.process_time()
            function()
            spent.append(time.process_time() - started)
    return min(times[0]), min(times[1])


def run(report: Report, sizes: tuple[int, ...], repeat: int) -> None:
    from digest.config import load_settings
    from digest.periods import parse_period
    from digest.render import render_digest, render_languages

    details = {}
    now = datetime.now(UTC)
    for size in sizes:
        settings = load_settings(environ={"DIGEST_ITEM_LIMIT": str(max(size, 30))}, env_file=None)
        items = seed_items(settings) if size == 12 else generated_items(settings, size)
        period = parse_period("weekly", BUSY_WEEK_KEY, settings.timezone)
        one_render = cold(partial(render_digest, settings, period, items, now, lang="en"))
        six_renders = cold(partial(render_languages, settings, period, items, now, LANGS))
        six_renders()  # warm-up: every language's templates and catalog
        one, six = interleaved(one_render, six_renders, max(repeat, 3))
        ratio = six / one
        details[f"{size}-item"] = {"one_render_s": one, "six_languages_s": six, "ratio": ratio}
        report.add(
            Row(
                "locales",
                f"{size}-item: 6 languages",
                six * 1000,
                "ms",
                reference=one * 1000,
                ratio=ratio,
                target=f"≤ {TARGET} × one render",
                met=ratio <= TARGET,
                note="ref = one English render_digest(); " + ", ".join(LANGS),
            )
        )
    report.details["locales"] = details
