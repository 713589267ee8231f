"""The report pages' SVG charts (terminals/web/charts.py): pure and fast, no server."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest

from keyun.terminals.web.charts import Series, Step, Table, bar_chart, heat_map, line_chart, nice_ticks, waterfall_chart

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_nice_ticks_are_round_and_cover_the_values():
    assert nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-30, 120)[0] <= -30 and nice_ticks(-30, 120)[-1] >= 120
    assert nice_ticks(3, 7)[0] == 0  # from zero


def test_a_line_chart_has_a_point_per_value_a_title_a_desc_and_a_legend():
    svg = line_chart(
        "营业额", "by day", ["12-01", "12-02", "12-03"], [Series("a", (1, 2, 3)), Series("b", (0, None, 5))]
    )
    root = parsed(svg)
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "营业额" and desc is not None and desc.text == "by day"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert len(root.findall(f".//{SVG}circle")) == 5  # the gap has no point
    assert len(root.findall(f".//{SVG}polyline")) == 3  # a, and b broken in two by its gap
    assert [t.text for t in root.findall(f"./{SVG}g[@class='legend']/{SVG}text")] == ["a", "b"]
    assert [t.text for t in root.findall(f"./{SVG}g[@class='axis x']/{SVG}text")] == ["12-01", "12-02", "12-03"]


def test_points_go_up_with_their_values():
    root = parsed(line_chart("t", "d", ["x", "y"], [Series("s", (1, 9))]))
    low, high = (float(c.get("cy")) for c in root.findall(f".//{SVG}circle"))
    assert high < low  # SVG's y grows downwards


def test_grouped_bars_are_categories_times_series_and_stacked_bars_add_up():
    labels = ["LINE", "EXPRESS"]
    series = [Series("revenue", (100, 50)), Series("refunds", (10, 0))]
    grouped = parsed(bar_chart("t", "d", labels, series))
    assert len(grouped.findall(f".//{SVG}rect[@class='bar']")) == 4
    assert "grouped" in grouped.get("class")
    stacked = parsed(bar_chart("t", "d", labels, series, stacked=True))
    bars = stacked.findall(f".//{SVG}rect[@class='bar']")
    assert len(bars) == 4
    # LINE's two bars are one on the other: revenue's top is refunds' bottom.
    line_revenue, line_refunds = bars[0], bars[2]
    assert float(line_refunds.get("y")) + float(line_refunds.get("height")) == pytest.approx(
        float(line_revenue.get("y")), abs=0.2
    )
    # The tallest stack is 110: the axis goes at least that far.
    ticks = [t.text for t in stacked.findall(f"./{SVG}g[@class='axis y']/{SVG}text")]
    assert int(ticks[-1].replace(",", "")) >= 110


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="has 1 values for 2 categories"):
        bar_chart("t", "d", ["a", "b"], [Series("s", (1,))])


def test_a_heat_map_has_a_cell_per_row_and_column_darker_for_more():
    root = parsed(heat_map("t", "d", ["mon", "tue"], ["8", "9", "10"], [[0, 5, 10], [None, 1, 2]]))
    cells = root.findall(f".//{SVG}rect[@class='cell']")
    assert len(cells) == 6
    darkness = [sum(int(c.get("fill")[i : i + 2], 16) for i in (1, 3, 5)) for c in cells[:3]]
    assert darkness[0] > darkness[1] > darkness[2]
    with pytest.raises(ValueError):
        heat_map("t", "d", ["mon"], ["8"], [[1, 2]])


def test_text_is_escaped():
    svg = bar_chart("<b>", "a & b", ["<script>"], [Series('"x"', (1,))])
    assert "<script>" not in svg and "<b>" not in svg
    parsed(svg)  # still well-formed


def test_a_table_as_csv_keeps_formulas_out_of_spreadsheets():
    table = Table(("route", "revenue"), (("LINE", 12.5), ("=HYPERLINK(1)", 3)))
    rows = list(csv.reader(io.StringIO(table.csv())))
    assert rows == [["route", "revenue"], ["LINE", "12.5"], ["'=HYPERLINK(1)", "3"]]


def test_chart_ids_are_unique_on_a_page():
    first, second = (line_chart("t", "d", ["a"], [Series("s", (1,))]) for _ in range(2))
    ids = re.findall(r'<title id="([^"]+)"', first + second)
    assert len(set(ids)) == 2


def test_a_waterfall_floats_each_change_from_the_running_total():
    steps = [Step("票款", 100, total=True), Step("退票", -30), Step("调整", 10), Step("应付", 80, total=True)]
    root = parsed(waterfall_chart("结算", "waterfall", steps))
    bars = root.findall(f".//{SVG}rect[@class]")
    bars = [bar for bar in bars if bar.get("class", "").startswith("bar")]
    assert [bar.get("class") for bar in bars] == ["bar total", "bar down", "bar up", "bar total"]
    top = {i: float(bar.get("y")) for i, bar in enumerate(bars)}
    bottom = {i: float(bar.get("y")) + float(bar.get("height")) for i, bar in enumerate(bars)}
    # The refund hangs from the revenue's top down to 70; the adjustment rises from 70 to the total's top.
    assert top[1] == pytest.approx(top[0]) and bottom[1] == pytest.approx(bottom[2])
    assert top[2] == pytest.approx(top[3]) and bottom[0] == pytest.approx(bottom[3])
