"""Charts drawn on the server as SVG (no script needed to read them, nothing fetched from outside):
bars for G3, a line for the academy's weekly curve. Each bar or point carries its detail as an SVG
<title>, which browsers show on hover (seed 003 §6.3) and screen readers read; every chart is
followed on its page by a table of the same numbers."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 86
BAR_FILL = "#000091"  # DSFR « bleu France »
LINE_COLOURS = ("#000091", "#c9191e", "#18753c", "#b34000")


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def _axis(top_value: int) -> list[str]:
    plot_height = HEIGHT - TOP - BOTTOM
    parts = []
    for tick in range(5):
        value = top_value * tick // 4
        y = TOP + plot_height - plot_height * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value}</text>')
    return parts


def _label(x: float, text: str) -> str:
    y = HEIGHT - BOTTOM + 14
    short = text if len(text) <= 18 else text[:17] + "…"
    return (f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {y})">{escape(short)}</text>')


def bar_chart(title: str, points: list[tuple[str, int]], details: dict[str, list[tuple[str, int]]],
              unit: str = "accès") -> Markup:
    """Vertical bars, one per (label, count); hovering a bar tells its count and its detail."""
    top_value = _nice_max(max((count for _, count in points), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'class="ts-chart" aria-label="{escape(title)}"><title>{escape(title)}</title>', *_axis(top_value)]
    for index, (label, count) in enumerate(points):
        height = plot_height * count / top_value
        x = LEFT + index * slot + slot * 0.15
        y = TOP + plot_height - height
        detail = "; ".join(f"{name} : {value}" for name, value in details.get(label, []))
        tooltip = f"{label} : {count} {unit}" + (f" ({detail})" if detail else "")
        parts.append(f'<g tabindex="0"><title>{escape(tooltip)}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{max(height, 0.5):.1f}" '
                     f'fill="{BAR_FILL}"/></g>')
        parts.append(_label(x + slot * 0.35, label))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, labels: list[str], series: list[tuple[str, list[int]]], unit: str) -> Markup:
    """One line per (name, values), over `labels`; hovering a point tells its value."""
    top_value = _nice_max(max((v for _, values in series for v in values), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(labels) - 1, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'class="ts-chart" aria-label="{escape(title)}"><title>{escape(title)}</title>', *_axis(top_value)]
    every = max(1, len(labels) // 12)
    for index, label in enumerate(labels):
        if index % every == 0:
            parts.append(_label(LEFT + index * step, label))
    for number, (name, values) in enumerate(series):
        colour = LINE_COLOURS[number % len(LINE_COLOURS)]
        coords = [(LEFT + index * step, TOP + plot_height - plot_height * value / top_value)
                  for index, value in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), label, value in zip(coords, labels, values, strict=True):
            parts.append(f'<g tabindex="0"><title>{escape(f"{name}, semaine du {label} : {value} {unit}")}</title>'
                         f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
