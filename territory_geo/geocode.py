"""Offline ZIP geocoding from the ``zipcodes`` package (real US ZIP centroids; no network at any point)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

#: States outside the lower 48 (no outline in the bundled us48 shapes).
NON_CONUS: frozenset[str] = frozenset({"AK", "HI", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW", "AA", "AE", "AP"})


@lru_cache(maxsize=1)
def zip_table() -> pd.DataFrame:
    """Every ZIP the ``zipcodes`` package knows, indexed by the 5-digit ZIP string.

    Columns: ``zip_type`` (STANDARD, PO BOX, UNIQUE, MILITARY), ``city``, ``state``, ``county``, ``lat``, ``lon``.
    The frame is shared: treat it as read-only. Kept in the cache (:mod:`territory_geo.cache`) between runs.
    """
    from territory_geo import cache

    key = {"zipcodes": cache.package_version("zipcodes"), "code": cache.source_digest(__file__)} | cache.common_key()
    return cache.cached("zip-table", key, _zipcodes_table, cache.frame_arrays, cache.frame_of)


def _zipcodes_table() -> pd.DataFrame:
    import zipcodes

    rows = zipcodes.list_all()
    frame = pd.DataFrame(
        {
            "zip": [r["zip_code"] for r in rows],
            "zip_type": [r["zip_code_type"] for r in rows],
            "city": [r["city"] for r in rows],
            "state": [r["state"] for r in rows],
            "county": [r["county"] for r in rows],
            "lat": pd.to_numeric([r["lat"] for r in rows], errors="coerce"),
            "lon": pd.to_numeric([r["long"] for r in rows], errors="coerce"),
        }
    )
    frame = frame.drop_duplicates("zip").set_index("zip")
    return frame


def standard_zips(states: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """STANDARD (deliverable, area-covering) ZIPs of the given states with a valid centroid."""
    table = zip_table()
    mask = (table["zip_type"] == "STANDARD") & table["state"].isin(list(states)) & table["lat"].notna()
    mask &= ~((table["lat"] == 0) & (table["lon"] == 0))
    return table.loc[mask]


def normalise_zip(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Normalise ZIP text: restore leading zeros lost by spreadsheets, accept ZIP+4, drop Excel's ``.0``.

    Returns
    -------
    (zip5, ok): the 5-digit ZIP strings (NaN where empty or malformed) and a mask of cells that were
    present but malformed.
    """
    # Performance: each distinct ZIP text is normalised once, then spread back to the rows.
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=False)
    zip5, malformed = _normalise_zip_text(pd.Series(uniques, name=values.name))
    return zip5.take(codes).set_axis(values.index), malformed.take(codes).set_axis(values.index)


def _normalise_zip_text(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = text.str.strip()
    text = text.str.replace(r"\.0$", "", regex=True)
    match = text.str.extract(r"^(\d{3,5})(?:[-\s]?\d{4})?$", expand=False)
    zip5 = match.str.zfill(5)
    malformed = text.notna() & zip5.isna()
    return zip5.astype(object).where(zip5.notna(), np.nan), malformed


def lookup(zip5: pd.Series) -> pd.DataFrame:
    """Look ZIPs up: returns ``zip_type``, ``state``, ``city``, ``lat``, ``lon`` aligned to the input index."""
    table = zip_table()
    found = table.reindex(zip5.to_numpy())
    found.index = zip5.index
    return found[["zip_type", "state", "city", "county", "lat", "lon"]]
