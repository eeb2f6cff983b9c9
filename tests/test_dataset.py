"""territory_geo.dataset.ingest: files -> validated, owner-linked, scored data; never raises for bad input."""

from __future__ import annotations

import io as pyio
import os

import pandas as pd
import pytest

from territory_geo.dataset import ingest


def test_ingest_accounts_and_reps(salesforce_accounts_csv, reps_csv):
    data = ingest(salesforce_accounts_csv, reps_csv, accounts_name="sf.csv", reps_name="roster.csv")
    assert data.usable
    assert data.files == {"accounts": "sf.csv", "reps": "roster.csv"}
    assert data.report.ok and data.report.n_rows == 4 and data.report.n_valid == 4
    scored = data.scored.accounts
    assert scored["account_id"].tolist() == ["A1", "A2", "A3", "A4"]
    assert scored["owner_rep_id"].tolist()[:3] == ["R01", "R02", "R01"]
    assert pd.isna(scored.loc[3, "owner_rep_id"])  # unknown owner: kept, unassigned
    assert scored.loc[3, "owner_original"] == "Zed Nobody"
    assert data.reps.data["rep_id"].tolist() == ["R01", "R02"]
    padded, warning = data.report.warnings().to_dict("records")
    assert padded["row"] == 2 and padded["message"].startswith("ZIP '2134' has 4 digits; read as 02134")
    assert warning["file"] == "sf.csv" and warning["row"] == 4
    assert warning["column"] == "Account Owner"  # the user's column name, not the canonical one
    assert warning["value"] == "Zed Nobody"
    assert {"potential", "tier", "score", "workload_units"} <= set(scored.columns)
    assert data.tam is None
    assert data.quarantine().empty


def test_ingest_from_paths_and_file_objects(tmp_path, salesforce_accounts_csv, reps_csv):
    accounts = tmp_path / "accounts.csv"
    accounts.write_bytes(salesforce_accounts_csv)
    reps = pyio.BytesIO(reps_csv)
    reps.name = "upload_reps.csv"
    data = ingest(accounts, reps)
    assert data.files == {"accounts": "accounts.csv", "reps": "upload_reps.csv"}
    assert len(data.scored.accounts) == 4


def test_quarantine_collects_rows_of_every_file():
    accounts = b"Account ID,Account Name,Zip\nA1,Good,30303\nA2,Bad,99999\n"
    reps = b"Rep ID,Name,Home ZIP\nR1,Ann,30303\nR1,Dup,33131\n"
    data = ingest(accounts, reps, accounts_name="a.csv", reps_name="r.csv")
    assert data.usable
    q = data.quarantine()
    assert q["file"].tolist() == ["a.csv", "r.csv"]
    assert q["row"].tolist() == [2, 2]
    assert q["problems"].tolist() == ["Unknown ZIP code, and the account has no coordinates.",
                                      "Duplicate rep id R1: rows 1 and 2 both have it; row 2 was set aside."]
    assert len(data.scored.accounts) == 1


@pytest.mark.parametrize(("payload", "name", "message"), [
    (b"", "empty.csv", "empty.csv: the file is empty"),
    (os.urandom(300), "junk.xlsx", "junk.xlsx: the workbook could not be opened"),
    (b"foo,bar\n1,2\n", "cols.csv", "The accounts file has no 'account_id' column (found: foo, bar)."),
    (b"Account ID,Account Name,Zip\nA1,x,99999\n", "none.csv", "Unknown ZIP code"),
])
def test_bad_accounts_never_raise(payload, name, message):
    data = ingest(payload, accounts_name=name)
    assert not data.usable
    assert data.scored is None
    assert data.report.fatal
    assert data.report.errors()["message"].str.contains(message, regex=False).any()


def test_missing_accounts_path_is_reported(tmp_path):
    data = ingest(tmp_path / "missing.csv")
    assert not data.usable
    assert data.report.issues["message"].iloc[0].startswith("File not found:")
    assert data.files == {"accounts": "missing.csv"}


def test_broken_reps_file_is_fatal_but_reported(salesforce_accounts_csv):
    data = ingest(salesforce_accounts_csv, b"", reps_name="reps.csv")
    assert data.scored is None
    errors = data.report.errors()
    assert errors["file"].tolist() == ["reps.csv"]
    assert errors["message"].iloc[0].startswith("reps.csv: the file is empty")


def test_market_file_gives_tam_per_zip(salesforce_accounts_csv):
    market = b"zip,size_band,count\n30303,SMB,10\n2134,Enterprise,1\n33131,Mid-Market,2\n"
    data = ingest(salesforce_accounts_csv, market_file=market, market_name="m.csv")
    assert data.files["market"] == "m.csv"
    scored = data.scored.accounts
    # customers: A1 (Enterprise, ARR 48,000) and A3 (Mid-Market, ARR 12,000); no SMB customer -> no SMB deal size
    assert scored.loc[scored["arr"] > 0, ["account_id", "segment"]].values.tolist() == [["A1", "Enterprise"],
                                                                                         ["A3", "Mid-Market"]]
    assert data.tam.to_dict() == {"02134": 48_000.0, "30303": 0.0, "33131": 2 * 12_000.0}
    assert any(n.startswith("Market file: TAM for 3 ZIP(s)") for n in data.report.notes)


def test_unusable_market_file_is_a_note_not_a_failure(salesforce_accounts_csv):
    data = ingest(salesforce_accounts_csv, market_file=b"size_band,count\nSMB,1\n", market_name="m.csv")
    assert data.usable and data.tam is None
    assert any("m.csv: no location column" in n for n in data.report.notes)
