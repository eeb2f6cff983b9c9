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


# --- the escaping round trip -----------------------------------------------------------------------------------------

ROUND_TRIP_IDS = ["+R02", "-R03", "@x", "=1+1", "'quoted", "'=already", "''+two", "'", "''", "", "-5", "-1.5e3",
                  "'-5", "-1+2", "\tTab", "\rReturn", "'\tx", "R01", "1-800 Flowers", "Café", "=", "+", "-", "@"]


def _strings(n: int, seed: int) -> list[str]:
    """Random short strings over the characters that matter to escaping (quotes, formula starts, digits)."""
    rng = np.random.default_rng(seed)
    alphabet = list("'=+-@\t\r.e0123456789aZ é")
    return ["".join(rng.choice(alphabet, size=rng.integers(0, 7))) for _ in range(n)]


def test_unescape_undoes_exactly_what_escape_did_for_every_string():
    values = ROUND_TRIP_IDS + _strings(5_000, 11)
    for value in values:
        escaped = export.escape_cell(value)
        assert export.unescape_cell(escaped) == value, repr(value)
        assert escaped == value or escaped == "'" + value
    frame = pd.DataFrame({"id": values, "n": np.arange(len(values))})
    back = export.unescape_formulas(export.escape_formulas(frame))
    assert back["id"].tolist() == values and back["n"].tolist() == frame["n"].tolist()
    # the frame-level and cell-level escapes agree
    assert export.escape_formulas(frame)["id"].tolist() == [export.escape_cell(v) for v in values]


def test_escaping_still_protects_and_marks_quoted_formulas():
    assert export.escape_cell("+R02") == "'+R02"
    assert export.escape_cell("'=x") == "''=x"  # one more quote, so that unescaping can tell it from "=x"
    assert export.escape_cell("'quoted") == "'quoted"  # not formula-like after its quote: left alone
    assert export.escape_cell("-5") == "-5" and export.escape_cell(-5.0) == -5.0
    assert export.unescape_cell("'quoted") == "'quoted" and export.unescape_cell("'-5") == "'-5"


def test_ids_survive_a_round_trip_through_a_safe_csv():
    frame = pd.DataFrame({"rep_id": ["+R02", "-R03", "@x", "'quoted", "'+kept", "R01", "\tTab", "a\r=b"],
                          "arr": [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    text = export.to_safe_csv(frame)
    assert _rows(text)[1][0] == "'+R02"  # still escaped for spreadsheets
    read = pd.read_csv(pyio.StringIO(text), dtype=str, keep_default_na=False)
    assert export.unescape_formulas(read)["rep_id"].tolist() == frame["rep_id"].tolist()


# --- GeoJSON: 6 decimals, valid, RFC 7946 orientation --------------------------------------------------------------


def _check_rfc7946(collection: dict) -> None:
    """Reads the JSON text back: no number with more than 6 decimals, every geometry valid and polygonal,
    exteriors counter-clockwise and holes clockwise, no ``crs``."""
    import json
    import re

    import shapely

    text = json.dumps(collection)
    assert "crs" not in collection
    geometry_text = json.dumps([f["geometry"] for f in collection["features"]])
    decimals = [len(d) for d in re.findall(r"\d\.(\d+)", geometry_text)]
    assert decimals and max(decimals) <= 6
    assert "e-" not in geometry_text
    for feature in json.loads(text)["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        assert geom.geom_type in {"Polygon", "MultiPolygon"} and geom.is_valid and not geom.is_empty
        for polygon in getattr(geom, "geoms", [geom]):
            assert shapely.is_ccw(polygon.exterior)
            assert not any(shapely.is_ccw(ring) for ring in polygon.interiors)


def test_territory_geojson_of_the_demo_has_six_decimals_and_valid_rfc7946_rings(demo_dataset):
    from territory_geo import units
    from territory_geo.plan import Geography, Plan

    scored = demo_dataset.scored.accounts
    built = units.build_units(scored)
    plan = Plan(Geography.from_units(built), units.ownership_by_zip(built, scored))
    table = pd.DataFrame({"potential": plan.tallies()["potential"]})
    collection = export.territories_geojson(built.table, plan, table)
    assert len(collection["features"]) == len(plan.territories)
    _check_rfc7946(collection)


def test_snapping_a_thin_neck_to_six_decimals_is_repaired_and_holes_run_clockwise():
    """Two lon/lat squares joined by a corridor 3e-7 degrees wide (it collapses on the 1e-6 grid), and a square with
    a hole drawn the wrong way round."""
    import geopandas as gpd
    import shapely

    from territory_geo.plan import Geography, Plan
    from tests.test_plan import grid_units

    neck = shapely.Polygon([(-84.0, 33.0), (-83.99, 33.0), (-83.99, 33.0049999), (-83.98, 33.0049999),
                            (-83.98, 33.0), (-83.97, 33.0), (-83.97, 33.01), (-83.98, 33.01),
                            (-83.98, 33.0050002), (-83.99, 33.0050002), (-83.99, 33.01), (-84.0, 33.01)])
    holed = shapely.Polygon([(-83.9, 33.0), (-83.9, 33.01), (-83.89, 33.01), (-83.89, 33.0)],
                            [[(-83.897, 33.003), (-83.893, 33.003), (-83.893, 33.007), (-83.897, 33.007)]])
    assert neck.is_valid and not shapely.set_precision(neck, 1e-6, mode="pointwise").is_valid
    grid = grid_units(n=2)
    table = gpd.GeoDataFrame(geometry=[neck, holed, shapely.box(-83.8, 33.0, -83.79, 33.01),
                                       shapely.box(-83.7, 33.0, -83.69, 33.0123456789)],
                             index=grid.table.index, crs="EPSG:4326")
    plan = Plan(Geography.from_units(grid), {"00": "A", "01": "B", "10": "C", "11": "C"})
    props = pd.DataFrame({"potential": [1.0, 2.0, 3.0]}, index=pd.Index(["A", "B", "C"], name="territory_id"))
    collection = export.territories_geojson(table, plan, props)
    _check_rfc7946(collection)
    shapes = {f["properties"]["territory_id"]: shapely.geometry.shape(f["geometry"]) for f in collection["features"]}
    assert shapes["A"].area == pytest.approx(neck.area, rel=1e-3)
    assert len(shapes["B"].interiors) == 1
    assert shapes["C"].bounds[3] == 33.012346  # rounded, written as the 6-decimal number itself
