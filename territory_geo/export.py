"""Exports that are safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is a formula to Excel and
LibreOffice; a CRM field like ``=HYPERLINK(...)`` in an account name would run when the export is opened. Every CSV
the workbench writes goes through :func:`to_safe_csv`, which prefixes such text with a single quote (OWASP's
advice). Numbers stay numbers: a negative amount is not text and is written as is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A negative number written as text ("-1200", "-0.5", "-1e3"): a value, not a formula, so it is left alone.
_NEGATIVE_NUMBER = r"-(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot be read as spreadsheet formulas."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            text = col.astype("string")
            risky = text.str.startswith(_FORMULA_START, na=False) & ~text.str.fullmatch(_NEGATIVE_NUMBER, na=False)
            if risky.any():
                out[name] = text.where(~risky, "'" + text)
    return out


def to_safe_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """Write ``frame`` as CSV with formula cells escaped; returns the text when ``path`` is None.

    Lines end in CRLF (RFC 4180) so that a cell holding a bare carriage return is quoted: unquoted, a spreadsheet
    would start a new row there, and text after it (``"Acme\\r=HYPERLINK(...)"``) would be read as a formula.
    """
    safe = escape_formulas(frame)
    if path is None:
        return safe.to_csv(index=False, lineterminator="\r\n")
    safe.to_csv(path, index=False, lineterminator="\r\n")
    return None


#: Columns of the scored-accounts export, in order (``score_<factor>`` columns are added after ``score``).
SCORED_COLUMNS: tuple[str, ...] = (
    "account_id", "name", "zip", "state", "city", "lat", "lon", "location_source", "industry", "segment",
    "owner_rep_id", "arr", "expansion", "expansion_source", "win_prob", "win_source", "potential", "potential_source",
    "tier", "score",
)
SCORED_TAIL: tuple[str, ...] = ("value_tier", "growth", "rep_type", "workload_units", "touchpoints", "is_customer")


def scored_export(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored accounts in export order, with every other input column passed through at the end."""
    factor_cols = [c for c in scored.columns if c.startswith("score_")]
    head = [c for c in SCORED_COLUMNS if c in scored.columns] + factor_cols
    head += [c for c in SCORED_TAIL if c in scored.columns]
    rest = [c for c in scored.columns if c not in head and c != "row"]
    return scored[head + rest]
