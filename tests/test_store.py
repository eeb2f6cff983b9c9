"""territory_geo.store: SQLite store (WAL, schema version), datasets, plans with lineage, audit log."""

from __future__ import annotations

import json
import re
import sqlite3

import pandas as pd
import pytest

from territory_geo import io, store, validate
from territory_geo.errors import StoreError


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "nested" / "workbench.sqlite"


@pytest.fixture
def accounts(salesforce_accounts_csv) -> pd.DataFrame:
    return validate.validate_accounts(io.read_table(salesforce_accounts_csv, "sf.csv"), "sf.csv").data


@pytest.fixture
def reps(reps_csv) -> pd.DataFrame:
    return validate.validate_reps(io.read_table(reps_csv, "reps.csv"), "reps.csv").data


def test_file_store_uses_wal_and_records_the_schema_version(store_path):
    s = store.Store(store_path)
    assert store_path.exists()  # parent folders are created
    assert s.journal_mode() == "wal"
    assert s.schema_version() == store.SCHEMA_VERSION == 3
    with sqlite3.connect(store_path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"schema_version", "datasets", "plans", "plan_assignments", "audit_log", "drive_matrices",
            "dataset_files", "working_uploads", "working_upload_files"} <= tables


def test_memory_store_is_not_wal():
    s = store.Store(":memory:")
    assert s.journal_mode() == "memory"
    assert s.schema_version() == 3


def test_dataset_round_trip(store_path, accounts, reps):
    s = store.Store(store_path)
    meta = {"files": {"accounts": "sf.csv", "reps": "reps.csv"}, "n_valid": 4}
    dataset_id = s.save_dataset("Q3 accounts", accounts, reps, meta=meta, author="dana")
    record = s.load_dataset(dataset_id)
    assert record.id == dataset_id
    assert record.name == "Q3 accounts" and record.author == "dana" and record.meta == meta
    assert list(record.accounts.columns) == list(accounts.columns)
    text = {c: "string" for c in accounts.columns if accounts[c].dtype == object}  # the store keeps text as string
    pd.testing.assert_frame_equal(record.accounts, accounts.astype(text), check_dtype=False)
    assert record.accounts["zip"].tolist() == ["30303", "02134", "33131", "35203"]  # text with the leading zero
    pd.testing.assert_frame_equal(record.reps, reps, check_dtype=False)
    listed = s.list_datasets()
    assert listed[["id", "name", "author"]].values.tolist() == [[dataset_id, "Q3 accounts", "dana"]]
    assert listed.loc[0, "meta"] == meta


def test_dataset_without_reps_loads_an_empty_reps_frame(store_path, accounts):
    s = store.Store(store_path)
    record = s.load_dataset(s.save_dataset("no reps", accounts))
    assert record.reps.empty
    assert len(record.accounts) == 4


def test_missing_dataset_or_plan_raises(store_path, accounts):
    s = store.Store(store_path)
    with pytest.raises(StoreError, match="No dataset with id 42 in the store."):
        s.load_dataset(42)
    with pytest.raises(StoreError, match="No plan with id 7 in the store."):
        s.load_plan(7)
    with pytest.raises(StoreError, match="Cannot save a plan for dataset 9: no such dataset."):
        s.save_plan(9, {"30303": "T1"}, "orphan")


def test_plan_round_trip_with_parent(store_path, accounts):
    s = store.Store(store_path)
    dataset_id = s.save_dataset("d", accounts)
    first = s.save_plan(dataset_id, {"30303": "T1", "02134": "T2", "33131": "T2"}, "Baseline", author="dana",
                        rationale="Current ownership", meta={"k": 3})
    second = s.save_plan(dataset_id, pd.Series({"30303": "T2", "02134": "T2", "33131": "T1"}), "Rebalanced",
                         author="sofia", rationale="Move Atlanta", parent_id=first, status="proposed")
    base = s.load_plan(first)
    assert base.parent_id is None
    assert base.rationale == "Current ownership" and base.meta == {"k": 3} and base.status == "draft"
    assert base.assignment.to_dict() == {"02134": "T2", "30303": "T1", "33131": "T2"}
    plan = s.load_plan(second)
    assert plan.dataset_id == dataset_id
    assert plan.parent_id == first
    assert (plan.name, plan.author, plan.rationale, plan.status) == ("Rebalanced", "sofia", "Move Atlanta",
                                                                     "proposed")
    assert plan.assignment.index.name == "zip"
    assert plan.assignment.to_dict() == {"02134": "T2", "30303": "T2", "33131": "T1"}
    listed = s.list_plans(dataset_id)
    assert listed["id"].tolist() == [second, first]  # newest first
    assert listed["parent_id"].tolist()[0] == first
    assert pd.isna(listed["parent_id"].tolist()[1])


def test_audit_log_records_every_save(store_path, accounts):
    s = store.Store(store_path)
    dataset_id = s.save_dataset("d", accounts, author="dana")
    plan_id = s.save_plan(dataset_id, {"30303": "T1"}, "p", author="sofia")
    s.log("export_plan", actor="dana", target=f"plan:{plan_id}", details={"format": "csv"})
    log = s.audit_log()
    assert log["action"].tolist() == ["export_plan", "save_plan", "save_dataset"]
    assert log["actor"].tolist() == ["dana", "sofia", "dana"]
    assert log["target"].tolist() == [f"plan:{plan_id}", f"plan:{plan_id}", f"dataset:{dataset_id}"]
    assert json.loads(log.loc[1, "details"]) == {"dataset_id": dataset_id, "parent_id": None, "name": "p",
                                                 "units": 1}
    assert json.loads(log.loc[2, "details"]) == {"name": "d", "accounts": 4, "reps": 0}
    assert log["at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$").all()
    assert len(s.audit_log(limit=1)) == 1


