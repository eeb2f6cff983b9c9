"""SQLite store for datasets, plans and the audit log (WAL mode, versioned schema).

Datasets keep the validated accounts and reps as Parquet blobs with their validation report; plans keep a ZIP ->
territory assignment with its parent plan, author, timestamp and rationale; every save is written to the audit log.
The store is what lets the app survive a restart with everything saved.
"""

from __future__ import annotations

import io
import json
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from territory_geo.errors import StoreError

#: Unsaved uploads kept for reopening after a browser refresh (the newest ones; older ones are dropped).
WORKING_UPLOADS_KEPT = 20

SCHEMA_VERSION = 3  # 2: drive_matrices; 3: working uploads and the files a dataset was read from

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    author TEXT NOT NULL,
    accounts BLOB NOT NULL,
    reps BLOB,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    parent_id INTEGER REFERENCES plans(id),
    name TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rationale TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'draft',
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS plan_assignments (
    plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    zip TEXT NOT NULL,
    territory_id TEXT NOT NULL,
    PRIMARY KEY (plan_id, zip)
);
CREATE TABLE IF NOT EXISTS drive_matrices (
    key TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    matrix BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_files (
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (dataset_id, role)
);
CREATE TABLE IF NOT EXISTS working_uploads (
    token TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS working_upload_files (
    token TEXT NOT NULL REFERENCES working_uploads(token) ON DELETE CASCADE,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (token, role)
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    clean = frame.copy()
    for name in clean.columns:
        if clean[name].dtype == object:
            clean[name] = clean[name].astype("string")
    clean.to_parquet(buf, index=False)
    return buf.getvalue()


def _from_parquet(blob: bytes | None) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(blob)) if blob else pd.DataFrame()


@dataclass(frozen=True)
class DatasetRecord:
    """A saved dataset: validated accounts and reps plus metadata (file names, validation summary)."""

    id: int
    name: str
    created_at: str
    author: str
    accounts: pd.DataFrame
    reps: pd.DataFrame
    meta: dict[str, Any]


@dataclass(frozen=True)
class PlanRecord:
    """A saved plan: ZIP -> territory assignment with lineage and rationale."""

    id: int
    dataset_id: int
    parent_id: int | None
    name: str
    author: str
    created_at: str
    rationale: str
    status: str
    assignment: pd.Series
    meta: dict[str, Any]


class Store:
    """The workbench's SQLite database.

    Parameters
    ----------
    path
        Database file; parent folders are created. ``":memory:"`` gives a private in-memory store (tests).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = f"Cannot create the folder for the store at {self.path}: {exc}. Set TERRITORY_GEO_STORE."
                raise StoreError(msg) from exc
        self._memory = sqlite3.connect(":memory:", check_same_thread=False) if self.path == ":memory:" else None
        with self._connect() as con:
            if self.path != ":memory:":
                con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            row = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] if row else None
            if current is None or current < SCHEMA_VERSION:
                con.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION, _now()))
            elif current > SCHEMA_VERSION:
                msg = (f"The store at {self.path} has schema version {current}, newer than this workbench "
                       f"({SCHEMA_VERSION}). Upgrade the workbench or point TERRITORY_GEO_STORE elsewhere.")
                raise StoreError(msg)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            con = self._memory
        else:
            try:
                con = sqlite3.connect(self.path, timeout=10)
            except sqlite3.Error as exc:
                msg = f"Cannot open the store at {self.path}: {exc}."
                raise StoreError(msg) from exc
        try:
            con.execute("PRAGMA foreign_keys=ON")
            yield con
            con.commit()
        except Exception:
            con.rollback()
            raise
        finally:
            if self._memory is None:
                con.close()

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._connect() as con:
            return int(con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    def journal_mode(self) -> str:
        """SQLite journal mode (``wal`` for file stores)."""
        with self._connect() as con:
            return str(con.execute("PRAGMA journal_mode").fetchone()[0])

    # datasets ---------------------------------------------------------------------------------------------------

    def save_dataset(self, name: str, accounts: pd.DataFrame, reps: pd.DataFrame | None = None,
                     meta: Mapping[str, Any] | None = None, author: str = "analyst",
                     files: Mapping[str, tuple[str, bytes]] | None = None) -> int:
        """Save accounts (and reps) as read, and optionally the files they were read from (role -> (file name,
        bytes), kept exactly as sent, never written to disk under their names); returns the dataset id."""
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO datasets (name, created_at, author, accounts, reps, meta) VALUES (?, ?, ?, ?, ?, ?)",
                (name, _now(), author, _to_parquet(accounts),
                 _to_parquet(reps) if reps is not None and len(reps) else None, json.dumps(dict(meta or {}))))
            dataset_id = int(cur.lastrowid or 0)
            con.executemany("INSERT INTO dataset_files (dataset_id, role, name, data) VALUES (?, ?, ?, ?)",
                            [(dataset_id, role, fname, data) for role, (fname, data) in (files or {}).items()])
            self._log(con, author, "save_dataset", f"dataset:{dataset_id}",
                      {"name": name, "accounts": len(accounts), "reps": 0 if reps is None else len(reps)})
        return dataset_id

    def list_datasets(self) -> pd.DataFrame:
        """Saved datasets, newest first: id, name, created_at, author, meta (dict)."""
        with self._connect() as con:
            rows = con.execute("SELECT id, name, created_at, author, meta FROM datasets ORDER BY id DESC").fetchall()
        return pd.DataFrame([{"id": r[0], "name": r[1], "created_at": r[2], "author": r[3],
                              "meta": json.loads(r[4])} for r in rows],
                            columns=["id", "name", "created_at", "author", "meta"])

    def load_dataset(self, dataset_id: int) -> DatasetRecord:
        """Load one dataset by id."""
        with self._connect() as con:
            row = con.execute("SELECT id, name, created_at, author, accounts, reps, meta FROM datasets WHERE id = ?",
                              (int(dataset_id),)).fetchone()
        if row is None:
            msg = f"No dataset with id {dataset_id} in the store."
            raise StoreError(msg)
        return DatasetRecord(id=row[0], name=row[1], created_at=row[2], author=row[3],
                             accounts=_from_parquet(row[4]), reps=_from_parquet(row[5]), meta=json.loads(row[6]))

    def dataset_files(self, dataset_id: int) -> dict[str, tuple[str, bytes]]:
        """The files a dataset was read from (role -> (file name, bytes)); empty for one saved without them."""
        with self._connect() as con:
            rows = con.execute("SELECT role, name, data FROM dataset_files WHERE dataset_id = ?",
                               (int(dataset_id),)).fetchall()
        return {role: (name, bytes(data)) for role, name, data in rows}

    # plans ------------------------------------------------------------------------------------------------------

    def save_plan(self, dataset_id: int, assignment: Mapping[str, str] | pd.Series, name: str,
                  author: str = "analyst", rationale: str = "", parent_id: int | None = None,
                  status: str = "draft", meta: Mapping[str, Any] | None = None) -> int:
        """Save a ZIP -> territory assignment as a plan; returns the plan id."""
        items = assignment.items() if isinstance(assignment, pd.Series) else dict(assignment).items()
        pairs = [(str(z), str(t)) for z, t in items]
        with self._connect() as con:
            if con.execute("SELECT 1 FROM datasets WHERE id = ?", (int(dataset_id),)).fetchone() is None:
                msg = f"Cannot save a plan for dataset {dataset_id}: no such dataset."
                raise StoreError(msg)
            cur = con.execute(
                "INSERT INTO plans (dataset_id, parent_id, name, author, created_at, rationale, status, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (int(dataset_id), parent_id, name, author, _now(), rationale, status, json.dumps(dict(meta or {}))))
            plan_id = int(cur.lastrowid or 0)
            con.executemany("INSERT INTO plan_assignments VALUES (?, ?, ?)", [(plan_id, z, t) for z, t in pairs])
            self._log(con, author, "save_plan", f"plan:{plan_id}",
                      {"dataset_id": dataset_id, "parent_id": parent_id, "name": name, "units": len(pairs)})
        return plan_id

    def list_plans(self, dataset_id: int) -> pd.DataFrame:
        """Plans of a dataset, newest first."""
        with self._connect() as con:
            rows = con.execute("SELECT id, parent_id, name, author, created_at, rationale, status FROM plans "
                               "WHERE dataset_id = ? ORDER BY id DESC", (int(dataset_id),)).fetchall()
        return pd.DataFrame(rows, columns=["id", "parent_id", "name", "author", "created_at", "rationale", "status"])

    def load_plan(self, plan_id: int) -> PlanRecord:
        """Load one plan with its assignment (a Series ZIP -> territory id)."""
        with self._connect() as con:
            row = con.execute("SELECT id, dataset_id, parent_id, name, author, created_at, rationale, status, meta "
                              "FROM plans WHERE id = ?", (int(plan_id),)).fetchone()
            if row is None:
                msg = f"No plan with id {plan_id} in the store."
                raise StoreError(msg)
            pairs = con.execute("SELECT zip, territory_id FROM plan_assignments WHERE plan_id = ? ORDER BY zip",
                                (int(plan_id),)).fetchall()
        assignment = pd.Series({z: t for z, t in pairs}, name="territory_id", dtype=object)
        assignment.index.name = "zip"
        return PlanRecord(id=row[0], dataset_id=row[1], parent_id=row[2], name=row[3], author=row[4],
                          created_at=row[5], rationale=row[6], status=row[7], assignment=assignment,
                          meta=json.loads(row[8]))

    # drive-time matrices ----------------------------------------------------------------------------------------

    def save_matrix(self, key: str, matrix: pd.DataFrame, meta: Mapping[str, Any] | None = None) -> None:
        """Cache a drive-time matrix under ``key`` (a digest of the dataset, the graph and the targets)."""
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO drive_matrices (key, created_at, meta, matrix) VALUES (?, ?, ?, ?)",
                        (key, _now(), json.dumps(dict(meta or {}), default=str), _to_parquet(matrix)))

    def load_matrix(self, key: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """A cached drive-time matrix and its metadata, or None."""
        with self._connect() as con:
            row = con.execute("SELECT matrix, meta FROM drive_matrices WHERE key = ?", (key,)).fetchone()
        return None if row is None else (_from_parquet(row[0]), json.loads(row[1]))

    # working uploads --------------------------------------------------------------------------------------------

    def save_upload(self, label: str, files: Mapping[str, tuple[str, bytes]], keep: int = WORKING_UPLOADS_KEPT) -> str:
        """Keep an unsaved upload (role -> (file name, bytes)) so a browser refresh can reopen it; returns its token.

        The token is random and unguessable (it is the only key to the upload); only the ``keep`` newest uploads are
        kept. The files are stored as given and never written to disk under their names."""
        token = secrets.token_urlsafe(18)
        with self._connect() as con:
            con.execute("INSERT INTO working_uploads (token, created_at, label) VALUES (?, ?, ?)", (token, _now(), label))
            con.executemany("INSERT INTO working_upload_files (token, role, name, data) VALUES (?, ?, ?, ?)",
                            [(token, role, name, data) for role, (name, data) in files.items()])
            stale = [r[0] for r in con.execute("SELECT token FROM working_uploads ORDER BY created_at DESC, rowid DESC "
                                               "LIMIT -1 OFFSET ?", (int(keep),))]
            con.executemany("DELETE FROM working_uploads WHERE token = ?", [(t,) for t in stale])
            self._log(con, "analyst", "keep_upload", f"upload:{token[:6]}", {"label": label, "files": sorted(files)})
        return token

    def load_upload(self, token: str) -> tuple[str, dict[str, tuple[str, bytes]]] | None:
        """An unsaved upload's label and files (role -> (file name, bytes)), or None when it is not kept (any more)."""
        with self._connect() as con:
            row = con.execute("SELECT label FROM working_uploads WHERE token = ?", (str(token),)).fetchone()
            if row is None:
                return None
            files = con.execute("SELECT role, name, data FROM working_upload_files WHERE token = ?",
                                (str(token),)).fetchall()
        return row[0], {role: (name, bytes(data)) for role, name, data in files}

    # audit ------------------------------------------------------------------------------------------------------

    def log(self, action: str, actor: str = "analyst", target: str | None = None,
            details: Mapping[str, Any] | None = None) -> None:
        """Append an entry to the audit log."""
        with self._connect() as con:
            self._log(con, actor, action, target, details or {})

    def audit_log(self, limit: int = 200) -> pd.DataFrame:
        """The newest audit entries first."""
        with self._connect() as con:
            rows = con.execute("SELECT at, actor, action, target, details FROM audit_log ORDER BY id DESC LIMIT ?",
                               (int(limit),)).fetchall()
        return pd.DataFrame(rows, columns=["at", "actor", "action", "target", "details"])

    @staticmethod
    def _log(con: sqlite3.Connection, actor: str, action: str, target: str | None,
             details: Mapping[str, Any]) -> None:
        con.execute("INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
                    (_now(), actor, action, target, json.dumps(dict(details), default=str)))
