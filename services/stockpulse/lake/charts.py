"""Inline SVG charts: the HTML report is one self-contained file, no script, no network."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BUY = "#2e7d32"
SELL = "#c62828"
NEUTRAL = "#1565c0"
ACCENT = "#ef6c00"
PALETTE = (NEUTRAL, ACCENT, BUY, SELL)


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


LEFT, RIGHT, TOP, BOTTOM = 56, 12, 34, 44


def _open(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<text x="{LEFT}" y="20" class="title">{escape(title)}</text>',
    ]


def _legend(series: Sequence[tuple[str, Sequence[float], str]], height: int) -> list[str]:
    parts = []
    for j, (name, _, color) in enumerate(series):
        x = LEFT + j * 130
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 7}" class="tick">{escape(name)}</text>')
    return [*parts, "</svg>"]


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    width: int = 640,
    height: int = 260,
) -> str:
    """Grouped vertical bars; negative values hang below the zero line."""
    left, right, top, bottom = LEFT, RIGHT, TOP, BOTTOM
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vals, _ in series for v in vals] or [0.0]
    hi, lo = max(max(values), 0.0), min(min(values), 0.0)
    span = (hi - lo) or 1.0
    zero_y = top + plot_h * hi / span
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    parts = [
        *_open(title, width, height),
        f'<line x1="{left}" x2="{width - right}" y1="{zero_y:.1f}" y2="{zero_y:.1f}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" class="tick" text-anchor="end">{_fmt(hi)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" class="tick" text-anchor="end">{_fmt(lo)}</text>',
    ]
    for i, label in enumerate(labels):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, vals, color) in enumerate(series):
            v = vals[i]
            h = plot_h * abs(v) / span
            y = zero_y - h if v >= 0 else zero_y
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{color}"><title>{escape(label)} {escape(name)}: {_fmt(v)}</title></rect>'
            )
        parts.append(
            f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{height - bottom + 16}" class="tick" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return "".join(parts + _legend(series, height))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    width: int = 640,
    height: int = 260,
) -> str:
    left, right, top, bottom = LEFT, RIGHT, TOP, BOTTOM
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vals, _ in series for v in vals] or [0.0]
    hi = max(max(values), 1.0)
    n = max(len(labels), 1)

    def xy(i: int, v: float) -> str:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        return f"{x:.1f},{top + plot_h - plot_h * v / hi:.1f}"

    parts = [
        *_open(title, width, height),
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" class="tick" text-anchor="end">{_fmt(hi)}</text>',
    ]
    for name, vals, color in series:
        points = " ".join(xy(i, v) for i, v in enumerate(vals))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for i, v in enumerate(vals):
            cx, cy = xy(i, v).split(",")
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"><title>{escape(labels[i])} {escape(name)}: '
                f"{_fmt(v)}</title></circle>"
            )
    if labels:
        parts.append(f'<text x="{left}" y="{height - bottom + 16}" class="tick">{escape(labels[0])}</text>')
        parts.append(
            f'<text x="{width - right}" y="{height - bottom + 16}" class="tick" text-anchor="end">'
            f"{escape(labels[-1])}</text>"
        )
    return "".join(parts + _legend(series, height))
