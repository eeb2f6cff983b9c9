"""Validate accounts and reps: every problem reported with file, row, column, value and a fix; nothing lost.

Fatal problems (empty file, a required column missing) stop with a message. Row-level errors quarantine the row:
it is kept, with its original text and the reasons, in ``CleanTable.quarantine`` so it can be shown, downloaded,
fixed and uploaded again, while the valid rows go on. Warnings keep the row (a corrected swap of lat/lon, a PO-box
ZIP, an unreadable optional date).

Row numbers are 1-based data rows: the first line after the header is row 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from territory_geo import geocode
from territory_geo.io import ACCOUNT_ALIASES, ACCOUNT_REQUIRED, REP_ALIASES, REP_REQUIRED, RawTable, canonicalise
from territory_geo.settings import CapacitySettings

ISSUE_COLUMNS: list[str] = ["file", "row", "column", "value", "severity", "message", "fix"]

_TRUE = {"1", "true", "yes", "y", "t", "x", "strategic"}
_FALSE = {"0", "false", "no", "n", "f", ""}
_RISK_WORDS = {"low": 0.15, "medium": 0.5, "med": 0.5, "moderate": 0.5, "high": 0.85}
_SUFFIX = {"k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9}
#: Unrecognised columns compared by the stray-header check (besides every recognised one).
_STRAY_SAMPLE_COLUMNS = 64
#: First characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@")
#: Mean Earth radius (km) of the great-circle distances.
EARTH_RADIUS_KM: float = 6371.0088

#: Coordinates farther than this from their row's ZIP centre are taken for a geocoder's wrong match and the ZIP is
#: used instead (a rural ZIP reaches 50-100 km from its centre).
MAX_ZIP_DISTANCE_KM: float = 150.0


@dataclass
class ValidationReport:
    """Problems found in one or more files.

    Attributes
    ----------
    issues
        One row per problem, columns :data:`ISSUE_COLUMNS`; ``severity`` is ``fatal``, ``error`` (row quarantined)
        or ``warning`` (row kept).
    n_rows, n_valid
        Data rows read and rows that passed.
    notes
        What was noticed and done about the file as a whole (columns recognised, encoding, conversions).
    """

    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    n_rows: int = 0
    n_valid: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        """True when the data cannot be used at all."""
        return bool((self.issues["severity"] == "fatal").any()) or (self.n_rows > 0 and self.n_valid == 0)

    @property
    def ok(self) -> bool:
        """True when the data is usable (warnings and quarantined rows allowed)."""
        return not self.fatal

    def errors(self) -> pd.DataFrame:
        """Fatal and row-level errors."""
        return self.issues[self.issues["severity"].isin(["fatal", "error"])]

    def warnings(self) -> pd.DataFrame:
        """Warnings (the rows were kept)."""
        return self.issues[self.issues["severity"] == "warning"]

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's ``validate --json`` document."""

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in frame.to_dict("records"):
                row = rec["row"]
                out.append({
                    "file": rec["file"],
                    "row": None if pd.isna(row) else int(row),
                    "column": None if pd.isna(rec["column"]) else str(rec["column"]),
                    "value": None if pd.isna(rec["value"]) else str(rec["value"]),
                    "message": str(rec["message"]),
                    "fix": str(rec["fix"]),
                })
            return out

        errors = rows(self.errors())
        if self.n_rows > 0 and self.n_valid == 0 and not (self.issues["severity"] == "fatal").any():
            errors.append({"file": None, "row": None, "column": None, "value": None,
                           "message": "No valid rows are left after validation.",
                           "fix": "Fix the row errors listed above and load the file again."})
        return {"ok": self.ok, "n_rows": int(self.n_rows), "n_valid": int(self.n_valid), "errors": errors,
                "warnings": rows(self.warnings()), "notes": list(self.notes)}

    def merged(self, other: ValidationReport) -> ValidationReport:
        """A report holding both reports' issues and notes (row counts are this report's).

        The other report's fatal issues make the merged report fatal; its row counts do not (an unusable market
        file is a note). A reps file with no usable rep carries a fatal issue for that (:func:`validate_reps`).
        """
        issues = pd.concat([self.issues, other.issues], ignore_index=True) if len(other.issues) else self.issues
        return ValidationReport(issues=issues, n_rows=self.n_rows, n_valid=self.n_valid,
                                notes=self.notes + other.notes)


@dataclass
class CleanTable:
    """Validated rows, quarantined rows and the report.

    Attributes
    ----------
    data
        Valid rows with canonical, typed columns, unknown columns passed through, and ``row`` (1-based file row).
    quarantine
        Rejected rows as they were in the file, with ``row`` and ``problems`` (every reason, joined).
    report
        The validation report.
    columns
        Canonical column name -> the user's column name, for the columns that were recognised.
    reasons
        Row number of each quarantined row -> its reasons in a few words each (``"unknown ZIP"``, ``"duplicate
        id"``), for one-line summaries of what was set aside.
    """

    data: pd.DataFrame
    quarantine: pd.DataFrame
    report: ValidationReport
    columns: dict[str, str] = field(default_factory=dict)
    reasons: dict[int, tuple[str, ...]] = field(default_factory=dict)


