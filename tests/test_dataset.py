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


# --- what is set aside ----------------------------------------------------------------------------------------------

ACCOUNTS = ("Account ID,Account Name,Zip,ARR,Owner\n"
            "A1,Good,30303,100,R1\nA2,Typo,99999,5,R1\nA3,Neg,30303,-1,R1\nA4,Typo too,99998,5,R1\n"
            "A5,Ok,33131,0,R3\nA6,Ok,33131,0,R3\nA7,Ok,35203,0,Zed\nA8,Ok,35203,0,cy\n")
REPS = "Rep ID,Name,Home ZIP\nR1,Ann,30303\nR3,Priya,\nR1,Cy,35203\nR4,Dee,33131\n"


def test_set_aside_counts_and_names_rows_reps_and_owners():
    data = ingest(ACCOUNTS.encode(), REPS.encode(), accounts_name="accounts.csv", reps_name="reps.csv")
    assert data.usable
    records = {r.kind: r for r in data.set_aside()}
    assert list(records) == ["account_rows", "reps", "owners"]
    rows = records["account_rows"]
    assert rows.count == 3
    assert rows.message == "3 of 8 account rows in accounts.csv were quarantined (2 unknown ZIP, 1 negative ARR)."
    assert rows.items == ("row 2 (A2)", "row 3 (A3)", "row 4 (A4)")
    reps = records["reps"]
    assert reps.count == 2
    assert reps.message == ("2 rep(s) in reps.csv set aside: R3 (Priya, row 2: no usable home base), R1 (Cy, row 3: "
                            "duplicate id).")
    owners = records["owners"]
    assert owners.count == 4
    assert owners.message == ("4 account(s) have an owner who is not on the usable roster and are treated as "
                              "unassigned: R3 (2; rep row 2 set aside), Zed (1), cy (1; rep row 3 set aside).")
    assert data.set_aside_lines() == [rows.message, reps.message, owners.message]


def test_nothing_set_aside_is_an_empty_list(salesforce_accounts_csv, reps_csv):
    data = ingest(salesforce_accounts_csv.replace(b"Zed Nobody", b"R01"), reps_csv)
    assert data.set_aside() == [] and data.set_aside_lines() == []


def test_long_lists_are_capped():
    lines = ["Account ID,Account Name,Zip"] + [f"A{i},x,99999" for i in range(14)] + ["A99,ok,30303"]
    data = ingest("\n".join(lines).encode(), accounts_name="a.csv")
    [record] = data.set_aside()
    assert record.count == 14
    assert len(record.items) == 11 and record.items[-1] == "… and 4 more"


def test_every_rep_home_unusable_is_fatal_and_still_set_aside():
    reps = b"Rep ID,Name,Home Latitude,Home Longitude\nR1,Ann,0,0\nR2,Bob,0,0\n"
    data = ingest(b"Account ID,Account Name,Zip,Owner\nA1,a,30303,R1\n", reps, reps_name="reps.csv")
    assert data.scored is None and data.report.fatal
    assert data.report.to_json_dict()["errors"][0]["message"] == ("No rep in reps.csv has a usable home base: R1 "
                                                                  "(Ann, row 1), R2 (Bob, row 2).")
    [record] = data.set_aside()
    assert record.kind == "reps" and record.count == 2


def test_of_reps_reports_reps_set_aside():
    from territory_geo import io, validate
    from territory_geo.dataset import Dataset

    table = validate.validate_reps(io.read_table(REPS.encode(), "reps.csv"), "reps.csv")
    data = Dataset.of_reps(table, "reps.csv")
    assert [r.kind for r in data.set_aside()] == ["reps"]
    assert data.files == {"reps": "reps.csv"}


# --- implausible rep homes ------------------------------------------------------------------------------------------

GEORGIA = b"Account ID,Account Name,Zip\nA1,a,30303\nA2,b,30009\nA3,c,31401\n"


def test_rep_home_far_from_every_account_is_warned():
    reps = b"Rep ID,Name,Home ZIP,Tenure\nR1,Ann,30303,3\nR2,Sea Tac,98101,3\n"
    data = ingest(GEORGIA, reps, reps_name="reps.csv")
    [warning] = data.report.warnings().to_dict("records")
    assert (warning["file"], warning["row"], warning["column"], warning["value"]) == ("reps.csv", 2, "Home ZIP",
                                                                                     "98101")
    assert warning["message"].startswith("Rep R2 (Sea Tac): the home base (47.6")
    assert warning["message"].endswith(" km from the nearest account.")
    km = float(warning["message"].split(" is ")[1].split(" km")[0].replace(",", ""))
    assert 3_000 < km < 3_500
    assert warning["fix"] == "Check the home ZIP (or coordinates); if the rep really lives there, nothing to do."


def test_rep_home_at_sea_is_warned_and_keys_are_land():
    florida = b"Account ID,Account Name,Zip\nA1,a,33131\nA2,b,33040\nA3,c,33602\n"
    reps = (b"Rep ID,Name,Home Latitude,Home Longitude,Tenure\nR1,Ann,25.77,-79.50,3\n"
            b"R2,Key West,24.5552,-81.7816,3\nR3,Miami,25.7743,-80.1937,3\n")
    data = ingest(florida, reps, reps_name="reps.csv")
    [warning] = data.report.warnings().to_dict("records")
    assert (warning["row"], warning["column"], warning["value"]) == (1, "Home Latitude", "25.7700, -79.5000")
    assert warning["message"].startswith("Rep R1 (Ann): the home base (25.7700, -79.5000) is not on land: ")
    assert warning["message"].endswith(" km outside the lower 48 states and far from every ZIP.")


def test_rep_homes_are_not_checked_for_land_when_the_accounts_are_abroad():
    paris = b"Account ID,Account Name,Latitude,Longitude\nA1,a,48.85,2.35\nA2,b,48.86,2.30\n"
    reps = b"Rep ID,Name,Home Latitude,Home Longitude,Tenure\nR1,Ann,48.80,2.40,3\n"
    data = ingest(paris, reps)
    assert data.report.warnings().empty


def test_ingest_passes_the_limits_to_every_file():
    from territory_geo.settings import InputLimits

    data = ingest(GEORGIA, b"Rep ID,Name,Home ZIP\nR1,Ann,30303\nR2,Bob,30009\nR3,Cy,31401\n", reps_name="r.csv",
                  limits=InputLimits(max_rows=3))
    assert data.usable
    data = ingest(GEORGIA, b"Rep ID,Name,Home ZIP\nR1,Ann,30303\nR2,Bob,30009\nR3,Cy,31401\nR4,Di,30303\n",
                  reps_name="r.csv", limits=InputLimits(max_rows=3))
    assert not data.usable
    assert data.report.errors()["message"].iloc[0].startswith("r.csv has 4 rows; the limit is 3")
