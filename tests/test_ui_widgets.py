"""ui.widgets: plain names of the design figures, the trade-off chart and what a click on it selects."""

from __future__ import annotations

import math

import pandas as pd

from ui import widgets


def test_every_design_figure_on_screen_has_a_plain_name() -> None:
    from territory_geo.design.sweep import FRONTIER_COLUMNS
    from territory_geo.metrics import COMPARISON_COLUMNS

    for column in (*COMPARISON_COLUMNS, *FRONTIER_COLUMNS, "travel_share"):
        label, help_text, _ = widgets.DESIGN_LABELS[column]
        assert "_" not in label and label[0].isupper() and help_text, column
    assert widgets.column_label("cv_potential") == "CV of potential"
    assert "lower is fairer" in widgets.DESIGN_LABELS["cv_potential"][1].lower()
    assert widgets.column_label("something_new") == "something new"


def _points() -> pd.DataFrame:
    return pd.DataFrame({"key": ["travel:0.05", "travel:0.2", "scenario:evenness", "current"],
                         "label": ["C (±5%)", "C (±20%)", "A", "Current ownership"],
                         "kind": ["sweep", "sweep", "designed", "today"], "order": [0, 1, math.nan, math.nan],
                         "cv_potential": [0.3, 0.4, 0.01, 1.1], "drive_hours_total": [60.0, 55.0, 70.0, 28.0],
                         "drive_hours_max": [20.0, 18.0, 25.0, 7.0], "setting": ["±5%", "±20%", "", "today"],
                         "status": ["ok", "ok", "ok", "current"]})


def test_the_trade_off_chart_joins_the_sweep_and_marks_today_and_the_designs() -> None:
    spec = widgets.frontier_chart(_points(), "drive_hours_total", "Balance vs travel").to_dict()
    line, marks = spec["layer"]
    assert line["mark"]["type"] == "line" and line["transform"] == [{"filter": "(datum.kind === 'sweep')"}]
    pick = spec["params"][0]  # Altair lifts a layer's selection to the top, naming the layer it is on
    assert pick["name"] == widgets.PICK and pick["select"]["fields"] == ["key"] and pick["views"] == [marks["name"]]
    assert marks["encoding"]["shape"]["scale"]["domain"] == ["Today's ownership", "Designed scenario",
                                                             "Swept setting"]
    assert marks["encoding"]["x"]["title"] == "Drive h / month (all reps)"
    assert spec["title"] == "Balance vs travel"


def test_a_click_selects_the_points_key() -> None:
    assert widgets.picked({"selection": {"pick": [{"key": "travel:0.2"}]}}) == "travel:0.2"
    assert widgets.picked({"selection": {"pick": {}}}) is None  # Streamlit's state with nothing selected
    assert widgets.picked(None) is None and widgets.picked({"selection": {}}) is None
