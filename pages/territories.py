"""Territories: design scenarios when asked, compare them side by side, see the trade-offs, inspect a plan on the map,
export or save it.

Nothing is designed until the user presses Design: the settings are a form, and the designs are kept for the session
(per dataset and settings), so reruns, other widgets and page switches never re-design.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import streamlit as st

from territory_geo import export, metrics
from territory_geo.design import SCENARIOS
from territory_geo.design.sweep import SWEEPS
from territory_geo.errors import TerritoryError
from ui import maps, state, widgets

current = state.start_page("Territories")
if not current.data.usable or current.units is None or current.data.reps is None:
    st.error("Designing territories needs usable accounts and a reps file with home bases; see Home.")
    st.stop()
st.markdown("Seeded k-means on ZIP centroids, then an exact-balance transport step, contiguity repair and local "
            "search: every territory one connected piece, within tolerance of its capacity-weighted target.")

widgets.set_aside(current.data, "The designs below work without them.")
graph = state.graph_choice()
travel = (f"road drive times from {widgets.literal(graph.name)} (set on the Drive time page; places off its roads "
          "are estimated)" if graph else "**estimated** from crow-fly distance (load a road graph on the Drive time "
          "page for road drive times)")
st.caption("Balance: each territory's tally ÷ its target (targets follow rep capacity). Distance: potential-weighted "
           f"crow-fly km from each ZIP to its rep's home. Drive hours a month (the trip model of the Drive time page): "
           f"{travel}.")

# --- settings: a form, designed only on its button --------------------------------------------------------------------

designed_with = state.last_request(current)
shown_settings = designed_with or state.DesignRequest(tuple(SCENARIOS))  # the form starts from what was designed

with st.sidebar.form("terr_settings", enter_to_submit=False):
    st.header("Scenarios")
    chosen = st.multiselect("Scenarios to compare", list(SCENARIOS), default=list(shown_settings.scenarios),
                            format_func=lambda s: SCENARIOS[s].label, key="terr_scenarios")
    custom_tol = st.checkbox("Override each scenario's tolerance", value=shown_settings.tolerance is not None,
                             key="terr_custom_tol")
    tolerance = st.slider("Tolerance override (±)", 0.01, 0.30, value=shown_settings.tolerance or 0.05, step=0.005,
                          format="%.3f", key="terr_tol", help="Used only when the box above is ticked.")
    pin_top = st.number_input("Protect each rep's top N accounts by ARR", 0, 20, value=shown_settings.pin_top_n,
                              key="terr_pin")
    seed = st.number_input("Seed", 0, 10_000, value=shown_settings.seed, key="terr_seed", help="Same seed, same plan.")
    thorough = st.checkbox("Thorough (slower)", value=shown_settings.thorough, key="terr_thorough",
                           help="Where lumpy ZIPs leave territories beyond the tolerance, re-draw the region around "
                                "them as a whole. Up to 4x the time.")
    cross = st.checkbox("Allow territories across water", value=shown_settings.allow_cross_region, key="terr_cross",
                        help="ZIP areas no road joins (AK, HI, PR, ... and the lower 48) are separate regions, each "
                             "covered by the reps who live there. Tick to let a territory span them.")
    pressed = st.form_submit_button("Design", type="primary", key="terr_design")

request = state.DesignRequest(tuple(chosen), float(tolerance) if custom_tol else None, int(pin_top), int(seed),
                              bool(thorough), bool(cross))


def _design_all(request: state.DesignRequest) -> None:
    """Design every scenario of ``request`` not yet designed with its settings, one progress line each."""
    with st.status(f"Designing {len(request.scenarios)} scenario(s)…", expanded=True) as status:
        bar = st.progress(0.0)
        for done, name in enumerate(request.scenarios, start=1):
            label = widgets.literal(SCENARIOS[name].label)
            line = st.empty()
            kept = state.designed(current, request, name)
            if kept is not None:
                line.write(f"{label}: kept from an earlier design with these settings.")
            else:
                line.write(f"{label}…")
                result = state.design_now(current, request, name)
                line.write(f"{label}: {result.designer.status_} in {result.seconds:.1f} s.")
            bar.progress(done / len(request.scenarios))
        status.update(label=f"Designed {len(request.scenarios)} scenario(s).", state="complete", expanded=False)


if pressed:
    if not request.scenarios:
        st.warning("Pick at least one scenario in the sidebar, then press **Design**.")
    else:
        try:
            _design_all(request)
        except TerritoryError as exc:
            st.error(widgets.literal(exc))
        else:
            state.set_last_request(current, request)
            designed_with = request

if designed_with is None:
    st.info("Choose the scenarios and settings in the sidebar and press **Design**: nothing is designed until then "
            "(a design of the demo's four scenarios takes about half a minute).")
    st.stop()
if request != designed_with:
    st.warning(f"Settings changed — press **Design** to design with them. The results below are for the settings "
               f"last designed: {widgets.literal(designed_with.describe())}.")

results = {name: state.designed(current, designed_with, name) for name in designed_with.scenarios}
if any(r is None for r in results.values()):  # dropped from the session's store: say so rather than re-design
    st.info("These designs are no longer kept in this session; press **Design** to design them again.")
    st.stop()

# --- comparison -------------------------------------------------------------------------------------------------------


def _field_figures(field: pd.DataFrame | None) -> dict[str, float | None]:
    if field is None or not len(field):
        return {"drive_hours_total": None, "drive_hours_max": None, "travel_share": None}
    return {"drive_hours_total": float(field["drive_hours_month"].sum()),
            "drive_hours_max": float(field["drive_hours_month"].max()),
            "travel_share": float(field["travel_share"].max())}


first = next(iter(results.values())).designer
today_field = state.current_field(current)
summaries = {"Current ownership": first.baseline_summary_, "Seeded k-means (unbalanced)": first.kmeans_summary_}
summaries |= {r.designer.scenario.label: r.designer.summary_ for r in results.values()}
comparison = metrics.comparison_table(summaries)
hours = [_field_figures(today_field if first.baseline_summary_ is not None else None), _field_figures(None)]
hours += [_field_figures(r.field) for r in results.values()]
comparison = pd.concat([comparison, pd.DataFrame(hours)], axis=1)
st.subheader("Scenario comparison")
widgets.design_table(comparison)
st.caption("Hover over a column's name for what it measures. CV of potential: how uneven potential is across "
           "territories (lower is fairer). Compactness: 1 = a circle, long thin shapes near 0. Travel share: the "
           "busiest driver's drive hours as a share of the working month (target below 25 %).")
for r in results.values():
    d = r.designer
    (st.success if d.status_ == "ok" else st.warning)(
        f"{widgets.literal(d.scenario.label)}: {widgets.literal(d.message_)} ({d.runtime_s_:.1f} s)")

# --- trade-offs -------------------------------------------------------------------------------------------------------

st.subheader("Trade-offs")
st.caption("Balance against disruption (the min-disruption scenario at disruption budgets of 0–40 % of ARR) and "
           "balance against travel (the proximity scenario at tolerances of ±2.5–20 %), each setting designed on "
           "its own, on Dask. Click a point to inspect its plan below.")
sweep = state.sweep_result(current, designed_with)
if st.button("Show trade-offs" if sweep is None else "Run the trade-offs again", key="terr_tradeoffs"):
    try:
        with st.status("Designing the trade-offs…", expanded=True) as sweep_status:
            bar = st.progress(0.0)

            def _report(run: object, done: int, total: int) -> None:
                st.write(f"{widgets.literal(run.label)}: {run.status} in {run.runtime_s:.1f} s.")
                bar.progress(done / total)

            sweep = state.run_sweep(current, designed_with, _report)
            sweep_status.update(label=f"Designed {len(sweep.runs)} trade-off setting(s).", state="complete",
                                expanded=False)
    except TerritoryError as exc:
        st.error(widgets.literal(exc))


def _points(kind: str) -> pd.DataFrame:
    """The chart's points for one frontier: the swept settings, the designed scenarios and today's ownership (drawn
    last, on top)."""
    rows = [{**run.row(), "key": run.key, "label": run.label, "kind": "sweep", "order": order}
            for order, run in enumerate(sweep.of(kind))]
    for r in results.values():
        rows.append({"key": f"scenario:{r.name}", "label": r.designer.scenario.label, "kind": "designed",
                     "order": math.nan, "status": r.designer.status_, "setting": "",
                     "cv_potential": r.designer.summary_["cv_potential"],
                     "arr_changed_share": r.designer.summary_.get("arr_changed_share", math.nan),
                     **_field_figures(r.field)})
    if sweep.today is not None:
        rows.append({**sweep.today, "key": "current", "label": "Current ownership", "kind": "today",
                     "order": math.nan})
    return pd.DataFrame(rows)


def _pick(chart_key: str, event: object) -> None:
    """A click on a chart's point (a new selection) shows its plan below; the selection stays on the chart, so it
    is applied once, and the plan picker below stays free."""
    key = widgets.picked(event)
    if key != st.session_state.get(f"{chart_key}_applied"):
        st.session_state[f"{chart_key}_applied"] = key
        if key is not None:
            st.session_state["terr_show"] = key


if sweep is not None:
    x_of = {"disruption": "arr_changed_share", "travel": "drive_hours_total"}
    columns = st.columns(len(sweep.kinds))
    for column, kind in zip(columns, sweep.kinds, strict=True):
        chart_key = f"terr_chart_{kind}"
        event = column.altair_chart(widgets.frontier_chart(_points(kind), x_of[kind], SWEEPS[kind].title),
                                    key=chart_key, on_select="rerun", selection_mode=widgets.PICK, width="stretch")
        _pick(chart_key, event)
    frontier = sweep.table()[["setting", "cv_potential", "max_dev_potential", "arr_changed_share",
                              "drive_hours_total", "drive_hours_max", "pp_mean", "status"]]
    with st.expander("The trade-off runs as a table"):
        widgets.design_table(frontier)

# --- inspect a plan ---------------------------------------------------------------------------------------------------

views = {f"scenario:{r.name}": state.PlanView.of_designer(r.name, r.designer) for r in results.values()}
if sweep is not None:
    views |= {run.key: state.PlanView.of_run(run) for run in sweep.runs}
today = state.PlanView.of_current(first)
if today is not None:
    views["current"] = today
if st.session_state.get("terr_show") not in views:
    st.session_state["terr_show"] = next(iter(views))

st.subheader("Inspect a plan")
shown = st.selectbox("Plan", list(views), format_func=lambda k: views[k].label, key="terr_show")
view = views[shown]
if view.status != "current":
    (st.success if view.status == "ok" else st.warning)(f"{widgets.literal(view.label)}: "
                                                        f"{widgets.literal(view.message)}")
reps = current.data.reps.data.set_index("rep_id")
rep_names = {t: str(reps.loc[r, "name"]) if r in reps.index else r for t, r in view.rep_of.items()}
colors = maps.territory_color(list(view.rep_of))
homes = current.data.reps.data.rename(columns={"home_lat": "lat", "home_lon": "lon"}).dropna(subset=["lat", "lon"])
deck = maps.territories_deck(current.units_geojson(), view.assignment, colors, rep_names, homes,
                             maps.view_for(current.data.scored.accounts))
map_column, legend_column = st.columns([3, 1.2])
map_column.pydeck_chart(deck, height=560, key="terr_deck")
with legend_column:
    st.markdown("**Legend**")
    widgets.legend(maps.legend_frame(colors, rep_names))
    st.caption("Black dots: the reps' homes.")
table = view.table.copy()
table.insert(1, "rep", [rep_names.get(t, t) for t in table.index])
widgets.design_table(table.rename_axis("territory_id").reset_index())

if "region" in current.data.reps.data.columns and current.data.reps.data["region"].notna().any():
    st.markdown("**Regions**")
    region_of = dict(zip(current.data.reps.data["rep_id"], current.data.reps.data["region"], strict=True))
    widgets.design_table(metrics.region_rollup(view.table, region_of))

result = view.designer
if result is not None:
    name = shown.removeprefix("scenario:")
    rep_of = view.rep_of
    c1, c2, c3 = st.columns(3)
    # exports are built only when clicked (the GeoJSON dissolves every ZIP of the plan); a download reruns nothing
    c1.download_button("assignment.csv",
                       lambda: export.to_safe_csv(export.assignment_frame(result.plan_, rep_of)) or "",
                       file_name=f"assignment_{name}.csv", mime="text/csv", key="terr_dl_assign", on_click="ignore")
    c2.download_button("territories.geojson",
                       lambda: json.dumps(export.territories_geojson(current.units.table, result.plan_,
                                                                     result.table_)),
                       file_name=f"territories_{name}.geojson", mime="application/geo+json", key="terr_dl_geo",
                       on_click="ignore")
    c3.download_button("metrics.json",
                       lambda: json.dumps(export.design_metrics(result, {"seed": designed_with.seed}), indent=2,
                                          default=str),
                       file_name=f"metrics_{name}.json", mime="application/json", key="terr_dl_metrics",
                       on_click="ignore")
elif view.status != "current":
    st.caption("Exports are for designed scenarios: to export this plan, save it to the store, or design its "
               "scenario with this setting.")
if st.button("Save this plan to the store", key="terr_save"):
    plan_id = state.save_plan(current, view)
    st.success(f"Saved as plan #{plan_id}.")
