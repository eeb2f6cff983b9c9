"""One call from files to scored accounts: read -> validate -> link owners -> check rep homes -> (market) -> score.

The app, the CLI and the benchmarks all load data through :func:`ingest`, so a file behaves the same everywhere.
:meth:`Dataset.set_aside` says, in a line each, what was left out (quarantined rows, reps, owners off the roster).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from territory_geo import geocode, io, market, scoring, validate
from territory_geo.errors import InputFileError
from territory_geo.settings import InputLimits, ScoringSettings

Source = str | Path | bytes | BinaryIO

#: A rep home farther than this from every account is reported (a typo in the home ZIP, or a rep of another region).
MAX_REP_ACCOUNT_KM: float = 400.0
#: A rep home given by coordinates is reported as off land when it is farther than this outside every lower-48 state
#: outline (the bundled outlines are simplified: the coast is off by a few km) ...
OFF_LAND_KM: float = 10.0
#: ... and farther than this from every lower-48 ZIP centre (islands and keys the outlines leave out have ZIPs).
OFF_ZIP_KM: float = 25.0
#: Items named in a set-aside line before "… and N more".
SET_ASIDE_SHOWN = 10


@dataclass(frozen=True)
class SetAside:
    """One kind of thing a command leaves out, counted and named.

    Attributes
    ----------
    kind
        ``account_rows`` (quarantined rows), ``reps`` (reps set aside, with their reasons) or ``owners`` (accounts
        whose owner is not on the usable roster, treated as unassigned).
    count
        How many accounts rows, reps, or accounts.
    message
        One plain-English line, ready to print or show.
    items
        The names or ids behind the count, at most :data:`SET_ASIDE_SHOWN`, then "… and N more".
    """

    kind: str
    count: int
    message: str
    items: tuple[str, ...]


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

    @classmethod
    def of_reps(cls, table: validate.CleanTable, name: str) -> Dataset:
        """A dataset of a reps file alone (e.g. drive times from rep homes without accounts)."""
        empty = validate.CleanTable(pd.DataFrame(), pd.DataFrame(), validate.ValidationReport())
        return cls(accounts=empty, reps=table, report=table.report, files={"reps": name})

    def set_aside(self) -> list[SetAside]:
        """What the loaded data leaves out: quarantined account rows, reps set aside (duplicate id, no usable home
        base, ...), and accounts whose owner is not on the usable roster. Empty when nothing was left out."""
        records = [_quarantined_accounts(self.accounts, self.files.get("accounts", "accounts")),
                   _set_aside_reps(self.reps, self.files.get("reps", "reps"))]
        if self.scored is not None:
            records.append(_unrostered_owners(self.scored.accounts, self.reps))
        return [r for r in records if r is not None]

    def set_aside_lines(self) -> list[str]:
        """:meth:`set_aside` as lines of text."""
        return [r.message for r in self.set_aside()]


def _capped(items: list[str]) -> tuple[str, ...]:
    shown = items[:SET_ASIDE_SHOWN]
    more = len(items) - len(shown)
    return tuple(shown) + ((f"… and {more:,} more",) if more else ())


def _quarantined_accounts(table: validate.CleanTable, file: str) -> SetAside | None:
    q = table.quarantine
    if q.empty:
        return None
    reasons = Counter(reason for row in q["row"] for reason in table.reasons.get(int(row), ("invalid row",)))
    summary = ", ".join(f"{n:,} {reason}" for reason, n in reasons.most_common(4))
    if len(reasons) > 4:
        summary += ", …"
    id_column = table.columns.get("account_id", "account_id")
    ids = q[id_column].astype("string") if id_column in q.columns else pd.Series(pd.NA, index=q.index)
    items = [f"row {row}" + (f" ({i})" if isinstance(i, str) else "") for row, i in zip(q["row"], ids, strict=True)]
    message = f"{len(q):,} of {table.report.n_rows:,} account rows in {file} were quarantined ({summary})."
    return SetAside("account_rows", len(q), message, _capped(items))


def _set_aside_reps(table: validate.CleanTable | None, file: str) -> SetAside | None:
    if table is None:
        return None
    aside = validate.set_aside_reps(table)
    if aside.empty:
        return None
    items = validate.describe_reps(aside)
    message = f"{len(aside):,} rep(s) in {file} set aside: " + ", ".join(_capped(items)) + "."
    return SetAside("reps", len(aside), message, _capped(items))


def _unrostered_owners(accounts: pd.DataFrame, reps: validate.CleanTable | None) -> SetAside | None:
    if "owner_original" not in accounts.columns:
        return None
    lost = accounts["owner_original"].notna() & accounts["owner_rep_id"].isna()
    if not lost.any():
        return None
    counts = accounts.loc[lost, "owner_original"].astype(str).value_counts(sort=True)
    aside = validate.set_aside_reps(reps) if reps is not None else pd.DataFrame(columns=["rep_id", "name", "row"])
    rows = {str(k).lower(): r for col in ("rep_id", "name") for k, r in zip(aside[col], aside["row"], strict=True)
            if isinstance(k, str)}
    items = [f"{owner} ({n:,}" + (f"; rep row {rows[owner.lower()]} set aside)" if owner.lower() in rows else ")")
             for owner, n in counts.items()]
    total = int(lost.sum())
    message = (f"{total:,} account(s) have an owner who is not on the usable roster and are treated as unassigned: "
               + ", ".join(_capped(items)) + ".")
    return SetAside("owners", total, message, _capped(items))


def _read(source: Source, name: str,
          limits: InputLimits | None) -> tuple[pd.DataFrame | None, validate.ValidationReport | None]:
    try:
        return io.read_table(source, name, limits), None
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
           settings: ScoringSettings | None = None, limits: InputLimits | None = None) -> Dataset:
    """Read, validate and score the input files. Never raises for bad input: problems land in ``report``.

    Parameters
    ----------
    accounts, reps, market_file
        Paths, bytes or binary file objects (CSV, XLSX or Parquet).
    accounts_name, reps_name, market_name
        Display names for messages (default: the file names).
    settings
        Scoring settings.
    limits
        Bounds on each file (default :func:`territory_geo.settings.input_limits`); a file beyond them is a fatal
        issue naming the limit.
    """
    settings = settings or ScoringSettings()
    files = {"accounts": _name(accounts, accounts_name, "accounts.csv")}
    frame, failed = _read(accounts, files["accounts"], limits)
    if failed is not None or frame is None:
        empty = validate.CleanTable(pd.DataFrame(), pd.DataFrame(), failed or validate.ValidationReport())
        return Dataset(accounts=empty, reps=None, report=empty.report, files=files)
    acc = validate.validate_accounts(frame, files["accounts"])
    report = acc.report

    rep_table = None
    if reps is not None:
        files["reps"] = _name(reps, reps_name, "reps.csv")
        rep_frame, rep_failed = _read(reps, files["reps"], limits)
        if rep_failed is not None or rep_frame is None:
            report = report.merged(rep_failed or validate.ValidationReport())
        else:
            rep_table = validate.validate_reps(rep_frame, files["reps"])
            report = report.merged(rep_table.report)

    if report.fatal or acc.data.empty:
        return Dataset(accounts=acc, reps=rep_table, report=report, files=files)

    reps_data = rep_table.data if rep_table is not None else pd.DataFrame(columns=["rep_id", "name"])
    linked, owner_report = validate.link_owners(
        acc.data, reps_data, files["accounts"], column=acc.columns.get("owner_rep_id", "owner_rep_id"),
        set_aside=validate.set_aside_reps(rep_table) if rep_table is not None else None,
        reps_file=files.get("reps", "reps"))
    report = report.merged(owner_report)
    if rep_table is not None:
        report = report.merged(rep_home_report(rep_table, acc.data, files["reps"]))
    acc = replace(acc, data=linked)
    scored = scoring.score_accounts(linked, settings)

    tam = None
    if market_file is not None:
        files["market"] = _name(market_file, market_name, "market.csv")
        market_frame, market_failed = _read(market_file, files["market"], limits)
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


def rep_home_report(reps: validate.CleanTable, accounts: pd.DataFrame, file: str) -> validate.ValidationReport:
    """Warnings about implausible rep homes: farther than :data:`MAX_REP_ACCOUNT_KM` from every account, or (for a
    home given by coordinates, when the accounts are in the lower 48) off land."""
    homes = reps.data.dropna(subset=["home_lat", "home_lon"]) if len(reps.data) else reps.data
    points = accounts[["lat", "lon"]].dropna().to_numpy(dtype=float) if len(accounts) else np.empty((0, 2))
    if homes.empty or not len(points):
        return validate.ValidationReport()
    home_xy = homes[["home_lat", "home_lon"]].to_numpy(dtype=float)
    nearest = _nearest_km(points, home_xy)
    off_km = np.zeros(len(homes))
    check = (homes["home_source"] == "coordinates").to_numpy() & (nearest <= MAX_REP_ACCOUNT_KM)
    if check.any() and _in_lower48(points):
        off_km[check] = _off_land_km(home_xy[check])
    issues = [_home_issue(rec, km, off, reps.columns, file)
              for rec, km, off in zip(homes.to_dict("records"), nearest, off_km, strict=True)]
    frame = pd.DataFrame([i for i in issues if i], columns=validate.ISSUE_COLUMNS).astype({"row": "Int64"})
    return validate.ValidationReport(issues=frame)


def _home_issue(rec: dict, nearest_km: float, off_km: float, columns: dict[str, str], file: str) -> dict | None:
    """The warning about one rep's home (None when it is plausible), naming the rep, where and the distance."""
    if nearest_km <= MAX_REP_ACCOUNT_KM and off_km <= 0:
        return None
    label = f"Rep {rec['rep_id']}" + (f" ({rec['name']})" if isinstance(rec["name"], str) else "")
    where = f"{rec['home_lat']:.4f}, {rec['home_lon']:.4f}"
    by_zip = rec["home_source"] != "coordinates" and isinstance(rec["home_zip"], str)
    if nearest_km > MAX_REP_ACCOUNT_KM:
        message = f"{label}: the home base ({where}) is {nearest_km:,.0f} km from the nearest account."
        fix = "Check the home ZIP (or coordinates); if the rep really lives there, nothing to do."
    else:
        message = (f"{label}: the home base ({where}) is not on land: {off_km:,.0f} km outside the lower 48 states "
                   "and far from every ZIP.")
        fix = "Check the home coordinates (latitude first, decimal degrees), or give a home ZIP instead."
    return {"file": file, "row": int(rec["row"]), "severity": "warning", "message": message, "fix": fix,
            "column": columns.get("home_zip", "home_zip") if by_zip else columns.get("home_lat", "home_lat"),
            "value": rec["home_zip"] if by_zip else where}


