"""Territories: design scenarios, compare them side by side, inspect one on the map, export or save it."""

from __future__ import annotations

import json

import streamlit as st

from territory_geo import export, metrics
from territory_geo.design import SCENARIOS
from territory_geo.errors import TerritoryError
from ui import maps, state, widgets

current = state.start_page("Territories")
if not current.data.usable or current.units is None or current.data.reps is None:
    st.error("Designing territories needs usable accounts and a reps file with home bases; see Home.")
    st.stop()
st.markdown("Seeded k-means on ZIP centroids, then an exact-balance transport step, contiguity repair and local "
            "search: every territory one connected piece, within tolerance of its capacity-weighted target.")

widgets.set_aside(current.data, "The designs below work without them.")

st.sidebar.header("Scenarios")
chosen = st.sidebar.multiselect("Scenarios to compare", list(SCENARIOS), default=list(SCENARIOS),
                                format_func=lambda s: SCENARIOS[s].label, key="terr_scenarios")
custom_tol = st.sidebar.checkbox("Override each scenario's tolerance", key="terr_custom_tol")
tolerance = st.sidebar.slider("Tolerance (±)", 0.01, 0.30, 0.05, 0.005, format="%.3f", key="terr_tol",
                              disabled=not custom_tol)
pin_top = st.sidebar.number_input("Protect each rep's top N accounts by ARR", 0, 20, 0, key="terr_pin")
seed = st.sidebar.number_input("Seed", 0, 10_000, 0, key="terr_seed")
cross = st.sidebar.checkbox("Allow territories across water", key="terr_cross",
                            help="ZIP areas no road joins (AK, HI, PR, ... and the lower 48) are separate regions, each "
                                 "covered by the reps who live there. Tick to let a territory span them.")
thorough = st.sidebar.checkbox("Thorough (slower)", key="terr_thorough",
                               help="Where lumpy ZIPs leave territories beyond the tolerance, re-draw the region "
                                    "around them as a whole. Up to 4x the time.")
if not chosen:
    st.info("Pick at least one scenario in the sidebar.")
    st.stop()

results = {}
try:
    with st.status("Designing territories…", expanded=False) as status:
        for name in chosen:
            st.write(f"{widgets.literal(SCENARIOS[name].label)}…")
            results[name] = state.design_scenario(current, name, tolerance if custom_tol else None, int(pin_top),
                                                  int(seed), bool(thorough), bool(cross))
        status.update(label=f"Designed {len(results)} scenario(s).", state="complete")
except TerritoryError as exc:
    st.error(widgets.literal(exc))
    st.stop()

first = next(iter(results.values()))
summaries = {"Current ownership": first.baseline_summary_, "Seeded k-means (unbalanced)": first.kmeans_summary_}
summaries |= {results[n].scenario.label: results[n].summary_ for n in chosen}
st.subheader("Scenario comparison")
widgets.table(metrics.comparison_table(summaries), percent_columns=("max_dev_potential", "max_dev_workload",
                                                                    "arr_changed_share", "share_reps_not_worse"))
for name in chosen:
    r = results[name]
    (st.success if r.status_ == "ok" else st.warning)(
        f"{widgets.literal(r.scenario.label)}: {widgets.literal(r.message_)} ({r.runtime_s_:.1f} s)")
graph = state.graph_choice()
travel = (f"road drive times from {widgets.literal(graph.name)} (set on the Drive time page; places off its roads "
          "are estimated)" if graph else "**estimated** from crow-fly distance (load a road graph on the Drive time "
          "page for road drive times)")
st.caption("Balance: each territory's tally ÷ its target (targets follow rep capacity). Distance: potential-weighted "
           f"crow-fly km from each ZIP to its rep's home. Travel in the balance blend: {travel}.")

st.subheader("Inspect a scenario")
shown = st.radio("Scenario", chosen, horizontal=True, format_func=lambda s: SCENARIOS[s].label, key="terr_show")
result = results[shown]
problem = result.problem_
reps = current.data.reps.data.set_index("rep_id")
rep_names = {t: reps.loc[r, "name"] if r in reps.index else r for t, r in zip(problem.tids, problem.rep_ids,
                                                                              strict=True)}
assignment = result.plan_.to_series()
colors = maps.territory_color(list(problem.tids))
homes = current.data.reps.data.rename(columns={"home_lat": "lat", "home_lon": "lon"}).dropna(subset=["lat", "lon"])
view = maps.view_for(current.data.scored.accounts)
deck = maps.territories_deck(current.units_geojson(), assignment, colors, rep_names, homes, view)
st.pydeck_chart(deck, height=560, key="terr_deck")
table = result.table_.copy()
table.insert(1, "rep", [rep_names.get(t, t) for t in table.index])
widgets.table(table.reset_index(), money_columns=("potential", "arr", "target_potential"),
              percent_columns=("dev_potential", "dev_workload_units"))

if "region" in current.data.reps.data.columns and current.data.reps.data["region"].notna().any():
    st.markdown("**Regions**")
    region_of = dict(zip(current.data.reps.data["rep_id"], current.data.reps.data["region"], strict=True))
    widgets.table(metrics.region_rollup(result.table_, region_of), money_columns=("potential", "arr"),
                  percent_columns=("worst_dev_potential",))

rep_of = dict(zip(problem.tids, problem.rep_ids, strict=True))
c1, c2, c3 = st.columns(3)
# exports are built only when clicked (the GeoJSON dissolves every ZIP of the plan); a download reruns nothing
c1.download_button("assignment.csv", lambda: export.to_safe_csv(export.assignment_frame(result.plan_, rep_of)) or "",
                   file_name=f"assignment_{shown}.csv", mime="text/csv", key="terr_dl_assign", on_click="ignore")
c2.download_button("territories.geojson",
                   lambda: json.dumps(export.territories_geojson(current.units.table, result.plan_, result.table_)),
                   file_name=f"territories_{shown}.geojson", mime="application/geo+json", key="terr_dl_geo",
                   on_click="ignore")
c3.download_button("metrics.json", lambda: json.dumps(export.design_metrics(result, {"seed": int(seed)}), indent=2,
                                                      default=str),
                   file_name=f"metrics_{shown}.json", mime="application/json", key="terr_dl_metrics", on_click="ignore")
if st.button("Save this plan to the store", key="terr_save"):
    plan_id = state.save_plan(current, result, shown)
    st.success(f"Saved as plan #{plan_id}.")
