"""territory_geo.market: market files in long and CBP wide layout, deal sizes, TAM per ZIP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from territory_geo import geocode, io, market
from territory_geo.errors import InputFileError
from territory_geo.settings import ScoringSettings

DEAL_SIZES = pd.DataFrame({"segment": ["Enterprise", "Mid-Market", "SMB"], "industry": [None, None, None],
                           "deal_size": [100_000.0, 20_000.0, 5_000.0]})


def _read(text: str, name: str = "market.csv"):
    return market.read_market(io.read_table(text.encode(), name), name)


def test_long_format_tam_is_counts_times_deal_size():
    long, report = _read("zip,size_band,count\n30303,Enterprise,2\n30303,SMB,10\n2134,mid-market,3\n"
                         "33131,small,4\n")
    assert report.issues.empty and report.n_valid == 4
    counts = long.set_index(["zip", "segment"])["count"].to_dict()
    assert counts == {("02134", "Mid-Market"): 3.0, ("30303", "Enterprise"): 2.0, ("30303", "SMB"): 10.0,
                      ("33131", "SMB"): 4.0}
    tam = market.tam_by_zip(long, DEAL_SIZES)
    assert tam.to_dict() == {"02134": 3 * 20_000.0, "30303": 2 * 100_000.0 + 10 * 5_000.0, "33131": 4 * 5_000.0}


def test_cbp_wide_format_maps_size_classes_to_segments():
    text = ("zip,naics,n1_4,n5_9,n10_19,n20_49,n50_99,n100_249,n250_499,n500_999,n1000\n"
            "30303,54,10,5,2,1,4,2,1,1,1\n"
            "35203,54,1,0,0,0,0,0,0,0,0\n")
    long, report = _read(text, "cbp.csv")
    assert report.issues.empty
    counts = long.groupby(["zip", "segment"])["count"].sum().to_dict()
    # employee bands: SMB < 50 <= Mid-Market < 500 <= Enterprise
    assert counts[("30303", "SMB")] == 10 + 5 + 2 + 1
    assert counts[("30303", "Mid-Market")] == 4 + 2 + 1
    assert counts[("30303", "Enterprise")] == 1 + 1
    assert counts[("35203", "SMB")] == 1
    tam = market.tam_by_zip(long, DEAL_SIZES)
    assert tam["30303"] == 18 * 5_000.0 + 7 * 20_000.0 + 2 * 100_000.0
    assert tam["35203"] == 5_000.0


def test_cbp_bands_follow_the_employee_settings():
    settings = ScoringSettings(enterprise_employees=1000, midmarket_employees=20)
    frame = io.read_table(b"zip,n10_19,n20_49,n500_999,n1000\n30303,1,2,3,4\n", "cbp.csv")
    long, _ = market.read_market(frame, "cbp.csv", settings)
    counts = long.groupby("segment")["count"].sum().to_dict()
    assert counts == {"SMB": 1.0, "Mid-Market": 5.0, "Enterprise": 4.0}


def test_bad_rows_are_reported_with_their_column_and_left_out():
    long, report = _read("zip,size_band,count\n30303,Enterprise,2\n30303,Bogus,4\n33131,SMB,abc\n"
                         "35203,SMB,-1\nABCDE,SMB,3\n")
    assert report.n_rows == 5 and report.n_valid == 1
    issues = report.issues
    assert issues[["row", "column", "value"]].values.tolist() == [
        [2, "size_band", "Bogus"], [3, "count", "abc"], [4, "count", "-1"], [5, "zip", "ABCDE"]]
    assert (issues["severity"] == "error").all()
    assert issues["fix"].str.len().min() > 0
    assert long[["zip", "segment", "count"]].values.tolist() == [["30303", "Enterprise", 2.0]]


def test_bad_cbp_cell_names_its_size_class_column():
    _, report = _read("zip,n1_4,n5_9\n30303,3,x\n", "cbp.csv")
    assert report.issues[["row", "column", "value"]].values.tolist() == [[1, "n5_9", "x"]]


def test_county_rows_are_spread_over_the_countys_standard_zips():
    long, report = _read("county,state,size_band,count\nFulton County,GA,SMB,100\nNowhere,GA,SMB,5\n", "c.csv")
    assert report.issues[["row", "column", "value"]].values.tolist() == [[2, "county", "Nowhere"]]
    table = geocode.zip_table()
    fulton = table[(table["zip_type"] == "STANDARD") & (table["state"] == "GA")
                   & (table["county"] == "Fulton County")].index
    assert set(long["zip"]) == set(fulton)
    assert long["count"].sum() == pytest.approx(100.0)
    assert np.allclose(long["count"], 100.0 / len(fulton))


def test_market_without_location_or_counts_raises():
    with pytest.raises(InputFileError, match=r"m\.csv: no location column\. Add 'zip'"):
        _read("size_band,count\nSMB,3\n", "m.csv")
    with pytest.raises(InputFileError, match=r"m\.csv: needs 'size_band' and 'count' columns, or CBP size-class"):
        _read("zip,companies_total\n30303,3\n", "m.csv")


def test_deal_sizes_from_customers_with_industry_and_overrides():
    scored = pd.DataFrame({
        "segment": ["SMB"] * 12 + ["Enterprise", "Enterprise", "Mid-Market"],
        "industry": ["Retail"] * 10 + ["Tech", "Tech"] + ["Tech"] * 3,
        "arr": [1000.0] * 10 + [4000.0, 0.0] + [100_000.0, 300_000.0, 50_000.0],
    })
    sizes = market.deal_sizes(scored)
    seg = sizes[sizes["industry"].isna()].set_index("segment")["deal_size"].to_dict()
    assert seg == {"Enterprise": 200_000.0, "Mid-Market": 50_000.0, "SMB": (10 * 1000.0 + 4000.0) / 11}
    ind = sizes.dropna(subset=["industry"])
    assert ind[["segment", "industry", "deal_size"]].values.tolist() == [["SMB", "Retail", 1000.0]]
    overridden = market.deal_sizes(scored, {"Enterprise": 123.0})
    ent = overridden[overridden["segment"] == "Enterprise"]
    assert ent["deal_size"].tolist() == [123.0]


def test_tam_uses_industry_deal_size_when_known():
    sizes = pd.concat([DEAL_SIZES, pd.DataFrame([{"segment": "SMB", "industry": "Retail", "deal_size": 1000.0}])],
                      ignore_index=True)
    long = pd.DataFrame({"zip": ["30303", "30303"], "segment": ["SMB", "SMB"], "industry": ["Retail", "Tech"],
                         "count": [2.0, 3.0]})
    assert market.tam_by_zip(long, sizes).to_dict() == {"30303": 2 * 1000.0 + 3 * 5_000.0}


def test_segment_without_a_deal_size_adds_no_tam():
    long, _ = _read("zip,size_band,count\n30303,SMB,10\n30303,Enterprise,1\n")
    sizes = DEAL_SIZES[DEAL_SIZES["segment"] != "SMB"]
    tam = market.tam_by_zip(long, sizes)
    assert tam.dtype == float
    assert tam.to_dict() == {"30303": 100_000.0}
