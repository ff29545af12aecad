"""Inline SVG charts drawn by the gateway itself: no chart library, nothing fetched from the internet.

The chart is markup built here, so every text in it (title, labels, units) is
escaped, and every number is formatted from a float (a NaN or an infinity is
drawn as nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from gateway.web.formats import decimal

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 14, 28


def _ticks(top: float) -> list[float]:
    step = top / 4
    return [step * k for k in range(5)]


def _fmt(value: float, unit: str, lang: str) -> str:
    return escape(decimal(value, 2, lang) if unit == "" else f"{value:.0f}{unit}")


def series_chart(
    values: Sequence[float],
    reference: float | None,
    *,
    title: str,
    unit: str = " s",
    ref_label: str = "",
    lang: str = "en",
) -> Markup:
    """Points joined by a line against a dashed reference (the standard); over it in red, under it in green.

    Ratios (no ``unit``) are written with the decimal mark of ``lang``: 1,00 in French.
    """
    values = [float(v) for v in values if math.isfinite(v)]
    if reference is not None and not math.isfinite(reference):
        reference = None
    if not values:
        return Markup("")
    top = max([*values, reference or 0.0]) * 1.15 or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (inner_w * (i + 0.5) / len(values))

    def y(v: float) -> float:
        return TOP + inner_h * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    parts.extend(
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_fmt(tick, unit, lang)}</text>'
        for tick in _ticks(top)
    )
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<path class="line" d="{path}"/>')
    if reference:
        parts.append(
            f'<line class="ref" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(reference):.1f}" y2="{y(reference):.1f}"/>'
            f'<text class="ref-label" x="{WIDTH - RIGHT}" y="{y(reference) - 5:.1f}" text-anchor="end">'
            f"{escape(ref_label)} {_fmt(reference, unit, lang)}</text>"
        )
    for i, v in enumerate(values):
        over = reference is not None and v > reference
        parts.append(
            f'<circle class="pt {"over" if over else "under"}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4">'
            f"<title>#{i + 1}: {_fmt(v, unit, lang)}</title></circle>"
        )
    label_every = max(1, len(values) // 12)
    parts.extend(
        f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{i + 1}</text>'
        for i in range(0, len(values), label_every)
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers and escaped text only


BAR_H, LABEL_W = 26, 190


def pareto_chart(lines: Sequence[tuple[str, float]], *, title: str, lang: str = "en") -> Markup:
    """Lost hours by reason, largest first, as horizontal bars with the cumulative share at the right.

    ``lines``: (label, seconds), already sorted; labels are the school's own words, escaped here.
    """
    kept = [(label, s) for label, s in lines if math.isfinite(s) and s > 0]
    if not kept:
        return Markup("")
    total = sum(s for _, s in kept)
    top = kept[0][1]
    inner_w = WIDTH - LABEL_W - 110
    height = TOP + BAR_H * len(kept) + 8
    parts = [
        f'<svg class="chart pareto" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    running = 0.0
    for i, (label, seconds) in enumerate(kept):
        running += seconds
        y = TOP + i * BAR_H
        width = inner_w * seconds / top
        hours = escape(decimal(seconds / 3600, 1, lang))
        share = escape(f"{running * 100 / total:.0f} %")
        parts.append(
            f'<text class="axis" x="{LABEL_W - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="lost" x="{LABEL_W}" y="{y + 4}" width="{width:.1f}" height="{BAR_H - 8}">'
            f"<title>{escape(label)}: {hours} h</title></rect>"
            f'<text class="axis" x="{LABEL_W + width + 6:.1f}" y="{y + 17}">{hours} h</text>'
            f'<text class="ref-label" x="{WIDTH - RIGHT}" y="{y + 17}" text-anchor="end">{share}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers and escaped text only
