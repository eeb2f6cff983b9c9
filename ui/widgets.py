"""Render helpers shared by pages: literal text, the validation report, the dataset badge."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from territory_geo import export
from territory_geo.dataset import Dataset

#: The characters that give text a Markdown meaning (CommonMark, GFM, Streamlit's directives, HTML entities), with
#: ``:`` and ``@`` so that GFM does not turn a URL or e-mail address into a link (inside a link, escapes would show).
#: Backslash-escaping ASCII punctuation is a no-op in CommonMark, so escaping one too many is harmless.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:@])")


def literal(text: object) -> str:
    """The one escaping helper for user-derived text shown as Markdown (messages from the library, file and column
    names, rep and territory ids, dataset names, account names): it renders exactly as typed, and an image, link,
    HTML tag or directive inside it stays text (no request leaves the page)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def file_upload(label: str, types: list[str], key: str) -> object | None:
    """A file uploader that accepts only names ending in one of ``types`` and refuses any other name (a NUL byte
    or a wrong extension from a crafted request) with a clear message, clearing the uploader.

    Streamlit's own ``type=`` check raises before the page runs when a name holds a NUL byte, which would show a
    traceback; so the types are checked here, and said in the label's help."""
    generation = st.session_state.get(f"{key}__generation", 0)
    notice = st.session_state.pop(f"{key}__refused", None)
    if notice:
        st.error(notice)
    upload = st.file_uploader(label, key=f"{key}__{generation}" if generation else key,
                              help="Accepted: " + ", ".join(f".{t}" for t in types))
    if upload is None:
        return None
    name = str(upload.name)
    if "\x00" in name or not name.lower().endswith(tuple(f".{t}" for t in types)):
        shown = literal(name.replace("\x00", "␀"))
        st.session_state[f"{key}__generation"] = generation + 1
        st.session_state[f"{key}__refused"] = (
            f"{literal(label)}: the file {shown} was refused: its name must end in one of "
            f"{literal(', '.join('.' + t for t in types))} and hold no NUL character. Rename it and choose it again.")
        st.rerun()
    return upload


def money(value: float) -> str:
    """$1.2M / $350K / $900 style amounts for metrics."""
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"${value / limit:,.1f}{suffix}"
    return f"${value:,.0f}"


def dataset_badge(label: str, data: Dataset) -> None:
    """Sidebar line naming the active dataset."""
    n = len(data.scored.accounts) if data.scored is not None else 0
    st.sidebar.caption(f"Dataset: **{literal(label)}** · {n:,} accounts")


def set_aside(data: Dataset, where: str = "") -> None:
    """One warning per thing the loaded data leaves out (quarantined rows, reps set aside, owners not on the roster),
    so nothing is dropped without a word; ``where`` says what it means for this page."""
    for line in data.set_aside_lines():
        st.warning(literal(line) + (f" {where}" if where else ""))


def validation_report(data: Dataset) -> None:
    """Counts, notes, every issue (row, column, value, fix) and the quarantined rows with a download."""
    report = data.report
    errors, warnings = report.errors(), report.warnings()
    quarantine = data.quarantine()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows read", f"{report.n_rows:,}")
    c2.metric("Valid rows", f"{report.n_valid:,}")
    c3.metric("Quarantined rows", f"{len(data.accounts.quarantine):,}")
    c4.metric("Warnings", f"{len(warnings):,}")
    if report.fatal:
        for message in errors[errors["severity"] == "fatal"]["message"]:
            st.error(literal(message))
        if report.n_rows and not report.n_valid and not (errors["severity"] == "fatal").any():
            st.error("No valid rows are left after validation; fix the errors below and load the file again.")
    for note in report.notes:
        st.caption(f"ℹ️ {literal(note)}")
    if len(report.issues):
        shown = report.issues.copy()
        shown["value"] = shown["value"].astype("string")
        st.dataframe(shown, hide_index=True, width="stretch",
                     column_config={"row": st.column_config.NumberColumn("row", format="%d")})
        st.download_button("Download the issue list (CSV)", lambda: export.to_safe_csv(shown) or "",
                           file_name="validation_issues.csv", mime="text/csv", on_click="ignore")
    else:
        st.success("No problems found: every row is valid.")
    if len(quarantine):
        st.markdown(f"**Quarantined rows** ({len(quarantine):,}): fix them and upload again; the valid rows are "
                    "already in use.")
        st.dataframe(quarantine.astype("string"), hide_index=True, width="stretch")
        st.download_button("Download quarantined rows (CSV)", lambda: export.to_safe_csv(quarantine) or "",
                           file_name="quarantined_rows.csv", mime="text/csv", on_click="ignore")


#: Plain names and a line of explanation for the drive-hours table's columns.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "rep_id": ("Rep id", ""),
    "rep": ("Rep", ""),
    "accounts": ("Accounts", "Accounts in the territory."),
    "visits_year": ("Visits a year", "In-person visits a year, by tier."),
    "drive_hours_month": ("Drive h / month", "Hours driving in an average month: every trip's tour, home to home."),
    "meeting_hours_month": ("Meeting h / month", "Hours on site in an average month."),
    "field_days_month": ("Field days / month", "Days away from the desk in an average month."),
    "nights_away_month": ("Nights away / month", "Nights away from home on overnight trips."),
    "trips_month": ("Trips / month", "Day and overnight trips in an average month."),
    "travel_share": ("Travel share", "Drive hours as a share of the working month (target below 25 %)."),
    "fits_month": ("Fits the month", "Whether the field days and hours fit one rep's working month."),
    "red_flag": ("Red flag", "Too much driving: split the territory or cover it from inside sales."),
    "source": ("Drive times", "graph: road graph; estimated: crow-fly estimate for at least one leg from home."),
    "across_water": ("Across water", "Some visits cross water no road joins: estimates, not drives."),
}


def field_table(frame: pd.DataFrame) -> None:
    """The drive-hours table with plain column names and a short explanation of each."""
    config: dict[str, object] = {}
    for column in frame.columns:
        label, help_text = FIELD_LABELS.get(column, (column.replace("_", " "), ""))
        if column == "travel_share":
            config[column] = st.column_config.NumberColumn(label, help=help_text, format="percent")
        elif frame[column].dtype == bool:
            config[column] = st.column_config.CheckboxColumn(label, help=help_text)
        elif pd.api.types.is_numeric_dtype(frame[column]):
            config[column] = st.column_config.NumberColumn(label, help=help_text, format="%.1f"
                                                           if column.endswith("month") else None)
        else:
            config[column] = st.column_config.TextColumn(label, help=help_text)
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def table(frame: pd.DataFrame, money_columns: tuple[str, ...] = (), percent_columns: tuple[str, ...] = ()) -> None:
    """A dataframe with money and percent columns formatted."""
    config = {c: st.column_config.NumberColumn(c.replace("_", " "), format="dollar") for c in money_columns
              if c in frame.columns}
    config |= {c: st.column_config.NumberColumn(c.replace("_", " "), format="percent") for c in percent_columns
               if c in frame.columns}
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)
