"""Road regions (territory_geo.design.regions): Alaska, Hawaii, Puerto Rico and the lower 48 are designed apart,
and the plan is judged against the global targets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from territory_geo import design, export, geocode
from territory_geo.errors import TerritoryError
from tests.design_inputs import grid_inputs

HOMES = {"R1": (33.749, -84.388), "R2": (33.95, -84.55), "R3": (33.65, -84.20), "H1": (21.307, -157.858),
         "H2": (21.28, -157.83), "A1": (61.218, -149.900)}  # Atlanta, Marietta, Decatur-ish, Honolulu x2, Anchorage


def _nearest_zips(state: str, zip5: str, n: int) -> list[str]:
    table = geocode.zip_table()
    zips = geocode.standard_zips((state,))
    d = np.hypot(zips["lat"] - table.loc[zip5, "lat"], zips["lon"] - table.loc[zip5, "lon"])
    return d.sort_values(kind="stable").index[:n].tolist()


@pytest.fixture(scope="module")
def ga_hi() -> tuple:
    """30 real ZIPs around Atlanta and 8 around Honolulu (Voronoi cells; hull-based in Hawaii), one account each
    with potential 1,000 in Georgia and 500 in Hawaii (HI holds 500 x 8 / 34,000 = 11.8 % of the potential), all
    owned today by R1 in Atlanta: a territory across the Pacific."""
    from territory_geo import io, scoring, units, validate

    ga, hi = _nearest_zips("GA", "30303", 30), _nearest_zips("HI", "96813", 8)
    rows = [f"G{i},Acct G{i},{z},1000,R1" for i, z in enumerate(ga)] + \
        [f"H{i},Acct H{i},{z},500,R1" for i, z in enumerate(hi)]
    text = "Account ID,Account Name,Zip,Potential,Account Owner\n" + "\n".join(rows) + "\n"
    scored = scoring.score_accounts(validate.validate_accounts(io.read_table(text.encode(), "a.csv"),
                                                               "a.csv").data).accounts
    built = units.build_units(scored, units.voronoi_zip_areas(("GA", "HI")).loc[ga + hi])
    return scored, built, ga, hi


def _region_inputs(ga_hi: tuple, reps: list[str], capacity: float = 150.0) -> design.DesignInputs:
    scored, built, _, _ = ga_hi
    frame = pd.DataFrame({"rep_id": reps, "home_lat": [HOMES[r][0] for r in reps],
                          "home_lon": [HOMES[r][1] for r in reps], "capacity": capacity})
    return design.prepare_inputs(scored, frame, built)


def _regions_of(result: design.TerritoryDesigner, built) -> dict[str, set[str]]:
    plan = result.plan_.to_series()
    return {t: set(built.region[plan.index[plan == t]]) for t in result.plan_.territories}


@pytest.mark.parametrize("scenario", ["evenness", "disruption", "proximity", "blend"])
def test_no_territory_spans_road_regions(ga_hi: tuple, scenario: str) -> None:
    _, built, _, hi = ga_hi
    inputs = _region_inputs(ga_hi, ["R1", "R2", "R3", "H1"])
    assert set(inputs.baseline[hi]) == {"R1"}  # today Atlanta's R1 owns Hawaii too
    result = design.design(inputs, scenario, seed=1)
    assert _regions_of(result, built) == {"T-R1": {"CONUS"}, "T-R2": {"CONUS"}, "T-R3": {"CONUS"}, "T-H1": {"HI"}}
    assert result.plan_.noncontiguous() == [] and result.clock_stops_ == []
    assert result.uncovered_ == {"regions": [], "zips": 0, "accounts": 0, "potential": 0.0}
    if scenario == "evenness":  # the verdict gives the numbers; the deviation is against the global target
        share, dev = 4_000 / 34_000, (4_000 / 34_000) / 0.25 - 1
        assert result.status_ == "infeasible"
        assert result.message_.startswith(f"HI holds {share:.1%} of the potential but its 1 rep is 25.0% of capacity: "
                                          f"T-H1 cannot come within ±2.5% of its target ({dev:+.0%}).")
        assert "CONUS holds 88.2% of the potential but its 3 reps are 75.0% of capacity: T-R1, T-R2, T-R3 cannot " \
            "come within ±2.5% of their targets (+18%)." in result.message_
        assert result.table_.loc["T-H1", "dev_potential"] == pytest.approx(dev)
        assert result.summary_["max_dev_potential"] == pytest.approx(-dev)
        georgia = result.table_.loc[["T-R1", "T-R2", "T-R3"], "potential"]
        assert (georgia / georgia.mean() - 1).abs().max() <= 0.025 + 1e-9  # balanced among themselves
        regions = {r["region"]: r for r in result.regions_}
        assert regions["HI"]["reps"] == ["H1"] and regions["HI"]["capacity_share"] == pytest.approx(0.25)
        assert regions["HI"]["potential_share"] == pytest.approx(share) and regions["CONUS"]["zips"] == 30


def test_capacity_in_line_with_the_regions_is_balanced(ga_hi: tuple) -> None:
    inputs = _region_inputs(ga_hi, ["R1", "R2", "R3", "H1"])
    # H1's capacity matches Hawaii's 11.8 % of the potential: every territory can reach its global target
    inputs.reps["capacity"] = [150.0, 150.0, 150.0, 150.0 * 4_000 / 30_000 * 3]
    result = design.design(inputs, "evenness", seed=1)
    assert result.status_ == "ok", result.message_
    assert result.message_ == ("All 4 territories are within ±2.5% of their targets, each inside its road region "
                               "(CONUS, HI).")
    assert result.summary_["max_dev_potential"] <= 0.025 + 1e-9
    assert result.lp_bound_km_ > 0


def test_a_region_without_a_rep_is_left_out_of_the_plan_and_named(ga_hi: tuple) -> None:
    scored, built, ga, hi = ga_hi
    inputs = _region_inputs(ga_hi, ["R1", "R2", "R3"])
    result = design.design(inputs, "evenness", seed=1)
    assert set(result.plan_.geography.zips) == set(ga)
    assert result.uncovered_ == {"regions": ["HI"], "zips": 8, "accounts": 8, "potential": 4_000.0}
    assert result.status_ == "ok"
    assert result.message_.endswith("HI has no rep based there: its 8 ZIP areas (8 accounts, $4,000 potential) are "
                                    "left out of the plan. Add a rep based there, or allow territories across "
                                    "regions (allow_cross_region) to give them to the nearest territory.")
    metrics = export.design_metrics(result, {"seed": 1})
    assert metrics["uncovered"] == result.uncovered_ and metrics["settings"]["allow_cross_region"] is False
    rep_of = dict(zip(result.problem_.tids, result.problem_.rep_ids, strict=True))
    rows = export.account_assignment_frame(scored, built.account_zip, result.plan_, rep_of)
    hawaii = rows["zip"].isin(hi)
    assert hawaii.sum() == 8 and rows.loc[hawaii, "territory_id"].isna().all()
    assert rows.loc[~hawaii, "territory_id"].notna().all()

    joined = design.design(inputs, "evenness", seed=1, allow_cross_region=True)
    assert set(joined.plan_.geography.zips) == set(ga + hi)  # as before regions: they join the nearest territory
    assert any(regions == {"CONUS", "HI"} for regions in _regions_of(joined, built).values())
    assert joined.uncovered_["regions"] == [] and "no rep based there" not in joined.message_
    assert export.design_metrics(joined, {"seed": 1})["settings"]["allow_cross_region"] is True


def test_a_rep_based_where_the_design_has_no_zip_gets_nothing_and_is_named(ga_hi: tuple) -> None:
    result = design.design(_region_inputs(ga_hi, ["R1", "R2", "A1", "H1"]), "evenness", seed=1)
    assert result.status_ == "infeasible"
    assert ("Rep A1's home is in AK, where the design has no ZIP area: T-A1 gets no territory. Move the home base, "
            "or allow territories across regions (allow_cross_region).") in result.message_
    assert result.plan_.tallies().loc["T-A1", "potential"] == 0
    assert _regions_of(result, ga_hi[1]) == {"T-R1": {"CONUS"}, "T-R2": {"CONUS"}, "T-A1": set(), "T-H1": {"HI"}}


def test_degenerate_inputs_are_clear_errors_before_anything_runs(ga_hi: tuple) -> None:
    grid = grid_inputs(n=3, k=1)
    many = pd.concat([grid.reps.assign(rep_id=f"R{i}") for i in range(12)], ignore_index=True)
    with pytest.raises(TerritoryError, match=r"^9 ZIP areas for 12 reps: every rep needs at least one ZIP area\. "
                                             r"Remove reps from the roster, or load finer ZIP polygons \(--zip-areas"):
        design.design(replace(grid, reps=many))
    with pytest.raises(TerritoryError, match=r"^No rep has a home base; add home ZIPs or coordinates"):
        design.design(replace(grid, reps=grid.reps.assign(home_lat=np.nan)))

    from territory_geo import units

    scored, _, ga, hi = ga_hi  # Hawaii down to one ZIP area for two reps based there
    one_hi = units.build_units(scored, units.voronoi_zip_areas(("GA", "HI")).loc[ga + hi[:1]])
    crowded = replace(_region_inputs(ga_hi, ["R1", "H1", "H2"]), units=one_hi, baseline=None)
    with pytest.raises(TerritoryError, match=r"^HI: 1 ZIP area\(s\) for 2 reps based there \(H1, H2\): every rep "
                                             r"needs at least one ZIP area of their own region\."):
        design.design(crowded)
    assert design.design(crowded, allow_cross_region=True).status_ in {"ok", "infeasible"}  # 31 areas, 3 reps

    locked = replace(_region_inputs(ga_hi, ["R1", "H1"]), locks={hi[0]: "R1"})
    with pytest.raises(TerritoryError, match=rf"^ZIP {hi[0]} \(HI\) is locked to rep R1, whose home is in CONUS: "
                                             r"unlock it or lock it to a rep based in HI\. No road joins"):
        design.design(locked)
