"""Drive time: choose where drive times come from, see 30/60/90-minute reach, and each territory's drive hours."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from territory_geo import drivetime as dt
from territory_geo import export
from territory_geo.design import SCENARIOS
from territory_geo.errors import TerritoryError
from territory_geo.settings import DriveTimeSettings, FieldSettings
from territory_geo.units import ownership_by_zip
from ui import maps, state, widgets

current = state.start_page("Drive time")
if not current.data.usable or current.units is None or current.data.reps is None:
    st.error("Drive times need usable accounts and a reps file with home bases; see Home.")
    st.stop()
settings = DriveTimeSettings()
widgets.set_aside(current.data, "Drive times below leave them out.")

SOURCES = {"estimate": "Estimate (no road graph)", "file": "Road graph file", "download": "Download from OpenStreetMap"}
source = st.radio("Drive times from", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="dt_source")
if source == "estimate":
    state.set_graph_choice(None)
elif source == "file":
    upload = widgets.file_upload("Road graph: .osm.pbf (e.g. a Geofabrik extract), .osm / .osm.xml, or .graphml",
                                 ["pbf", "osm", "xml", "graphml"], "dt_file")
    if upload is not None:
        choice = state.GraphChoice(upload.name, upload.getvalue())
        previous = state.graph_choice()
        if previous is None or previous.digest != choice.digest:
            state.set_graph_choice(choice)
    elif state.graph_choice() is None:
        st.info("Upload a road graph file; until then every figure below is estimated.")
else:
    st.markdown("Downloads the drivable roads around your reps and accounts from OpenStreetMap's Overpass API, "
                "once: the graph is kept on disk. A metro area gets every drivable street; a larger area, roads "
                "down to tertiary (a state takes minutes).")
    if st.button("Download road network", key="dt_download"):
        with st.status("Downloading roads from OpenStreetMap…", expanded=True) as status:
            try:
                area = dt.dataset_area(current.data.scored.accounts, current.data.reps.data)
                roads = dt.download_filter(area)
                graph = dt.download_graph(area, roads)  # a cached download is read from disk; offline fails in ~2 s
                state.set_graph_choice(state.GraphChoice(graph.source, path=str(dt.cached_graph_path(area, roads))))
                status.update(label=f"Downloaded {graph.n_nodes:,} road nodes.", state="complete", expanded=False)
            except TerritoryError as exc:
                status.update(label="No road network downloaded.", state="error")
                st.error(widgets.literal(exc))

graph = None
if state.graph_choice() is not None:
    try:
        with st.status("Building the road graph…", expanded=False) as status:
            graph = state.road_graph()
            status.update(label=f"Road graph {widgets.literal(graph.source)}: {graph.n_nodes:,} nodes, "
                                f"{graph.n_edges:,} road segments (largest strongly connected part).", state="complete")
    except TerritoryError as exc:
        st.error(widgets.literal(exc))
        state.set_graph_choice(None)

try:
    with st.spinner("Computing drive times from every rep's home to every ZIP…"):
        matrix, calibration = state.zip_matrix(current)
except TerritoryError as exc:
    st.error(widgets.literal(exc))
    st.stop()
share_estimated = float((matrix["source"] == dt.ESTIMATED).mean()) if len(matrix) else 1.0
if graph is None:
    st.warning("No road graph: every drive time on this page is **estimated** (crow-fly distance × circuity ÷ "
               "speed, per urban / suburban / rural ZIP).")
elif share_estimated > 0:
    st.info(f"{share_estimated:.1%} of rep → ZIP drive times lie outside the road graph "
            f"(more than {settings.max_snap_km:g} km from its roads) and are **estimated**.")

st.subheader("Reach: 30 / 60 / 90 minutes from each rep's home")
homes = state.homes_frame(current)
rows = maps.isochrone_rows(state.isochrones(current), homes["name"].tolist())
st.pydeck_chart(maps.isochrone_deck(rows, homes, maps.view_for(homes)), height=520, key="dt_deck")
st.caption("Darkest: within 30 minutes; lightest: within 90. Areas from the road graph follow the roads reached; "
           "estimated areas are circles (hover for which).")

st.subheader("Drive hours per territory")
plans = {"current": "Current ownership"} | {name: scenario.label for name, scenario in SCENARIOS.items()}
plan_key = st.selectbox("Territories", list(plans), format_func=plans.get, key="dt_plan")
scored = current.data.scored.accounts
if plan_key == "current":
    owner_of_zip = ownership_by_zip(current.units, scored)
else:
    try:
        result = state.design_scenario(current, plan_key)
    except TerritoryError as exc:
        st.error(widgets.literal(exc))
        st.stop()
    owner_of_zip = result.rep_assignment()
if owner_of_zip.empty:
    st.info("The accounts have no owners, so there are no current territories; pick a designed scenario.")
    st.stop()
field = FieldSettings()
hours = state.field_table(current, owner_of_zip, matrix, calibration)
if hours["across_water"].any():
    crossing = hours.loc[hours["across_water"], "rep_id"].astype(str).tolist()
    st.warning(f"{len(crossing)} rep(s) visit accounts across water no road joins ({widgets.literal(', '.join(crossing))}):"
               " those drive times are crow-fly estimates, not drives; flights or ferries decide the real time.")
for note in hours.loc[hours["note"] != "", "note"]:
    st.warning(widgets.literal(note))
hours.insert(1, "rep", hours["rep_id"].map(dict(zip(homes["rep_id"], homes["name"], strict=True))))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Months that do not fit", f"{int((~hours['fits_month']).sum())} of {len(hours)}")
c2.metric("Reps over the red line", f"{int(hours['red_flag'].sum())} of {len(hours)}")
c3.metric("Median drive hours a month", f"{hours['drive_hours_month'].median():.1f} h")
c4.metric("Median travel share", f"{hours['travel_share'].median():.0%}")
widgets.field_table(hours.drop(columns=["note"]))
visits = ", ".join(f"{tier} {n:g}" for tier, n in field.in_person_visits.items())
st.caption(f"Each account gets its tier's in-person visits a year ({visits}); a year of visits is grouped into day "
           f"trips from home (at most {field.workday_hours:g} h home to home, {field.max_meetings_per_day} meetings, "
           f"{field.max_hop_minutes:g} min between meetings, {field.meeting_hours:g} h on site each) and, beyond "
           f"{field.overnight_one_way_hours:g} h one way, overnight trips (nights away counted). Drive time is each "
           "trip's tour, home → accounts → home: legs from home from the road graph where it reaches, hops between "
           "nearby stops on the road graph where measured, the (calibrated) estimate otherwise. Red flag: more than "
           f"{field.red_flag_hours_month:g} h of driving a month, travel above {field.travel_share_target:.0%} of a "
           f"{field.working_hours_month:.0f}-hour month, or a month that does not fit — split the territory or cover "
           "it from inside sales.")

st.subheader("Calibration of the estimate")
factors = pd.DataFrame([{"class": c, **f, "pairs": calibration["pairs"].get(c, 0)}
                        for c, f in calibration["factors"].items()])
if graph is None:
    st.markdown("Without a road graph the estimate uses typical US factors:")
else:
    st.markdown(f"Fitted on {sum(calibration['pairs'].values()):,} rep → ZIP routes of the road graph: median "
                f"error **{(calibration['median_error'] or 0):.0%}** (typical US factors: "
                f"{(calibration['median_error_default'] or 0):.0%}). Classes without enough routes keep the "
                "typical factors.")
widgets.table(factors)

c1, c2, c3 = st.columns(3)
c1.download_button("matrix.csv (rep → ZIP)", lambda: export.to_safe_csv(matrix) or "", file_name="matrix.csv",
                   mime="text/csv", key="dt_dl_matrix", on_click="ignore")
c2.download_button("matrix_accounts.csv (rep → account)",  # computed only when clicked
                   lambda: export.to_safe_csv(state.account_matrix(current, graph, calibration)) or "",
                   file_name="matrix_accounts.csv", mime="text/csv", key="dt_dl_accounts", on_click="ignore")
c3.download_button("calibration.json", lambda: json.dumps(calibration, indent=2), file_name="calibration.json",
                   mime="application/json", key="dt_dl_calibration", on_click="ignore")
