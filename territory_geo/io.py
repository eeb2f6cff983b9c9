"""Read CRM exports (CSV, XLSX, Parquet) into string frames with canonical column names.

Everything is read as text so that ZIP codes keep their leading zeros and validation can report the exact cell a
user typed. Column names as CRMs spell them ("Billing Zip/Postal Code", "BillingLatitude", "Account Owner",
HubSpot's "Company ID") are mapped to the canonical names below; unknown columns are kept and passed through.
"""

from __future__ import annotations

import csv
import io as _io
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from territory_geo.errors import InputFileError
from territory_geo.settings import INPUT_LIMIT_ENV, InputLimits, input_limits

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
_MB = 1 << 20
_EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls"})
_PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})

#: Control characters removed from text cells: the C0 controls except tab, LF and CR, and DEL.
_CONTROL_PATTERN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_RE = re.compile(_CONTROL_PATTERN)
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_OTHER_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
#: A text file holds at most a few stray control bytes (here: C0 but whitespace); binary formats are full of them.
_BINARY_SAMPLE_BYTES = 4096
_NOT_BINARY_BYTES = bytes(b for b in range(256) if not (b <= 0x08 or 0x0E <= b <= 0x1F))
_BINARY_SIGNATURES: dict[bytes, str] = {
    b"PK\x03\x04": "it is a ZIP archive, e.g. an Excel workbook: give it the .xlsx extension",
    b"PAR1": "it is a Parquet file: give it the .parquet extension",
    b"\xd0\xcf\x11\xe0": "it is an old Excel (.xls) workbook: save it as .xlsx or CSV",
}
#: Workbook parts smaller than this are not ratio-checked: a small part is harmless at any ratio.
_RATIO_MIN_BYTES = _MB
#: Wider CSV files are parsed in one pass: the parser's low-memory chunks cost time per chunk and column.
_CHUNKED_MAX_COLUMNS = 100


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


def read_table(source: str | Path | bytes | BinaryIO, filename: str | None = None,
               limits: InputLimits | None = None) -> pd.DataFrame:
    """Read a CSV / XLSX / Parquet file as a frame of strings, with the header row found automatically.

    The file is checked against ``limits`` before it is parsed: its size first, then its columns and rows (a CSV's
    header line and line count, a Parquet file's metadata, a workbook's parts and sheet dimension). Control
    characters (NUL and the other C0 controls but tab, CR and LF, and DEL) are removed from every text cell.

    Parameters
    ----------
    source
        A path, the file's bytes, or a binary file object (e.g. a Streamlit upload).
    filename
        Name used to pick the format and in messages; defaults to the path's name.
    limits
        Bounds on the file; default :func:`territory_geo.settings.input_limits` (defaults and environment).

    Returns
    -------
    The data as strings. ``frame.attrs["notes"]`` lists what was noticed (encoding, skipped title rows);
    ``frame.attrs["control_characters"]`` maps a column to the (index labels, counts) of the cells that held control
    characters, when any did.

    Raises
    ------
    InputFileError
        When the file cannot be read, or exceeds a limit (the message names the limit and its setting).
    """
    limits = limits or input_limits()
    data, name = _as_bytes(source, filename, limits)
    if not data or data.isspace():
        msg = f"{name}: the file is empty. Export the report again with its header row and at least one data row."
        raise InputFileError(msg)
    suffix = Path(name).suffix.lower()
    notes: list[str] = []
    if suffix in _EXCEL_SUFFIXES:
        frame = _apply_header(_read_excel(data, name, limits), name, notes)
    elif suffix in _PARQUET_SUFFIXES:
        frame = _read_parquet(data, name, limits)
    else:
        frame = _apply_header(_read_csv_grid(data, name, notes, limits), name, notes)
    _check_shape(name, len(frame), len(frame.columns), limits)
    # Performance: a CSV without a control byte needs no cell-by-cell look.
    if suffix in _EXCEL_SUFFIXES | _PARQUET_SUFFIXES or data.translate(None, _OTHER_BYTES):
        frame, found = _remove_control_characters(frame)
        if found:
            notes.append(_control_note(found))
            frame.attrs["control_characters"] = found
    frame.attrs["notes"] = notes
    return frame


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


