from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from web.charts import WIDTH, Bar, Series, columns, hbars, nice_top

SVG = "{http://www.w3.org/2000/svg}"


def drawn(markup: str) -> ET.Element:
    svg = ET.fromstring(markup)
    assert svg.tag == f"{SVG}svg"
    assert svg.get("viewBox", "").startswith(f"0 0 {WIDTH} ")
    assert "width" not in svg.attrib  # as wide as its box: a desk's or a phone's
    assert "style" not in markup  # the pages' policy allows no inline style
    return svg


def rects(svg: ET.Element, css: str) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if css in r.get("class", "").split()]


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (48, 50), (101, 200)]
)
def test_the_axis_ends_at_a_round_number(value: float, top: float) -> None:
    assert nice_top(value) == top


def test_columns_per_label_and_series_in_proportion() -> None:
    svg = drawn(
        columns(
            "逐周",
            ["11/9", "11/16"],
            [Series("受理", "accepted", [4, 10]), Series("已办结", "done", [2, 5])],
        )
    )
    assert svg.findtext(f"{SVG}title") == "逐周"
    accepted = rects(svg, "accepted")[1:]  # the first is the legend's
    done = rects(svg, "done")[1:]
    assert len(accepted) == len(done) == 2
    heights = [float(r.get("height", 0)) for r in accepted + done]
    assert heights[1] == 2 * heights[3] == 150  # 10 is the top: the whole plot
    assert heights[0] == 2 * heights[2]
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"受理", "已办结", "11/9", "11/16", "0", "10"} <= set(labels)
    # each column says what it is, for a mouse or a screen reader
    assert accepted[1].findtext(f"{SVG}title") == "11/16 受理 10"


def test_many_columns_label_only_some() -> None:
    weeks = [f"w{n}" for n in range(53)]
    svg = drawn(columns("一年", weeks, [Series("受理", "accepted", [1] * 53)]))
    shown = [t.text for t in svg.iter(f"{SVG}text") if (t.text or "").startswith("w")]
    assert 5 < len(shown) < 20
    assert shown[0] == "w0"


def test_horizontal_bars_with_a_part_and_a_text() -> None:
    svg = drawn(hbars("各类别", [Bar("设施报修", 8, "8 / 6", 6), Bar("环境卫生", 4, "4 / 0", 0)]))
    bars, parts = rects(svg, "bar"), rects(svg, "part")
    assert float(bars[0].get("width", 0)) == 2 * float(bars[1].get("width", 0))
    assert float(parts[0].get("width", 0)) == 0.75 * float(bars[0].get("width", 0))
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["设施报修", "8 / 6", "环境卫生", "4 / 0"]


def test_rates_against_a_full_bar_and_long_names_cut() -> None:
    svg = drawn(
        hbars(
            "办结率最低的网格",
            [Bar("幸福社区第三网格东区北片", 25, "25.0%"), Bar("G04", 0, "0.0%")],
            top=100,
            css="low",
        )
    )
    bars = rects(svg, "low")
    assert len(bars) == 2
    assert float(bars[1].get("width", 0)) == 1  # nothing resolved: a sliver, still a bar
    # the end of a name tells a street's grids apart
    assert next(t.text for t in svg.iter(f"{SVG}text")) == "…三网格东区北片"


def test_names_are_text_never_markup() -> None:
    markup = hbars("<b>", [Bar('<script>alert(1)</script>"', 1, "&")])
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    svg = drawn(markup)
    assert svg.findtext(f"{SVG}title") == "<b>"


def test_nothing_to_draw_is_still_a_chart() -> None:
    drawn(columns("空", [], [Series("受理", "accepted", [])]))
    drawn(hbars("空", []))
