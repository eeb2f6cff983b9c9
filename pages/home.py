"""Home: what the tool does, load the demo or your files, the validation report, the dataset summary, saved data."""

from __future__ import annotations

import streamlit as st

from territory_geo import units
from territory_geo.errors import TerritoryError
from ui import state, widgets

current = state.start_page("Sales territory planning workbench")
st.markdown(
    "Score and tier every account from your CRM export, see them on a map, and build territories that give each rep "
    "a fair share of potential and workload. Start with the built-in demo (synthetic accounts in the US Southeast) "
    "or upload your own accounts and rep roster; nothing leaves this machine.")

if current.inputs.origin == "upload":
    st.info("Your upload is kept on this server as an unsaved working copy: refreshing the page (or opening this "
            "page's link again) reopens it. Only the newest uploads are kept; save the dataset under **Saved "
            "datasets** to keep it for good.")

load_tab, report_tab, saved_tab = st.tabs(["Load data", "Validation report", "Saved datasets"])

with load_tab:
    left, right = st.columns([1, 2])
    with left:
        st.subheader("Demo")
        st.caption("About 6,000 synthetic accounts on real ZIP codes of GA, FL, AL and SC, 15 reps, and a legacy "
                   "state-line ownership that is visibly unbalanced.")
        if st.button("Load the demo", key="home_load_demo"):
            state.load(state.demo_inputs())
            st.rerun()
    with right:
        st.subheader("Your files")
        with st.form("home_upload", clear_on_submit=False):
            tables = ["csv", "txt", "xlsx", "parquet"]
            accounts_file = widgets.file_upload("Accounts (CSV, XLSX or Parquet) — required", tables, "home_accounts")
            reps_file = widgets.file_upload("Reps roster (optional)", tables, "home_reps")
            market_file = widgets.file_upload("Market counts per ZIP/county (optional, for TAM)", tables,
                                              "home_market")
            areas_file = widgets.file_upload("ZIP/ZCTA polygons (optional; GeoJSON, GeoPackage or zipped Shapefile)",
                                             ["geojson", "json", "gpkg", "zip"], "home_areas")
            submitted = st.form_submit_button("Load files")
        if submitted:
            if accounts_file is None:
                st.warning("Choose an accounts file first.")
            else:
                def _file(upload: object) -> state.InputFile | None:
                    return None if upload is None else state.InputFile(upload.name, upload.getvalue())

                inputs = state.Inputs(label=accounts_file.name, accounts=_file(accounts_file), reps=_file(reps_file),
                                      market=_file(market_file), zip_areas=_file(areas_file))
                try:
                    state.load(inputs)
                except TerritoryError as exc:
                    st.error(widgets.literal(exc))
                else:
                    st.rerun()

    data = current.data
    st.subheader("Dataset summary")
    if not data.usable:
        st.error("This dataset cannot be used yet: see the Validation report tab for what to fix.")
    else:
        scored = data.scored.accounts
        tiers = scored["tier"].value_counts()
        c = st.columns([1, 1, 0.7, 1, 1, 1.6])
        c[0].metric("Accounts", f"{len(scored):,}")
        c[1].metric("Customers", f"{int(scored['is_customer'].sum()):,}")
        c[2].metric("Reps", f"{len(data.reps.data):,}" if data.reps is not None else "—")
        c[3].metric("Current ARR", widgets.money(scored["arr"].sum()))
        c[4].metric("Total potential", widgets.money(scored["potential"].sum()))
        c[5].metric("A / B / C", f"{tiers.get('A', 0)} / {tiers.get('B', 0)} / {tiers.get('C', 0)}")
        if current.units is not None:
            u = current.units.table
            st.caption(f"{len(u):,} ZIP areas in {', '.join(sorted(u['state'].dropna().unique()))} "
                       f"({'built from ZIP centroids, clipped to state outlines' if current.units.geometry_source == 'voronoi' else 'from your polygon file'}); "
                       f"{(u['accounts'] > 0).sum():,} hold accounts. "
                       f"{len(current.units.island_links)} island link(s) join units without a land neighbour.")
            regions = sorted(set(current.units.region))
            if len(regions) > 1:
                st.caption(f"{len(regions)} regions that no road joins ({', '.join(regions)}): each is covered by the "
                           "reps who live there (Territories → allow territories across water to mix them).")
            far = units.far_accounts_note(current.units, scored)
            if far:
                st.warning(widgets.literal(far))
        for note in data.scored.notes:
            st.caption(f"ℹ️ {widgets.literal(note)}")
        widgets.set_aside(data, "See the Validation report tab.")
        st.page_link("pages/accounts_map.py", label="Explore the accounts map →")

with report_tab:
    widgets.validation_report(current.data)

with saved_tab:
    store = state.store()
    st.caption("Datasets and plans are kept in this workbench's database on the server and survive restarts.")
    name = st.text_input("Name for the active dataset", value=current.inputs.label, key="home_save_name")
    if st.button("Save the active dataset", key="home_save", disabled=not current.data.usable):
        dataset_id = state.save_active(current, name or current.inputs.label)
        st.success(f"Saved as dataset #{dataset_id}.")
    saved = store.list_datasets()
    if saved.empty:
        st.info("No saved datasets yet.")
    else:
        view = saved.assign(files=saved["meta"].map(lambda m: ", ".join(m.get("files", {}).values())))
        st.dataframe(view[["id", "name", "created_at", "author", "files"]], hide_index=True, width="stretch")
        choice = st.selectbox("Open a saved dataset", saved["id"].tolist(), key="home_open_choice",
                              format_func=lambda i: f"#{i} {saved.set_index('id').loc[i, 'name']}")
        if st.button("Open", key="home_open"):
            state.load(state.saved_inputs(int(choice)))
            st.rerun()
        plans = store.list_plans(int(choice))
        st.markdown(f"**Plans of dataset #{choice}** ({len(plans)})")
        if len(plans):
            st.dataframe(plans, hide_index=True, width="stretch")
    with st.expander("Audit log"):
        st.dataframe(store.audit_log(), hide_index=True, width="stretch")

