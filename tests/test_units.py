"""territory_geo.units: Voronoi ZIP areas, rook adjacency with island links, ZIP units, polygon files."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from territory_geo import geocode, io, scoring, units, validate
from territory_geo.errors import InputFileError
from territory_geo.settings import EQUAL_AREA_CRS

SMALL_STATES = ["SC", "RI"]


@pytest.fixture(scope="module")
def outlines() -> gpd.GeoDataFrame:
    return units.state_outlines()


@pytest.fixture(scope="module", params=SMALL_STATES)
def state_areas(request) -> tuple[str, gpd.GeoDataFrame]:
    return request.param, units.voronoi_zip_areas((request.param,))


@pytest.fixture(scope="module")
def sc_areas() -> gpd.GeoDataFrame:
    return units.voronoi_zip_areas(("SC",))


@pytest.fixture(scope="module")
def sc_neighbors(sc_areas):
    return units.rook_neighbors(sc_areas)


def _overlap_area(geoms: np.ndarray) -> float:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    return float(shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])).sum())


def _is_connected(neighbors: dict[str, tuple[str, ...]]) -> bool:
    zips = list(neighbors)
    pos = {z: i for i, z in enumerate(zips)}
    rows = [pos[a] for a, nb in neighbors.items() for _ in nb]
    cols = [pos[b] for nb in neighbors.values() for b in nb]
    graph = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(zips), len(zips)))
    return csgraph.connected_components(graph, directed=False)[0] == 1


# --- Voronoi areas ------------------------------------------------------------------------------------------------


def test_voronoi_areas_cover_the_state_without_overlaps(state_areas, outlines):
    state, areas = state_areas
    outline = outlines.geometry[state]
    assert areas.crs == EQUAL_AREA_CRS
    assert (areas["state"] == state).all()
    # every STANDARD ZIP of the state is a cell, keyed by its 5-digit text
    assert set(areas.index) == set(geocode.standard_zips((state,)).index)
    assert all(isinstance(z, str) and len(z) == 5 for z in areas.index)
    assert areas.geometry.is_valid.all()
    assert (areas.geometry.area > 0).all()
    union = shapely.union_all(areas.geometry.values)
    assert union.area == pytest.approx(outline.area, rel=0.01)
    covered = shapely.intersection(union, outline).area
    assert covered == pytest.approx(outline.area, rel=0.01)
    assert _overlap_area(areas.geometry.values) < 1e-6 * outline.area


def test_voronoi_cell_contains_its_zip_centroid(sc_areas):
    zips = geocode.standard_zips(("SC",))
    pts = gpd.GeoSeries(gpd.points_from_xy(zips["lon"], zips["lat"]), index=zips.index,
                        crs="EPSG:4326").to_crs(EQUAL_AREA_CRS)
    inside = sc_areas.geometry.reindex(zips.index).contains(pts)
    # a few centroids sit off the coarse coastline or share a point with another ZIP; nearly all are inside
    assert inside.mean() > 0.95


def test_voronoi_for_unknown_state_raises():
    with pytest.raises(InputFileError, match=r"No STANDARD ZIP codes are known for the state\(s\) \['XX'\]"):
        units.voronoi_zip_areas(("XX",))


# --- adjacency ------------------------------------------------------------------------------------------------


def test_rook_neighbors_are_symmetric_and_everyone_has_one(state_areas):
    state, areas = state_areas
    neighbors, links = units.rook_neighbors(areas)
    assert set(neighbors) == set(areas.index)
    if state == "RI":  # Block Island and the bay's islands are joined by links
        assert len(links) >= 1
    for a, nbrs in neighbors.items():
        assert len(nbrs) >= 1
        assert a not in nbrs
        assert list(nbrs) == sorted(nbrs)
        for b in nbrs:
            assert a in neighbors[b]
    assert _is_connected(neighbors)
    for a, b in links:
        assert b in neighbors[a] and a in neighbors[b]


def test_rook_neighbors_share_a_border(sc_areas, sc_neighbors):
    neighbors, links = sc_neighbors
    linked = {frozenset(link) for link in links}
    geoms = sc_areas.geometry
    rng = np.random.default_rng(0)
    for a in rng.choice(sc_areas.index.to_numpy(), size=40, replace=False):
        for b in neighbors[a]:
            if frozenset((a, b)) in linked:
                continue
            shared = shapely.intersection(geoms[a].boundary, shapely.buffer(geoms[b], 5.0)).length
            assert shared > 50.0


def test_islands_are_linked_to_their_nearest_unit():
    cells = [shapely.box(i * 1000, 0, i * 1000 + 1000, 1000) for i in range(3)]
    island = shapely.box(10_000, 0, 11_000, 1000)  # 7 km east of the last cell
    areas = gpd.GeoDataFrame({"state": "XX"}, geometry=[*cells, island], index=["00001", "00002", "00003", "00009"],
                             crs=EQUAL_AREA_CRS)
    neighbors, links = units.rook_neighbors(areas)
    assert links == [("00009", "00003")]
    assert neighbors["00009"] == ("00003",)
    assert neighbors["00003"] == ("00002", "00009")
    assert neighbors["00001"] == ("00002",)


def test_rook_adjacency_on_a_3x3_grid_excludes_corner_touches():
    # 00 01 02 on the bottom row, 06 07 08 on the top row; squares of 1 km
    cells = [shapely.box(i * 1000, j * 1000, i * 1000 + 1000, j * 1000 + 1000) for j in range(3) for i in range(3)]
    areas = gpd.GeoDataFrame({"state": "XX"}, geometry=cells, index=[f"0000{k}" for k in range(9)],
                             crs=EQUAL_AREA_CRS)
    neighbors, links = units.rook_neighbors(areas)
    assert links == []
    expected = {
        "00000": ("00001", "00003"),
        "00001": ("00000", "00002", "00004"),
        "00002": ("00001", "00005"),
        "00003": ("00000", "00004", "00006"),
        "00004": ("00001", "00003", "00005", "00007"),
        "00005": ("00002", "00004", "00008"),
        "00006": ("00003", "00007"),
        "00007": ("00004", "00006", "00008"),
        "00008": ("00005", "00007"),
    }
    assert neighbors == expected
    # corner-only contacts are not neighbours
    assert "00004" not in neighbors["00000"]
    assert "00002" not in neighbors["00004"]


def test_short_shared_border_is_not_rook_adjacency():
    # two squares whose common edge overlaps by only 20 m (below the 50 m threshold)
    a = shapely.box(0, 0, 1000, 1000)
    b = shapely.box(1000, 980, 2000, 1980)
    areas = gpd.GeoDataFrame({"state": "XX"}, geometry=[a, b], index=["00001", "00002"], crs=EQUAL_AREA_CRS)
    neighbors, links = units.rook_neighbors(areas)
    assert links == [("00001", "00002")] or links == [("00002", "00001")]  # joined only as an island link



def test_shared_border_lengths_are_exact_within_a_tessellation_and_never_exceed_a_perimeter():
    """A 3 m wide sliver between two squares (cells of near-duplicate ZIP centroids look like this): a 5 m buffer
    holds its whole outline, so the buffered measure alone counted each of its borders twice (~2 km each, against a
    2 km perimeter). Borders shared vertex for vertex are measured exactly; across separately drawn borders (a
    state line: here a square shifted 1 m off its neighbour, with no common vertices) the buffered measure stands."""
    a = shapely.box(0, 0, 1000, 1000)
    sliver = shapely.box(1000, 0, 1003, 1000)
    b = shapely.box(1003, 0, 2003, 1000)
    c = shapely.box(-1000, 1, 0, 1001)  # left of a, drawn separately
    zips = ["00001", "00002", "00003", "00004"]
    areas = gpd.GeoDataFrame({"state": "XX"}, geometry=[a, sliver, b, c], index=zips, crs=EQUAL_AREA_CRS)
    _, _, borders = units._rook(areas)
    assert borders[("00001", "00002")] == pytest.approx(1000.0)
    assert borders[("00002", "00003")] == pytest.approx(1000.0)
    assert borders[("00002", "00001")] == borders[("00001", "00002")]
    assert borders[("00001", "00004")] == pytest.approx(999.0, abs=2 * units._SNAP_M)
    for i, z in enumerate(zips):
        total = sum(length for (x, _), length in borders.items() if x == z)
        assert total <= areas.geometry.iloc[i].length + 1e-6

# --- accounts -> units -----------------------------------------------------------------------------------------

# a point in Greenville, SC given by coordinates only (no ZIP)
COORD_ONLY = (34.8526, -82.3940)


@pytest.fixture(scope="module")
def sc_scored() -> pd.DataFrame:
    text = ("Account ID,Account Name,Zip,Latitude,Longitude,ARR,Expansion Potential,Employees\n"
            "S1,Columbia One,29201,,,1000,500,10\n"
            "S2,Charleston,29401,,,0,800,600\n"
            "S3,Greenville Zip,29601,,,2000,0,60\n"
            f"S4,Coords Only,,{COORD_ONLY[0]},{COORD_ONLY[1]},300,300,5\n"
            "S5,Columbia Two,29201,,,50,50,12\n"
            "S6,Spartanburg,29301,,,0,100,20\n"
            "S7,PO Box,29002,,,0,700,20\n")
    table = validate.validate_accounts(io.read_table(text.encode(), "sc.csv"), "sc.csv")
    assert table.report.n_valid == 7
    return scoring.score_accounts(table.data).accounts


@pytest.fixture(scope="module")
def sc_units(sc_scored) -> units.Units:
    return units.build_units(sc_scored)


def test_build_units_totals_equal_the_accounts_totals(sc_scored, sc_units):
    table = sc_units.table
    assert table.index.name == "zip"
    assert table["accounts"].sum() == len(sc_scored)
    for column in ("potential", "arr", "workload_units", "expansion"):
        assert table[column].sum() == pytest.approx(sc_scored[column].sum())
    assert table.loc["29201", "accounts"] == 2
    assert table.loc["29201", "arr"] == 1050.0
    assert table.loc["29401", "accounts"] == 1
    assert sc_units.geometry_source == "voronoi"
    assert set(sc_units.neighbors) == set(table.index)
    assert (table["state"] == "SC").all()


def test_coordinates_only_account_lands_in_the_unit_containing_it(sc_scored, sc_units):
    unit = sc_units.account_zip.loc[sc_scored["account_id"] == "S4"].iloc[0]
    point = gpd.GeoSeries(gpd.points_from_xy([COORD_ONLY[1]], [COORD_ONLY[0]]), crs="EPSG:4326").to_crs(
        EQUAL_AREA_CRS).iloc[0]
    assert sc_units.table.geometry[unit].contains(point)
    # independent check: a Voronoi cell holds the points nearest to its ZIP centroid
    zips = geocode.standard_zips(("SC",))
    centroids = gpd.GeoSeries(gpd.points_from_xy(zips["lon"], zips["lat"]), index=zips.index,
                              crs="EPSG:4326").to_crs(EQUAL_AREA_CRS)
    assert unit == centroids.distance(point).idxmin()
    assert unit.startswith("296")  # a Greenville ZIP


def test_po_box_account_is_placed_by_its_point(sc_scored, sc_units):
    account = sc_scored[sc_scored["account_id"] == "S7"].iloc[0]
    assert account["zip"] == "29002" and account["zip_type"] == "PO BOX"
    unit = sc_units.account_zip.loc[account.name]
    assert unit != "29002" and unit in sc_units.table.index
    point = units._project(np.array([account["lon"]]), np.array([account["lat"]]))
    assert sc_units.table.geometry[unit].contains(shapely.points(point)[0])


def test_units_derived_columns(sc_units):
    table = sc_units.table
    assert np.allclose(table["area_km2"], table.geometry.area / 1e6)
    held = table[table["accounts"] > 0]
    assert np.allclose(held["density"], held["accounts"] / held["area_km2"])
    assert set(table["area_class"]) <= {"urban", "suburban", "rural"}
    pen = table["arr"] / (table["arr"] + table["whitespace"])
    assert np.allclose(table["penetration"], pen.fillna(0.0))
    assert (table["whitespace"] == table["expansion"]).all()  # no market file


def test_adjacency_matrix_is_symmetric(sc_units):
    matrix = sc_units.adjacency()
    n = len(sc_units.table)
    assert matrix.shape == (n, n)
    assert (matrix != matrix.T).nnz == 0
    assert matrix.diagonal().sum() == 0
    assert int(matrix.sum()) == sum(len(v) for v in sc_units.neighbors.values())


def test_to_display_is_lon_lat(sc_units):
    shown = sc_units.to_display()
    assert shown.crs == "EPSG:4326"
    minx, miny, maxx, maxy = shown.total_bounds
    assert -84 < minx < maxx < -78 and 31.9 < miny < maxy < 35.3


def test_build_units_with_tam_sets_whitespace(sc_scored, sc_areas):
    tam = pd.Series({"29201": 10_000.0, "29401": 100.0})
    built = units.build_units(sc_scored, areas=sc_areas, tam=tam)
    table = built.table
    assert built.geometry_source == "polygon file"
    assert table.loc["29201", "tam"] == 10_000.0
    assert table.loc["29201", "whitespace"] == 10_000.0 - 1050.0
    assert table.loc["29401", "whitespace"] == 100.0  # a prospect: nothing penetrated yet
    assert table.loc["29201", "penetration"] == pytest.approx(1050.0 / 10_000.0)
    assert table.loc["29601", "whitespace"] == 0.0  # TAM 0 < ARR: clipped


def test_states_touched_from_zip_and_from_coordinates():
    frame = pd.DataFrame({"state": ["GA", None, None], "lat": [33.75, 34.85, 30.33], "lon": [-84.39, -82.39, -81.66]})
    assert units.states_touched(frame) == ("FL", "GA", "SC")


def test_area_class_bands():
    classes = units.area_class(pd.Series([1.0, 60.0, 60.1, 300.0, 301.0]))
    assert classes.tolist() == ["urban", "urban", "suburban", "suburban", "rural"]


# --- polygon files -----------------------------------------------------------------------------------------------


def _atlanta_squares() -> gpd.GeoDataFrame:
    squares = [shapely.box(-84.40, 33.74, -84.38, 33.76), shapely.box(-84.38, 33.74, -84.36, 33.76)]
    return gpd.GeoDataFrame({"ZCTA5CE20": ["30303", "30308"], "ALAND20": [1, 2]}, geometry=squares,
                            crs="EPSG:4326")


def test_read_zip_areas_geojson_in_web_mercator(tmp_path):
    source = _atlanta_squares()
    path = tmp_path / "zcta.geojson"
    source.to_crs("EPSG:3857").to_file(path, driver="GeoJSON")
    areas = units.read_zip_areas(path)
    assert areas.crs == EQUAL_AREA_CRS
    assert areas.index.tolist() == ["30303", "30308"]
    assert areas["state"].tolist() == ["GA", "GA"]
    expected = source.to_crs(EQUAL_AREA_CRS).geometry.area.to_numpy()
    assert np.allclose(areas.geometry.area.to_numpy(), expected, rtol=1e-3)
    neighbors, links = units.rook_neighbors(areas)
    assert neighbors == {"30303": ("30308",), "30308": ("30303",)} and links == []


def test_read_zip_areas_from_bytes_merges_rows_and_restores_zeros(tmp_path):
    squares = [shapely.box(-71.14, 42.35, -71.13, 42.36), shapely.box(-71.13, 42.35, -71.12, 42.36)]
    frame = gpd.GeoDataFrame({"zcta": ["2134", "2134"]}, geometry=squares, crs="EPSG:4326")
    path = tmp_path / "allston.gpkg"
    frame.to_file(path, driver="GPKG")
    areas = units.read_zip_areas(path.read_bytes(), "allston.gpkg")
    assert areas.index.tolist() == ["02134"]
    assert areas["state"].tolist() == ["MA"]
    assert areas.geometry.iloc[0].area == pytest.approx(frame.to_crs(EQUAL_AREA_CRS).union_all().area, rel=1e-6)


def test_read_zip_areas_without_zip_column_raises(tmp_path):
    path = tmp_path / "nozip.geojson"
    _atlanta_squares().rename(columns={"ZCTA5CE20": "NAME"}).to_file(path, driver="GeoJSON")
    with pytest.raises(InputFileError, match=r"nozip\.geojson: no ZIP column found \(columns: \['NAME', 'ALAND20'\]\)"
                                             r"\. Name it one of"):
        units.read_zip_areas(path)


def test_read_zip_areas_shapefile_without_prj_raises(tmp_path):
    path = tmp_path / "zcta.shp"
    _atlanta_squares().to_crs("EPSG:3857").to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputFileError, match=r"zcta\.shp: the polygons have no coordinate reference system\. "
                                             r"Add the \.prj file"):
        units.read_zip_areas(path)


def test_read_zip_areas_geojson_with_metres_and_no_crs_raises(tmp_path):
    # RFC 7946 GeoJSON has no "crs" member and is read as WGS 84; metres there are a CRS missing, not lon/lat
    projected = _atlanta_squares().to_crs("EPSG:3857")
    features = [{"type": "Feature", "properties": {"ZCTA5CE20": z}, "geometry": shapely.geometry.mapping(g)}
                for z, g in zip(projected["ZCTA5CE20"], projected.geometry, strict=True)]
    path = tmp_path / "mercator.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(InputFileError, match=r"mercator\.geojson: the coordinates are not longitude/latitude .*"
                                             r"no other coordinate reference system"):
        units.read_zip_areas(path)


def test_read_zip_areas_unreadable_file_raises():
    with pytest.raises(InputFileError, match=r"broken\.geojson: the polygon file could not be read"):
        units.read_zip_areas(b"{not json at all", "broken.geojson")


def test_ownership_by_zip_assigns_every_unit_to_its_majority_owner(demo_dataset):
    scored = demo_dataset.scored.accounts
    built = units.build_units(scored)
    baseline = units.ownership_by_zip(built, scored)
    assert set(baseline.index) == set(built.table.index)  # every unit, also those without accounts
    owned = scored.assign(zip=built.account_zip).dropna(subset=["owner_rep_id"])
    top = owned.groupby(["zip", "owner_rep_id"])["potential"].sum().groupby(level=0).idxmax()
    for zip5, (_, rep) in top.head(200).items():
        assert baseline[zip5] == rep
    assert set(baseline.unique()) <= set(scored["owner_rep_id"].dropna())
