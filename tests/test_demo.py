"""territory_geo.demo: the synthetic Southeast demo is deterministic, realistic and matches the committed files."""

from __future__ import annotations

import io as pyio

import pandas as pd
import pytest

from territory_geo import demo, geocode, io
from territory_geo.settings import DEMO_SEED


@pytest.fixture(scope="module")
def demo_accounts(demo_files, read_csv_as_text) -> pd.DataFrame:
    return read_csv_as_text(demo_files[0])


def test_write_demo_equals_the_committed_files(demo_files, repo_root, read_csv_as_text):
    accounts, reps = demo_files
    assert (accounts.name, reps.name) == ("accounts.csv", "reps.csv")
    for written, committed in ((accounts, repo_root / "data/demo/accounts.csv"),
                               (reps, repo_root / "data/demo/reps.csv")):
        pd.testing.assert_frame_equal(read_csv_as_text(written), read_csv_as_text(committed))


def test_generate_accounts_is_deterministic_for_the_seed(demo_accounts):
    again = demo.generate_accounts(seed=DEMO_SEED)  # a second, independent run
    assert len(again) == 6000
    as_text = pd.read_csv(pyio.StringIO(again.to_csv(index=False)), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(as_text, demo_accounts)


def test_another_seed_gives_other_accounts():
    a = demo.generate_accounts(200, seed=DEMO_SEED)
    b = demo.generate_accounts(200, seed=DEMO_SEED + 1)
    pd.testing.assert_frame_equal(a, demo.generate_accounts(200, seed=DEMO_SEED))
    assert not a["Billing Zip/Postal Code"].equals(b["Billing Zip/Postal Code"])


def test_demo_accounts_shape_and_columns(demo_accounts):
    assert len(demo_accounts) == 6000
    assert list(demo_accounts.columns) == [
        "Account ID", "Account Name", "Billing Zip/Postal Code", "BillingLatitude", "BillingLongitude",
        "Billing State/Province", "Industry", "Employees", "Annual Revenue", "ARR", "Expansion Potential", "Win Rate",
        "Last Opportunity Outcome", "Strategic", "Churn Risk", "Intent Score", "Last Activity", "Renewal Date",
        "Account Owner"]
    assert demo_accounts["Account ID"].is_unique
    assert demo_accounts["Account ID"].iloc[[0, -1]].tolist() == ["ACC-00001", "ACC-06000"]


def test_demo_zips_are_real_standard_zips_in_the_four_states(demo_accounts):
    table = geocode.zip_table()
    zips = demo_accounts["Billing Zip/Postal Code"]
    assert zips.str.fullmatch(r"\d{5}").all()
    assert zips.isin(table.index).all()
    found = table.loc[zips]
    assert set(found["zip_type"]) == {"STANDARD"}
    assert set(found["state"]) == set(demo.STATES) == {"AL", "FL", "GA", "SC"}
    assert (found["state"].to_numpy() == demo_accounts["Billing State/Province"].to_numpy()).all()
    # concentrated in metros: Atlanta's ZIPs hold more accounts than any other city
    assert found["city"].value_counts().index[0] == "Atlanta"


def test_demo_mix_is_plausible(demo_accounts):
    arr = demo_accounts["ARR"].astype(float)
    customers = arr > 0
    assert 0.3 < customers.mean() < 0.5
    assert (demo_accounts.loc[~customers, "Churn Risk"] == "").all()
    assert (demo_accounts.loc[customers, "Renewal Date"] != "").all()
    assert set(demo_accounts["Strategic"]) == {"Yes", "No"}
    has_coords = demo_accounts["BillingLatitude"] != ""
    assert 0.55 < has_coords.mean() < 0.65
    assert set(demo_accounts["Account Owner"]) - {""} == {name for _, name, *_ in demo.REPS}


def test_demo_reps():
    reps = demo.generate_reps()
    assert len(reps) == 15
    assert reps["Rep ID"].tolist() == [f"R{i:02d}" for i in range(1, 16)]
    assert reps["Home ZIP"].isin(geocode.zip_table().index).all()
    assert reps.loc[0, ["Name", "Home ZIP", "Home City"]].tolist() == ["Dana Whitfield", "30303", "Atlanta"]
    assert set(reps["Current Quota"]) == {900_000, 650_000, 400_000}


def test_demo_loads_cleanly_through_the_same_pipeline_as_an_upload(demo_dataset):
    report = demo_dataset.report
    assert report.ok
    assert report.n_rows == 6000 and report.n_valid == 6000
    assert report.errors().empty
    mapping_note = next(n for n in report.notes if n.startswith("Columns recognised"))
    assert "'Billing Zip/Postal Code' → zip" in mapping_note and "'Account Owner' → owner_rep_id" in mapping_note
    scored = demo_dataset.scored.accounts
    # owners are written as names and resolved to rep ids; ~1.5 % of accounts have no owner
    assert set(scored["owner_rep_id"].dropna()) == {f"R{i:02d}" for i in range(1, 16)}
    assert 0.005 < scored["owner_rep_id"].isna().mean() < 0.03


def test_demo_csv_reads_as_salesforce_export(demo_files):
    frame = io.read_table(demo_files[0])
    table = io.canonicalise(frame, io.ACCOUNT_ALIASES, "accounts.csv")
    assert {"account_id", "name", "zip", "lat", "lon", "arr", "owner_rep_id"} <= set(table.frame.columns)
    assert "Billing State/Province" in table.frame.columns  # unknown column passes through
