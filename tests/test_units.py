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

from territory_geo import cache, geocode, io, scoring, units, validate
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


# --- uploads: the client's file name never becomes a path -----------------------------------------------------


def _small_geojson() -> bytes:
    return _atlanta_squares().to_json().encode()


def _upload_folder(tmp_path, monkeypatch):
    """A fresh folder that tempfile (and so every upload's temporary folder) uses for this test."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


TRAVERSAL_NAMES = ["../../../../tmp/x.geojson", "/tmp/abs.geojson", "..\\..\\x.geojson", "Zoné_ü.geojson",
                   "a" * 292 + ".geojson", "C:\\Users\\x\\..\\..\\win.geojson"]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_an_upload_is_read_from_a_fixed_name_and_nothing_lands_where_its_name_points(name, tmp_path, monkeypatch):
    from pathlib import Path

    folder = _upload_folder(tmp_path, monkeypatch)
    # where joining the name onto a temporary folder (one level below tempfile's) would have written
    pointed = [(folder / "tmpdir" / name).resolve(), *([Path(name)] if Path(name).is_absolute() else [])]
    before = {p: _mtime(p) for p in pointed}
    areas = units.read_zip_areas(_small_geojson(), name)
    assert areas.index.tolist() == ["30303", "30308"]
    assert {p: _mtime(p) for p in pointed} == before
    assert list(folder.iterdir()) == []  # the upload's temporary file is gone


def _mtime(path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # absent, or a name no file system allows (too long)
        return None


def test_an_upload_that_cannot_be_read_leaves_no_temporary_file(tmp_path, monkeypatch):
    folder = _upload_folder(tmp_path, monkeypatch)
    with pytest.raises(InputFileError, match=r"^x\.geojson: the polygon file could not be read"):
        units.read_zip_areas(b"{not json", "../../x.geojson")  # sanitised: the name's last part only
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(("name", "message"), [
    ("a\x00b.geojson", r"^The ZIP areas file name contains a NUL character; rename the file and upload it again\.$"),
    ("zcta.shp", (r"^zcta\.shp: a Shapefile cannot be read without its \.dbf, \.shx and \.prj files\. Zip the four "
                  r"files together and upload the \.zip\.$")),
    ("../../etc/passwd", (r"^passwd: not a polygon file type the workbench reads\. Upload a GeoJSON \(\.geojson, "
                          r"\.json\), a GeoPackage \(\.gpkg\), or a zipped Shapefile \(\.zip\)\.$")),
    ("areas.geojson.exe", r"^areas\.geojson\.exe: not a polygon file type"),
])
def test_an_upload_name_with_nul_or_another_suffix_is_refused(name, message, tmp_path, monkeypatch):
    folder = _upload_folder(tmp_path, monkeypatch)
    with pytest.raises(InputFileError, match=message):
        units.read_zip_areas(_small_geojson(), name)
    assert list(folder.iterdir()) == []


def test_names_in_messages_are_sanitised_and_capped():
    assert units.display_name("../../evil\r\n=cmd.geojson") == "evil=cmd.geojson"
    assert units.display_name("..\\..\\x.geojson") == "x.geojson"
    long = units.display_name("b" * 300 + ".geojson")
    assert len(long) == 80 and long.endswith("…")
    assert units.display_name("dir/") == "upload"
    assert units.display_name("Zoné_ü.geojson") == "Zoné_ü.geojson"


def _zipped_shapefile(tmp_path, members: dict[str, str] | None = None) -> bytes:
    """A zipped Shapefile of the Atlanta squares; ``members`` renames the archive's entries (file -> entry)."""
    import zipfile

    shp = tmp_path / "shape" / "zcta.shp"
    shp.parent.mkdir()
    _atlanta_squares().to_file(shp)
    out = tmp_path / "zcta.zip"
    with zipfile.ZipFile(out, "w") as archive:
        for part in sorted(shp.parent.iterdir()):
            archive.write(part, (members or {}).get(part.suffix, part.name))
    return out.read_bytes()


