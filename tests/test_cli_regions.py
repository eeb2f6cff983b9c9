"""CLI: regions no road joins (--allow-cross-region, config), accounts far outside every ZIP area, drive times
across water."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from territory_geo import cli

ACCOUNTS = ("Account ID,Account Name,Billing Zip/Postal Code,BillingLatitude,BillingLongitude,ARR,Account Owner\n"
            "A1,One,02903,,,1000,R1\nA2,Two,02904,,,2000,R1\nA3,Three,02905,,,1500,R2\n"
            "A4,Four,02906,,,1200,R2\nA5,Honolulu,96813,,,900,R1\nA6,London,,51.5072,-0.1276,1100,R2\n")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """Four Providence accounts, one in Honolulu (a region no road joins) and one located in London by its
    coordinates; two Providence reps."""
    accounts, reps = tmp_path / "accounts.csv", tmp_path / "reps.csv"
    accounts.write_text(ACCOUNTS)
    reps.write_text("Rep ID,Name,Home ZIP\nR1,Ana,02903\nR2,Ben,02909\n")
    return accounts, reps


def test_design_leaves_a_region_without_reps_uncovered_and_says_so(files, tmp_path, capsys):
    accounts, reps = files
    out = tmp_path / "out"
    assert cli.main(["design", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "outside every ZIP area" in captured.err and "London" not in captured.err  # rows, not names
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["uncovered"]["regions"] == ["HI"] and metrics["uncovered"]["accounts"] == 1
    assert metrics["settings"]["allow_cross_region"] is False
    assert "HI" in metrics["message"]


@pytest.mark.parametrize("how", ["flag", "config"])
def test_allow_cross_region_from_the_flag_or_the_config(files, tmp_path, capsys, how):
    accounts, reps = files
    out = tmp_path / "out"
    extra = ["--allow-cross-region"]
    if how == "config":
        config = tmp_path / "plan.toml"
        config.write_text("[design]\nallow_cross_region = true\n")
        extra = ["--config", str(config)]
    assert cli.main(["design", "--accounts", str(accounts), "--reps", str(reps), *extra, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["allow_cross_region"] is True
    assert metrics["uncovered"]["accounts"] == 0
    assignment = (out / "assignment.csv").read_text()
    assert "96813" in assignment  # Honolulu joined a Providence territory, as asked


def test_a_non_boolean_allow_cross_region_is_refused(files, tmp_path, capsys):
    accounts, reps = files
    config = tmp_path / "plan.toml"
    config.write_text('[design]\nallow_cross_region = "yes"\n')
    code = cli.main(["design", "--accounts", str(accounts), "--reps", str(reps), "--config", str(config),
                     "--out", str(tmp_path / "out")])
    assert code == 2
    assert '[design] allow_cross_region = "yes": expected true or false' in capsys.readouterr().err


def test_drivetime_flags_estimates_across_water(files, tmp_path, capsys):
    accounts, reps = files
    out = tmp_path / "dt"
    assert cli.main(["drivetime", "--reps", str(reps), "--accounts", str(accounts), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "across water" in err and "outside every ZIP area" in err
    report = json.loads((out / "calibration.json").read_text())
    lines = (out / "matrix.csv").read_text().splitlines()
    assert lines[0] == "rep_id,target_id,minutes,source"
    hawaii = [line for line in lines[1:] if line.split(",")[1].startswith(("967", "968"))]
    assert hawaii and report["n_across_water"] == len(hawaii)  # every Providence home -> every Hawaii ZIP area
