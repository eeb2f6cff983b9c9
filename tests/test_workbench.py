"""territory_geo.workbench: the app's use cases on the store (save and reopen a dataset, save a plan, matrix cache)."""

from __future__ import annotations

import pandas as pd

from territory_geo import io, units, workbench
from territory_geo.dataset import ingest
from territory_geo.store import Store


def test_a_saved_dataset_reopens_from_the_files_it_was_read_from(tmp_path, salesforce_accounts_csv, reps_csv):
    store = Store(tmp_path / "s.sqlite")
    files = {"accounts": ("sf.csv", salesforce_accounts_csv), "reps": ("reps.csv", reps_csv)}
    data = ingest(salesforce_accounts_csv, reps_csv, accounts_name="sf.csv", reps_name="reps.csv")
    built = units.build_units(data.scored.accounts)
    dataset_id = workbench.save_dataset(store, "Q3", files, data, built, author="dana")

    label, reopened = workbench.open_dataset(store, dataset_id)
    assert label == f"#{dataset_id} Q3" and reopened == files
    again = ingest(reopened["accounts"][1], reopened["reps"][1], accounts_name="sf.csv", reps_name="reps.csv")
    assert again.report.n_valid == data.report.n_valid == 4
    plans = store.list_plans(dataset_id)
    assert plans[["name", "status", "author"]].values.tolist() == [["Current ownership", "baseline", "dana"]]
    baseline = store.load_plan(int(plans["id"][0])).assignment
    assert set(baseline) <= {"R01", "R02"} and len(baseline) == len(built.table)
    assert store.audit_log()["action"].tolist()[:1] == ["open_dataset"]


def test_an_older_dataset_without_files_reopens_from_its_tables(tmp_path, salesforce_accounts_csv):
    """Datasets saved before the files were kept hold the tables as read."""
    store = Store(tmp_path / "s.sqlite")
    dataset_id = store.save_dataset("old", io.read_table(salesforce_accounts_csv, "sf.csv"))
    label, files = workbench.open_dataset(store, dataset_id)
    assert list(files) == ["accounts"] and files["accounts"][0].endswith(".parquet")
    assert ingest(files["accounts"][1], accounts_name=files["accounts"][0]).report.n_valid == 4


def test_the_zip_matrix_is_computed_once_and_kept(tmp_path, salesforce_accounts_csv, reps_csv, monkeypatch):
    store = Store(tmp_path / "s.sqlite")
    data = ingest(salesforce_accounts_csv, reps_csv)
    built = units.build_units(data.scored.accounts)
    frame, report = workbench.zip_matrix(store, "k", data.reps.data, built, None)
    assert set(frame["source"]) == {"estimated"} and report["source"] == "estimated"
    assert len(frame) == 2 * len(built.table)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed instead of read from the store")

    monkeypatch.setattr(workbench.dt, "rep_matrix", fail)
    cached, cached_report = workbench.zip_matrix(Store(tmp_path / "s.sqlite"), "k", data.reps.data, built, None)
    pd.testing.assert_frame_equal(cached, frame, check_dtype=False)
    assert cached_report == report