def test_a_zipped_shapefile_is_read_in_place(tmp_path, monkeypatch):
    data = _zipped_shapefile(tmp_path)
    folder = _upload_folder(tmp_path, monkeypatch)
    areas = units.read_zip_areas(data, "../zcta.zip")
    assert areas.index.tolist() == ["30303", "30308"] and areas.crs == EQUAL_AREA_CRS
    assert list(folder.iterdir()) == []


def test_a_zip_whose_entries_point_outside_it_is_refused(tmp_path, monkeypatch):
    data = _zipped_shapefile(tmp_path, {s: f"../../escaped{s}" for s in (".shp", ".dbf", ".shx", ".prj", ".cpg")})
    folder = _upload_folder(tmp_path, monkeypatch)
    with pytest.raises(InputFileError, match=r"^zcta\.zip: the archive holds entries with paths outside it "
                                             r"\(\['escaped\.cpg', 'escaped\.dbf', 'escaped\.prj'\]\)"):
        units.read_zip_areas(data, "zcta.zip")
    assert list(folder.iterdir()) == [] and not list(tmp_path.rglob("escaped*"))


def test_a_zip_without_exactly_one_shapefile_is_refused(tmp_path):
    import io as pyio
    import zipfile

    buffer = pyio.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no shapes here")
    with pytest.raises(InputFileError, match=r"^empty\.zip: the archive holds no \.shp file; upload a zip with "
                                             r"exactly one"):
        units.read_zip_areas(buffer.getvalue(), "empty.zip")
    with pytest.raises(InputFileError, match=r"^bad\.zip: not a readable zip archive"):
        units.read_zip_areas(b"PK not really", "bad.zip")


# --- road regions and accounts far outside ----------------------------------------------------------------------


def test_points_take_the_region_of_their_nearest_zip():
    lon = np.array([-157.86, -84.39, -66.11, -149.90, -64.93, -80.78, -0.13])
    lat = np.array([21.31, 33.75, 18.47, 61.22, 18.34, 24.55, 51.51])
    # Honolulu, Atlanta, San Juan, Anchorage, St Thomas, Key West, London (nearest US ZIP: the lower 48)
    assert units.point_regions(lon, lat).tolist() == ["HI", "CONUS", "PR", "AK", "VI", "CONUS", "CONUS"]
    assert [units.region_of_state(s) for s in ["GA", "DC", "HI", "PR", None]] == ["CONUS", "CONUS", "HI", "PR", None]


@pytest.fixture(scope="module")
def ga_hi_pr_units() -> units.Units:
    """Accounts on a few real ZIPs in Georgia (Atlanta), Hawaii (Honolulu) and Puerto Rico (San Juan); the areas
    are the states' Voronoi cells (hull-based outside the lower 48)."""
    zips = ["30303", "30308", "30309", "30312", "96813", "96814", "96815", "00901", "00907"]
    areas = units.voronoi_zip_areas(("GA", "HI", "PR")).loc[zips]
    text = "Account ID,Account Name,Zip,ARR\n" + "".join(f"A{i},Acct {i},{z},{100 * (i + 1)}\n"
                                                         for i, z in enumerate(zips))
    table = validate.validate_accounts(io.read_table(text.encode(), "a.csv"), "a.csv")
    return units.build_units(scoring.score_accounts(table.data).accounts, areas)


def test_units_carry_their_road_region_and_links_between_regions_are_water_links(ga_hi_pr_units):
    built = ga_hi_pr_units
    assert built.region.to_dict() == {"30303": "CONUS", "30308": "CONUS", "30309": "CONUS", "30312": "CONUS",
                                      "96813": "HI", "96814": "HI", "96815": "HI", "00901": "PR", "00907": "PR"}
    water = built.water_links
    assert len(water) == 2  # three regions joined in two links, each between two regions
    assert all(built.region[a] != built.region[b] for a, b in water)
    assert set(water) <= set(built.island_links)
    for region in ("CONUS", "HI", "PR"):  # each region is one piece without the water links
        alone = built.within_regions([region])
        assert set(alone.table.index) == set(built.region.index[built.region == region])
        assert _is_connected(alone.neighbors) and alone.water_links == []
    two = built.within_regions(["HI", "PR"])
    assert not _is_connected(two.neighbors)  # the water link between them is gone
    assert two.account_zip.dropna().isin(two.table.index).all() and two.account_zip.isna().sum() == 4


