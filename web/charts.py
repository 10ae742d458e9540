"""Charts drawn on the server as SVG, inline in the page: nothing to load (offices run on
intranets) and no script to run (the pages run none).

Each chart is an ``<svg>`` that scales to its box (``viewBox``, no fixed width); its colours
and fonts are console.css's (classes, not style attributes: the pages' Content Security
Policy allows no inline style). Every chart has a title for screen readers, and the page
beside it a table of the same figures.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["Bar", "Series", "columns", "hbars"]

# the drawing's own units (the viewBox): chosen so that text drawn 13 units high reads at
# about that many pixels on a phone, where the chart is as wide as the screen, and on a desk,
# where it is one of three side by side
WIDTH = 340
_FONT = 13
_LEFT_LABELS = 112  # room for a grid's or a category's name left of a bar
_ROW = 26
_MAX_LABEL_CHARS = 8


@dataclass(frozen=True, slots=True)
class Series:
    """One kind of column (受理, 办结): its name in the legend, its CSS class, its values."""

    name: str
    css: str
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a horizontal chart: its label, its length, the text at its end, and a part
    of it drawn darker over it (办结 of 受理), if any."""

    label: str
    value: float
    text: str
    part: float | None = None


def _svg(title: str, height: float) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {_n(height)}",
            "role": "img",
            "class": "chart",
        },
    )
    ET.SubElement(svg, "title").text = title
    return svg


def _n(value: float) -> str:
    """A coordinate, short: SVG needs no more than a tenth of a unit."""
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def _text(parent: ET.Element, x: float, y: float, words: str, **attrs: str) -> None:
    ET.SubElement(parent, "text", {"x": _n(x), "y": _n(y), **attrs}).text = words


def _short(label: str) -> str:
    # Grids of a street share the start of their names (幸福社区第3网格, 幸福社区第4网格):
    # the end tells them apart, and is what is kept.
    return label if len(label) <= _MAX_LABEL_CHARS else "…" + label[-(_MAX_LABEL_CHARS - 1) :]


def _markup(svg: ET.Element) -> Markup:
    # ElementTree escapes every text and attribute: a grid named "<b>" is drawn as text
    return Markup(ET.tostring(svg, encoding="unicode"))


def nice_top(value: float) -> float:
    """The axis's top: ``value`` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def columns(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Columns side by side per label (a week), one per series, on an axis from 0; the
    legend above. Labels are thinned out when there are too many to read."""
    top_margin, bottom, left, right = 34, 24, 34, 6
    plot_height = 150
    height = top_margin + plot_height + bottom
    svg = _svg(title, height)
    highest = max((v for s in series for v in s.values), default=0)
    top = nice_top(highest)
    width = WIDTH - left - right
    # the axis: 0, half and the top, with faint lines across
    for fraction in (0, 0.5, 1):
        y = top_margin + plot_height * (1 - fraction)
        ET.SubElement(
            svg,
            "line",
            {"x1": _n(left), "x2": _n(WIDTH - right), "y1": _n(y), "y2": _n(y), "class": "grid"},
        )
        value = top * fraction
        if value == int(value):  # counts: no "2.5" on the axis
            _text(svg, left - 4, y + 4, f"{value:g}", **{"class": "axis", "text-anchor": "end"})
    # the legend
    x = left
    for s in series:
        ET.SubElement(
            svg, "rect", {"x": _n(x), "y": "6", "width": "12", "height": "12", "class": s.css}
        )
        _text(svg, x + 16, 17, s.name, **{"class": "legend"})
        x += 16 + _FONT * len(s.name) + 16
    count = max(len(labels), 1)
    slot = width / count
    bar = slot * 0.8 / max(len(series), 1)
    every = math.ceil(count / (width / (_FONT * 3.2)))  # a label every `every` columns
    for i, label in enumerate(labels):
        x0 = left + slot * i + slot * 0.1
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = plot_height * value / top
            rect = ET.SubElement(
                svg,
                "rect",
                {
                    "x": _n(x0 + bar * j),
                    "y": _n(top_margin + plot_height - h),
                    "width": _n(max(bar - 1, 0.5)),
                    "height": _n(h),
                    "class": s.css,
                },
            )
            ET.SubElement(rect, "title").text = f"{label} {s.name} {value:g}"
        if i % every == 0:
            _text(
                svg,
                left + slot * (i + 0.5),
                height - 6,
                label,
                **{"class": "axis", "text-anchor": "middle"},
            )
    return _markup(svg)


def hbars(title: str, bars: Sequence[Bar], *, top: float | None = None, css: str = "") -> Markup:
    """A bar per row, from a label at the left, with its text at its end; ``top``: the length
    of a full bar (the longest bar's value when not given)."""
    height = _ROW * max(len(bars), 1) + 8
    svg = _svg(title, height)
    full = top if top is not None else max((b.value for b in bars), default=0) or 1
    text_room = 64
    width = WIDTH - _LEFT_LABELS - text_room
    for i, b in enumerate(bars):
        y = 4 + _ROW * i
        _text(svg, _LEFT_LABELS - 6, y + 17, _short(b.label), **{"text-anchor": "end"})
        length = width * min(b.value / full, 1) if full else 0
        attrs = {"x": _n(_LEFT_LABELS), "y": _n(y + 4), "height": _n(_ROW - 8)}
        rect = ET.SubElement(
            svg, "rect", {**attrs, "width": _n(max(length, 1)), "class": f"bar {css}".strip()}
        )
        ET.SubElement(rect, "title").text = f"{b.label} {b.text}"
        if b.part is not None and full:
            part = width * min(b.part / full, 1)
            ET.SubElement(svg, "rect", {**attrs, "width": _n(part), "class": "part"})
        _text(svg, _LEFT_LABELS + length + 6, y + 17, b.text, **{"class": "value"})
    return _markup(svg)