class _Collector:
    """Collects problems column by column, vectorised, and reports them all at once."""

    def __init__(self, file: str, frame: pd.DataFrame, mapping: dict[str, str] | None = None) -> None:
        self.file = file
        self.frame = frame
        self.parts: list[pd.DataFrame] = []
        self.error_rows = pd.Series(False, index=frame.index)
        self.skip = pd.Series(False, index=frame.index)
        self.original_names = {canonical: original for original, canonical in (mapping or {}).items()}

    def add(self, mask: pd.Series, column: str | None, message: str | pd.Series, fix: str,
            severity: str = "error", values: pd.Series | None = None, reason: str | None = None) -> None:
        """Report the cells of ``mask``; ``reason`` is an error's few-word summary (default: the message)."""
        mask = mask.fillna(False).astype(bool) & ~self.skip
        if not mask.any():
            return
        idx = mask[mask].index
        if values is None:
            values = self.frame[column] if column in self.frame.columns else pd.Series(None, index=self.frame.index)
        msg = message.loc[idx].to_numpy() if isinstance(message, pd.Series) else message
        self.parts.append(pd.DataFrame({
            "file": self.file, "row": idx.to_numpy() + 1, "column": self.original_names.get(column, column),
            "value": values.loc[idx].astype(object).to_numpy(), "severity": severity,
            "message": msg, "fix": fix, "reason": reason if reason is not None else msg,
        }))
        if severity == "error":
            self.error_rows |= mask

    def fatal(self, column: str | None, message: str, fix: str) -> None:
        self.parts.append(pd.DataFrame([{"file": self.file, "row": None, "column": column, "value": None,
                                         "severity": "fatal", "message": message, "fix": fix}]))

    def issues(self, reasons: bool = False) -> pd.DataFrame:
        """Every issue, by row; with ``reasons``, an extra ``reason`` column (the errors' short reasons)."""
        columns = [*ISSUE_COLUMNS, "reason"] if reasons else ISSUE_COLUMNS
        if not self.parts:
            return pd.DataFrame(columns=columns)
        out = pd.concat(self.parts, ignore_index=True)
        out["row"] = out["row"].astype("Int64")
        out = out.sort_values(["row", "column"], na_position="first", kind="stable").reset_index(drop=True)
        return out.reindex(columns=columns)


# ---------------------------------------------------------------------------------------------------------------
# Cell parsers (vectorised). Each returns the parsed values and a mask of cells present but unreadable.


