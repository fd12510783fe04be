"""Theme colours that stay readable: an organizer picks one brand colour, we derive safe shades.

A pale brand colour would give unreadable links on white, a dark one unreadable links in dark mode;
WCAG contrast (relative luminance) decides how far to shade it each way.
"""

from __future__ import annotations

from functools import lru_cache

LIGHT_BACKGROUND = "#ffffff"
DARK_BACKGROUND = "#1c1c1f"
MIN_CONTRAST = 4.8  # a little over WCAG AA (4.5) so rounding never drops below it


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0, min(255, c))):02x}" for c in rgb)


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    a, b = sorted((luminance(first), luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _mix(colour: str, toward: str, amount: float) -> str:
    a, b = _rgb(colour), _rgb(toward)
    return _hex(tuple(x + (y - x) * amount for x, y in zip(a, b, strict=True)))


def readable_on(colour: str, background: str, minimum: float = MIN_CONTRAST) -> str:
    """`colour`, shaded toward black or white just enough to read on `background`."""
    toward = "#000000" if luminance(background) > 0.5 else "#ffffff"
    for step in range(21):
        shade = _mix(colour, toward, step / 20)
        if contrast(shade, background) >= minimum:
            return shade
    return toward


def theme(brand: str) -> dict[str, str]:
    """The accent for light mode (also the header band behind white text) and for dark mode."""
    return dict(_theme(brand))


@lru_cache(maxsize=16)
def _theme(brand: str) -> tuple[tuple[str, str], ...]:
    """Up to 21 contrast trials per colour: the same few brand colours every render, so kept."""
    return (
        ("accent", readable_on(brand, LIGHT_BACKGROUND)),
        ("accent_dark_mode", readable_on(brand, DARK_BACKGROUND)),
    )