def _as_bytes(source: str | Path | bytes | BinaryIO, filename: str | None,
              limits: InputLimits) -> tuple[bytes, str]:
    """The file's bytes and display name; a file over the size limit is refused before it is read."""
    max_bytes = int(limits.max_upload_mb * _MB)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            msg = f"File not found: {path}. Check the path and try again."
            raise InputFileError(msg)
        name = filename or path.name
        _check_size(name, path.stat().st_size, limits)
        return path.read_bytes(), name
    if isinstance(source, bytes):
        name = filename or "upload.csv"
        _check_size(name, len(source), limits)
        return source, name
    name = filename or getattr(source, "name", "upload.csv")
    size = getattr(source, "size", None)
    if not isinstance(size, int) and getattr(source, "seekable", lambda: False)():
        start = source.tell()
        size = source.seek(0, _io.SEEK_END) - start
        source.seek(start)
    if isinstance(size, int):
        _check_size(name, size, limits)
    data = source.read(max_bytes + 1)  # a stream of unknown size is read no further than the limit
    if len(data) > max_bytes:
        _check_size(name, len(data), limits, found=f"is more than {limits.max_upload_mb:,g} MB")
    return data, name


def _over_limit(name: str, found: str, limit: str, setting: str, advice: str) -> InputFileError:
    """The refusal of a file beyond a limit: what was found, the limit, its environment variable, the fix."""
    return InputFileError(f"{name} {found}; the limit is {limit} ({INPUT_LIMIT_ENV[setting]}). {advice}")


def _check_size(name: str, size: int, limits: InputLimits, found: str | None = None) -> None:
    if size > limits.max_upload_mb * _MB:
        raise _over_limit(name, found or f"is {size / _MB:,.1f} MB", f"{limits.max_upload_mb:,g} MB", "max_upload_mb",
                          "Remove unused columns or rows from the export (or split it), or raise the limit.")


def _check_shape(name: str, rows: int | None, columns: int | None, limits: InputLimits) -> None:
    if columns is not None and columns > limits.max_columns:
        raise _over_limit(name, f"has {columns:,} columns", f"{limits.max_columns:,}", "max_columns",
                          "Remove unused columns from the export, or raise the limit.")
    if rows is not None and rows > limits.max_rows:
        raise _over_limit(name, f"has {rows:,} rows", f"{limits.max_rows:,}", "max_rows",
                          "Split the file (by region or owner), or raise the limit.")