def test_store_survives_reopening_the_same_path(store_path, accounts):
    first = store.Store(store_path)
    dataset_id = first.save_dataset("kept", accounts)
    plan_id = first.save_plan(dataset_id, {"30303": "T1"}, "kept plan")
    del first
    again = store.Store(store_path)
    assert again.schema_version() == 3
    with sqlite3.connect(store_path) as con:
        assert con.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1  # not re-inserted
    assert again.list_datasets()["name"].tolist() == ["kept"]
    assert again.load_plan(plan_id).assignment.to_dict() == {"30303": "T1"}
    assert again.load_dataset(dataset_id).accounts["account_id"].tolist() == ["A1", "A2", "A3", "A4"]
    assert len(again.audit_log()) == 2


def test_newer_schema_version_is_refused(store_path):
    store.Store(store_path)
    with sqlite3.connect(store_path) as con:
        con.execute("INSERT INTO schema_version VALUES (?, ?)", (store.SCHEMA_VERSION + 1, "2030-01-01"))
    with pytest.raises(StoreError, match=r"has schema version 4, newer than this workbench \(3\)"):
        store.Store(store_path)


def test_failed_save_rolls_back(store_path, accounts):
    s = store.Store(store_path)
    dataset_id = s.save_dataset("d", accounts)
    with pytest.raises(sqlite3.IntegrityError):
        s.save_plan(dataset_id, pd.Series(["T1", "T2"], index=["30303", "30303"]), "duplicate zip")
    assert s.list_plans(dataset_id).empty
    assert s.audit_log()["action"].tolist() == ["save_dataset"]


def test_deleting_a_dataset_cascades_to_its_plans(store_path, accounts):
    s = store.Store(store_path)
    dataset_id = s.save_dataset("d", accounts)
    s.save_plan(dataset_id, {"30303": "T1"}, "p")
    with s._connect() as con:
        con.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
        assert con.execute("SELECT COUNT(*) FROM plan_assignments").fetchone()[0] == 0
    assert s.list_plans(dataset_id).empty


def test_a_version_1_store_is_upgraded_in_place_and_keeps_its_data(store_path):
    """A store written before drive-time matrices and working uploads existed: opening it adds the tables and
    records the current version."""
    v1_schema = re.sub(r"CREATE TABLE IF NOT EXISTS (drive_matrices|dataset_files|working_uploads|working_upload_files)"
                       r" \(.*?\);", "", store._SCHEMA, flags=re.S)
    assert "drive_matrices" not in v1_schema and "working_upload" not in v1_schema
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(store_path) as con:
        con.executescript(v1_schema)
        con.execute("INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00+00:00')")
        con.execute("INSERT INTO datasets (name, created_at, author, accounts) VALUES ('from v1', 'then', 'a', x'00')")
    upgraded = store.Store(store_path)
    assert upgraded.schema_version() == 3
    assert upgraded.list_datasets()["name"].tolist() == ["from v1"]
    assert upgraded.load_matrix("missing") is None
    assert upgraded.load_upload("missing") is None
    assert upgraded.dataset_files(1) == {}


def test_drive_matrix_round_trip(store_path):
    s = store.Store(store_path)
    frame = pd.DataFrame({"rep_id": ["R1", "R1"], "target_id": ["30303", "30305"], "minutes": [12.5, 31.0],
                          "source": ["graph", "estimated"]})
    s.save_matrix("k1", frame, {"graph": "georgia.osm.pbf", "fingerprint": "abc"})
    loaded, meta = store.Store(store_path).load_matrix("k1")
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    assert meta == {"graph": "georgia.osm.pbf", "fingerprint": "abc"}
    s.save_matrix("k1", frame.iloc[:1], {})  # replaced, not duplicated
    assert len(s.load_matrix("k1")[0]) == 1


def test_working_upload_round_trip_and_only_the_newest_are_kept(store_path):
    s = store.Store(store_path)
    files = {"accounts": ("../../etc/passwd.csv", b"Account ID,Name\nA1,x\n"), "reps": ("reps.csv", b"\x00\xff")}
    token = s.save_upload("crm.csv", files)
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", token)  # random, URL-safe: the only key to the upload
    assert store.Store(store_path).load_upload(token) == ("crm.csv", files)  # bytes and names exactly as sent
    assert not (store_path.parent / "passwd.csv").exists()  # names are data, never paths
    later = [s.save_upload(f"u{i}", {"accounts": ("a.csv", b"x")}, keep=3) for i in range(3)]
    assert s.load_upload(token) is None  # pushed out by three newer uploads
    assert [s.load_upload(t)[0] for t in later] == ["u0", "u1", "u2"]
    with sqlite3.connect(store_path) as con:
        assert con.execute("SELECT COUNT(*) FROM working_upload_files").fetchone()[0] == 3  # files went too
    assert s.load_upload("not-a-token") is None
    assert s.audit_log()["action"].tolist()[:1] == ["keep_upload"]


def test_a_dataset_keeps_the_files_it_was_read_from(store_path, accounts):
    s = store.Store(store_path)
    files = {"accounts": ("crm.csv", b"Account ID,Name\nA1,x\n"), "zip_areas": ("../../areas.geojson", b"{}")}
    dataset_id = s.save_dataset("with files", accounts, files=files)
    assert store.Store(store_path).dataset_files(dataset_id) == files
    assert s.dataset_files(s.save_dataset("without", accounts)) == {}
