"""One call from files to scored accounts: read -> validate -> link owners -> (market) -> score.

The app, the CLI and the benchmarks all load data through :func:`ingest`, so a file behaves the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from territory_geo import io, market, scoring, validate
from territory_geo.errors import InputFileError
from territory_geo.settings import ScoringSettings

Source = str | Path | bytes | BinaryIO


@dataclass
class Dataset:
    """Everything loaded from one set of input files.

    Attributes
    ----------
    accounts
        Validated accounts (valid rows, quarantined rows, report) with owners linked to reps.
    reps
        Validated reps, or None when no reps file was given.
    report
        Every issue of every file, and notes.
    scored
        Scoring result, or None when the accounts are unusable (``report.fatal``).
    tam
        TAM per ZIP from the market file, or None.
    files
        Display names of the input files, by role.
    """

    accounts: validate.CleanTable
    reps: validate.CleanTable | None
    report: validate.ValidationReport
    scored: scoring.ScoreResult | None = None
    tam: pd.Series | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """True when there are scored accounts to work with."""
        return self.scored is not None

    def quarantine(self) -> pd.DataFrame:
        """All rejected rows of all files, with their file name."""
        parts = [t.quarantine.assign(file=self.files.get(role, role)) for role, t in
                 (("accounts", self.accounts), ("reps", self.reps)) if t is not None and len(t.quarantine)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _read(source: Source, name: str) -> tuple[pd.DataFrame | None, validate.ValidationReport | None]:
    try:
        return io.read_table(source, name), None
    except InputFileError as exc:
        issues = pd.DataFrame([{"file": name, "row": None, "column": None, "value": None, "severity": "fatal",
                                "message": str(exc), "fix": "See the message."}], columns=validate.ISSUE_COLUMNS)
        return None, validate.ValidationReport(issues=issues)


def _name(source: Source, name: str | None, default: str) -> str:
    if name:
        return name
    if isinstance(source, (str, Path)):
        return Path(source).name
    return getattr(source, "name", default)


def ingest(accounts: Source, reps: Source | None = None, market_file: Source | None = None, *,
           accounts_name: str | None = None, reps_name: str | None = None, market_name: str | None = None,
           settings: ScoringSettings | None = None) -> Dataset:
    """Read, validate and score the input files. Never raises for bad input: problems land in ``report``.

    Parameters
    ----------
    accounts, reps, market_file
        Paths, bytes or binary file objects (CSV, XLSX or Parquet).
    accounts_name, reps_name, market_name
        Display names for messages (default: the file names).
    settings
        Scoring settings.
    """
    settings = settings or ScoringSettings()
    files = {"accounts": _name(accounts, accounts_name, "accounts.csv")}
    frame, failed = _read(accounts, files["accounts"])
    if failed is not None or frame is None:
        empty = validate.CleanTable(pd.DataFrame(), pd.DataFrame(), failed or validate.ValidationReport())
        return Dataset(accounts=empty, reps=None, report=empty.report, files=files)
    acc = validate.validate_accounts(frame, files["accounts"])
    report = acc.report

    rep_table = None
    if reps is not None:
        files["reps"] = _name(reps, reps_name, "reps.csv")
        rep_frame, rep_failed = _read(reps, files["reps"])
        if rep_failed is not None or rep_frame is None:
            report = report.merged(rep_failed or validate.ValidationReport())
        else:
            rep_table = validate.validate_reps(rep_frame, files["reps"])
            report = report.merged(rep_table.report)

    if report.fatal or acc.data.empty:
        return Dataset(accounts=acc, reps=rep_table, report=report, files=files)

    reps_data = rep_table.data if rep_table is not None else pd.DataFrame(columns=["rep_id", "name"])
    linked, owner_report = validate.link_owners(acc.data, reps_data, files["accounts"],
                                                column=acc.columns.get("owner_rep_id", "owner_rep_id"))
    report = report.merged(owner_report)
    acc = validate.CleanTable(data=linked, quarantine=acc.quarantine, report=acc.report, columns=acc.columns)
    scored = scoring.score_accounts(linked, settings)

    tam = None
    if market_file is not None:
        files["market"] = _name(market_file, market_name, "market.csv")
        market_frame, market_failed = _read(market_file, files["market"])
        if market_failed is not None or market_frame is None:
            report = report.merged(market_failed or validate.ValidationReport())
        else:
            try:
                long, market_report = market.read_market(market_frame, files["market"], settings)
            except InputFileError as exc:
                report.notes.append(str(exc))
            else:
                report = report.merged(market_report)
                tam = market.tam_by_zip(long, market.deal_sizes(scored.accounts))
                report.notes.append(f"Market file: TAM for {len(tam):,} ZIP(s); whitespace = TAM − ARR.")
    return Dataset(accounts=acc, reps=rep_table, report=report, scored=scored, tam=tam, files=files)
