"""territory_geo.geocode: offline ZIP table, ZIP normalisation, lookup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from territory_geo import geocode


def test_zip_table_is_indexed_by_five_digit_text(real_zips):
    table = geocode.zip_table()
    assert table.index.is_unique
    assert table.index.str.fullmatch(r"\d{5}").all()
    assert list(table.columns) == ["zip_type", "city", "state", "county", "lat", "lon"]
    assert set(table["zip_type"]) == {"STANDARD", "PO BOX", "UNIQUE", "MILITARY"}
    row = table.loc[real_zips["boston_allston"]]
    assert (row["city"], row["state"], row["zip_type"]) == ("Allston", "MA", "STANDARD")
    assert table.loc[real_zips["po_box"], "zip_type"] == "PO BOX"
    assert geocode.zip_table() is table  # cached


def test_lookup_real_zips(real_zips):
    zips = pd.Series([real_zips["atlanta"], real_zips["miami"], real_zips["birmingham"], "99999"],
                     index=[10, 11, 12, 13])
    found = geocode.lookup(zips)
    assert found.index.tolist() == [10, 11, 12, 13]
    assert found["state"].tolist()[:3] == ["GA", "FL", "AL"]
    assert found["city"].tolist()[:3] == ["Atlanta", "Miami", "Birmingham"]
    assert found.loc[10, "lat"] == pytest.approx(33.7525) and found.loc[10, "lon"] == pytest.approx(-84.3888)
    assert found.loc[11, "lat"] == pytest.approx(25.7629, abs=1e-4)
    assert found.loc[13].isna().all()


@pytest.mark.parametrize(("raw", "expected"), [
    ("30303", "30303"), ("2134", "02134"), ("02134", "02134"), ("501", "00501"), ("33131-1234", "33131"),
    ("33131 1234", "33131"), ("331311234", "33131"), ("2134.0", "02134"), (" 35203 ", "35203"),
])
def test_normalise_zip_accepts(raw, expected):
    zip5, malformed = geocode.normalise_zip(pd.Series([raw]))
    assert zip5.iloc[0] == expected
    assert isinstance(zip5.iloc[0], str)
    assert not malformed.iloc[0]


@pytest.mark.parametrize("raw", ["ABCDE", "12", "303031", "3030-1", "SW1A 1AA"])
def test_normalise_zip_rejects(raw):
    zip5, malformed = geocode.normalise_zip(pd.Series([raw]))
    assert pd.isna(zip5.iloc[0])
    assert malformed.iloc[0]


def test_normalise_zip_missing_is_not_malformed():
    zip5, malformed = geocode.normalise_zip(pd.Series([None, np.nan, "30303"]))
    assert zip5.isna().tolist() == [True, True, False]
    assert malformed.tolist() == [False, False, False]


def test_standard_zips_of_states():
    sc = geocode.standard_zips(("SC",))
    assert len(sc) > 300
    assert (sc["state"] == "SC").all() and (sc["zip_type"] == "STANDARD").all()
    assert sc["lat"].notna().all()
    assert "29201" in sc.index and "29002" not in sc.index  # 29002 is a PO BOX
    both = geocode.standard_zips(["SC", "RI"])
    assert set(both["state"]) == {"SC", "RI"}
    assert len(both) == len(sc) + len(geocode.standard_zips(("RI",)))
