"""Accounts map: accounts coloured by tier over ZIP areas, filters, score explanations, segments and whitespace."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from territory_geo import scoring, units
from territory_geo.settings import FACTOR_LABELS, SCORE_FACTORS, basemap_enabled
from ui import maps, state, widgets

current = state.start_page("Accounts map")
if not current.data.usable or current.units is None:
    st.error("The active dataset cannot be mapped; open Home → Validation report to see what to fix.")
    st.stop()

scored = current.data.scored.accounts
reps = current.data.reps.data if current.data.reps is not None else None
rep_names = dict(zip(reps["rep_id"], reps["name"], strict=True)) if reps is not None else {}

# --- filters --------------------------------------------------------------------------------------------------------
st.sidebar.header("Filters")
tiers = st.sidebar.multiselect("Tier", ["A", "B", "C"], default=["A", "B", "C"], key="map_tiers")
industry_options = sorted(scored["industry"].dropna().unique()) if "industry" in scored.columns else []
industries = st.sidebar.multiselect("Industry", industry_options, key="map_industries", placeholder="Any industry")
owner_ids = sorted(scored["owner_rep_id"].dropna().unique()) + ["(unassigned)"]
owners = st.sidebar.multiselect("Owner", owner_ids, key="map_owners", placeholder="Any owner",
                                format_func=lambda r: rep_names.get(r, r))
status = st.sidebar.radio("Status", ["all", "customers", "prospects"], horizontal=True, key="map_status",
                          format_func=str.capitalize)
metric = st.sidebar.selectbox("Shade ZIP areas by", list(maps.AREA_METRICS), key="map_metric",
                              format_func=maps.AREA_METRICS.get)
shown = scoring.filter_accounts(scored, tiers, industries, owners, status)

c = st.columns([1, 1, 1, 1.6, 1])
c[0].metric("Accounts shown", f"{len(shown):,}", help=f"of {len(scored):,}")
c[1].metric("Potential", widgets.money(shown["potential"].sum()))
c[2].metric("ARR", widgets.money(shown["arr"].sum()))
counts = shown["tier"].value_counts()
c[3].metric("A / B / C", f"{counts.get('A', 0)} / {counts.get('B', 0)} / {counts.get('C', 0)}")
c[4].metric("Workload units", f"{shown['workload_units'].sum():,.0f}")

# --- map ------------------------------------------------------------------------------------------------------------
points = maps.account_points(shown, rep_names)
areas = maps.shade_areas(current.units_geojson(), metric)
deck = maps.accounts_deck(points, areas, maps.view_for(points))
legend = " ".join(
    f"<span style='display:inline-block;width:12px;height:12px;border-radius:6px;background:rgba"
    f"({r},{g},{b},1);margin:0 4px 0 12px'></span>Tier {t}" for t, (r, g, b, _) in maps.TIER_COLORS.items())
st.markdown(f"<div style='font-size:0.9rem'>{legend} &nbsp;·&nbsp; ZIP areas shaded by "
            f"{maps.AREA_METRICS[metric].lower()} (darker = higher)</div>", unsafe_allow_html=True)
event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="map_deck", height=560)
if not basemap_enabled():
    st.caption("Offline mode: street basemap tiles are off (TERRITORY_GEO_OFFLINE=1); ZIP areas form the map.")

picked = event.selection.get("objects", {}).get("accounts", []) if event is not None else []
if picked:
    st.session_state["map_explain"] = picked[0]["account_id"]

# --- explanation --------------------------------------------------------------------------------------------------
st.subheader("Why this score?")
ids = shown["account_id"].tolist() or scored["account_id"].tolist()
names = dict(zip(scored["account_id"], scored["name"], strict=True))
if st.session_state.get("map_explain") not in ids:
    st.session_state["map_explain"] = shown.sort_values("score", ascending=False)["account_id"].iloc[0] \
        if len(shown) else ids[0]
chosen = st.selectbox("Account (click a point on the map, or search here)", ids, key="map_explain",
                      format_func=lambda i: f"{names.get(i, i)} ({i})")
account = scored.loc[scored["account_id"] == chosen].iloc[0]
settings = state.settings()
breakdown = scoring.explain(account, settings)
left, right = st.columns([2, 3])
with left:
    st.markdown(f"**{widgets.literal(account['name'])}** · {widgets.literal(account['account_id'])}")
    st.markdown(f"Tier **{account['tier']}** · score **{account['score']:.0f}**/100 · potential "
                f"**{widgets.money(account['potential'])}** ({widgets.literal(account['potential_source'])})")
    st.caption(f"Potential = ARR {widgets.money(account['arr'])} + expansion {widgets.money(account['expansion'])} × "
               f"win probability {account['win_prob']:.0%} ({account['win_source']}). "
               f"{account['value_tier']} value, {account['growth'].lower()} growth → recommended "
               f"{account['rep_type']}. Workload {account['workload_units']:g} units, "
               f"{account['touchpoints']} touchpoints a year.")
with right:
    st.bar_chart(breakdown.set_index("label")["points"], horizontal=True, height=200,
                 x_label="points of the score", y_label="")
st.dataframe(breakdown[["label", "value", "weight", "points", "why"]], hide_index=True, width="stretch",
             column_config={"weight": st.column_config.NumberColumn(format="percent"),
                            "value": st.column_config.NumberColumn("factor (0-100)", format="%.0f")})

with st.expander("Scoring settings (weights and tier shares)"):
    st.caption("Weights are normalised to sum to 100 %. Changing them rescores every account.")
    weights = settings.normalised_weights()
    cols = st.columns(len(SCORE_FACTORS))
    new_weights = {f: cols[i].number_input(FACTOR_LABELS[f], 0.0, 1.0, round(weights[f], 2), 0.05,
                                           key=f"map_weight_{f}") for i, f in enumerate(SCORE_FACTORS)}
    a_share = st.slider("Tier A share (top % by potential)", 0.05, 0.40, settings.tier_shares[0], 0.01,
                        key="map_share_a")
    b_share = st.slider("Tier B share (next %)", 0.10, 0.60, settings.tier_shares[1], 0.01, key="map_share_b")
    if st.button("Apply and rescore", key="map_apply"):
        if sum(new_weights.values()) <= 0:
            st.error("At least one weight must be above 0.")
        else:
            state.set_settings(replace(settings, weights=new_weights, tier_shares=(a_share, b_share)))
            st.rerun()

# --- tables ---------------------------------------------------------------------------------------------------------
seg_tab, matrix_tab, white_tab = st.tabs(["Market segmentation", "Tier × growth matrix", "Whitespace & coverage"])
with seg_tab:
    widgets.table(scoring.segmentation_table(shown), money_columns=("total_potential", "avg_acv"))
    st.caption("Segments by company annual revenue: Enterprise > $10M, Mid-Market $1-10M, SMB < $1M (employees when "
               "revenue is missing). Average ACV is the mean ARR of the segment's customers.")
with matrix_tab:
    widgets.table(scoring.tier_growth_matrix(shown), money_columns=("potential",))
    st.caption("Value tier by account potential (> $500K Enterprise, $100-500K Mid-Market, < $100K SMB) × growth "
               "(growth factor ≥ 60 High, ≥ 30 Medium), mapped to the recommended rep type.")
with white_tab:
    st.markdown("**ZIPs with high whitespace and low penetration**")
    widgets.table(units.whitespace_zips(current.units.table),
                  money_columns=("potential", "arr", "whitespace"), percent_columns=("penetration",))
    source = "TAM − ARR from your market file" if current.data.tam is not None else \
        "the accounts' expansion figures (load a market file for TAM-based whitespace)"
    st.caption(f"Whitespace is {source}.")
    st.markdown(f"**Coverage Score by owner**: share of A/B accounts contacted in the last "
                f"{settings.coverage_days} days (target ≥ 80 %)")
    coverage = scoring.coverage_scores(scored, settings)
    coverage.insert(1, "rep", coverage["owner_rep_id"].map(lambda r: rep_names.get(r, r)))
    widgets.table(coverage, percent_columns=("coverage_score",))