def _unit_vectors(lat_lon: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_lon[:, 0]), np.radians(lat_lon[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _nearest_km(points: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Great-circle km from each query (lat, lon) to the nearest point: a k-d tree on 3-D unit vectors."""
    from scipy.spatial import cKDTree

    tree = cKDTree(_unit_vectors(points), balanced_tree=False, compact_nodes=False)
    chord, _ = tree.query(_unit_vectors(queries))
    return 2 * validate.EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0.0, 1.0))


@lru_cache(maxsize=1)
def _lower48_zip_centres() -> np.ndarray:
    """(lat, lon) of the STANDARD ZIPs of the lower 48 states (read-only, shared)."""
    table = geocode.zip_table()
    keep = (table["zip_type"] == "STANDARD") & table["lat"].notna() & ~table["state"].isin(list(geocode.NON_CONUS))
    keep &= ~((table["lat"] == 0) & (table["lon"] == 0))
    return table.loc[keep, ["lat", "lon"]].to_numpy(dtype=float)


def _in_lower48(points: np.ndarray, sample: int = 1000) -> bool:
    """True when most accounts (an even sample of them) are within :data:`OFF_ZIP_KM` of a lower-48 ZIP centre."""
    picked = points[np.linspace(0, len(points) - 1, min(sample, len(points))).astype(int)]
    return bool(np.mean(_nearest_km(_lower48_zip_centres(), picked) <= OFF_ZIP_KM) >= 0.5)


def _off_land_km(lat_lon: np.ndarray) -> np.ndarray:
    """For each point, km outside the lower-48 state outlines when it is off land (both tests of
    :data:`OFF_LAND_KM` and :data:`OFF_ZIP_KM`), else 0."""
    import geopandas as gpd
    import shapely

    from territory_geo import units

    outlines = units.state_outlines()
    points = gpd.GeoSeries(gpd.points_from_xy(lat_lon[:, 1], lat_lon[:, 0]), crs="EPSG:4326").to_crs(outlines.crs)
    outside = shapely.distance(shapely.union_all(outlines.geometry.values), points.values) / 1000.0
    off = (outside > OFF_LAND_KM) & (_nearest_km(_lower48_zip_centres(), lat_lon) > OFF_ZIP_KM)
    return np.where(off, outside, 0.0)
