"""territory_geo.design.sweep: the disruption and travel frontiers, each run an independent design on Dask.

The instance is the demo's six Florida reps with their first 240 accounts (real Florida ZIP areas, today's legacy
ownership). The engine's settle step is cut to 300 tries (:data:`QUICK`) so that every run ends on a count of work,
not on the clock: the same seed then gives the same plan on a busy cluster and in a direct run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from territory_geo import design, trips, units
from territory_geo.dataset import ingest
from territory_geo.design import sweep
from territory_geo.errors import TerritoryError
from territory_geo.settings import DesignSettings

QUICK = DesignSettings(settle_tries=300)
DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


def florida_files() -> tuple[bytes, bytes]:
    """(accounts.csv, reps.csv) of the demo's Florida reps and their first 240 accounts."""
    accounts = pd.read_csv(DEMO / "accounts.csv", dtype=str, keep_default_na=False)
    reps = pd.read_csv(DEMO / "reps.csv", dtype=str, keep_default_na=False)
    reps = reps[reps["Region"] == "Florida"]
    accounts = accounts[accounts["Account Owner"].isin(set(reps["Name"]))].head(240)
    return accounts.to_csv(index=False).encode(), reps.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def florida() -> design.DesignInputs:
    accounts, reps = florida_files()
    data = ingest(accounts, reps)
    assert data.scored is not None and data.reps is not None
    built = units.build_units(data.scored.accounts, None, data.tam)
    return design.prepare_inputs(data.scored.accounts, data.reps.data, built)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """An in-process LocalCluster of two single-threaded workers (quick to start)."""
    from distributed import LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own start-up and shut-down notices are not ours to fail on
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as local:
            yield local


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    from distributed import Client

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Client(cluster) as connected:
            yield connected


@pytest.fixture(scope="module")
def both(florida: design.DesignInputs, client: Any) -> sweep.Sweep:
    """Both frontiers at their default settings, once for the module."""
    return sweep.run_sweep(florida, seed=3, settings=QUICK, client=client)


def test_a_frontier_has_one_row_per_setting_with_the_frontier_columns(florida: design.DesignInputs,
                                                                       client: Any) -> None:
    table = sweep.frontier(florida, "disruption", seed=3, settings=QUICK, client=client)
    assert list(table.columns) == ["setting", "cv_potential", "max_dev_potential", "arr_changed_share",
                                   "drive_hours_total", "drive_hours_max", "pp_mean", "status", "kind", "value"]
    assert table["setting"].tolist() == ["budget 0%", "budget 5%", "budget 10%", "budget 20%", "budget 40%"]
    assert table["value"].tolist() == [0.0, 0.05, 0.10, 0.20, 0.40]
    assert set(table["kind"]) == {"disruption"} and set(table["status"]) <= {"ok", "infeasible"}
    assert (table["drive_hours_max"] <= table["drive_hours_total"]).all() and (table["drive_hours_max"] > 0).all()


def test_both_frontiers_run_in_the_order_of_their_settings(both: sweep.Sweep) -> None:
    table = both.table()
    assert table["setting"].tolist() == ["budget 0%", "budget 5%", "budget 10%", "budget 20%", "budget 40%",
                                         "±2.5%", "±5%", "±10%", "±20%"]
    assert both.table("travel")["value"].tolist() == [0.025, 0.05, 0.10, 0.20]
    assert both.of("travel")[0].label == "C · Max rep proximity (±2.5%)"


def _direct(inputs: design.DesignInputs, kind: str, value: float) -> design.TerritoryDesigner:
    if kind == "disruption":
        scenario = replace(design.SCENARIOS["disruption"], disruption_budget=value)
        return design.TerritoryDesigner(scenario, seed=3, settings=QUICK).fit(inputs)
    return design.TerritoryDesigner("proximity", tolerance=value, seed=3, settings=QUICK).fit(inputs)