def _binary_reason(sample: bytes) -> str | None:
    """Why the sample is not text (None when it is): a known binary signature, or many control bytes."""
    for signature, reason in _BINARY_SIGNATURES.items():
        if sample.startswith(signature):
            return reason
    controls = len(sample.translate(None, _NOT_BINARY_BYTES))
    if controls > max(2, len(sample) // 100):
        return ("Upload a .csv, .xlsx or .parquet export (a UTF-16 file without a byte-order mark must be re-saved "
                "as 'CSV UTF-8')")
    return None


def _decode(data: bytes, name: str, notes: list[str]) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            msg = f"{name}: the file starts like UTF-16 text but is not valid UTF-16. Save it as 'CSV UTF-8'."
            raise InputFileError(msg) from exc
        notes.append("The file is UTF-16 text (Excel's 'Unicode Text'); it was decoded. Save it as 'CSV UTF-8' to "
                     "skip the conversion.")
        return text
    reason = _binary_reason(data[:_BINARY_SAMPLE_BYTES])
    if reason is not None:
        msg = f"{name}: this looks like a binary file, not CSV text. {reason[0].upper()}{reason[1:]}."
        raise InputFileError(msg)
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


def _read_csv_grid(data: bytes, name: str, notes: list[str], limits: InputLimits) -> pd.DataFrame:
    """Parse CSV text into a grid (header row included); columns and rows are checked before parsing.

    Recognised columns are parsed as pyarrow strings (validation parses them); the others, passed through, stay
    Python objects in one block, which is several times cheaper per cell.
    """
    text = _decode(data, name, notes)
    text, sep = _skip_title_lines(text, notes)
    header = _first_record(text, sep)
    _check_shape(name, max(_count_lines(text) - 1, 0), len(header), limits)
    dtypes = {i: (str if _is_known(cell) else object) for i, cell in enumerate(header)}
    try:
        return pd.read_csv(_io.StringIO(text), sep=sep, header=None, dtype=dtypes, keep_default_na=False,
                           na_values=[""], skip_blank_lines=True, engine="c", on_bad_lines="error",
                           low_memory=len(header) <= _CHUNKED_MAX_COLUMNS)
    except pd.errors.ParserError as exc:
        detail = str(exc).split("\n")[0]
        msg = (f"{name}: the CSV structure is broken ({detail}). A row has more cells than the header, usually an "
               "unquoted comma inside a name; quote that cell or re-export the report.")
        raise InputFileError(msg) from exc
    except pd.errors.EmptyDataError as exc:
        msg = f"{name}: the file is empty. Export the report again with its header row and data rows."
        raise InputFileError(msg) from exc


def _first_record(text: str, sep: str) -> list[str]:
    """The cells of the first CSV record (quotes honoured)."""
    try:
        return next(csv.reader(_io.StringIO(text), delimiter=sep), [])
    except csv.Error:  # e.g. a cell longer than the csv module's field limit
        return text.split("\n", 1)[0].split(sep)


def _count_lines(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") else 1)


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


def _read_excel(data: bytes, name: str, limits: InputLimits) -> pd.DataFrame:
    """Read the first sheet as a grid, after checking the workbook's parts and the sheet's dimension."""
    from openpyxl import load_workbook

    _check_workbook_parts(data, name, limits)
    try:
        book = load_workbook(_io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for corrupt workbooks
        msg = f"{name}: the workbook could not be opened ({type(exc).__name__}). Save it again as .xlsx or as CSV."
        raise InputFileError(msg) from exc
    if not book.worksheets:
        book.close()
        msg = f"{name}: the workbook has no worksheet. Save the sheet with the data as .xlsx or as CSV."
        raise InputFileError(msg)
    sheet = book.worksheets[0]
    rows, columns = sheet.max_row, sheet.max_column  # from the sheet's dimension; None when it has none
    try:
        _check_shape(name, None if rows is None else rows - 1, columns, limits)
        return pd.read_excel(book, engine="openpyxl", header=None, dtype=str, keep_default_na=False, na_values=[""])
    except InputFileError:
        raise
    except Exception as exc:  # openpyxl raises many types for corrupt workbooks
        msg = f"{name}: the workbook could not be opened ({type(exc).__name__}). Save it again as .xlsx or as CSV."
        raise InputFileError(msg) from exc
    finally:
        book.close()


def _check_workbook_parts(data: bytes, name: str, limits: InputLimits) -> None:
    """Refuse a workbook that would inflate beyond the limits, from its zip directory alone (nothing is inflated).

    The declared sizes bind: Python's zip reader stops at a part's declared size.
    """
    try:
        parts = zipfile.ZipFile(_io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the workbook reader says the file cannot be opened
    total = sum(p.file_size for p in parts)
    if total > limits.max_xlsx_uncompressed_mb * _MB:
        raise _over_limit(name, f"unpacks to {total / _MB:,.0f} MB", f"{limits.max_xlsx_uncompressed_mb:,g} MB",
                          "max_xlsx_uncompressed_mb", "Save the sheet as CSV (or delete unused sheets and formatting), "
                          "or raise the limit.")
    big = [p for p in parts if p.file_size >= _RATIO_MIN_BYTES]
    worst = max(big, key=lambda p: p.file_size / max(p.compress_size, 1), default=None)
    if worst is not None:
        ratio = worst.file_size / max(worst.compress_size, 1)
        if ratio > limits.max_xlsx_ratio:
            raise _over_limit(name, f"holds a part ({worst.filename}) compressed {ratio:,.0f} to 1",
                              f"{limits.max_xlsx_ratio:,g} to 1", "max_xlsx_ratio",
                              "A real export does not compress that much; save the sheet as CSV, or raise the limit.")


def _read_parquet(data: bytes, name: str, limits: InputLimits) -> pd.DataFrame:
    """Read a Parquet file as text; its rows and columns are checked from the metadata first."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(_io.BytesIO(data)).metadata
        _check_shape(name, meta.num_rows, meta.num_columns, limits)
        frame = pd.read_parquet(_io.BytesIO(data))
    except InputFileError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        msg = f"{name}: the Parquet file could not be read ({type(exc).__name__}). Export it again or use CSV."
        raise InputFileError(msg) from exc
    if frame.empty:
        msg = f"{name}: the file has no data rows."
        raise InputFileError(msg)
    text = frame.astype(object).where(frame.notna(), None)
    return text.apply(lambda col: col.map(lambda v: None if v is None else str(v)))


@lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    """Every alias of every canonical column, normalised."""
    return frozenset(normalise_name(s) for table in (ACCOUNT_ALIASES, REP_ALIASES) for v in table.values() for s in v)


def _is_known(value: object) -> bool:
    return isinstance(value, str) and normalise_name(value) in _known_names()


def _header_score(values: list[object] | np.ndarray) -> int:
    return sum(1 for v in values if _is_known(v))


def _apply_header(grid: pd.DataFrame, name: str, notes: list[str]) -> pd.DataFrame:
    grid = grid.loc[_nonblank_rows(grid)]
    if grid.empty:
        msg = f"{name}: the file has no rows. Export the report again with its header row and data rows."
        raise InputFileError(msg)
    head = grid.iloc[:_HEADER_SCAN_ROWS].to_numpy(dtype=object)
    scores = [_header_score(row) for row in head]
    header_at = max(range(len(scores)), key=lambda i: (scores[i], -i)) if max(scores) > 0 else 0
    if header_at:
        notes.append(f"Skipped {header_at} title line(s) above the header row (report name, filters, ...).")
    cells = [_CONTROL_RE.sub("", v).strip() if isinstance(v, str) else "" for v in head[header_at]]
    header = _dedupe([c or f"column_{i + 1}" for i, c in enumerate(cells)])
    frame = grid.iloc[header_at + 1:].set_axis(header, axis=1).reset_index(drop=True)
    return _clean_cells(frame)


def _nonblank_rows(grid: pd.DataFrame) -> np.ndarray:
    """Mask of the rows with at least one cell; the object block is only looked at for rows empty elsewhere."""
    text = [c for c, d in grid.dtypes.items() if isinstance(d, pd.StringDtype)]
    keep = grid[text].notna().any(axis=1).to_numpy() if text else np.zeros(len(grid), dtype=bool)
    rest = ~keep
    if rest.any() and len(text) < len(grid.columns):
        others = grid.columns.difference(text, sort=False)
        keep[rest] = grid.loc[rest, others].notna().any(axis=1).to_numpy()
    return keep


def _clean_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip every cell, blank cells become missing; recognised columns as pyarrow strings, the others as objects
    in one block (cheaper per cell, and one block however wide the file)."""
    known = [c for c in frame.columns if _is_known(c)]
    known_set = set(known)
    other = [c for c in frame.columns if c not in known_set]
    parts: list[pd.DataFrame | pd.Series] = [_strip_text(frame[c]) for c in known]
    if other:
        values = _strip_objects(frame[other].to_numpy(dtype=object, copy=True))
        parts.insert(0, pd.DataFrame(values, columns=other, index=frame.index, dtype=object, copy=False))
    if not parts:
        return frame
    return pd.concat(parts, axis=1)[list(frame.columns)]


def _strip_text(values: pd.Series) -> pd.Series:
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("str")
    text = text.str.strip()
    return text.where(text != "")


def _strip_objects(values: np.ndarray) -> np.ndarray:
    """Strip the text cells of a 2-D object array (changed in place) in one pass; blank cells become None."""
    if not (values.flags.c_contiguous or values.flags.f_contiguous):
        values = np.ascontiguousarray(values)
    flat = values.reshape(-1) if values.flags.c_contiguous else values.T.reshape(-1)  # a view either way
    present = np.flatnonzero(pd.notna(flat))
    if present.size:
        cells = flat[present]
        try:
            stripped = np.array(list(map(str.strip, cells)), dtype=object)
        except TypeError:  # a cell that is not text (workbook cells are, CSV cells are)
            stripped = np.array([str(v).strip() for v in cells], dtype=object)
        stripped[stripped == ""] = None
        flat[present] = stripped
    return values


def _remove_control_characters(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Remove control characters from every text cell; returns the clean frame and, per column, the index labels
    and counts of the cells that held some."""
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    cleaned: dict[str, pd.Series] = {}
    for column in frame.columns:
        values = frame[column]
        present = values.dropna()
        if isinstance(values.dtype, pd.StringDtype):
            hit = bool(present.str.contains(_CONTROL_PATTERN, regex=True).any())
        else:  # one C-speed scan of the column's text instead of one regex call per cell
            hit = _CONTROL_RE.search("\n".join(map(str, present))) is not None
        if not hit:
            continue
        counts = present.astype("str").str.count(_CONTROL_PATTERN)
        counts = counts[counts > 0]
        found[str(column)] = (counts.index.to_numpy(), counts.to_numpy(dtype=np.int64))
        text = values.str.replace(_CONTROL_PATTERN, "", regex=True).str.strip()
        cleaned[column] = text.where(text != "")
    if not cleaned:
        return frame, found
    out = frame.copy()
    for column, values in cleaned.items():
        out[column] = values
    return out, found


def _control_note(found: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    cells = sum(len(rows) for rows, _ in found.values())
    columns = ", ".join(f"'{c}'" for c in list(found)[:5]) + (f" and {len(found) - 5:,} more" if len(found) > 5 else "")
    return (f"Removed control characters (NUL and other invisible codes) from {cells:,} cell(s) in {len(found):,} "
            f"column(s): {columns}.")


def _dedupe(names: list[str]) -> list[str]:
    """Make header names unique: a repeated name gets ``_1``, ``_2``, ... (skipping names the file already has)."""
    originals = set(names)
    used: set[str] = set()
    out = []
    for n in names:
        name, k = n, 0
        while name in used or (k > 0 and name in originals):
            k += 1
            name = f"{n}_{k}"
        used.add(name)
        out.append(name)
    return out
