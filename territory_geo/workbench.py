"""The workbench's use cases as plain functions: save and reopen a dataset, save a plan, the cached drive-time matrix.

The app (``ui/``) calls these and renders; the CLI and scripts can call them too. They take a
:class:`~territory_geo.store.Store` and library objects, never Streamlit state.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd

from territory_geo import drivetime as dt
from territory_geo.dataset import Dataset
from territory_geo.store import Store
from territory_geo.units import Units, ownership_by_zip

#: Input files by role, as sent: role -> (file name, bytes).
Files = Mapping[str, tuple[str, bytes]]

BASELINE_NAME = "Current ownership"
BASELINE_RATIONALE = ("Baseline: each ZIP goes to the owner holding most of its potential, as in the uploaded CRM "
                      "export.")


def save_dataset(store: Store, name: str, files: Files, data: Dataset, units_obj: Units | None,
                 author: str = "analyst") -> int:
    """Save a dataset: the files it was read from (so it reopens exactly), its validated accounts and reps, and
    today's ownership as the baseline plan; returns the dataset id."""
    accounts = data.accounts.data if len(data.accounts.data) else pd.DataFrame()
    reps = data.reps.data if data.reps is not None else None
    meta = {"files": dict(data.files), "n_valid": data.report.n_valid, "n_quarantined": len(data.accounts.quarantine)}
    dataset_id = store.save_dataset(name, accounts, reps, meta, author=author, files=files)
    if units_obj is not None and data.scored is not None:
        baseline = ownership_by_zip(units_obj, data.scored.accounts)
        if len(baseline):
            store.save_plan(dataset_id, baseline, BASELINE_NAME, author=author, rationale=BASELINE_RATIONALE,
                            status="baseline")
    return dataset_id


def open_dataset(store: Store, dataset_id: int, actor: str = "analyst") -> tuple[str, dict[str, tuple[str, bytes]]]:
    """A saved dataset's label and files (role -> (file name, bytes)); the opening is written to the audit log.

    A dataset saved before its files were kept reopens from its stored tables (as Parquet)."""
    record = store.load_dataset(dataset_id)
    files = store.dataset_files(record.id)
    if not files:
        files = {"accounts": (f"dataset-{record.id}-accounts.parquet", _parquet(record.accounts))}
        if len(record.reps):
            files["reps"] = (f"dataset-{record.id}-reps.parquet", _parquet(record.reps))
    store.log("open_dataset", actor=actor, target=f"dataset:{record.id}")
    return f"#{record.id} {record.name}", files


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def save_plan(store: Store, dataset_id: int, assignment: pd.Series, name: str, rationale: str = "",
              meta: Mapping[str, Any] | None = None, author: str = "analyst", parent_id: int | None = None) -> int:
    """Save a plan (ZIP -> rep id) of a saved dataset as a draft; returns the plan id."""
    return store.save_plan(dataset_id, assignment, name, author=author, rationale=rationale, parent_id=parent_id,
                           meta=meta)


def zip_matrix(store: Store, cache_key: str, reps: pd.DataFrame, units_obj: Units,
               graph: dt.RoadGraph | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rep home -> ZIP unit drive minutes (``rep_id, target_id, minutes, source``) and the calibration report,
    computed once per ``cache_key`` (a digest of the dataset and the graph) and kept in the store."""
    cached = store.load_matrix(cache_key)
    if cached is not None:
        return cached
    frame, calibration = dt.rep_matrix(reps, dt.zip_targets(units_obj.table), graph)
    report = calibration.to_json()
    store.save_matrix(cache_key, frame, report)
    return frame, report
