"""territory_geo.cli ``design --sweep``: frontier.csv (the contract columns, one row per run), the frontiers
``--scenario`` picks, where ``--tolerance`` and the config's overrides go, and the all-or-nothing output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from territory_geo import cli
from territory_geo.design import sweep
from tests.test_sweep import florida_files

COLUMNS = ["setting", "cv_potential", "max_dev_potential", "arr_changed_share", "drive_hours_total",
           "drive_hours_max", "pp_mean", "status"]


@pytest.fixture
def florida_args(tmp_path: Path) -> list[str]:
    """The Florida instance of test_sweep as files, with a config whose settle step ends on its count."""
    accounts, reps = florida_files()
    (tmp_path / "accounts.csv").write_bytes(accounts)
    (tmp_path / "reps.csv").write_bytes(reps)
    (tmp_path / "plan.toml").write_text("[design]\nseed = 3\n[design.engine]\nsettle_tries = 300\n"
                                        "[scenarios.proximity]\nproximity_weight = 2.0\n")
    return ["design", "--accounts", str(tmp_path / "accounts.csv"), "--reps", str(tmp_path / "reps.csv"),
            "--config", str(tmp_path / "plan.toml"), "--sweep"]


def test_sweep_writes_the_frontier_of_both_settings(florida_args: list[str], tmp_path: Path, capsys) -> None:
    """On a LocalCluster of worker processes (no scheduler set): one row per run, the contract columns first."""
    out = tmp_path / "out"
    assert cli.main([*florida_args, "--out", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["frontier.csv"]
    frame = pd.read_csv(out / "frontier.csv")
    assert list(frame.columns) == [*COLUMNS, "kind", "value"]
    assert frame["setting"].tolist() == ["budget 0%", "budget 5%", "budget 10%", "budget 20%", "budget 40%",
                                         "±2.5%", "±5%", "±10%", "±20%"]
    assert set(frame["status"]) <= {"ok", "infeasible"} and frame["drive_hours_total"].gt(0).all()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("disruption budget 0%: ") and ", ARR changing owner " in printed[0]
    assert printed[-1] == f"9 run(s) -> {out / 'frontier.csv'}"


@pytest.fixture
def fake_sweep(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """run_sweep recording what it was asked, returning no runs."""
    seen: dict[str, Any] = {}

    def run_sweep(inputs, kinds, **options):
        seen.update(options, kinds=kinds)
        return sweep.Sweep(runs=())

    monkeypatch.setattr(sweep, "run_sweep", run_sweep)
    return seen


def test_scenario_picks_the_frontier_and_tolerance_goes_to_the_disruption_one(florida_args: list[str],
                                                                              tmp_path: Path, fake_sweep) -> None:
    out = tmp_path / "out"
    assert cli.main([*florida_args, "--tolerance", "0.1", "--out", str(out)]) == 0
    assert fake_sweep["kinds"] == ("disruption", "travel") and fake_sweep["seed"] == 3
    assert fake_sweep["settings"].settle_tries == 300
    scenarios = fake_sweep["scenarios"]
    assert scenarios["disruption"].tolerance == 0.1  # the travel frontier sweeps its own
    assert (scenarios["travel"].name, scenarios["travel"].proximity_weight) == ("proximity", 2.0)  # the override
    assert cli.main([*florida_args, "--scenario", "proximity", "--out", str(out)]) == 0
    assert fake_sweep["kinds"] == ("travel",)
    assert list(pd.read_csv(out / "frontier.csv").columns) == [*COLUMNS, "kind", "value"]


def test_a_scenario_without_a_frontier_is_refused_before_anything_runs(florida_args: list[str], tmp_path: Path,
                                                                       fake_sweep, capsys) -> None:
    out = tmp_path / "out"
    assert cli.main([*florida_args, "--scenario", "evenness", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "error: --sweep sweeps the min-disruption scenario (disruption budgets) and the proximity scenario "
        "(tolerances); --scenario evenness has no frontier. Leave --scenario out, or give disruption, proximity or "
        "all.\n")
    assert not out.exists() and not fake_sweep


def test_a_sweep_replaces_an_earlier_designs_files_in_the_folder(florida_args: list[str], tmp_path: Path,
                                                                 fake_sweep) -> None:
    """Like every design run, a sweep leaves the folder holding its own output: the design files of an earlier
    run there are replaced, other files stay."""
    out = tmp_path / "out"
    (out / "blend").mkdir(parents=True)
    for name in ("metrics.json", "assignment.csv", "notes.txt"):
        (out / name).write_text("earlier")
    assert cli.main([*florida_args, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["frontier.csv", "notes.txt"]