def test_one_region_links_exactly_as_before():
    """In one region the island links are those of joining components smallest first, as before regions (so the
    plans of a one-region dataset stay the same)."""
    areas = units.voronoi_zip_areas(("RI",))
    _, links, borders = units._rook(areas)
    pos = {z: i for i, z in enumerate(areas.index)}
    edges = [(pos[a], pos[b]) for a, b in borders if pos[a] < pos[b]]
    before = units._link_components(areas.geometry.values, edges, len(areas))
    assert len(links) >= 1 and links == [tuple(areas.index[[a, b]]) for a, b in before]


def test_an_account_far_outside_every_zip_area_is_reported(sc_scored):
    far = pd.concat([sc_scored, sc_scored.iloc[[3]].assign(account_id="LON", lat=51.5074, lon=-0.1278,
                                                            row=99)]).reset_index(drop=True)
    built = units.build_units(far)
    assert built.far_accounts.index.tolist() == [len(far) - 1]  # only London; the Greenville point is inside
    km = float(built.far_accounts.iloc[0])
    unit = built.account_zip.iloc[-1]
    assert built.table.loc[unit, "state"] == "ME"  # still given the nearest unit: Maine, across the Atlantic
    inside = gpd.GeoSeries([built.table.geometry[unit].representative_point()], crs=EQUAL_AREA_CRS).to_crs(4326)
    from territory_geo.drivetime import crow_km

    to_inside = float(crow_km(np.array([[-0.1278, 51.5074]]), np.array([[inside.x[0], inside.y[0]]]))[0, 0])
    assert km <= to_inside < km + 150  # the unit's nearest point is a little nearer than a point inside it
    note = units.far_accounts_note(built, far)
    assert note == (f"1 account lies {km:,.0f} km outside every ZIP area (row 99): assigned to the nearest ZIP "
                    "area. Check their coordinates, or load ZIP areas that cover them.")
    assert units.far_accounts_note(units.build_units(sc_scored), sc_scored) is None


