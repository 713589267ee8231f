"""Charts for the report pages, drawn on the server as SVG: line charts, bar charts (grouped or
stacked) and heat maps, with axes, labels, a legend, and a <title> and <desc> for screen readers.

No JavaScript library and nothing from outside: the pages' Content-Security-Policy allows neither,
and a chart drawn here prints exactly as it shows.  Colours are SVG presentation attributes (not
`style`, which the CSP refuses inline).  Every chart comes with the numbers behind it as a `Table`
(shown under the chart, and downloadable as CSV: `Table.csv`).

Everything here is pure: values in, text out (tests/web/test_charts.py).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

# Okabe-Ito colours: told apart by colour-blind readers too, and dark enough on white and in print.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#6a3d9a", "#4d4d4d")
WIDTH, HEIGHT = 720, 360
# Room around the plot for the axis labels (left), the category labels (bottom) and the legend (top).
LEFT, RIGHT, TOP, BOTTOM = 72, 32, 40, 64
_IDS = count(1)
# A CSV cell starting with one of these is a formula to a spreadsheet: it is quoted as text.
_FORMULA = re.compile(r"^[=+\-@\t\r]")


@dataclass(frozen=True)
class Series:
    """One named run of values, one value per category (None: no value, drawn as a gap)."""

    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Table:
    """The numbers behind a chart: column headers and rows of cells as shown."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str | int | float, ...], ...]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.headers)
        writer.writerows([[_csv_cell(cell) for cell in row] for row in self.rows])
        return out.getvalue()


def _csv_cell(cell: str | int | float) -> str | int | float:
    if isinstance(cell, str) and _FORMULA.match(cell):
        return "'" + cell
    return cell


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round axis ticks from `low` to at least `high`: steps of 1, 2 or 5 times a power of ten,
    starting at zero when the values allow (bars always do)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    raw = (high - low) / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while True:
        ticks.append(round(value, 10))
        if value >= high:
            return ticks
        value += step


