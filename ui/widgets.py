"""Render helpers shared by pages: literal text, the validation report, the dataset badge, tables with plain column
names, the territory legend and the trade-off charts."""

from __future__ import annotations

import re
from collections.abc import Mapping

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


#: Plain names, a line of explanation and a number format for the design figures (scenario metrics, territory
#: figures, frontier points). A column not listed shows as its key with spaces.
DESIGN_LABELS: dict[str, tuple[str, str, str | None]] = {
    "plan": ("Plan", "", None),
    "cv_potential": ("CV of potential", "How uneven potential is across territories: the standard deviation of each "
                     "territory's potential ÷ its target, divided by their mean. Lower is fairer; 0 = all on target.",
                     "%.3f"),
    "max_dev_potential": ("Worst deviation", "The territory farthest from its potential target, as a share of "
                          "that target.", "percent"),
    "cv_workload": ("CV of workload", "How uneven workload units are across territories (std ÷ mean, against "
                    "targets). Lower is fairer.", "%.3f"),
    "max_dev_workload": ("Worst workload deviation", "The territory farthest from its workload target, as a share "
                         "of that target.", "percent"),
    "n_noncontiguous": ("Territories in pieces", "Territories that are not one connected piece (0: all whole).",
                        "%d"),
    "pp_mean": ("Compactness (Polsby–Popper)", "Mean over territories of 4π × area ÷ perimeter²: 1 = a circle, "
                "long thin shapes near 0.", "%.2f"),
    "distance_km_weighted": ("Distance to home (km)", "Crow-fly km from each ZIP area to its rep's home, weighted "
                             "by potential.", "%.1f"),
    "accounts_changed": ("Accounts changing owner", "Accounts whose ZIP area gets a new owner.", "%d"),
    "arr_changed_share": ("ARR changing owner", "Share of today's ARR whose ZIP area gets a new owner.", "percent"),
    "share_reps_not_worse": ("Reps no worse off", "Share of reps whose potential is at least what they hold today.",
                             "percent"),
    "drive_hours_total": ("Drive h / month (all reps)", "Hours all reps drive in an average month to make their "
                          "accounts' in-person visits (trip model; see Drive time).", "%.0f"),
    "drive_hours_max": ("Drive h / month (worst rep)", "Hours the rep who drives most spends driving in an average "
                        "month.", "%.1f"),
    "travel_share": ("Travel share (worst rep)", "Drive hours as a share of the working month, for the rep who "
                     "drives most (target below 25 %).", "percent"),
    "setting": ("Setting", "The swept setting: the disruption budget (share of ARR allowed to change owner) or the "
                "tolerance (±).", None),
    "status": ("Verdict", "ok: every territory within the tolerance of its target; infeasible: see its message.",
               None),
    "rep_id": ("Rep id", "", None),
    "rep": ("Rep", "", None),
    "territory_id": ("Territory", "", None),
    "potential": ("Potential", "Sum of the accounts' potential.", "dollar"),
    "workload_units": ("Workload units", "Tier workload (A 3, B 2, C 1, +0.5 for a customer).", "%.1f"),
    "accounts": ("Accounts", "", "%d"),
    "arr": ("ARR", "Today's annual recurring revenue of the territory's accounts.", "dollar"),
    "target_potential": ("Potential target", "The territory's share of all potential, by its rep's capacity.",
                         "dollar"),
    "dev_potential": ("Potential vs target", "Deviation of the potential from its target.", "percent"),
    "target_workload_units": ("Workload target", "The territory's share of all workload, by its rep's capacity.",
                              "%.1f"),
    "dev_workload_units": ("Workload vs target", "Deviation of the workload from its target.", "percent"),
    "area_km2": ("Area (km²)", "", "%.0f"),
    "perimeter_km": ("Perimeter (km)", "", "%.0f"),
    "polsby_popper": ("Compactness (Polsby–Popper)", "4π × area ÷ perimeter²: 1 = a circle, long thin shapes near 0.",
                      "%.2f"),
    "contiguous": ("One piece", "Whether the territory is one connected piece.", None),
    "distance_km": ("Distance to home (km)", "Crow-fly km from the territory's ZIP areas to its rep's home, "
                    "weighted by potential.", "%.1f"),
    "region": ("Region", "", None),
    "territories": ("Territories", "", "%d"),
    "worst_dev_potential": ("Worst deviation", "The region's territory farthest from its potential target.",
                            "percent"),
}


def column_label(column: str) -> str:
    """The plain name of a design figure (its key with spaces when it has none)."""
    return DESIGN_LABELS.get(column, (column.replace("_", " "), "", None))[0]


