"""`python -m bench.whatif`: the render stages again with two suggested replacements patched in,
in this process only (no file of digest/ is changed), to size the fixes proposed in bench/README.md.

1. CSS inlining with css-inline (Rust; `pip install css-inline`) instead of premailer + cssutils,
   configured to do the same job: inline only the theme stylesheet, leave the page's <style> blocks.
2. Text wrapping with a greedy word wrap instead of textwrap.fill (regex-heavy). The text part it
   gives is compared with textwrap's, byte for byte, before any figure is printed.
"""

from __future__ import annotations

import re
import sys

from bench.harness import Report

# textwrap breaks only at ASCII white space: a no-break space stays inside its word.
_ASCII_SPACE = re.compile(r"[\t\n\x0b\x0c\r ]+")


def fast_wrap(text: str, width: int = 78, indent: str = "", first: str | None = None) -> str:
    """textwrap.fill(break_long_words=True, break_on_hyphens=False) for single-spaced text: greedy,
    and a word longer than a line fills the rest of the current line first, as textwrap does."""
    words, lines, line, used = [w for w in _ASCII_SPACE.split(text) if w], [], [], 0
    prefix = indent if first is None else first
    i = 0
    while i < len(words):
        room, word, gap = width - len(prefix), words[i], 1 if line else 0
        if used + gap + len(word) <= room:
            line.append(word)
            used += gap + len(word)
            i += 1
            continue
        tail = ""
        if len(word) > room:
            left = room - used - gap
            if left > 0:
                line.append(word[:left])
                words[i] = word[left:]
            elif left == 0 and line:  # the space fitted, the word did not: textwrap keeps the space
                tail = " "
        lines.append(prefix + " ".join(line) + tail)
        line, used, prefix = [], 0, indent
    if line:
        lines.append(prefix + " ".join(line))
    return "\n".join(lines)


def css_inline_inliner():
    import css_inline

    from digest.render import html as render_html

    def inline_css(html: str, css: str) -> str:
        inliner = css_inline.CSSInliner(
            inline_style_tags=False, keep_style_tags=True, load_remote_stylesheets=False, extra_css=css
        )
        return "<!doctype html>\n" + render_html._DOCTYPE.sub("", inliner.inline(html))

    return inline_css


def main() -> int:
    import digest.render as render_package
    from bench import build_bench
    from digest.render import html as render_html
    from digest.render import templates

    before = Report()
    build_bench.run(before, _tmp(), (12, 200), 10, 20)
    texts = _texts()
    templates.wrap = fast_wrap
    original_environment = templates.environment

    def environment(override_dir):
        env = original_environment(override_dir)
        env.filters["wrap"] = fast_wrap
        return env

    templates.environment = render_package.environment = environment
    if _texts() != texts:
        print("whatif: fast_wrap changes the text part; not comparable", file=sys.stderr)
        return 1
    try:
        render_html.inline_css = render_package.inline_css = css_inline_inliner()
    except ImportError:
        print("whatif: css-inline is not installed (pip install css-inline); wrap only", file=sys.stderr)
    after = Report()
    build_bench.run(after, _tmp(), (12, 200), 10, 20)
    for old, new in zip(before.rows, after.rows, strict=True):
        ratios = f"ratio {_r(old.ratio)} -> {_r(new.ratio)}"
        print(f"{old.measure:28s} {old.ours:8.2f} -> {new.ours:8.2f} ms   {ratios}")
    return 0


def _texts() -> list[str]:
    from bench.build_bench import generated_items, seed_items
    from bench.data import BUSY_WEEK_KEY
    from digest.config import load_settings
    from digest.periods import parse_period
    from digest.render.context import build_context
    from digest.render.templates import environment, render

    out = []
    for size in (12, 200):
        settings = load_settings(environ={"DIGEST_ITEM_LIMIT": str(max(size, 30))}, env_file=None)
        items = seed_items(settings) if size == 12 else generated_items(settings, size)
        period = parse_period("weekly", BUSY_WEEK_KEY, settings.timezone)
        context = build_context(settings, period, items, "https://x.invalid/u", len(items))
        out.append(render(environment(None), "digest.txt", digest=context))
    return out


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="digest-whatif-"))


def _r(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
