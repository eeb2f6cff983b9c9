"""The designer (territory_geo.design.designer): balance within tolerance, one piece per territory, locks, named
accounts, infeasibility, time budgets, the min-disruption scenario, drive times, and the CLI's design files."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from territory_geo import design, export, geocode
from territory_geo.cli import main
from territory_geo.errors import InfeasibleBalanceError, TerritoryError
from territory_geo.plan import METRICS
from territory_geo.settings import DesignSettings
from tests.design_inputs import grid_inputs


@pytest.mark.parametrize("scenario", ["evenness", "blend"])
def test_territories_are_balanced_contiguous_and_deterministic(scenario: str) -> None:
    inputs = grid_inputs()
    first = design.design(inputs, scenario, seed=1)
    assert first.status_ == "ok", first.message_
    assert first.summary_["n_noncontiguous"] == 0
    assert first.summary_["max_dev_balance"] <= first.scenario.tolerance + 1e-9
    if scenario == "evenness":
        assert first.summary_["max_dev_potential"] <= 0.025 + 1e-9
        assert first.summary_["cv_potential"] < 0.02
    assert first.clock_stops_ == []  # every step ended on its own count of work, not on the clock
    again = design.design(inputs, scenario, seed=1)
    assert (again.plan_.assignment == first.plan_.assignment).all()
    tallies = first.plan_.tallies()
    pd.testing.assert_frame_equal(tallies, first.plan_.recount())
    assert tallies["potential"].sum() == pytest.approx(inputs.scored["potential"].sum())


def test_a_time_budget_that_cuts_the_search_short_says_so() -> None:
    inputs = grid_inputs()
    rushed = design.design(inputs, "evenness", seed=1, max_seconds=1e-6)
    assert rushed.clock_stops_ == ["balance", "shorten", "polish"]  # all skipped: the budget was gone at once
    assert "time budget cut short: balance, shorten, polish" in rushed.message_
    assert "another plan on a faster or slower machine" in rushed.message_
    assert len(rushed.plan_.assignment) == inputs.units.table.shape[0]  # still a whole plan, every ZIP assigned
    metrics = export.design_metrics(rushed, {"seed": 1})
    assert metrics["reproducible"] is False and metrics["clock_stops"] == ["balance", "shorten", "polish"]


def test_balanced_plan_beats_seeded_kmeans_on_balance() -> None:
    result = design.design(grid_inputs(), "evenness")
    assert result.kmeans_summary_["cv_potential"] > 5 * result.summary_["cv_potential"]
    assert result.lp_bound_km_ > 0
    assert result.summary_["distance_km_weighted"] <= 1.2 * result.lp_bound_km_


def test_locked_zips_keep_their_territory() -> None:
    inputs = grid_inputs()
    inputs.locks = {"99": "R0", "00": "R3"}  # opposite corners, against geography
    result = design.design(inputs, "evenness")
    assert result.plan_.territory_of("99") == "T-R0"
    assert result.plan_.territory_of("00") == "T-R3"


def test_named_accounts_count_for_their_rep() -> None:
    inputs = grid_inputs()
    inputs.named = {"a99": "R0"}
    result = design.design(inputs, "evenness")
    fixed = result.problem_.fixed_frame
    assert fixed.loc["T-R0", "potential"] == pytest.approx(inputs.scored.loc[99, "potential"])
    assert result.plan_.tallies()["potential"].sum() == pytest.approx(inputs.scored["potential"].sum())


def test_a_zip_too_big_for_any_tolerance_is_reported_not_looped() -> None:
    inputs = grid_inputs(big=0.6)  # one ZIP holds 60 % of all potential; four reps share 25 % each
    result = design.design(inputs, "evenness", max_seconds=10)
    assert result.status_ == "infeasible"
    assert "ZIP 00 alone holds" in result.message_ and "named accounts" in result.message_
    assert result.runtime_s_ < 15
    with pytest.raises(InfeasibleBalanceError, match="ZIP 00 alone holds"):
        result.raise_if_infeasible()
    assert "--thorough" not in result.message_  # no re-draw can place a ZIP worth more than a target
    thorough = design.design(inputs, "evenness", max_seconds=10, thorough=True)
    assert thorough.status_ == "infeasible" and thorough.runtime_s_ < 15


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(TerritoryError, match="expected to be one of"):
        design.TerritoryDesigner("fastest")
    with pytest.raises(TerritoryError, match="between 0 and 1"):
        design.TerritoryDesigner("evenness", tolerance=5)
    with pytest.raises(TerritoryError, match="Unknown balance component"):
        design.Scenario("x", "x", {"charisma": 1.0}, 0.05).normalised_weights()
    inputs = grid_inputs()
    inputs.locks = {"00": "R9"}
    with pytest.raises(TerritoryError, match="not in the reps file"):
        design.design(inputs)


@pytest.fixture
def ri_files(tmp_path: Path) -> tuple[Path, Path]:
    """Accounts on every Rhode Island STANDARD ZIP and three reps (Providence, Warwick, Westerly)."""
    zips = geocode.standard_zips(("RI",)).index.tolist()
    rng = np.random.default_rng(5)
    rows = [{"Account ID": f"RI-{i:03d}", "Account Name": f"=Ocean State {i}", "Billing Zip/Postal Code": z,
             "ARR": float(rng.lognormal(10, 1)) if i % 3 else 0.0, "Expansion Potential": float(rng.lognormal(9, 1)),
             "Account Owner": ["R1", "R2", "R3"][i % 3]} for i, z in enumerate(zips * 2)]
    accounts, reps = tmp_path / "accounts.csv", tmp_path / "reps.csv"
    pd.DataFrame(rows).to_csv(accounts, index=False)
    pd.DataFrame({"Rep ID": ["R1", "R2", "R3"], "Name": ["Ana", "Ben", "Cy"], "Home ZIP": ["02903", "02886", "02891"],
                  "Tenure (years)": [5, 1.5, 0.5]}).to_csv(reps, index=False)
    return accounts, reps


def test_cli_design_writes_the_contracted_files(ri_files: tuple[Path, Path], tmp_path: Path) -> None:
    accounts, reps = ri_files
    out = tmp_path / "out"
    assert main(["design", "--accounts", str(accounts), "--reps", str(reps), "--seed", "4", "--out", str(out)]) == 0
    assignment = pd.read_csv(out / "assignment.csv", dtype=str)
    assert list(assignment.columns) == ["zip", "territory_id", "rep_id"]
    assert assignment["zip"].str.len().eq(5).all() and assignment["zip"].is_unique
    assert set(assignment["rep_id"]) == {"R1", "R2", "R3"}
    account_rows = pd.read_csv(out / "account_assignment.csv", dtype=str)
    assert len(account_rows) == len(pd.read_csv(accounts))
    assert account_rows["name"].str.startswith("'=").all()  # formula injection escaped
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"cv_potential", "max_dev_potential", "n_noncontiguous", "pp_mean", "runtime_s", "territories",
            "seed", "settings", "scenario"} <= set(metrics)
    assert isinstance(metrics["n_noncontiguous"], int) and metrics["seed"] == 4
    assert metrics["reproducible"] is True and metrics["clock_stops"] == []
    assert len(metrics["territories"]) == 3
    geo = json.loads((out / "territories.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and "crs" not in geo and len(geo["features"]) == 3
    lon, lat = geo["features"][0]["geometry"]["coordinates"][0][0][:2] if \
        geo["features"][0]["geometry"]["type"] == "Polygon" else geo["features"][0]["geometry"]["coordinates"][0][0][0]
    assert -72 < lon < -71 and 41 < lat < 42.1  # lon/lat order, WGS 84

    again = tmp_path / "again"
    assert main(["design", "--accounts", str(accounts), "--reps", str(reps), "--seed", "4", "--out", str(again)]) == 0
    assert (again / "assignment.csv").read_text() == (out / "assignment.csv").read_text()


def test_cli_design_reads_a_toml_config(ri_files: tuple[Path, Path], tmp_path: Path) -> None:
    accounts, reps = ri_files
    config = tmp_path / "plan.toml"
    config.write_text('[design]\nscenario = "blend"\ntolerance = 0.08\nseed = 9\n[design.locks]\n"02891" = "R1"\n'
                      '[scenarios.blend]\nweights = { potential = 0.7, workload_units = 0.3 }\n')
    out = tmp_path / "out"
    assert main(["design", "--accounts", str(accounts), "--reps", str(reps), "--config", str(config),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scenario"]["name"] == "blend" and metrics["settings"]["tolerance"] == 0.08
    assert metrics["scenario"]["weights"]["potential"] == pytest.approx(0.7)
    assert metrics["settings"]["locks"] == {"02891": "R1"} and metrics["seed"] == 9
    assert metrics["settings"]["max_seconds"] == 30.0  # the default budget for a state-sized problem, recorded
    assert metrics["settings"]["thorough"] is False
    assignment = pd.read_csv(out / "assignment.csv", dtype=str).set_index("zip")
    assert assignment.loc["02891", "rep_id"] == "R1"

    assert metrics["settings"]["engine"] == json.loads(json.dumps(asdict(DesignSettings())))  # every one, recorded

    # thorough (region re-draws) from the file: four times the default budget, recorded
    config.write_text('[design]\nthorough = true\n')
    assert main(["design", "--accounts", str(accounts), "--reps", str(reps), "--config", str(config),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["thorough"] is True and metrics["settings"]["max_seconds"] == 120.0

    # the engine's settings from the file reach the designer and are recorded
    config.write_text('[design]\nthorough = true\n[design.engine]\ndefault_seconds = 10\nthorough_budget = 2\n'
                      'settle_tries = 500\n')
    assert main(["design", "--accounts", str(accounts), "--reps", str(reps), "--config", str(config),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["max_seconds"] == 20.0
    engine = metrics["settings"]["engine"]
    assert engine["settle_tries"] == 500 and engine["thorough_budget"] == 2 and engine["default_seconds"] == 10.0


@pytest.mark.parametrize(("line", "message"), [("speed = 'max'", '[design] speed = "max": unknown [design] setting'),
                                                ("max_seconds = -5", "max_seconds = -5: expected a positive number"),
                                                ("max_seconds = 'fast'", "positive number of seconds"),
                                                ("thorough = 'no'", 'thorough = "no": expected true or false')])
def test_cli_design_bad_config_is_a_message(ri_files: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str], line: str, message: str) -> None:
    accounts, reps = ri_files
    config = tmp_path / "bad.toml"
    config.write_text(f"[design]\n{line}\n")
    assert main(["design", "--accounts", str(accounts), "--reps", str(reps), "--config", str(config),
                 "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_default_time_budget_grows_for_national_sized_problems() -> None:
    inputs = grid_inputs()
    assert design.design(inputs, "evenness").max_seconds_ == 30.0
    assert design.design(inputs, "evenness", max_seconds=12).max_seconds_ == 12
    national = DesignSettings(large_problem_units=10)  # the grid now counts as a national-sized problem
    assert design.design(inputs, "evenness", settings=national).max_seconds_ == 60.0
    assert design.design(inputs, "evenness", settings=DesignSettings(default_seconds=7.5)).max_seconds_ == 7.5
    with pytest.raises(TerritoryError, match="`settings` was .* but is expected to be a DesignSettings"):
        design.TerritoryDesigner("evenness", settings={"default_seconds": 7.5})


def test_metrics_columns_cover_every_plan_metric() -> None:
    result = design.design(grid_inputs(), "evenness")
    assert set(METRICS) <= set(result.table_.columns)
    assert {"dev_potential", "polsby_popper", "contiguous", "distance_km", "rep_id"} <= set(result.table_.columns)


def test_min_disruption_balances_a_lopsided_ownership_moving_the_least_arr() -> None:
    """Today one rep owns three quarters of the grid (the legacy design's problem, like the demo's). Min disruption
    must still reach its tolerance, and it must move less ARR than the scenarios that ignore today's owners; with
    a disruption budget below what balance needs it stops at the budget and says so."""
    inputs = grid_inputs(n=10, k=4)
    zips = inputs.units.table.index
    cols = np.array([int(z[1]) for z in zips])
    rows = np.array([int(z[0]) for z in zips])
    owner = np.where(cols < 6, "R0", np.where(rows < 4, "R1", np.where(rows < 8, "R2", "R3")))  # all contiguous
    lopsided = replace(inputs, baseline=pd.Series(owner, index=zips))
    result = design.design(lopsided, "disruption")
    assert result.baseline_summary_["max_dev_potential"] > 0.5  # far out of balance today
    assert result.status_ == "ok", result.message_
    assert result.summary_["n_noncontiguous"] == 0
    blend = design.design(lopsided, "blend")
    assert result.summary_["arr_changed_share"] < blend.summary_["arr_changed_share"]

    national = DesignSettings(lp_max_pairs=10, coarse_clusters=25)  # candidates from the clustered LP
    national_path = design.design(lopsided, "disruption", settings=national)
    assert national_path.status_ == "ok", national_path.message_
    assert national_path.summary_["n_noncontiguous"] == 0

    capped = design.TerritoryDesigner(replace(design.SCENARIOS["disruption"], disruption_budget=0.05)).fit(lopsided)
    assert capped.status_ == "infeasible" and "disruption budget" in capped.message_
    assert capped.summary_["arr_changed_share"] <= 0.05 + 1e-9


def test_territories_roll_up_into_regions() -> None:
    from territory_geo.metrics import region_rollup

    result = design.design(grid_inputs(), "evenness")
    regions = region_rollup(result.table_, {"R0": "West", "R1": "West", "R2": "East"})
    assert regions.set_index("region")["territories"].to_dict() == {"(no region)": 1, "East": 1, "West": 2}
    assert regions["potential"].sum() == pytest.approx(result.table_["potential"].sum())


def test_a_drive_time_matrix_steers_proximity_and_travel() -> None:
    """Rep R0 (top-left) has a motorway into the bottom-left quadrant: by road it is 5x closer there than the crow
    flies, and 3x farther from everything else. Designed with that matrix, the plan's potential-weighted drive
    minutes are lower than for the same design without it, R0 takes ZIPs along its motorway (none without the
    matrix), and the run says its travel came from a graph."""
    inputs = grid_inputs(n=10, k=4)
    xy = np.array([[int(z[1]) * 1000 + 500, int(z[0]) * 1000 + 500] for z in inputs.units.table.index])
    homes_rc = [(2, 2), (2, 7), (7, 2), (7, 7)]
    minutes = np.empty((len(xy), 4))
    for r, (hr, hc) in enumerate(homes_rc):
        km = np.hypot(xy[:, 0] - (hc * 1000 + 500), xy[:, 1] - (hr * 1000 + 500)) / 1000
        minutes[:, r] = km * 1.3 / 50 * 60
    motorway = (xy[:, 1] >= 5000) & (xy[:, 0] < 5000)
    minutes[:, 0] = np.where(motorway, minutes[:, 0] / 5, minutes[:, 0] * 3)
    cost = pd.DataFrame(minutes, index=inputs.units.table.index, columns=["R0", "R1", "R2", "R3"])
    plain = design.design(inputs, "proximity", seed=1)
    steered = design.design(design.DesignInputs(**{**inputs.__dict__, "cost": cost}), "proximity", seed=1)
    assert plain.travel_source_ == "estimated" and steered.travel_source_ == "graph"
    assert steered.status_ == "ok", steered.message_
    pot = steered.problem_.geo.values[:, 0]

    def drive_minutes(result: design.TerritoryDesigner) -> float:
        rep = result.plan_.assignment
        return float((pot * minutes[np.arange(len(rep)), rep]).sum() / pot.sum())

    assert drive_minutes(steered) < drive_minutes(plain)
    r0_motorway = int((steered.plan_.assignment[motorway] == 0).sum())
    assert r0_motorway >= 10 and int((plain.plan_.assignment[motorway] == 0).sum()) == 0


def test_one_rep_gets_every_zip_area() -> None:
    result = design.design(grid_inputs(k=1), "evenness")
    assert result.status_ == "ok" and result.message_ == "One rep: every ZIP area is in T-R0, and it is on target."
    assert set(result.plan_.to_series()) == {"T-R0"} and result.summary_["n_noncontiguous"] == 0


@pytest.mark.parametrize("scenario", ["evenness", "proximity", "blend"])
def test_owners_change_the_plan_only_in_the_scenario_that_keeps_them(scenario: str) -> None:
    """Today's owners are data for the disruption metrics; only the min-disruption scenario designs around them. The
    same grid designed with and without owners gives the same plan in every other scenario, and the disruption
    figures are there only with owners."""
    inputs = grid_inputs(n=10, k=4)
    zips = inputs.units.table.index
    owned = replace(inputs, baseline=pd.Series(np.where(np.arange(len(zips)) % 3, "R0", "R1"), index=zips))
    without, with_owners = design.design(inputs, scenario, seed=1), design.design(owned, scenario, seed=1)
    assert (without.plan_.assignment == with_owners.plan_.assignment).all()
    assert "arr_changed_share" not in without.summary_
    assert with_owners.summary_["arr_changed_share"] > 0
    assert design.SCENARIOS["disruption"].keeps_owners and not design.SCENARIOS[scenario].keeps_owners