def design_table(frame: pd.DataFrame, labels: Mapping[str, tuple[str, str, str | None]] = DESIGN_LABELS) -> None:
    """A table of design figures with plain column names, a line of explanation on each, and number formats."""
    config: dict[str, object] = {}
    for column in frame.columns:
        label, help_text, number = labels.get(column, (column.replace("_", " "), "", None))
        if frame[column].dtype == bool:
            config[column] = st.column_config.CheckboxColumn(label, help=help_text or None)
        elif pd.api.types.is_numeric_dtype(frame[column]):
            config[column] = st.column_config.NumberColumn(label, help=help_text or None, format=number)
        else:
            config[column] = st.column_config.TextColumn(label, help=help_text or None)
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def legend(frame: pd.DataFrame) -> None:
    """The territory map's legend (:func:`ui.maps.legend_frame`): each rep's name beside a swatch of its colour."""
    styled = frame.style.apply(lambda column: [f"background-color: {c}; color: {c}" for c in column],
                               subset=["colour"])
    st.dataframe(styled, hide_index=True, width="stretch", height=35 * (len(frame) + 1) + 3,  # every row shown
                 column_config={"colour": st.column_config.TextColumn("Colour", width="small"),
                                "rep": st.column_config.TextColumn("Rep"),
                                "territory": st.column_config.TextColumn("Territory")})


#: How the trade-off charts mark their points: kind -> (legend name, shape).
POINT_KINDS: dict[str, tuple[str, str]] = {
    "today": ("Today's ownership", "diamond"),
    "designed": ("Designed scenario", "square"),
    "sweep": ("Swept setting", "circle"),
}

#: The name of the charts' point selection.
PICK = "pick"


def frontier_chart(points: pd.DataFrame, x: str, title: str) -> object:
    """A trade-off chart (Altair): CV of potential against ``x`` (``arr_changed_share`` or ``drive_hours_total``),
    the swept settings joined by a line in their order, today's ownership and the designed scenarios marked; a click
    selects a point (selection ``pick``, field ``key``).

    ``points`` has ``key``, ``label``, ``kind`` (:data:`POINT_KINDS`), ``order`` (the sweep's order; NaN off the
    sweep), ``cv_potential``, ``x`` and the tooltip's ``setting``, ``status`` and ``drive_hours_max``."""
    import altair as alt

    frame = points.assign(shown=points["kind"].map(lambda k: POINT_KINDS[k][0]))
    x_format = ".0%" if x == "arr_changed_share" else ",.0f"
    pick = alt.selection_point(name=PICK, fields=["key"], on="click")
    base = alt.Chart(frame).encode(
        x=alt.X(f"{x}:Q", title=column_label(x), axis=alt.Axis(format=x_format)),
        y=alt.Y("cv_potential:Q", title=column_label("cv_potential"), scale=alt.Scale(zero=True)))
    line = base.transform_filter(alt.datum.kind == "sweep").mark_line(color="#9aa5b1").encode(order="order:Q")
    marks = base.mark_point(size=140, filled=True).encode(
        shape=alt.Shape("shown:N", title=None, scale=alt.Scale(domain=[v[0] for v in POINT_KINDS.values()],
                                                               range=[v[1] for v in POINT_KINDS.values()])),
        color=alt.Color("shown:N", title=None, scale=alt.Scale(domain=[v[0] for v in POINT_KINDS.values()],
                                                               range=["#333333", "#d62728", "#1f77b4"])),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        tooltip=[alt.Tooltip("label:N", title="Plan"), alt.Tooltip("status:N", title="Verdict"),
                 alt.Tooltip("cv_potential:Q", title=column_label("cv_potential"), format=".3f"),
                 alt.Tooltip(f"{x}:Q", title=column_label(x), format=x_format),
                 alt.Tooltip("drive_hours_max:Q", title=column_label("drive_hours_max"), format=".1f")],
    ).add_params(pick)
    return (line + marks).properties(title=title, height=320)


def picked(event: object, param: str = PICK) -> str | None:
    """The ``key`` of the point a trade-off chart's selection holds (``st.altair_chart``'s selection state), or
    None when nothing is selected."""
    selection = (event or {}).get("selection", {}) if isinstance(event, Mapping) else {}
    chosen = selection.get(param) or []
    if isinstance(chosen, list) and chosen and isinstance(chosen[0], Mapping):
        key = chosen[0].get("key")
        return str(key) if key is not None else None
    return None