def parse_number(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse money/number text: ``$1,234.50``, ``(1,000)``, ``15k``, ``1.2M``, ``12%`` (kept as 12)."""
    # Performance: each distinct text is parsed once (exports repeat amounts, flags and blanks), then spread back.
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=False)
    parsed, bad = _parse_number_text(pd.Series(uniques, name=values.name))
    return parsed.take(codes).set_axis(values.index), bad.take(codes).set_axis(values.index)


def _parse_number_text(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = text.str.strip().str.lower()
    present = text.notna() & (text != "")
    neg = text.str.match(r"^\(.*\)$", na=False)
    cleaned = text.str.replace(r"[\s$€£,()%]", "", regex=True)
    # Performance: a plain ASCII number is its own number part with no suffix, so only the other cells need the
    # (row-by-row) extract below, and only cells with a suffix need the map.
    plain = cleaned.str.fullmatch(r"[-+]?[0-9.]+(?:e[-+]?[0-9]+)?", na=False)
    suffix = pd.DataFrame({0: cleaned.where(plain), 1: pd.Series(pd.NA, index=text.index, dtype=cleaned.dtype)})
    rest = cleaned.notna() & ~plain
    if rest.any():
        suffix.loc[rest] = cleaned[rest].str.extract(r"^([-+]?[\d.]+(?:e[-+]?\d+)?)(k|mm|m|bn|b)?$", expand=True)
    number = pd.to_numeric(suffix[0], errors="coerce")
    given = suffix[1].dropna()
    factor = pd.Series(1.0, index=text.index, name=1)
    factor.loc[given.index] = given.map(_SUFFIX).astype(float)
    parsed = (number * factor).astype(float)
    parsed = parsed.where(~neg, -parsed)
    bad = present & parsed.isna()
    return parsed, bad


def parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse yes/no, true/false, 1/0, y/n, x; empty is False."""
    text = values.astype("string").str.strip().str.lower().fillna("")
    parsed = pd.Series(np.where(text.isin(list(_TRUE)), True, False), index=values.index)
    bad = ~text.isin(list(_TRUE | _FALSE))
    return parsed, bad


def parse_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates: ISO first (fast), then any common format for what is left."""
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    rest = present & parsed.isna()
    if rest.any():
        parsed.loc[rest] = pd.to_datetime(text[rest], format="mixed", errors="coerce")
    return parsed, present & parsed.isna()


def parse_fraction(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse a probability given as 0-1 or as a percentage (0-100, with or without %).

    Returns the value in [0, 1] (NaN where unusable), cells that are unreadable, and cells out of range.
    """
    number, bad = parse_number(values)
    as_percent = values.astype("string").str.contains("%", na=False) | (number > 1)
    scaled = number.where(~as_percent, number / 100.0)
    out_of_range = number.notna() & ((scaled < 0) | (scaled > 1))
    return scaled.where(~out_of_range), bad, out_of_range


def parse_risk(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Churn risk as low/medium/high or a probability; returns 0-1 and the unreadable cells."""
    # Performance: each distinct text is parsed once (a risk column holds a few words), then spread back.
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=False)
    value, bad = _parse_risk_text(pd.Series(uniques, name=values.name))
    return value.take(codes).set_axis(values.index), bad.take(codes).set_axis(values.index)


def _parse_risk_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.astype("string").str.strip().str.lower()
    words = text.map(_RISK_WORDS).astype(float)
    number, bad_num, out = parse_fraction(values)
    value = words.fillna(number)
    bad = text.notna() & (text != "") & value.isna()
    return value, bad | (out & words.isna())


# ---------------------------------------------------------------------------------------------------------------


def _missing_columns(columns: pd.Index, required: tuple[str, ...], aliases: dict[str, tuple[str, ...]],
                     col: _Collector, kind: str) -> bool:
    missing = [c for c in required if c not in columns]
    found = ", ".join(str(col.original_names.get(c, c)) for c in columns[:12])
    for c in missing:
        examples = ", ".join(f"'{a}'" for a in aliases[c][:4])
        col.fatal(c, f"The {kind} file has no '{c}' column (found: {found}).",
                  f"Add a column named one of {examples}, or rename the column that holds it.")
    return bool(missing)


def _drop_stray_headers(frame: pd.DataFrame, raw_columns: list[str], col: _Collector,
                        recognised: set[str]) -> pd.Series:
    """Rows that repeat the header (two exports pasted together) are reported and skipped.

    A row repeats the header when at least half of the compared columns hold their own header text (any case). The
    compared columns are the recognised ones and the first :data:`_STRAY_SAMPLE_COLUMNS` others, so a wide file
    costs no more than a narrow one.
    """
    if frame.empty:
        return pd.Series(False, index=frame.index)
    others = [i for i, name in enumerate(frame.columns) if name not in recognised][:_STRAY_SAMPLE_COLUMNS]
    compared = [i for i, name in enumerate(frame.columns) if name in recognised] + others
    hits = np.zeros(len(frame), dtype=np.int64)
    for i in compared:
        header = str(raw_columns[i]).strip().lower()
        values = frame.iloc[:, i]
        text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
        hits += (text.str.lower() == header).fillna(False).to_numpy(dtype=bool)
    stray = pd.Series(hits >= max(2, len(compared) // 2), index=frame.index)
    col.add(stray, None, "This row repeats the header row (two exports pasted together?); it was skipped.",
            "Nothing to do; or delete the repeated header line from the file.", severity="warning",
            values=pd.Series("(header row)", index=frame.index))
    col.skip = stray
    return stray


def _coordinates(df: pd.DataFrame, col: _Collector, lat_col: str, lon_col: str) -> tuple[pd.Series, pd.Series,
                                                                                           pd.Series]:
    """Latitude and longitude parsed, swaps corrected, unusable pairs dropped (each with a warning).

    Returns lat, lon (NaN where unusable) and the rows that gave both cells.
    """
    idx = df.index
    if lat_col not in df.columns or lon_col not in df.columns:
        nothing = pd.Series(np.nan, index=idx)
        return nothing, nothing.copy(), pd.Series(False, index=idx)
    given = df[lat_col].notna() & df[lon_col].notna()
    lat, bad_lat = parse_number(df[lat_col])
    lon, bad_lon = parse_number(df[lon_col])
    col.add(bad_lat, lat_col, "Latitude is not a number.", "Use decimal degrees, e.g. 33.749.", severity="warning")
    col.add(bad_lon, lon_col, "Longitude is not a number.", "Use decimal degrees, e.g. -84.388.", severity="warning")
    swapped = (lat.abs() > 90) & (lon.abs() <= 90)
    swapped |= lat.between(-180, -60) & lon.between(10, 75)
    col.add(swapped, lat_col, "Latitude and longitude look swapped; they were swapped back.",
            "Check the column order of your export (latitude first, then longitude).", severity="warning")
    lat, lon = lat.where(~swapped, lon), lon.where(~swapped, lat)
    out = lat.notna() & lon.notna() & ((lat.abs() > 90) | (lon.abs() > 180))
    col.add(out, lat_col, "Latitude/longitude is outside the range of the Earth (±90, ±180); ignored.",
            "Use decimal degrees; latitude between -90 and 90, longitude between -180 and 180.",
            severity="warning", values=lat[out].astype("string") + ", " + lon[out].astype("string"))
    zero = (lat == 0) & (lon == 0)
    col.add(zero, lat_col, "Coordinates are 0, 0 (a geocoder's 'not found'); ignored.",
            "Remove the coordinates or supply real ones.", severity="warning")
    unusable = out | zero
    return lat.where(~unusable), lon.where(~unusable), given


def haversine_km(lat1: pd.Series | np.ndarray, lon1: pd.Series | np.ndarray, lat2: pd.Series | np.ndarray,
                 lon2: pd.Series | np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (element-wise)."""
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dlat = p2 - p1
    dlon = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _padded_zips(typed: pd.Series, zip5: pd.Series) -> pd.Series:
    """Cells whose ZIP was read with leading zeros added (3 or 4 digits typed; ``30303.0`` is not padding)."""
    codes, uniques = pd.factorize(typed.astype("string"))
    uniq_zip, _ = geocode.normalise_zip(pd.Series(uniques, dtype="string"))
    padded = [isinstance(z, str) and not str(t).strip().startswith(z) for t, z in zip(uniques, uniq_zip, strict=True)]
    flags = np.append(np.array(padded, dtype=bool), False)  # code -1 (missing) -> False
    return pd.Series(flags[codes], index=typed.index) & zip5.notna()


def _warn_padded(df: pd.DataFrame, col: _Collector, zip_col: str, zip5: pd.Series, found: pd.DataFrame) -> None:
    padded = _padded_zips(df[zip_col], zip5) & found["lat"].notna()
    if not padded.any():
        return
    typed = df.loc[padded, zip_col].astype("string").str.strip()
    digits = typed.str.extract(r"^(\d+)", expand=False).str.len().astype("string")
    place = found.loc[padded, "city"].astype("string") + ", " + found.loc[padded, "state"].astype("string")
    lost = pd.Series(np.where(digits == "4", "a leading zero", "leading zeros"), index=typed.index)
    message = ("ZIP '" + typed + "' has " + digits + " digits; read as " + zip5[padded].astype("string") + " ("
               + place + ") — " + lost + " lost in a spreadsheet?")
    col.add(padded, zip_col, message, "Check the ZIP; format the column as text in the spreadsheet so that leading "
            "zeros are kept.", severity="warning")


def _far_from_zip(lat: pd.Series, lon: pd.Series, zip5: pd.Series, found: pd.DataFrame, col: _Collector,
                  lat_col: str) -> pd.Series:
    """Rows whose coordinates are more than :data:`MAX_ZIP_DISTANCE_KM` from their ZIP's centre (warned)."""
    both = lat.notna() & lon.notna() & found["lat"].notna()
    far = pd.Series(False, index=lat.index)
    if not both.any():
        return far
    km = pd.Series(haversine_km(lat[both], lon[both], found.loc[both, "lat"], found.loc[both, "lon"]),
                   index=lat.index[both])
    far.loc[km.index[km > MAX_ZIP_DISTANCE_KM]] = True
    if far.any():
        place = found.loc[far, "city"].astype("string") + ", " + found.loc[far, "state"].astype("string")
        message = ("The coordinates are " + km[far].map("{:,.0f}".format).astype("string") + " km from the centre "
                   "of ZIP " + zip5[far].astype("string") + " (" + place + "); the ZIP's location is used (the "
                   "coordinates look like a geocoder's wrong match).")
        col.add(far, lat_col, message, "Check the coordinates and the ZIP; correct or remove the wrong one.",
                severity="warning", values=lat[far].astype("string") + ", " + lon[far].astype("string"))
    return far


def _locate(df: pd.DataFrame, col: _Collector, zip_col: str, lat_col: str, lon_col: str, what: str,
            named: tuple[pd.Series, str] | None = None) -> pd.DataFrame:
    """Resolve a location from ZIP and/or lat/lon. Adds zip, zip_type, state, city, lat, lon, location_source.

    ``named`` is (a label per row, e.g. "Rep R07 (Imani Carter)", and the thing located, e.g. "home base"); given,
    a row left without a location is reported as "<label> has no usable <thing>: <why>".
    """
    idx = df.index
    lat, lon, coords_given = _coordinates(df, col, lat_col, lon_col)
    has_coords = lat.notna() & lon.notna()

    def unusable(plain: str, why: str, reason: str) -> tuple[str | pd.Series, str]:
        if named is None:
            return plain, reason
        return named[0] + f" has no usable {named[1]}: {why}.", f"no usable {named[1]}"

    zip5 = pd.Series(np.nan, index=idx, dtype=object)
    found = pd.DataFrame({"zip_type": np.nan, "state": np.nan, "city": np.nan, "county": np.nan,
                          "lat": np.nan, "lon": np.nan}, index=idx)
    if zip_col in df.columns:
        zip5, malformed = geocode.normalise_zip(df[zip_col])
        fix = "Use a 5-digit US ZIP (ZIP+4 is fine), or give latitude/longitude."
        col.add(malformed & has_coords, zip_col, "Not a US ZIP code; the row's coordinates are used instead.",
                fix, severity="warning")
        message, reason = unusable(f"Not a US ZIP code, and the {what} has no coordinates.",
                                   "the ZIP is not a US ZIP code, and there are no coordinates", "not a US ZIP")
        col.add(malformed & ~has_coords, zip_col, message, fix, reason=reason)
        found = geocode.lookup(zip5.fillna("00000"))
        found = found.where(zip5.notna())
        unknown = zip5.notna() & found["lat"].isna()
        col.add(unknown & has_coords, zip_col, "Unknown ZIP code; the row's coordinates are used instead.",
                "Check the ZIP for a typo.", severity="warning")
        message, reason = unusable(f"Unknown ZIP code, and the {what} has no coordinates.",
                                   "unknown ZIP code, and there are no coordinates", "unknown ZIP")
        col.add(unknown & ~has_coords, zip_col, message, "Check the ZIP for a typo, or add latitude/longitude.",
                reason=reason)
        special = found["zip_type"].isin(["PO BOX", "UNIQUE", "MILITARY"])
        col.add(special, zip_col,
                "ZIP is a " + found["zip_type"].fillna("").str.lower() + " ZIP (not a street area); located at its "
                "post office, which may be off by a few km.",
                "Use the street-address ZIP for a precise location.", severity="warning")
        _warn_padded(df, col, zip_col, zip5, found)
        has_coords &= ~_far_from_zip(lat, lon, zip5, found, col, lat_col)
        zip5 = zip5.where(~unknown)
    else:
        found = found.astype(float)

    zip_given = df[zip_col].notna() if zip_col in df.columns else pd.Series(False, index=idx)
    if named is None:
        message, reason = f"The {what} has no location.", "no location"
    else:
        why = pd.Series(np.where(coords_given, "no ZIP code, and the coordinates are unusable (see the warning)",
                                 "no ZIP code or coordinates"), index=idx)
        message, reason = named[0] + f" has no usable {named[1]}: " + why + ".", f"no usable {named[1]}"
    col.add(~has_coords & ~zip_given, zip_col if zip_col in df.columns else lat_col, message,
            "Give a ZIP code or latitude/longitude.", reason=reason)

    out = pd.DataFrame(index=idx)
    out["zip"] = zip5
    out["zip_type"] = found["zip_type"]
    out["state"] = found["state"]
    out["city"] = found["city"]
    out["lat"] = lat.where(has_coords, found["lat"]).astype(float)
    out["lon"] = lon.where(has_coords, found["lon"]).astype(float)
    out["location_source"] = np.where(has_coords, "coordinates", np.where(found["lat"].notna(), "zip centroid", None))
    return out


def _ids(df: pd.DataFrame, column: str, col: _Collector, what: str) -> None:
    ids = df[column].astype("string").str.strip()
    col.add(ids.isna() | (ids == ""), column, f"The {what} has no id.", f"Give every {what} a unique id.",
            reason="no id")
    present = ids.notna() & (ids != "")
    first_row = pd.Series(np.arange(len(ids)) + 1, index=ids.index).groupby(ids).transform("min")
    dup = present & ids.duplicated(keep="first")
    this = pd.Series(ids.index[dup] + 1, index=ids.index[dup]).astype("string")
    message = (f"Duplicate {what} id " + ids[dup] + ": rows " + first_row[dup].astype("Int64").astype("string")
               + " and " + this + " both have it; row " + this + " was set aside.")
    col.add(dup, column, message, "Ids must be unique; merge the two rows or give this one its own id.",
            reason="duplicate id")
    _formula_ids(df[column], column, col, f"{what} id")


def _formula_ids(values: pd.Series, column: str, col: _Collector, what: str) -> None:
    """Warn about ids that begin with a formula sign: exports escape them, which changes them in a spreadsheet."""
    text = values.astype("string").str.strip()
    first = text.str[:1]
    starts = first.isin(list(_FORMULA_START))
    if not starts.any():
        return
    message = ("The " + what + " begins with '" + first[starts] + "', a formula sign: exports write it with a "
               "leading ' so that spreadsheets keep it as text (the plan importer removes the ' again).")
    col.add(starts, column, message, "Use a plain id, starting with a letter or digit, in the source system if "
            "you can.", severity="warning")


def _control_warnings(frame: pd.DataFrame, col: _Collector) -> None:
    """One warning per cell from which :func:`territory_geo.io.read_table` removed control characters."""
    for column, (rows, counts) in frame.attrs.get("control_characters", {}).items():
        if column not in frame.columns or not len(rows):
            continue
        n = pd.Series(counts, dtype="int64").astype("string")
        col.parts.append(pd.DataFrame({
            "file": col.file, "row": np.asarray(rows) + 1, "column": column,
            "value": frame.loc[rows, column].astype(object).to_numpy(), "severity": "warning",
            "message": "The cell held invisible control characters (such as NUL); they were removed from the text.",
            "fix": ("Removed " + n + " control character(s); check the text, and clean the field in the source "
                    "system.").to_numpy(),
        }))


def short_list(items: list[str], limit: int = 10) -> str:
    """Items joined with commas, at most ``limit`` of them: "a, b, c … and 12 more"."""
    shown = ", ".join(items[:limit])
    return shown + (f" … and {len(items) - limit:,} more" if len(items) > limit else "")


def _rep_labels(df: pd.DataFrame) -> pd.Series:
    """"Rep R07 (Imani Carter)" per row; "The rep on row 7 (Imani Carter)" when the id is missing."""
    ids = df["rep_id"].astype("string").str.strip().replace("", pd.NA)
    names = df["name"].astype("string").str.strip().replace("", pd.NA)
    rows = pd.Series(df.index + 1, index=df.index).astype("string")
    label = ("Rep " + ids).fillna("The rep on row " + rows)
    return (label + (" (" + names + ")").fillna("")).astype(object)


def set_aside_reps(table: CleanTable) -> pd.DataFrame:
    """The reps file's quarantined rows: ``row``, ``rep_id``, ``name`` (as in the file) and ``reason`` (few words)."""
    columns = ["row", "rep_id", "name", "reason"]
    q = table.quarantine
    if q.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({"row": q["row"].astype(int)})
    for canonical in ("rep_id", "name"):
        user = table.columns.get(canonical, canonical)
        out[canonical] = q[user].astype("string").str.strip() if user in q.columns else pd.NA
    out["reason"] = [", ".join(table.reasons.get(int(r), ("invalid row",))) for r in out["row"]]
    return out[columns]


def describe_reps(aside: pd.DataFrame, with_reason: bool = True) -> list[str]:
    """"R03 (Priya Raman, row 3: duplicate id)" for each row of :func:`set_aside_reps`."""
    out = []
    for rec in aside.to_dict("records"):
        rep_id = rec["rep_id"] if isinstance(rec["rep_id"], str) else "(no id)"
        name = f"{rec['name']}, " if isinstance(rec["name"], str) else ""
        out.append(f"{rep_id} ({name}row {rec['row']}" + (f": {rec['reason']})" if with_reason else ")"))
    return out


def _no_usable_rep(table: CleanTable, file: str) -> None:
    """Make a reps file with rows but no usable rep fatal, naming the reps and why."""
    aside = set_aside_reps(table)
    home_only = bool(len(aside)) and (aside["reason"] == "no usable home base").all()
    if home_only:
        message = f"No rep in {file} has a usable home base: " + short_list(describe_reps(aside, False)) + "."
        fix = "Give each rep a home ZIP code (or home latitude and longitude) and load the file again."
    else:
        message = f"No rep in {file} is usable: " + short_list(describe_reps(aside)) + "."
        fix = "Fix the errors listed for each rep and load the file again."
    fatal = pd.DataFrame([{"file": file, "row": pd.NA, "column": None, "value": None, "severity": "fatal",
                           "message": message, "fix": fix}], columns=ISSUE_COLUMNS).astype({"row": "Int64"})
    table.report.issues = pd.concat([fatal, table.report.issues], ignore_index=True)


def _finish(df: pd.DataFrame, raw: pd.DataFrame, col: _Collector, stray: pd.Series, rt: RawTable) -> CleanTable:
    bad = col.error_rows & ~stray
    with_reasons = col.issues(reasons=True)
    issues = with_reasons[ISSUE_COLUMNS]
    data = df.loc[~bad & ~stray].copy()
    data.insert(0, "row", data.index + 1)
    data = data.reset_index(drop=True)
    original_names = {canonical: original for original, canonical in rt.mapping.items()}
    quarantine = raw.loc[bad].rename(columns=original_names)
    if len(quarantine):
        errs = issues[issues["severity"] == "error"]
        reasons = errs.groupby("row")["message"].agg(lambda m: " | ".join(dict.fromkeys(m)))
        quarantine.insert(0, "row", quarantine.index + 1)
        quarantine["problems"] = quarantine["row"].map(reasons)
    quarantine = quarantine.reset_index(drop=True)
    report = ValidationReport(issues=issues, n_rows=int((~stray).sum()), n_valid=len(data), notes=list(rt.notes))
    return CleanTable(data=data, quarantine=quarantine, report=report, columns=original_names,
                      reasons=_short_reasons(with_reasons))


def _short_reasons(issues: pd.DataFrame) -> dict[int, tuple[str, ...]]:
    errors = issues.loc[issues["severity"] == "error", ["row", "reason"]].drop_duplicates()
    return {int(row): tuple(group) for row, group in errors.groupby("row", sort=True)["reason"]}


def _empty(rt: RawTable, col: _Collector) -> CleanTable:
    report = ValidationReport(issues=col.issues(), n_rows=len(rt.frame), n_valid=0, notes=list(rt.notes))
    return CleanTable(data=pd.DataFrame(), quarantine=pd.DataFrame(), report=report)


_ACCOUNT_NUMBERS = {
    "employees": "a whole number of employees, e.g. 250",
    "annual_revenue": "an amount, e.g. 12500000 or 12.5M",
    "arr": "an amount, e.g. 48000 (0 for a prospect)",
    "expansion_potential": "an amount, e.g. 25000",
    "potential": "an amount, e.g. 60000",
}


def validate_accounts(frame: pd.DataFrame, file: str = "accounts") -> CleanTable:
    """Validate an accounts table (as read by :func:`territory_geo.io.read_table`).

    Returns a :class:`CleanTable` whose ``data`` has canonical typed columns: ``account_id``, ``name``, ``zip``,
    ``zip_type``, ``state``, ``city``, ``lat``, ``lon``, ``location_source``, the numeric columns present
    (``employees``, ``annual_revenue``, ``arr``, ``expansion_potential``, ``potential``, ``win_rate``,
    ``churn_risk``, ``intent_score``), ``strategic`` (bool), dates, ``owner_rep_id``, and every unknown column.
    """
    rt = canonicalise(frame, ACCOUNT_ALIASES, file)
    df = rt.frame
    col = _Collector(file, df, rt.mapping)
    if df.empty:
        col.fatal(None, f"{file} has a header but no data rows.", "Export the report again with its data rows.")
        return _empty(rt, col)
    has_location = "zip" in df.columns or ("lat" in df.columns and "lon" in df.columns)
    missing = _missing_columns(df.columns, ACCOUNT_REQUIRED, ACCOUNT_ALIASES, col, "accounts")
    if not has_location:
        col.fatal("zip", "The accounts file has no location column: a ZIP code or latitude and longitude.",
                  "Add 'Billing Zip/Postal Code' (or 'zip'), or 'Latitude' and 'Longitude' columns.")
        missing = True
    if missing:
        return _empty(rt, col)

    stray = _drop_stray_headers(df, _raw_columns(df, rt), col, set(rt.mapping.values()))
    _control_warnings(frame, col)
    out = pd.DataFrame(index=df.index)
    _ids(df, "account_id", col, "account")
    out["account_id"] = df["account_id"].astype("string").str.strip()
    out["name"] = df["name"].astype("string").str.strip()
    col.add(out["name"].isna(), "name", "The account has no name.", "Fill in the account name.", reason="no name")
    out = out.join(_locate(df, col, "zip", "lat", "lon", "account"))

    for name, example in _ACCOUNT_NUMBERS.items():
        if name not in df.columns:
            continue
        values, bad = parse_number(df[name])
        label = col.original_names.get(name, name)
        col.add(bad, name, f"'{label}' is not a number.", f"Write {example}.", reason=f"{label} not a number")
        col.add(values < 0, name, f"'{label}' is negative.", f"Use 0 or a positive amount; write {example}.",
                reason=f"negative {label}")
        out[name] = values.where(values >= 0)
    if "win_rate" in df.columns:
        wr, bad, out_range = parse_fraction(df["win_rate"])
        col.add(bad, "win_rate", "Win rate is not a number.", "Write a probability like 0.35 or 35%.",
                reason="win rate not a number")
        col.add(out_range, "win_rate", "Win rate is outside 0-1 (or 0-100 %).", "Write a probability like 0.35 or 35%.",
                reason="win rate out of range")
        out["win_rate"] = wr
    if "churn_risk" in df.columns:
        risk, bad = parse_risk(df["churn_risk"])
        col.add(bad, "churn_risk", "Churn risk is not low/medium/high or a probability.",
                "Write low, medium or high, or a probability like 0.2.", reason="churn risk unreadable")
        out["churn_risk"] = risk
    if "intent_score" in df.columns:
        intent, bad = parse_number(df["intent_score"])
        col.add(bad, "intent_score", "Intent score is not a number.", "Write a score from 0 to 100.",
                reason="intent score not a number")
        col.add((intent < 0) | (intent > 100), "intent_score", "Intent score is outside 0-100.",
                "Write a score from 0 to 100.", reason="intent score out of range")
        if intent.notna().any() and intent.max() <= 1:
            intent = intent * 100
            rt.notes.append("Intent scores were given on a 0-1 scale and were multiplied by 100.")
        out["intent_score"] = intent.where(intent.between(0, 100))
    if "strategic" in df.columns:
        flag, bad = parse_bool(df["strategic"])
        col.add(bad, "strategic", "Strategic flag is not yes/no; treated as no.", "Write yes or no.",
                severity="warning")
        out["strategic"] = flag
    for name in ("last_contact_date", "renewal_date"):
        if name in df.columns:
            dates, bad = parse_date(df[name])
            col.add(bad, name, "Not a date; ignored.", "Write dates as YYYY-MM-DD.", severity="warning")
            out[name] = dates
    for name in ("owner_rep_id", "industry", "outcome"):
        if name in df.columns:
            out[name] = df[name].astype("string").str.strip()
    if "owner_rep_id" in df.columns:
        _formula_ids(df["owner_rep_id"], "owner_rep_id", col, "owner")
    out = _with_passthrough(out, df, {"zip", "lat", "lon"})
    if "potential" in out.columns:
        rt.notes.append("The file has a 'potential' column: it is used as-is instead of being computed.")
    return _finish(out, rt.frame, col, stray, rt)


def validate_reps(frame: pd.DataFrame, file: str = "reps",
                  capacity: CapacitySettings | None = None) -> CleanTable:
    """Validate a reps table: id, name, home base (ZIP or lat/lon), tenure, role, capacity, quota.

    ``data`` has ``rep_id``, ``name``, ``home_zip``, ``home_state``, ``home_city``, ``home_lat``, ``home_lon``,
    ``home_source`` (``coordinates`` or ``zip centroid``), tenure, ramp stage, role, capacity (and its source),
    quota, manager and every unknown column. A file with rows but no usable rep gets a fatal issue naming them.
    """
    capacity = capacity or CapacitySettings()
    rt = canonicalise(frame, REP_ALIASES, file)
    df = rt.frame
    col = _Collector(file, df, rt.mapping)
    if df.empty:
        col.fatal(None, f"{file} has a header but no data rows.", "Export the roster again with its data rows.")
        return _empty(rt, col)
    missing = _missing_columns(df.columns, REP_REQUIRED, REP_ALIASES, col, "reps")
    if "home_zip" not in df.columns and not {"home_lat", "home_lon"} <= set(df.columns):
        col.fatal("home_zip", "The reps file has no home base column: a ZIP or latitude and longitude.",
                  "Add a 'Home ZIP' column, or 'Home Latitude' and 'Home Longitude'.")
        missing = True
    if missing:
        return _empty(rt, col)
    stray = _drop_stray_headers(df, _raw_columns(df, rt), col, set(rt.mapping.values()))
    _control_warnings(frame, col)
    out = pd.DataFrame(index=df.index)
    _ids(df, "rep_id", col, "rep")
    out["rep_id"] = df["rep_id"].astype("string").str.strip()
    out["name"] = df["name"].astype("string").str.strip()
    col.add(out["name"].isna(), "name", "The rep has no name.", "Fill in the rep's name.", reason="no name")
    home = _locate(df, col, "home_zip", "home_lat", "home_lon", "rep's home base",
                   named=(_rep_labels(df), "home base"))
    out["home_zip"] = home["zip"]
    out["home_state"] = home["state"]
    out["home_city"] = home["city"]
    out["home_lat"] = home["lat"]
    out["home_lon"] = home["lon"]
    out["home_source"] = home["location_source"]

    tenure = pd.Series(np.nan, index=df.index)
    if "tenure_years" in df.columns:
        tenure, bad = parse_number(df["tenure_years"])
        col.add(bad, "tenure_years", "Tenure is not a number of years.", "Write years, e.g. 2.5.",
                reason="tenure not a number")
        col.add(tenure < 0, "tenure_years", "Tenure is negative.", "Write years of tenure, 0 or more.",
                reason="negative tenure")
    col.add(tenure.isna() & ~col.error_rows, "tenure_years", "No tenure given; the rep is treated as ramped.",
            "Add tenure in years to size capacity by ramp stage.", severity="warning")
    out["tenure_years"] = tenure.where(tenure >= 0)
    filled = out["tenure_years"].fillna(capacity.ramp[-1][0])
    out["ramp_stage"] = filled.map(capacity.stage_for_tenure)
    out["role"] = df["role"].astype("string").str.strip() if "role" in df.columns else pd.NA
    for name in ("capacity", "quota"):
        if name in df.columns:
            values, bad = parse_number(df[name])
            label = col.original_names.get(name, name)
            col.add(bad, name, f"'{label}' is not a number.", "Write a positive number.",
                    reason=f"{label} not a number")
            col.add(values < 0, name, f"'{label}' is negative.", "Write a positive number.",
                    reason=f"negative {label}")
            out[name] = values.where(values >= 0)
    default_capacity = filled.map(capacity.capacity_for_tenure)
    if "capacity" in out.columns:
        out["capacity_source"] = np.where(out["capacity"].notna(), "file", "tenure default")
        out["capacity"] = out["capacity"].fillna(default_capacity)
    else:
        out["capacity"] = default_capacity
        out["capacity_source"] = "tenure default"
    if "manager_id" in df.columns:
        manager = df["manager_id"].astype("string").str.strip()
        known = set(out["rep_id"].dropna())
        unknown = manager.notna() & ~manager.isin(list(known))
        col.add(unknown, "manager_id", "This row refers to a rep id that is not in the reps file.",
                "Add that rep to the file, or correct the id.", severity="warning")
        out["manager_id"] = manager
    out = _with_passthrough(out, df, {"home_zip", "home_lat", "home_lon", "tenure_years"})
    table = _finish(out, rt.frame, col, stray, rt)
    if table.report.n_rows and table.data.empty:
        _no_usable_rep(table, file)
    return table


def _raw_columns(df: pd.DataFrame, rt: RawTable) -> list[str]:
    """The user's name of each column of the canonicalised frame."""
    original = {canonical: user for user, canonical in rt.mapping.items()}
    return [original.get(name, name) for name in df.columns]


def _with_passthrough(out: pd.DataFrame, df: pd.DataFrame, consumed: set[str]) -> pd.DataFrame:
    """``out`` with every column of ``df`` it does not have yet (unknown columns pass through), joined at once."""
    passthrough = [c for c in df.columns if c not in out.columns and c not in consumed]
    return pd.concat([out, df[passthrough]], axis=1) if passthrough else out


def link_owners(accounts: pd.DataFrame, reps: pd.DataFrame, file: str = "accounts",
                column: str = "owner_rep_id", set_aside: pd.DataFrame | None = None,
                reps_file: str = "reps") -> tuple[pd.DataFrame, ValidationReport]:
    """Resolve each account's owner to a rep id (matching the reps' id or, failing that, their name).

    Accounts whose owner is not among the valid reps are kept and treated as unassigned; each is reported as a
    warning naming the owner value (``column`` is the owner column's name in the user's file, for the report). An
    owner who is a rep of ``set_aside`` (:func:`set_aside_reps`: rows of ``reps_file`` that were quarantined) is
    reported as such, with the row and the reason. Returns the accounts with ``owner_rep_id`` resolved and
    ``owner_original`` kept.
    """
    out = accounts.copy()
    report = ValidationReport(n_rows=len(out), n_valid=len(out))
    if "owner_rep_id" not in out.columns or reps.empty:
        out["owner_rep_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
        return out, report
    owner = out["owner_rep_id"].astype("string").str.strip()
    by_id = {str(r).lower(): str(r) for r in reps["rep_id"]}
    by_name = {str(n).lower(): str(r) for r, n in zip(reps["rep_id"], reps["name"], strict=True)}
    lower = owner.str.lower()
    resolved = lower.map(by_id).fillna(lower.map(by_name))
    unknown = owner.notna() & resolved.isna()
    if unknown.any():
        rows = out.loc[unknown, "row"] if "row" in out.columns else out.index[unknown] + 1
        message, fix = _owner_messages(owner[unknown], set_aside, reps_file)
        report.issues = pd.DataFrame({
            "file": file, "row": pd.array(rows.to_numpy(), dtype="Int64"), "column": column,
            "value": owner[unknown].to_numpy(), "severity": "warning", "message": message, "fix": fix,
        })
    out["owner_original"] = owner
    out["owner_rep_id"] = resolved.astype("string")
    return out, report


def _owner_messages(owner: pd.Series, set_aside: pd.DataFrame | None, reps_file: str) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """Message and fix for each owner that is not a valid rep: a set-aside rep is named with its row and reason."""
    message = pd.Series("The owner is not in the reps file; the account is treated as unassigned.", index=owner.index)
    fix = pd.Series("Add the rep to the reps file, or correct the owner (rep id or exact name).", index=owner.index)
    if set_aside is not None and len(set_aside):
        where = [f"row {r} of {reps_file}, {reason}" for r, reason in zip(set_aside["row"], set_aside["reason"],
                                                                          strict=True)]
        by_id = {str(i).lower(): w for i, w in zip(set_aside["rep_id"], where, strict=True) if isinstance(i, str)}
        by_name = {str(n).lower(): w for n, w in zip(set_aside["name"], where, strict=True) if isinstance(n, str)}
        lower = owner.str.lower()
        aside = lower.map(by_id).fillna(lower.map(by_name))
        hit = aside.notna()
        message[hit] = ("Owner " + owner[hit] + " is a rep whose row was set aside: " + aside[hit]
                        + "; the account is treated as unassigned.")
        fix[hit] = f"Fix that row of {reps_file} (see its error) and load the files again."
    return message.to_numpy(dtype=object), fix.to_numpy(dtype=object)