# --- the on-disk cache of the default ZIP areas and their adjacency -------------------------------------------------


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    """An empty cache folder; the in-memory caches of areas and outlines are emptied before and after."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TERRITORY_GEO_CACHE", str(folder))
    units.voronoi_zip_areas.cache_clear()
    units.state_outlines.cache_clear()
    yield folder
    units.voronoi_zip_areas.cache_clear()
    units.state_outlines.cache_clear()


@pytest.fixture(scope="module")
def ri_scored() -> pd.DataFrame:
    """Rhode Island accounts (its ZIP areas include islands): on ZIPs, and one by coordinates only (Providence)."""
    text = ("Account ID,Account Name,Zip,Latitude,Longitude,ARR,Expansion Potential\n"
            "R1,Providence,02903,,,1000,500\nR2,Newport,02840,,,0,800\nR3,Block Island,02807,,,300,0\n"
            "R4,Coords Only,,41.8236,-71.4222,200,100\nR5,Westerly,02891,,,50,50\n")
    table = validate.validate_accounts(io.read_table(text.encode(), "ri.csv"), "ri.csv")
    return scoring.score_accounts(table.data).accounts


def _everything(built: units.Units) -> dict[str, object]:
    """What a Units holds, in a form that compares exactly (geometries as WKB, dicts and lists in their order)."""
    return {"table": built.table.drop(columns="geometry"), "dtypes": list(built.table.dtypes.astype(str)),
            "index": (built.table.index.name, str(built.table.index.dtype)), "crs": built.table.crs.to_wkt(),
            "wkb": shapely.to_wkb(built.table.geometry.values).tolist(), "neighbors": list(built.neighbors.items()),
            "island_links": built.island_links, "borders": list(built.borders.items()),
            "account_zip": built.account_zip, "far_accounts": built.far_accounts, "source": built.geometry_source}


def _assert_same(a: dict[str, object], b: dict[str, object]) -> None:
    for key, value in a.items():
        if isinstance(value, pd.DataFrame | pd.Series):
            assert value.equals(b[key]) and value.index.dtype == b[key].index.dtype, key
        else:
            assert value == b[key], key


def _refuse(*_: object) -> None:
    raise AssertionError("built although the cache holds it")


def test_default_zip_areas_and_adjacency_are_the_same_from_the_cache(ri_scored, cache_folder, monkeypatch):
    cold = _everything(units.build_units(ri_scored))
    assert cold["island_links"] and cold["far_accounts"].empty  # Block Island: a link, not a shared border
    kinds = {"-".join(p.name.split("-")[:2]) for p in cache_folder.glob("*.npz")} - {"zip-table"}
    assert kinds == {"state-outlines", "zip-adjacency", "zip-areas"}
    units.voronoi_zip_areas.cache_clear()
    units.state_outlines.cache_clear()
    for name in ("_build_voronoi_areas", "_rook", "_read_state_outlines"):
        monkeypatch.setattr(units, name, _refuse)
    warm = _everything(units.build_units(ri_scored))
    _assert_same(cold, warm)


def test_the_cache_gives_what_building_without_it_gives(ri_scored, cache_folder, monkeypatch):
    units.build_units(ri_scored)  # fills the cache
    units.voronoi_zip_areas.cache_clear()
    warm = _everything(units.build_units(ri_scored))
    monkeypatch.setenv("TERRITORY_GEO_CACHE", "")
    units.voronoi_zip_areas.cache_clear()
    units.state_outlines.cache_clear()
    _assert_same(_everything(units.build_units(ri_scored)), warm)


def test_a_truncated_cache_entry_is_built_again(ri_scored, cache_folder):
    cold = _everything(units.build_units(ri_scored))
    entries = sorted(cache_folder.glob("*.npz"))
    for path in entries:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    units.voronoi_zip_areas.cache_clear()
    units.state_outlines.cache_clear()
    _assert_same(cold, _everything(units.build_units(ri_scored)))
    for path in entries:  # written again, whole
        with np.load(path, allow_pickle=False) as stored:
            assert "_key" in stored.files


def test_adjacency_of_other_zip_areas_is_not_taken_from_the_cache(ri_scored, cache_folder):
    areas = units.voronoi_zip_areas(("RI",))
    key = units._voronoi_key(("RI",))
    rook = units._rook(areas)
    arrays = units._rook_arrays(areas.index.to_numpy(), rook)
    with pytest.raises(ValueError, match="other ZIP areas"):
        units._rook_of(areas.index.to_numpy()[:-1], arrays)
    cache.write("zip-adjacency", key, arrays | {"zips": arrays["zips"][::-1]})
    built = units.build_units(ri_scored)
    assert list(built.neighbors.items()) == list(rook[0].items()) and built.borders == rook[2]


def test_zip_areas_from_a_polygon_file_are_not_cached(ri_scored, cache_folder):
    areas = units.voronoi_zip_areas(("RI",)).copy()
    before = sorted(p.name for p in cache_folder.glob("*.npz"))
    built = units.build_units(ri_scored, areas)
    assert built.geometry_source == "polygon file"
    assert sorted(p.name for p in cache_folder.glob("*.npz")) == before
    assert not list(cache_folder.glob("zip-adjacency-*.npz"))


def test_the_state_outlines_file_is_the_one_libpysal_names():
    from libpysal import examples

    assert units._us48_path() == examples.get_path("us48.shp")
