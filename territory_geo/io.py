"""Read CRM exports (CSV, XLSX, Parquet) into string frames with canonical column names.

Everything is read as text so that ZIP codes keep their leading zeros and validation can report the exact cell a
user typed. Column names as CRMs spell them ("Billing Zip/Postal Code", "BillingLatitude", "Account Owner",
HubSpot's "Company ID") are mapped to the canonical names below; unknown columns are kept and passed through.
"""

from __future__ import annotations

import io as _io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from territory_geo.errors import InputFileError

#: Canonical account columns and the spellings that map to them (compared after :func:`normalise_name`).
ACCOUNT_ALIASES: dict[str, tuple[str, ...]] = {
    "account_id": ("account_id", "account id", "accountid", "company id", "record id", "customer id",
                   "account number", "id"),
    "name": ("name", "account name", "company name", "company", "customer name", "account"),
    "zip": ("zip", "zip code", "zipcode", "postal code", "billing zip/postal code", "billingpostalcode",
            "billing postal code", "billing zip", "postcode", "shipping zip/postal code", "mailing zip"),
    "lat": ("lat", "latitude", "billinglatitude", "billing latitude", "shippinglatitude"),
    "lon": ("lon", "lng", "long", "longitude", "billinglongitude", "billing longitude", "shippinglongitude"),
    "industry": ("industry", "industry sector", "vertical"),
    "employees": ("employees", "number of employees", "numberofemployees", "employee count", "headcount"),
    "annual_revenue": ("annual_revenue", "annual revenue", "annualrevenue", "company revenue", "revenue"),
    "arr": ("arr", "current arr", "annual recurring revenue", "annual recurring revenue (arr)", "current_arr"),
    "expansion_potential": ("expansion_potential", "expansion potential", "whitespace", "whitespace potential",
                            "expansion", "upsell potential"),
    "win_rate": ("win_rate", "win rate", "win probability", "probability", "probability (%)"),
    "strategic": ("strategic", "strategic account", "is strategic", "strategic flag"),
    "churn_risk": ("churn_risk", "churn risk", "churn probability", "health risk"),
    "intent_score": ("intent_score", "intent score", "intent", "buyer intent"),
    "last_contact_date": ("last_contact_date", "last contact date", "last activity", "last activity date",
                          "lastactivitydate", "last contacted", "last contact"),
    "renewal_date": ("renewal_date", "renewal date", "contract end date", "next renewal date"),
    "owner_rep_id": ("owner_rep_id", "owner rep id", "account owner", "account owner id", "owner", "owner id",
                     "ownerid", "company owner", "hubspot owner id", "rep id", "rep"),
    "potential": ("potential", "precomputed potential", "territory potential"),
    "outcome": ("outcome", "last opportunity outcome", "opportunity stage", "stage", "deal stage"),
}

#: Canonical rep columns and their spellings.
REP_ALIASES: dict[str, tuple[str, ...]] = {
    "rep_id": ("rep_id", "rep id", "id", "user id", "employee id", "owner id", "userid"),
    "name": ("name", "rep name", "full name", "user", "rep"),
    "home_zip": ("home_zip", "home zip", "home base zip", "base zip", "zip", "zip code", "postal code"),
    "home_lat": ("home_lat", "home lat", "home latitude", "lat", "latitude"),
    "home_lon": ("home_lon", "home lon", "home longitude", "lon", "lng", "longitude"),
    "tenure_years": ("tenure_years", "tenure years", "tenure", "tenure (years)", "years of tenure"),
    "role": ("role", "seniority", "title", "level"),
    "capacity": ("capacity", "capacity units", "workload capacity"),
    "quota": ("quota", "current quota", "annual quota"),
    "manager_id": ("manager_id", "manager id", "manager"),
    "region": ("region", "sales region", "team", "area"),
}

#: Required columns. A location is "zip" or both "lat" and "lon".
ACCOUNT_REQUIRED: tuple[str, ...] = ("account_id", "name")
REP_REQUIRED: tuple[str, ...] = ("rep_id", "name")

_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")
_HEADER_SCAN_ROWS = 15
_SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")