def plain_number(value: float) -> str:
    """An axis label: whole numbers without decimals, thousands separated."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


# ---- the pieces every chart has ----------------------------------------------------------------


def _open(kind: str, title: str, desc: str, height: int = HEIGHT) -> tuple[list[str], str]:
    ident = f"chart{next(_IDS)}"
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
    ]
    return head, ident


def _legend(series: Sequence[Series]) -> list[str]:
    parts = ['<g class="legend">']
    x = LEFT
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="12" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="22" font-size="13">{escape(one.name)}</text>')
        x += 28 + 8 * max(len(one.name), 2) + 6 * sum(1 for ch in one.name if ord(ch) > 0x2E80)
    parts.append("</g>")
    return parts


def _value_axis(ticks: list[float], y_of: Callable[[float], float], fmt: Callable[[float], str]) -> list[str]:
    parts = ['<g class="axis y">']
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9d9d9"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{escape(fmt(tick))}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#1a1a1a"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_of(0):.1f}" y2="{y_of(0):.1f}" stroke="#1a1a1a"/>'
    )
    parts.append("</g>")
    return parts


def _category_labels(labels: Sequence[str], x_of: Callable[[int], float]) -> list[str]:
    """Labels under the plot; only every n-th when they would crowd, and slanted when long."""
    every = max(1, math.ceil(len(labels) / 12))
    slant = any(len(label) > 6 for label in labels) or len(labels) > 8
    parts = ['<g class="axis x">']
    for index, label in enumerate(labels):
        if index % every:
            continue
        x, y = x_of(index), HEIGHT - BOTTOM + 16
        short = label if len(label) <= 16 else label[:15] + "…"
        rotate = f' transform="rotate(-30 {x:.1f} {y})"' if slant else ""
        anchor = "end" if slant else "middle"
        parts.append(f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" font-size="12"{rotate}>{escape(short)}</text>')
    parts.append("</g>")
    return parts


def _scale(low: float, high: float) -> Callable[[float], float]:
    span = (high - low) or 1.0
    return lambda value: HEIGHT - BOTTOM - (value - low) / span * (HEIGHT - BOTTOM - TOP)


def _numbers(series: Sequence[Series]) -> list[float]:
    return [value for one in series for value in one.values if value is not None]


# ---- the charts --------------------------------------------------------------------------------


def line_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = plain_number,
) -> Markup:
    """A line per series over the categories (days, hours), a point at each value."""
    _check(labels, series)
    numbers = _numbers(series)
    ticks = nice_ticks(min(numbers, default=0), max(numbers, default=0))
    y_of = _scale(ticks[0], ticks[-1])
    inset = 16  # the first and last points clear of the axis and the edge
    plot = WIDTH - LEFT - RIGHT - 2 * inset
    step = plot / max(1, len(labels) - 1) if len(labels) > 1 else 0

    def x_of(index: int) -> float:
        return LEFT + inset + (index * step if len(labels) > 1 else plot / 2)

    parts, _ = _open("line", title, desc)
    parts += _value_axis(ticks, y_of, fmt) + _category_labels(labels, x_of)
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{escape(one.name)}">')
        for run in _runs(one.values):
            points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for i, value in enumerate(one.values):
            if value is None:
                continue
            parts.append(
                f'<circle class="point" cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="4" fill="{colour}">'
                f"<title>{escape(one.name)} · {escape(labels[i])}: {escape(fmt(value))}</title></circle>"
            )
        parts.append("</g>")
    parts += _legend(series) + ["</svg>"]
    return Markup("\n".join(parts))


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of a series (a None breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if run]


def bar_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    stacked: bool = False,
    fmt: Callable[[float], str] = plain_number,
) -> Markup:
    """Bars per category: side by side for each series (grouped), or one on another (stacked).
    Every value has its bar, a zero one too, so the bars are categories × series."""
    _check(labels, series)
    if stacked:
        tops = [sum(v or 0 for v in column) for column in zip(*(one.values for one in series), strict=True)]
        lows = [sum(min(v or 0, 0) for v in column) for column in zip(*(one.values for one in series), strict=True)]
        ticks = nice_ticks(min(lows, default=0), max(tops, default=0))
    else:
        numbers = _numbers(series)
        ticks = nice_ticks(min(numbers, default=0), max(numbers, default=0))
    y_of = _scale(ticks[0], ticks[-1])
    band = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    gap = band * 0.2
    width = (band - gap) / (1 if stacked else max(1, len(series)))

    def x_of(index: int) -> float:
        return LEFT + band * index + band / 2

    parts, _ = _open("bar stacked" if stacked else "bar grouped", title, desc)
    parts += _value_axis(ticks, y_of, fmt) + _category_labels(labels, x_of)
    bases = [0.0] * len(labels)
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{escape(one.name)}">')
        for i, value in enumerate(one.values):
            amount = value or 0.0
            if stacked:
                low, high, x = bases[i], bases[i] + amount, LEFT + band * i + gap / 2
                bases[i] = high
            else:
                low, high, x = 0.0, amount, LEFT + band * i + gap / 2 + width * index
            y_top, y_bottom = sorted((y_of(low), y_of(high)))
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y_top:.1f}" width="{max(width - 1, 1):.1f}" '
                f'height="{y_bottom - y_top:.1f}" fill="{colour}">'
                f"<title>{escape(one.name)} · {escape(labels[i])}: {escape(fmt(amount))}</title></rect>"
            )
        parts.append("</g>")
    parts += _legend(series) + ["</svg>"]
    return Markup("\n".join(parts))


def heat_map(
    title: str,
    desc: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    fmt: Callable[[float], str] = plain_number,
) -> Markup:
    """A cell per row × column, darker for more, its number written in it; a scale under it."""
    if len(values) != len(rows) or any(len(row) != len(columns) for row in values):
        raise ValueError("a heat map has one value per row and column")
    numbers = [v for row in values for v in row if v is not None]
    high = max(numbers, default=0) or 1
    left = 24 + 8 * max((len(r) for r in rows), default=2)
    cell_w = (WIDTH - left - RIGHT) / max(1, len(columns))
    cell_h = 28
    height = TOP + cell_h * len(rows) + 70
    parts, _ = _open("heat", title, desc, height)
    parts.append('<g class="cells">')
    for r, row in enumerate(values):
        y = TOP + r * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + 18}" text-anchor="end" font-size="12">{escape(rows[r])}</text>')
        for c, value in enumerate(row):
            x = left + c * cell_w
            shade = _shade(0 if value is None else value / high)
            label = "–" if value is None else fmt(value)
            ink = "#ffffff" if value is not None and value / high > 0.55 else "#1a1a1a"
            parts.append(
                f'<rect class="cell" x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" fill="{shade}">'
                f"<title>{escape(rows[r])} · {escape(columns[c])}: {escape(label)}</title></rect>"
            )
            if cell_w >= 28:
                parts.append(
                    f'<text x="{x + cell_w / 2:.1f}" y="{y + 18}" text-anchor="middle" font-size="11" '
                    f'fill="{ink}">{escape(label)}</text>'
                )
    parts.append("</g>")
    bottom = TOP + cell_h * len(rows)
    every = max(1, math.ceil(len(columns) / 12))
    parts.append('<g class="axis x">')
    for c, column in enumerate(columns):
        if c % every == 0:
            x = left + c * cell_w + cell_w / 2
            parts.append(
                f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="12">{escape(column)}</text>'
            )
    parts.append("</g>")
    # The scale: light is none, dark is the most.
    parts.append('<g class="scale">')
    for step in range(5):
        parts.append(
            f'<rect x="{left + step * 24}" y="{bottom + 34}" width="24" height="12" fill="{_shade(step / 4)}"/>'
        )
    parts.append(f'<text x="{left + 128}" y="{bottom + 45}" font-size="12">0 – {escape(fmt(high))}</text>')
    parts.append("</g></svg>")
    return Markup("\n".join(parts))


def _shade(share: float) -> str:
    """From near white (none) to the palette's blue (the most)."""
    share = min(1.0, max(0.0, share))
    start, end = (0xF2, 0xF7, 0xFB), (0x08, 0x3D, 0x77)
    red, green, blue = (round(s + (e - s) * share) for s, e in zip(start, end, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"series {one.name!r} has {len(one.values)} values for {len(labels)} categories")


@dataclass(frozen=True)
class Step:
    """One bar of a waterfall: a total (drawn from zero) or a change (drawn from the running total)."""

    label: str
    value: float
    total: bool = False


# A waterfall's colours: totals blue, what adds green, what takes away vermilion (Okabe-Ito).
WATERFALL_COLOURS = {"total": PALETTE[0], "up": PALETTE[2], "down": PALETTE[1]}


def waterfall_chart(title: str, desc: str, steps: Sequence[Step], fmt: Callable[[float], str] = plain_number) -> Markup:
    """A waterfall: each change floats from the running total before it to the one after, and a
    total stands on zero (and becomes the running total), so that the bars read as a sum."""
    running, spans = 0.0, []
    for step in steps:
        low, high = (0.0, step.value) if step.total else (running, running + step.value)
        running = step.value if step.total else running + step.value
        spans.append((low, high))
    ends = [end for span in spans for end in span]
    ticks = nice_ticks(min(ends, default=0), max(ends, default=0))
    y_of = _scale(ticks[0], ticks[-1])
    band = (WIDTH - LEFT - RIGHT) / max(1, len(steps))
    gap = band * 0.2

    def x_of(index: int) -> float:
        return LEFT + band * index + band / 2

    parts, _ = _open("bar waterfall", title, desc)
    parts += _value_axis(ticks, y_of, fmt) + _category_labels([step.label for step in steps], x_of)
    parts.append('<g class="series">')
    for index, (step, (low, high)) in enumerate(zip(steps, spans, strict=True)):
        kind = "total" if step.total else ("up" if step.value > 0 else "down")
        y_top, y_bottom = sorted((y_of(low), y_of(high)))
        parts.append(
            f'<rect class="bar {kind}" x="{LEFT + band * index + gap / 2:.1f}" y="{y_top:.1f}" '
            f'width="{max(band - gap - 1, 1):.1f}" height="{max(y_bottom - y_top, 1):.1f}" '
            f'fill="{WATERFALL_COLOURS[kind]}"><title>{escape(step.label)}: {escape(fmt(step.value))}</title></rect>'
        )
    parts += ["</g>", "</svg>"]
    return Markup("\n".join(parts))
