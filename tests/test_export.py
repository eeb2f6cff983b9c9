"""territory_geo.export: formula-safe CSV, scored-accounts export order."""

from __future__ import annotations

import csv
import io as pyio

import numpy as np
import pandas as pd
import pytest

from territory_geo import export, scoring


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(pyio.StringIO(text, newline="")))


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)",
                                  "\tTabbed", "\rReturn", "=1"])
def test_formula_cells_are_escaped(cell):
    text = export.to_safe_csv(pd.DataFrame({"name": [cell]}))
    assert _rows(text)[1] == ["'" + cell]


def test_safe_text_and_numeric_negatives_are_left_alone():
    frame = pd.DataFrame({
        "name": ["Acme = best", "Café", "1-800 Flowers", None],
        "arr": [-1200.0, 0.0, 5.5, np.nan],
        "units": [-3, 2, 1, 0],
        "balance_text": ["-1200", "-0.5", "-1e3", "12"],  # negative numbers read as text from a CRM file
        "mixed": pd.Series([-5.0, "=cmd", "ok", None], dtype=object),
    })
    rows = _rows(export.to_safe_csv(frame))
    assert rows[0] == ["name", "arr", "units", "balance_text", "mixed"]
    assert rows[1] == ["Acme = best", "-1200.0", "-3", "-1200", "-5.0"]
    assert rows[2] == ["Café", "0.0", "2", "-0.5", "'=cmd"]
    assert rows[3] == ["1-800 Flowers", "5.5", "1", "-1e3", "ok"]
    assert rows[4] == ["", "", "0", "12", ""]


def test_negative_number_followed_by_a_formula_is_escaped():
    escaped = export.escape_formulas(pd.DataFrame({"c": ["-1", "-1+2", "-1 ", "--1"]}))
    assert escaped["c"].tolist() == ["-1", "'-1+2", "'-1 ", "'--1"]


def test_escape_does_not_modify_the_input():
    frame = pd.DataFrame({"name": ["=1+1"]})
    export.escape_formulas(frame)
    assert frame.loc[0, "name"] == "=1+1"


def test_to_safe_csv_writes_a_file(tmp_path):
    path = tmp_path / "out.csv"
    assert export.to_safe_csv(pd.DataFrame({"zip": ["02134"], "name": ["@evil"]}), path) is None
    assert path.read_bytes() == b"zip,name\r\n02134,'@evil\r\n"


def test_embedded_carriage_return_cannot_start_a_formula_row():
    # unquoted, a bare CR ends the row in a spreadsheet and "=HYPERLINK(...)" would start the next one
    frame = pd.DataFrame({"name": ["Acme\r=HYPERLINK(\"http://x\")", "Line\nbreak"], "zip": ["30303", "02134"]})
    text = export.to_safe_csv(frame)
    assert '"Acme\r=HYPERLINK(""http://x"")"' in text
    assert _rows(text) == [["name", "zip"], ["Acme\r=HYPERLINK(\"http://x\")", "30303"], ["Line\nbreak", "02134"]]
    back = pd.read_csv(pyio.StringIO(text), dtype=str)
    assert back["zip"].tolist() == ["30303", "02134"]


def test_scored_export_order_and_passthrough():
    accounts = pd.DataFrame({"account_id": ["A1", "A2"], "name": ["=x", "b"], "zip": ["02134", "30303"],
                             "arr": [1.0, 0.0], "Favourite Colour": ["blue", "red"], "row": [1, 2]})
    scored = scoring.score_accounts(accounts).accounts
    out = export.scored_export(scored)
    cols = list(out.columns)
    assert cols[:2] == ["account_id", "name"]
    assert cols.index("score") < cols.index("score_fit") < cols.index("score_strategic") < cols.index("value_tier")
    assert cols[-1] == "Favourite Colour"
    assert "row" not in cols
    assert {"potential", "tier", "score", "workload_units", "is_customer", "segment"} <= set(cols)
    text = export.to_safe_csv(out)
    assert _rows(text)[1][:3] == ["A1", "'=x", "02134"]


def test_territories_geojson_keeps_only_areas_when_a_repair_leaves_lines() -> None:
    """A unit with a zero-width spike (an outline that runs out and back along the same line) repairs to a polygon
    plus a line. The export must give consumers a Polygon/MultiPolygon, never a GeometryCollection with a stray
    stroke; areas, ring orientation (RFC 7946: exterior counter-clockwise) and properties stay intact."""
    import geopandas as gpd
    import shapely

    from territory_geo.plan import Geography, Plan
    from tests.test_plan import grid_units

    grid = grid_units(n=2)
    spiked = shapely.Polygon([(0, 0), (1000, 0), (1000, 500), (1600, 500), (1000, 500), (1000, 1000), (0, 1000)])
    assert shapely.make_valid(spiked).geom_type == "GeometryCollection"
    table = grid.table.copy()
    table.loc["00", "geometry"] = spiked
    table = gpd.GeoDataFrame(table, geometry="geometry", crs=grid.table.crs)
    plan = Plan(Geography.from_units(grid), {"00": "A", "01": "B", "10": "B", "11": "B"})
    props = pd.DataFrame({"potential": [1.0, 2.0]}, index=pd.Index(["A", "B"], name="territory_id"))
    collection = export.territories_geojson(table, plan, props)
    features = {f["properties"]["territory_id"]: f for f in collection["features"]}
    assert {f["geometry"]["type"] for f in features.values()} <= {"Polygon", "MultiPolygon"}
    area_a = shapely.geometry.shape(features["A"]["geometry"])
    assert area_a.geom_type == "Polygon" and shapely.is_ccw(area_a.exterior)
    assert features["A"]["properties"]["potential"] == 1.0
