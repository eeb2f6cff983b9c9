"""territory_geo.cache: entries of plain arrays, keyed and checked, written atomically, rebuilt when unreadable; and
the ZIP table it keeps for :func:`territory_geo.geocode.zip_table`."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from territory_geo import cache, geocode
from territory_geo.settings import EQUAL_AREA_CRS, cache_dir

KEY = {"states": ["RI"], "version": "test"}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty cache folder for the test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TERRITORY_GEO_CACHE", str(path))
    return path


def _frame() -> pd.DataFrame:
    """Text and float columns (one with a NaN), a text index with a name."""
    return pd.DataFrame({"state": ["RI", "MA", "CT"], "lat": [41.8, np.nan, 41.6], "city": ["Providence", "", "Ä"]},
                        index=pd.Index(["02903", "02134", "06103"], name="zip"))


def _counter(value: object) -> tuple[list[int], object]:
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        return value

    return calls, build


def test_cache_dir_follows_the_variable_and_an_empty_one_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.delenv("TERRITORY_GEO_CACHE", raising=False)
    assert str(cache_dir()) == ".territory_geo/cache"
    monkeypatch.setenv("TERRITORY_GEO_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.setenv("TERRITORY_GEO_CACHE", "")
    assert cache_dir() is None
    assert cache.entry_path("zip-areas", KEY) is None
    calls, build = _counter(_frame())
    for _ in range(2):
        cache.cached("table", KEY, build, cache.frame_arrays, cache.frame_of)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_a_frame_comes_back_exactly_with_its_dtypes_names_and_order():
    frame = _frame()
    back = cache.frame_of(cache.frame_arrays(frame))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.index.dtype == frame.index.dtype
    assert list(back.dtypes) == list(frame.dtypes)


@pytest.mark.parametrize("change", ["int column", "missing text", "unnamed index", "object column"])
def test_a_frame_the_arrays_would_not_give_back_exactly_is_not_encoded(change):
    frame = _frame()
    if change == "int column":
        frame["n"] = [1, 2, 3]
    elif change == "missing text":
        frame.loc["02134", "state"] = np.nan
    elif change == "unnamed index":
        frame.index.name = None
    else:
        frame["mixed"] = pd.Series(["a", 1, None], index=frame.index, dtype=object)
    assert cache.frame_arrays(frame) is None


def test_a_geoframe_comes_back_with_the_same_coordinates_column_order_and_crs():
    geoms = [shapely.Polygon([(0, 0), (1.0000001, 0), (1, 1 / 3)]), shapely.MultiPolygon(
        [shapely.box(5, 5, 6, 6), shapely.box(7, 7, 8, 8)]), shapely.Polygon()]
    frame = gpd.GeoDataFrame({"state": ["RI", "MA", "CT"]}, geometry=geoms, index=pd.Index(["a", "b", "c"],
                                                                                           name="zip"),
                             crs=EQUAL_AREA_CRS)
    frame["area"] = frame.geometry.area
    back = cache.geoframe_of(cache.geoframe_arrays(frame), EQUAL_AREA_CRS)
    assert list(back.columns) == ["state", "geometry", "area"]
    assert back.crs == frame.crs
    assert shapely.to_wkb(back.geometry.values).tolist() == shapely.to_wkb(frame.geometry.values).tolist()
    pd.testing.assert_frame_equal(back.drop(columns="geometry"), frame.drop(columns="geometry"), check_exact=True)


def test_an_entry_is_written_once_then_read(folder):
    calls, build = _counter(_frame())
    first = cache.cached("table", KEY, build, cache.frame_arrays, cache.frame_of)
    second = cache.cached("table", KEY, build, cache.frame_arrays, cache.frame_of)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(second, first, check_exact=True)
    assert [p.name for p in folder.iterdir()] == [cache.entry_path("table", KEY).name]
    other = {**KEY, "states": ["MA"]}
    assert cache.entry_path("table", other) != cache.entry_path("table", KEY)
    assert cache.read("table", other) is None


def test_an_entry_holding_another_key_is_not_read(folder):
    cache.write("table", KEY, cache.frame_arrays(_frame()))
    other = {**KEY, "version": "other"}
    cache.entry_path("table", KEY).replace(cache.entry_path("table", other))
    assert cache.read("table", other) is None


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "pickled"])
def test_a_damaged_entry_is_built_again_and_replaced(folder, damage):
    cache.write("table", KEY, cache.frame_arrays(_frame()))
    path = cache.entry_path("table", KEY)
    data = path.read_bytes()
    if damage == "pickled":  # an object array needs unpickling: never loaded
        np.savez(path, _key=np.array(cache._key_text("table", KEY)), x=np.array([{"a": 1}], dtype=object))
    else:
        path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a zip" * 100, "empty": b""}[damage])
    assert cache.read("table", KEY) is None
    calls, build = _counter(_frame())
    value = cache.cached("table", KEY, build, cache.frame_arrays, cache.frame_of)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(value, _frame(), check_exact=True)
    assert cache.read("table", KEY) is not None


def test_arrays_that_do_not_decode_are_built_again(folder):
    cache.write("table", KEY, {"unrelated": np.arange(3)})
    calls, build = _counter(_frame())
    value = cache.cached("table", KEY, build, cache.frame_arrays, cache.frame_of)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(value, _frame(), check_exact=True)


def test_a_cache_folder_that_cannot_be_written_only_means_nothing_is_kept(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TERRITORY_GEO_CACHE", str(blocker / "cache"))
    _, build = _counter(_frame())
    value = cache.cached("table", KEY, build, cache.frame_arrays, cache.frame_of)
    pd.testing.assert_frame_equal(value, _frame(), check_exact=True)
    assert blocker.read_text() == "not a folder"


def test_a_write_leaves_no_temporary_file(folder):
    cache.write("table", KEY, cache.frame_arrays(_frame()))
    assert [p.name for p in folder.iterdir()] == [cache.entry_path("table", KEY).name]


def test_the_zip_table_is_the_same_from_the_package_and_from_the_cache(folder):
    geocode.zip_table.cache_clear()
    try:
        cold = geocode.zip_table()
        geocode.zip_table.cache_clear()
        warm = geocode.zip_table()
    finally:
        geocode.zip_table.cache_clear()
    assert warm is not cold
    assert len(list(folder.glob("zip-table-*.npz"))) == 1
    fresh = geocode._zipcodes_table()
    for frame in (cold, warm):
        pd.testing.assert_frame_equal(frame, fresh, check_exact=True)
        assert frame.index.dtype == fresh.index.dtype and list(frame.dtypes) == list(fresh.dtypes)
