"""Market sizing (TAM) from business-pattern counts per ZIP or county.

A market file counts companies per ZIP (or per county) by size band and industry, as the Census's County/ZIP
Business Patterns publish them. Two layouts are read:

- long: ``zip`` (or ``county`` + ``state``), ``size_band`` (Enterprise / Mid-Market / SMB), optional ``industry``,
  ``count``;
- wide, as CBP tables come: ``zip``, optional ``naics``/``industry``, and establishment counts by employment size
  class (``n1_4``, ``n5_9``, ``n10_19``, ``n20_49``, ``n50_99``, ``n100_249``, ``n250_499``, ``n500_999``,
  ``n1000``), mapped to segments by the employee bands of :class:`ScoringSettings`.

TAM per ZIP = Σ count × average deal size of the segment (and industry, when the accounts hold enough customers of
it), learned from the accounts' ARR or set by the user. County rows are spread evenly over the county's STANDARD ZIPs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory_geo import geocode
from territory_geo.errors import InputFileError
from territory_geo.io import normalise_name
from territory_geo.settings import ScoringSettings
from territory_geo.validate import ValidationReport, _Collector, parse_number

#: CBP employment size classes: (column, lower bound of employees).
CBP_SIZE_CLASSES: tuple[tuple[str, int], ...] = (
    ("n1_4", 1), ("n5_9", 5), ("n10_19", 10), ("n20_49", 20), ("n50_99", 50), ("n100_249", 100),
    ("n250_499", 250), ("n500_999", 500), ("n1000", 1000),
)
_SEGMENT_WORDS = {"enterprise": "Enterprise", "ent": "Enterprise", "large": "Enterprise", "midmarket": "Mid-Market",
                  "mid": "Mid-Market", "mm": "Mid-Market", "medium": "Mid-Market", "smb": "SMB", "small": "SMB"}
_MIN_CUSTOMERS_FOR_INDUSTRY = 10


def _segment_for_employees(lower: int, settings: ScoringSettings) -> str:
    if lower >= settings.enterprise_employees:
        return "Enterprise"
    if lower >= settings.midmarket_employees:
        return "Mid-Market"
    return "SMB"


def read_market(frame: pd.DataFrame, file: str = "market",
                settings: ScoringSettings | None = None) -> tuple[pd.DataFrame, ValidationReport]:
    """Normalise a market table to long form: ``zip``, ``segment``, ``industry``, ``count``.

    Rows that cannot be used are reported (row, column, value, fix) and left out; the rest go on.
    """
    settings = settings or ScoringSettings()
    cols = {normalise_name(c): c for c in frame.columns}
    col = _Collector(file, frame)
    zip_src = next((cols[c] for c in ("zip", "zipcode", "zcta", "postalcode") if c in cols), None)
    county_src = cols.get("county")
    state_src = cols.get("state")
    if zip_src is None and not (county_src and state_src):
        msg = (f"{file}: no location column. Add 'zip' (or 'county' and 'state') to the market file; found "
               f"{list(frame.columns)[:10]}.")
        raise InputFileError(msg)
    industry_src = next((cols[c] for c in ("industry", "naics", "naicsdescription") if c in cols), None)
    wide = [(cols[normalise_name(c)], lower) for c, lower in CBP_SIZE_CLASSES if normalise_name(c) in cols]
    if wide:
        parts = []
        for column, lower in wide:
            parts.append(pd.DataFrame({"_row": frame.index, "segment": _segment_for_employees(lower, settings),
                                       "count_text": frame[column], "_col": column}))
        long = pd.concat(parts, ignore_index=True)
    else:
        band_src = next((cols[c] for c in ("sizeband", "segment", "size") if c in cols), None)
        count_src = next((cols[c] for c in ("count", "establishments", "est", "companies") if c in cols), None)
        if band_src is None or count_src is None:
            msg = (f"{file}: needs 'size_band' and 'count' columns, or CBP size-class columns "
                   f"({', '.join(c for c, _ in CBP_SIZE_CLASSES)}).")
            raise InputFileError(msg)
        band = frame[band_src].astype("string").map(lambda v: _SEGMENT_WORDS.get(normalise_name(v)) if
                                                    isinstance(v, str) else None)
        col.add(band.isna(), band_src, "Unknown size band.", "Use Enterprise, Mid-Market or SMB.")
        long = pd.DataFrame({"_row": frame.index, "segment": band, "count_text": frame[count_src],
                             "_col": count_src})
    count, bad = parse_number(long["count_text"])
    for count_col in long["_col"].unique():
        bad_rows = long.loc[(bad | (count < 0)) & (long["_col"] == count_col), "_row"].unique()
        col.add(pd.Series(frame.index.isin(bad_rows), index=frame.index), count_col,
                "A company count is not a non-negative number.", "Write whole numbers of establishments.")
    long["count"] = count.fillna(0.0).clip(lower=0)
    long["industry"] = frame[industry_src].reindex(long["_row"]).to_numpy() if industry_src else None
    if zip_src:
        zip5, malformed = geocode.normalise_zip(frame[zip_src])
        col.add(malformed, zip_src, "Not a US ZIP code.", "Use 5-digit ZIP codes.")
        long["zip"] = zip5.reindex(long["_row"]).to_numpy()
    else:
        long = _spread_counties(long, frame, county_src, state_src, col)
    long = long[~long["_row"].isin(np.flatnonzero(col.error_rows.to_numpy()))]
    long = long.dropna(subset=["zip", "segment"])
    out = long.groupby(["zip", "segment", "industry"], dropna=False, as_index=False)["count"].sum()
    report = ValidationReport(issues=col.issues(), n_rows=len(frame), n_valid=int((~col.error_rows).sum()))
    return out, report


def _spread_counties(long: pd.DataFrame, frame: pd.DataFrame, county_src: str, state_src: str,
                     col: _Collector) -> pd.DataFrame:
    table = geocode.zip_table()
    std = table[table["zip_type"] == "STANDARD"].reset_index()
    std["key"] = std["state"].str.upper() + "|" + std["county"].str.lower().str.replace(" county", "", regex=False)
    key = (frame[state_src].astype("string").str.strip().str.upper() + "|"
           + frame[county_src].astype("string").str.strip().str.lower().str.replace(" county", "", regex=False))
    known = key.isin(set(std["key"]))
    col.add(~known, county_src, "Unknown county for this state.", "Write the county name as in 'Fulton County'.")
    zips_per_key = std.groupby("key")["zip"].apply(list)
    long = long.assign(key=key.reindex(long["_row"]).to_numpy())
    long["zip"] = long["key"].map(zips_per_key)
    long = long.dropna(subset=["zip"]).explode("zip")
    long["count"] = long["count"] / long.groupby(["_row", "segment"])["zip"].transform("size")
    return long.drop(columns="key")


def deal_sizes(scored: pd.DataFrame, overrides: dict[str, float] | None = None) -> pd.DataFrame:
    """Average deal size per (segment, industry) and per segment, from customers' ARR; ``overrides`` per segment win."""
    customers = scored[scored["arr"] > 0]
    by_segment = customers.groupby("segment")["arr"].mean()
    rows = [{"segment": s, "industry": None, "deal_size": float(v)} for s, v in by_segment.items()]
    if "industry" in customers.columns:
        g = customers.groupby(["segment", "industry"])["arr"].agg(["mean", "size"])
        rows += [{"segment": s, "industry": i, "deal_size": float(r["mean"])}
                 for (s, i), r in g.iterrows() if r["size"] >= _MIN_CUSTOMERS_FOR_INDUSTRY]
    out = pd.DataFrame(rows, columns=["segment", "industry", "deal_size"])
    for segment, size in (overrides or {}).items():
        out = out[out["segment"] != segment]
        out = pd.concat([out, pd.DataFrame([{"segment": segment, "industry": None, "deal_size": float(size)}])])
    return out.reset_index(drop=True)


def tam_by_zip(market: pd.DataFrame, sizes: pd.DataFrame) -> pd.Series:
    """TAM per ZIP = Σ count × deal size (industry-specific when known, else the segment's)."""
    seg = sizes[sizes["industry"].isna()].set_index("segment")["deal_size"]
    ind = sizes.dropna(subset=["industry"]).set_index(["segment", "industry"])["deal_size"]
    keys = pd.MultiIndex.from_arrays([market["segment"], market["industry"]])
    specific = pd.Series(ind.reindex(keys).to_numpy(), index=market.index)
    size = specific.fillna(market["segment"].map(seg).astype(float)).fillna(0.0)
    return (market["count"] * size).groupby(market["zip"]).sum()
