"""territory_geo.cli: score, design and drivetime say on stderr what they set aside; nothing is dropped silently.

The inputs are the real demo (:func:`territory_geo.demo.write_demo`), trimmed to a few hundred accounts and edited
the way the hardening issue describes: a duplicate rep id, every home at (0, 0), one home at (0, 0), and quarantined
account rows through a (small) design.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from territory_geo import cli

Frames = tuple[pd.DataFrame, pd.DataFrame]


def _duplicate_id(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    reps.loc[3, "Rep ID"] = "R03"  # Caleb Brooks (row 4) gets Priya Raman's id
    return accounts.head(300), reps


def _every_home_at_zero(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    return accounts.head(300), reps.assign(**{"Home ZIP": "", "Home Latitude": "0", "Home Longitude": "0"})


def _one_home_at_zero(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    reps = reps.assign(**{"Home Latitude": "", "Home Longitude": ""})
    reps.loc[6, ["Home ZIP", "Home Latitude", "Home Longitude"]] = ["", "0", "0"]  # Imani Carter, row 7
    return accounts.head(300), reps


def _florida_with_bad_rows(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    """240 accounts of the 6 Florida reps (a quick design); one unknown ZIP without coordinates, one negative ARR."""
    reps = reps[reps["Region"] == "Florida"]
    accounts = accounts[accounts["Account Owner"].isin(set(reps["Name"]))].head(240).reset_index(drop=True)
    accounts.loc[0, ["Billing Zip/Postal Code", "BillingLatitude", "BillingLongitude"]] = ["99999", "", ""]
    accounts.loc[1, "ARR"] = "-5"
    return accounts, reps


def _unchanged(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    return accounts.head(300), reps


@pytest.fixture
def make_inputs(demo_files, tmp_path) -> Callable:
    """Write the demo accounts and reps, edited, to tmp_path; return their paths and the accounts written."""

    def make(edit: Callable[[pd.DataFrame, pd.DataFrame], Frames]) -> tuple[Path, Path, pd.DataFrame]:
        accounts, reps = edit(pd.read_csv(demo_files[0], dtype=str, keep_default_na=False),
                              pd.read_csv(demo_files[1], dtype=str, keep_default_na=False))
        paths = tmp_path / "accounts.csv", tmp_path / "reps.csv"
        accounts.to_csv(paths[0], index=False)
        reps.to_csv(paths[1], index=False)
        return *paths, accounts

    return make


def _owned(accounts: pd.DataFrame, name: str) -> int:
    return int((accounts["Account Owner"] == name).sum())


NO_HOME = ("  error: No rep in reps.csv has a usable home base: R01 (Dana Whitfield, row 1), R02 (Marcus Oyelaran, "
           "row 2), R03 (Priya Raman, row 3), R04 (Caleb Brooks, row 4), R05 (Sofia Alvarez, row 5), R06 (Trevor "
           "Nguyen, row 6), R07 (Imani Carter, row 7), R08 (Owen Gallagher, row 8), R09 (Hannah Steinberg, row 9), "
           "R10 (Luis Ortega, row 10) … and 5 more. Fix: Give each rep a home ZIP code (or home latitude and "
           "longitude) and load the file again.")


def _unrostered(accounts: pd.DataFrame, name: str, row: int) -> str:
    n = _owned(accounts, name)
    return (f"warning: {n} account(s) have an owner who is not on the usable roster and are treated as unassigned: "
            f"{name} ({n}; rep row {row} set aside)")


CASES = [
    pytest.param("score", _duplicate_id, 0, lambda acc: [
        "warning: 1 rep(s) in reps.csv set aside: R03 (Caleb Brooks, row 4: duplicate id)",
        _unrostered(acc, "Caleb Brooks", 4),
    ], id="duplicate-rep-id-score"),
    pytest.param("drivetime", _duplicate_id, 0, lambda acc: [
        "warning: 1 rep(s) in reps.csv set aside: R03 (Caleb Brooks, row 4: duplicate id)",
    ], id="duplicate-rep-id-drivetime"),
    pytest.param("validate", _every_home_at_zero, 2, lambda acc: [
        NO_HOME,
        ("  error: reps.csv row 7 [Home ZIP]: Rep R07 (Imani Carter) has no usable home base: no ZIP code, and the "
         "coordinates are unusable (see the warning). Fix: Give a ZIP code or latitude/longitude."),
    ], id="every-home-at-zero-validate"),
    pytest.param("score", _every_home_at_zero, 2, lambda acc: [NO_HOME], id="every-home-at-zero-score"),
    pytest.param("drivetime", _one_home_at_zero, 0, lambda acc: [
        "warning: 1 rep(s) in reps.csv set aside: R07 (Imani Carter, row 7: no usable home base)",
        _unrostered(acc, "Imani Carter", 7),
    ], id="one-home-at-zero-drivetime"),
    pytest.param("design", _florida_with_bad_rows, 0, lambda acc: [
        ("warning: 2 of 240 account rows in accounts.csv were quarantined (1 unknown ZIP, 1 negative ARR); run "
         "validate for details"),
    ], id="quarantined-rows-design"),
]


@pytest.mark.parametrize(("command", "edit", "code", "expected"), CASES)
def test_what_is_set_aside_is_said_on_stderr(make_inputs, tmp_path, capsys, command, edit, code, expected):
    accounts, reps, frame = make_inputs(edit)
    out = tmp_path / ("scored.csv" if command == "score" else "out")
    args = [command, "--accounts", str(accounts), "--reps", str(reps)]
    args += [] if command == "validate" else ["--out", str(out)]
    assert cli.main(args) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    for line in expected(frame):
        assert line in lines
    assert "Traceback" not in captured.err
    if code == 0:
        assert all(line.startswith("warning: ") for line in lines)  # stderr holds the set-aside lines only
        assert captured.out  # the command's own output is unchanged, on stdout


def test_nothing_set_aside_prints_no_warning(make_inputs, tmp_path, capsys):
    accounts, reps, _ = make_inputs(_unchanged)
    assert cli.main(["score", "--accounts", str(accounts), "--reps", str(reps), "--out", str(tmp_path / "s.csv")]) == 0
    assert capsys.readouterr().err == ""


def test_drivetime_without_accounts_names_reps_set_aside(make_inputs, tmp_path, capsys):
    _, reps, _ = make_inputs(_one_home_at_zero)
    assert cli.main(["drivetime", "--reps", str(reps), "--out", str(tmp_path / "dt")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: 1 rep(s) in reps.csv set aside: R07 (Imani Carter, row 7: no usable home base)"]