def test_each_run_equals_a_direct_design_with_its_setting(florida: design.DesignInputs, both: sweep.Sweep) -> None:
    """The same seed and setting designed directly gives the run's plan, figures and drive hours."""
    matrix = sweep.estimated_matrix(florida)
    for run in both.runs:
        direct = _direct(florida, run.kind, run.value)
        assert not direct.clock_stops_, run.setting  # every step ended on its count of work: reproducible
        pd.testing.assert_series_equal(run.assignment, direct.plan_.to_series(), check_names=False)
        hours, _ = trips.plan_field(florida.scored, florida.units, direct.rep_assignment(), matrix, florida.reps)
        row = run.row()
        assert row["status"] == direct.status_ and run.message == direct.message_
        for column in ("cv_potential", "max_dev_potential", "arr_changed_share", "pp_mean"):
            assert row[column] == pytest.approx(direct.summary_[column]), (run.setting, column)
        assert row["drive_hours_total"] == pytest.approx(hours["drive_hours_month"].sum())
        assert row["drive_hours_max"] == pytest.approx(hours["drive_hours_month"].max())
        assert run.rep_assignment().to_dict() == direct.rep_assignment().to_dict()


def test_todays_ownership_is_the_point_with_nothing_moved(florida: design.DesignInputs, both: sweep.Sweep) -> None:
    direct = _direct(florida, "travel", 0.2)
    hours, _ = trips.plan_field(florida.scored, florida.units, florida.baseline, sweep.estimated_matrix(florida),
                                florida.reps)
    today = both.today
    assert today is not None
    assert (today["setting"], today["status"], today["arr_changed_share"]) == ("today", "current", 0.0)
    assert today["cv_potential"] == pytest.approx(direct.baseline_summary_["cv_potential"])
    assert today["drive_hours_total"] == pytest.approx(hours["drive_hours_month"].sum())
    assert sweep.today_point(florida, None) is None  # no baseline metrics (no owners): no point


def test_progress_is_reported_as_each_run_comes_back(florida: design.DesignInputs, client: Any) -> None:
    seen: list[tuple[str, int, int]] = []
    table = sweep.frontier(florida, "travel", seed=3, settings=QUICK, client=client, values={"travel": (0.1, 0.2)},
                           progress=lambda run, done, total: seen.append((run.setting, done, total)))
    assert table["setting"].tolist() == ["±10%", "±20%"]
    assert sorted(s for s, _, _ in seen) == ["±10%", "±20%"]
    assert [(done, total) for _, done, total in seen] == [(1, 2), (2, 2)]


def test_the_scheduler_address_comes_from_the_environment(florida: design.DesignInputs,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as local:
            monkeypatch.setenv("TERRITORY_GEO_DASK_SCHEDULER", local.scheduler_address)
            table = sweep.frontier(florida, "travel", seed=3, settings=QUICK, values={"travel": (0.2,)})
            ran = set(local.scheduler.task_prefixes)
    assert table["setting"].tolist() == ["±20%"]
    assert "design_run" in ran  # the run (_design_run) was a task of that scheduler


def test_the_designers_own_field_months_are_preferred(florida: design.DesignInputs) -> None:
    designer = _direct(florida, "travel", 0.2)
    own = pd.DataFrame({"rep_id": ["R05"], "drive_hours_month": [12.5]})
    designer.field_ = own
    assert sweep.field_months(designer, florida, sweep.estimated_matrix(florida)) is own
    assert sweep.point("x", designer.summary_, own, "ok")["drive_hours_max"] == 12.5


def test_bad_sweeps_are_refused_before_any_run(florida: design.DesignInputs) -> None:
    with pytest.raises(TerritoryError, match=r"`kind` was \['nope'\] but is expected to be among "
                                             r"\['disruption', 'travel'\]"):
        sweep.frontier(florida, "nope")
    with pytest.raises(TerritoryError, match="The travel frontier sweeps the tolerance itself"):
        sweep.frontier(florida, "travel", tolerance=0.05)
    with pytest.raises(TerritoryError, match=r"A disruption budget was 1\.5 but is expected to be between 0 and 1"):
        sweep.frontier(florida, "disruption", values={"disruption": (1.5,)})
    with pytest.raises(TerritoryError, match=r"`tolerance` was 2\.0"):
        sweep.frontier(florida, "disruption", tolerance=2.0)
    with pytest.raises(TerritoryError, match=r"The disruption frontier needs today's ownership \(an owner column"):
        sweep.frontier(replace(florida, baseline=None), "disruption")


def test_setting_labels() -> None:
    assert [sweep.setting_label("disruption", v) for v in sweep.DISRUPTION_BUDGETS] == \
        ["budget 0%", "budget 5%", "budget 10%", "budget 20%", "budget 40%"]
    assert [sweep.setting_label("travel", v) for v in sweep.TOLERANCES] == ["±2.5%", "±5%", "±10%", "±20%"]