def normalise_name(name: object) -> str:
    """Lower-case a column name and drop everything but letters and digits ("Billing Zip/Postal Code" -> ...)."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass
class RawTable:
    """A file read as text, with what was noticed while reading it.

    Attributes
    ----------
    frame
        Data rows as strings (missing cells are ``None``/NaN), canonical column names where recognised.
    file
        The file's display name, used in every validation message.
    mapping
        Original column name -> canonical name for the columns that were recognised.
    notes
        Plain-English notes about the read (encoding used, title rows skipped, ...).
    """

    frame: pd.DataFrame
    file: str
    mapping: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_table(source: str | Path | bytes | BinaryIO, filename: str | None = None) -> pd.DataFrame:
    """Read a CSV / XLSX / Parquet file as a frame of strings, with the header row found automatically.

    Parameters
    ----------
    source
        A path, the file's bytes, or a binary file object (e.g. a Streamlit upload).
    filename
        Name used to pick the format and in messages; defaults to the path's name.

    Returns
    -------
    The data as strings. ``frame.attrs["notes"]`` lists what was noticed (encoding, skipped title rows).
    """
    data, name = _as_bytes(source, filename)
    if not data.strip():
        msg = f"{name}: the file is empty. Export the report again with its header row and at least one data row."
        raise InputFileError(msg)
    suffix = Path(name).suffix.lower()
    notes: list[str] = []
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        grid = _read_excel(data, name)
    elif suffix in {".parquet", ".pq"}:
        return _read_parquet(data, name)
    else:
        grid = _read_csv_grid(data, name, notes)
    return _apply_header(grid, name, notes)


def canonicalise(frame: pd.DataFrame, aliases: dict[str, tuple[str, ...]], file: str) -> RawTable:
    """Rename recognised columns to canonical names; keep the others as they are.

    When two columns map to the same canonical name (a "Billing Zip" and a "Shipping Zip"), the one whose spelling
    comes first in the alias list wins and the other is passed through under its own name.
    """
    by_norm: dict[str, str] = {}
    for column in frame.columns:
        by_norm.setdefault(normalise_name(column), str(column))
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for canonical, spellings in aliases.items():
        for spelling in spellings:
            original = by_norm.get(normalise_name(spelling))
            if original is not None and original not in taken:
                mapping[original] = canonical
                taken.add(original)
                break
    clashes = [c for c in frame.columns if c in aliases and c not in mapping]
    renamed = frame.rename(columns={c: f"{c}_original" for c in clashes}).rename(columns=mapping)
    notes = list(frame.attrs.get("notes", []))
    shown = {o: c for o, c in mapping.items() if o != c}
    if shown:
        notes.append("Columns recognised: " + ", ".join(f"'{o}' → {c}" for o, c in shown.items()) + ".")
    return RawTable(frame=renamed, file=file, mapping=mapping, notes=notes)


def _as_bytes(source: str | Path | bytes | BinaryIO, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            msg = f"File not found: {path}. Check the path and try again."
            raise InputFileError(msg)
        return path.read_bytes(), filename or path.name
    if isinstance(source, bytes):
        return source, filename or "upload.csv"
    data = source.read()
    return data, filename or getattr(source, "name", "upload.csv")


def _decode(data: bytes, name: str, notes: list[str]) -> str:
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf"):
            notes.append("The file starts with a UTF-8 byte-order mark (Excel's 'CSV UTF-8'); it was removed.")
        elif encoding != "utf-8-sig":
            notes.append(f"The file is not UTF-8; it was read as {encoding}. Save it as 'CSV UTF-8' to be sure "
                         "accented names come through exactly.")
        return text
    msg = f"{name}: the file's text encoding could not be read. Save it as 'CSV UTF-8' and upload it again."
    raise InputFileError(msg)


def _read_csv_grid(data: bytes, name: str, notes: list[str]) -> pd.DataFrame:
    if b"\x00" in data[:4096]:
        msg = (f"{name}: this looks like a binary file, not CSV text. Upload a .csv, .xlsx or .parquet export "
               "(a UTF-16 CSV must be re-saved as 'CSV UTF-8').")
        raise InputFileError(msg)
    text = _decode(data, name, notes)
    text, sep = _skip_title_lines(text, notes)
    try:
        return pd.read_csv(_io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
                           na_values=[""], skip_blank_lines=True, engine="c", on_bad_lines="error")
    except pd.errors.ParserError as exc:
        detail = str(exc).split("\n")[0]
        msg = (f"{name}: the CSV structure is broken ({detail}). A row has more cells than the header, usually an "
               "unquoted comma inside a name; quote that cell or re-export the report.")
        raise InputFileError(msg) from exc
    except pd.errors.EmptyDataError as exc:
        msg = f"{name}: the file is empty. Export the report again with its header row and data rows."
        raise InputFileError(msg) from exc


def _skip_title_lines(text: str, notes: list[str]) -> tuple[str, str]:
    """Find the header line among the first lines and drop the title lines above it; pick the separator.

    Report exports often start with a title and filter lines of fewer cells than the header; the C parser sizes
    its rows from the first line, so those lines must go before parsing.
    """
    lines = text[:1 << 16].splitlines(keepends=True)[:_HEADER_SCAN_ROWS]
    best: tuple[int, int, str] | None = None  # (score, -line, separator)
    for i, line in enumerate(lines):
        for sep in _SEPARATORS:
            score = _header_score([cell.strip().strip('"') for cell in line.split(sep)])
            if score and (best is None or (score, -i) > best[:2]):
                best = (score, -i, sep)
    if best is None:
        first = lines[0] if lines else ""
        return text, max(_SEPARATORS, key=first.count)
    header_line, sep = -best[1], best[2]
    skipped = sum(1 for line in lines[:header_line] if line.strip())
    if skipped:
        notes.append(f"Skipped {skipped} title line(s) above the header row (report name, filters, ...).")
    return text[sum(map(len, lines[:header_line])):], sep


def _read_excel(data: bytes, name: str) -> pd.DataFrame:
    try:
        return pd.read_excel(_io.BytesIO(data), header=None, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # openpyxl raises many types for corrupt workbooks
        msg = f"{name}: the workbook could not be opened ({type(exc).__name__}). Save it again as .xlsx or as CSV."
        raise InputFileError(msg) from exc


def _read_parquet(data: bytes, name: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(_io.BytesIO(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        msg = f"{name}: the Parquet file could not be read ({type(exc).__name__}). Export it again or use CSV."
        raise InputFileError(msg) from exc
    if frame.empty:
        msg = f"{name}: the file has no data rows."
        raise InputFileError(msg)
    text = frame.astype(object).where(frame.notna(), None)
    out = text.apply(lambda col: col.map(lambda v: None if v is None else str(v)))
    out.attrs["notes"] = []
    return out


def _header_score(values: list[object]) -> int:
    known = {normalise_name(s) for table in (ACCOUNT_ALIASES, REP_ALIASES) for v in table.values() for s in v}
    return sum(1 for v in values if isinstance(v, str) and normalise_name(v) in known)


def _apply_header(grid: pd.DataFrame, name: str, notes: list[str]) -> pd.DataFrame:
    grid = grid.dropna(how="all")
    if grid.empty:
        msg = f"{name}: the file has no rows. Export the report again with its header row and data rows."
        raise InputFileError(msg)
    scan = min(_HEADER_SCAN_ROWS, len(grid))
    scores = [_header_score(grid.iloc[i].tolist()) for i in range(scan)]
    header_at = max(range(scan), key=lambda i: (scores[i], -i)) if max(scores) > 0 else 0
    if header_at:
        notes.append(f"Skipped {header_at} title line(s) above the header row (report name, filters, ...).")
    header = [str(v).strip() if isinstance(v, str) and v.strip() else f"column_{i + 1}"
              for i, v in enumerate(grid.iloc[header_at].tolist())]
    header = _dedupe(header)
    frame = grid.iloc[header_at + 1:].copy()
    frame.columns = header
    frame = frame.reset_index(drop=True)
    frame = frame.apply(lambda col: col.str.strip() if col.dtype == object or str(col.dtype) == "str" else col)
    frame = frame.replace({"": None})
    frame.attrs["notes"] = notes
    return frame


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out
