"""territory_geo.cli: demo / validate / score, exit codes 0 / 2 (/ 1), JSON contract, messages on stderr; the design
config's errors (exit 2 before anything runs), and --out: checked first, written in full or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from territory_geo import cli, design, export
from territory_geo.errors import TerritoryError

SCORE_COLUMNS = ["potential", "tier", "score", "score_fit", "score_growth", "score_intent", "score_relationship",
                 "score_strategic", "workload_units"]
JSON_KEYS = {"ok", "n_rows", "n_valid", "errors", "warnings"}


@pytest.fixture
def files(tmp_path, salesforce_accounts_csv, reps_csv):
    paths = {
        "accounts": tmp_path / "accounts.csv",
        "reps": tmp_path / "reps.csv",
        "partly_bad": tmp_path / "partly_bad.csv",
        "all_bad": tmp_path / "all_bad.csv",
        "empty": tmp_path / "empty.csv",
        "random_xlsx": tmp_path / "random.xlsx",
        "no_columns": tmp_path / "no_columns.csv",
        "missing": tmp_path / "does_not_exist.csv",
        "market": tmp_path / "market.csv",
    }
    paths["accounts"].write_bytes(salesforce_accounts_csv)
    paths["reps"].write_bytes(reps_csv)
    paths["partly_bad"].write_text("Account ID,Account Name,Zip,ARR\nA1,=HYPERLINK(\"x\"),2134,100\n"
                                   "A2,Typo,99999,5\nA3,Neg,30303,-1\n")
    paths["all_bad"].write_text("Account ID,Account Name,Zip\nA1,Typo,99999\n")
    paths["empty"].write_bytes(b"")
    paths["random_xlsx"].write_bytes(os.urandom(2048))
    paths["no_columns"].write_text("foo,bar\n1,2\n")
    paths["market"].write_text("zip,size_band,count\n30303,Enterprise,3\n")
    return paths


# --- demo -------------------------------------------------------------------------------------------------------


def test_demo_writes_the_committed_files(tmp_path, capsys, repo_root):
    out = tmp_path / "demo_out"
    assert cli.main(["demo", "--out", str(out)]) == 0
    assert (out / "accounts.csv").read_bytes() == (repo_root / "data/demo/accounts.csv").read_bytes()
    assert (out / "reps.csv").read_bytes() == (repo_root / "data/demo/reps.csv").read_bytes()
    captured = capsys.readouterr()
    assert "accounts.csv" in captured.out and "reps.csv" in captured.out
    assert captured.err == ""


# --- validate ---------------------------------------------------------------------------------------------------


def test_validate_json_contract(files, capsys):
    code = cli.main(["validate", "--accounts", str(files["accounts"]), "--reps", str(files["reps"]), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert JSON_KEYS <= set(doc) <= JSON_KEYS | {"notes"}
    assert doc["ok"] is True and doc["n_rows"] == 4 and doc["n_valid"] == 4
    assert doc["errors"] == []
    assert doc["warnings"][1:] == [{
        "file": "accounts.csv", "row": 4, "column": "Account Owner", "value": "Zed Nobody",
        "message": "The owner is not in the reps file; the account is treated as unassigned.",
        "fix": "Add the rep to the reps file, or correct the owner (rep id or exact name).",
    }]
    assert doc["warnings"][0]["message"].startswith("ZIP '2134' has 4 digits; read as 02134")  # a padded ZIP
    assert all(isinstance(n, str) for n in doc["notes"])


def test_validate_with_quarantined_rows_is_still_ok(files, capsys):
    assert cli.main(["validate", "--accounts", str(files["partly_bad"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["n_rows"] == 3 and doc["n_valid"] == 1
    assert [(e["row"], e["column"], e["value"]) for e in doc["errors"]] == [(2, "Zip", "99999"), (3, "ARR", "-1")]
    for error in doc["errors"]:
        assert set(error) == {"file", "row", "column", "value", "message", "fix"}


def test_validate_text_report(files, capsys):
    assert cli.main(["validate", "--accounts", str(files["partly_bad"])]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "1 of 3 rows valid; 2 error(s), 1 warning(s)."  # the warning: ZIP 2134 padded
    assert "error: partly_bad.csv row 2 [Zip] value='99999': Unknown ZIP code" in out


def test_validate_nothing_valid_exits_2(files, capsys):
    assert cli.main(["validate", "--accounts", str(files["all_bad"]), "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # stdout stays valid JSON
    assert doc["ok"] is False and doc["n_valid"] == 0
    assert doc["errors"][-1]["message"] == "No valid rows are left after validation."
    assert "error: Unknown ZIP code, and the account has no coordinates." in captured.err


BROKEN = [
    ("empty", "empty.csv: the file is empty"),
    ("random_xlsx", "random.xlsx: the workbook could not be opened"),
    ("no_columns", "The accounts file has no 'account_id' column (found: foo, bar)."),
    ("missing", "File not found:"),
]


@pytest.mark.parametrize(("key", "message"), BROKEN)
def test_validate_broken_input_exits_2_with_message_on_stderr(files, capsys, key, message):
    assert cli.main(["validate", "--accounts", str(files[key])]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(("key", "message"), BROKEN)
def test_validate_json_broken_input_exits_2(files, capsys, key, message):
    assert cli.main(["validate", "--accounts", str(files[key]), "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["ok"] is False
    assert any(message in e["message"] for e in doc["errors"])
    assert message in captured.err


def test_validate_broken_reps_file_exits_2(files, capsys):
    assert cli.main(["validate", "--accounts", str(files["accounts"]), "--reps", str(files["empty"])]) == 2
    assert "empty.csv: the file is empty" in capsys.readouterr().err


# --- score ------------------------------------------------------------------------------------------------------


def test_score_writes_scored_accounts(files, tmp_path, capsys):
    out = tmp_path / "out" / "scored.csv"
    code = cli.main(["score", "--accounts", str(files["accounts"]), "--reps", str(files["reps"]),
                     "--market", str(files["market"]), "--out", str(out)])
    assert code == 0
    scored = pd.read_csv(out, dtype=str)
    assert set(SCORE_COLUMNS) <= set(scored.columns)
    assert scored["account_id"].tolist() == ["A1", "A2", "A3", "A4"]
    assert scored["zip"].tolist() == ["30303", "02134", "33131", "35203"]
    assert set(scored["tier"]) <= {"A", "B", "C"} and scored["tier"].tolist()[0] == "A"
    numbers = scored[SCORE_COLUMNS].drop(columns="tier").astype(float)
    assert numbers["score"].between(0, 100).all()
    assert (numbers["potential"] >= 0).all()
    assert set(numbers["workload_units"]) <= {1.0, 1.5, 2.0, 2.5, 3.0, 3.5}
    assert scored["owner_rep_id"].tolist()[:3] == ["R01", "R02", "R01"]
    assert pd.isna(scored.loc[3, "owner_rep_id"])
    captured = capsys.readouterr()
    assert captured.out.startswith(f"Scored 4 account(s) -> {out}")


def test_score_escapes_formulas_and_mentions_quarantine(files, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    assert cli.main(["score", "--accounts", str(files["partly_bad"]), "--out", str(out)]) == 0
    scored = pd.read_csv(out, dtype=str)
    assert scored["name"].tolist() == ["'=HYPERLINK(\"x\")"]
    assert scored["zip"].tolist() == ["02134"]
    assert "2 row(s) quarantined (run validate for details)." in capsys.readouterr().out


@pytest.mark.parametrize(("key", "message"), [*BROKEN, ("all_bad", "No valid rows are left after validation.")])
def test_score_broken_input_exits_2_with_message_on_stderr(files, tmp_path, capsys, key, message):
    out = tmp_path / "scored.csv"
    assert cli.main(["score", "--accounts", str(files[key]), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_unexpected_failure_exits_1(files, tmp_path, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "ingest", boom)
    assert cli.main(["validate", "--accounts", str(files["accounts"])]) == 1
    assert "unexpected error (RuntimeError: kaboom)" in capsys.readouterr().err


def test_usage_error_is_argparse_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["score", "--accounts", "x.csv"])  # --out missing
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_python_dash_m_entry_point(files, repo_root):
    result = subprocess.run([sys.executable, "-m", "territory_geo", "validate", "--accounts", str(files["all_bad"]),
                             "--json"], cwd=repo_root, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False
    assert "Unknown ZIP code" in result.stderr


# --- design config: every problem is exit 2 before anything runs -----------------------------------------------


def _must_not_run(*args, **kwargs):
    pytest.fail("computing started before the config and --out were checked")


def _leftovers(root: Path) -> list[str]:
    """Temporary folders and files of the output staging left anywhere under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".tmp-" in p.name or ".old-" in p.name)


_SCENARIO_KEYS = "weights, tolerance, disruption_budget, proximity_weight, compactness_weight, label"
_TOLERANCE = "expected a number between 0 and 1 (0.05 = ±5 %)"

BAD_CONFIGS = [
    pytest.param('[design]\nseed = "x"\n', [], '[design] seed = "x": expected a whole number ≥ 0, e.g. 7',
                 id="seed-string"),
    pytest.param('[design]\npin_top_n = "3"\n', [], '[design] pin_top_n = "3": expected a whole number ≥ 0 (top '
                 "accounts by ARR pinned to each owner), e.g. 3", id="pin_top_n-string"),
    pytest.param("[design]\nlocks = 5\n", [], '[design] locks = 5: expected a table of ZIP code = rep id, e.g. '
                 '[design.locks] "30303" = "R01"', id="locks-number"),
    pytest.param("design = [1, 2]\n", [], "design = [1, 2]: expected a table of design settings, e.g. [design] "
                 "seed = 7", id="design-list"),
    pytest.param('[scenarios.blend]\nweights = { potential = "0.7", travel = 0.3 }\n', [],
                 '[scenarios.blend.weights] potential = "0.7": expected a number ≥ 0, e.g. 0.5', id="weights-string"),
    pytest.param('[scenarios.proximity]\ntolerance = "0.1"\n', [], f'[scenarios.proximity] tolerance = "0.1": '
                 f"{_TOLERANCE}", id="scenario-tolerance-string"),
    pytest.param("[desing]\nseed = 7\n", [], "[desing]: unknown table (did you mean [design]?); allowed: [design], "
                 "[scenarios]", id="unknown-table"),
    pytest.param("[scenarios.fastest]\ntolerance = 0.1\n", [], "[scenarios.fastest]: unknown scenario; allowed: "
                 "evenness, disruption, proximity, blend", id="unknown-scenario"),
    pytest.param('[design]\nscenario = "evenness"\n[scenarios.proximity]\nproximty_weight = 2\n', [],
                 '[scenarios.proximity] proximty_weight = 2: unknown scenario setting (did you mean '
                 f'"proximity_weight"?); allowed: {_SCENARIO_KEYS}', id="typo-in-a-scenario-not-run"),
    pytest.param("[scenarios.evenness]\ntolerance = -0.05\n", [], f"[scenarios.evenness] tolerance = -0.05: "
                 f"{_TOLERANCE}", id="scenario-tolerance-negative"),
    pytest.param("[scenarios.evenness]\ntolerance = 0\n", [], f"[scenarios.evenness] tolerance = 0: {_TOLERANCE}",
                 id="scenario-tolerance-zero"),
    pytest.param("[design]\ntolerance = 0\n", [], f"[design] tolerance = 0: {_TOLERANCE}", id="tolerance-zero"),
    pytest.param(None, ["--tolerance", "-0.05"], f"--tolerance -0.05: {_TOLERANCE}", id="command-line-tolerance"),
    pytest.param(None, ["--seed", "-3"], "--seed -3: expected a whole number ≥ 0, e.g. 7", id="command-line-seed"),
    pytest.param("[design]\nseed = = 3\n", [], "not valid TOML: Invalid value (at line 2, column 8). See "
                 "https://toml.io for the syntax.", id="toml-syntax"),
]


@pytest.mark.parametrize(("toml", "options", "problem"), BAD_CONFIGS)
def test_a_bad_design_config_exits_2_before_anything_runs(files, tmp_path, capsys, monkeypatch, toml, options,
                                                          problem):
    monkeypatch.setattr(cli, "ingest", _must_not_run)
    out = tmp_path / "out"
    args = ["design", "--accounts", str(files["accounts"]), "--reps", str(files["reps"]), "--out", str(out), *options]
    if toml is not None:
        (tmp_path / "plan.toml").write_text(toml)
        args += ["--config", str(tmp_path / "plan.toml")]
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    source = "plan.toml: " if toml is not None else ""
    assert captured.err == f"error: {source}{problem}\n"
    assert captured.out == ""
    assert not out.exists() and _leftovers(tmp_path) == []


# --- --out: checked before anything is computed ------------------------------------------------------------------


def _command(name: str, files: dict[str, Path]) -> list[str]:
    return {"demo": ["demo"], "score": ["score", "--accounts", str(files["accounts"])],
            "design": ["design", "--accounts", str(files["accounts"]), "--reps", str(files["reps"])],
            "drivetime": ["drivetime", "--reps", str(files["reps"]), "--accounts", str(files["accounts"])]}[name]


@pytest.fixture
def nothing_computes(monkeypatch):
    """Every command's first step fails the test if it is reached."""
    monkeypatch.setattr(cli, "ingest", _must_not_run)
    monkeypatch.setattr(cli.demo, "write_demo", _must_not_run)
    monkeypatch.setattr(cli.tg_io, "read_table", _must_not_run)
    monkeypatch.setattr(design.TerritoryDesigner, "fit", _must_not_run)


@pytest.mark.parametrize("command", ["demo", "score", "design", "drivetime"])
def test_an_out_under_a_file_exits_2_before_computing(files, tmp_path, capsys, nothing_computes, command):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    out = blocker / "run" / ("scored.csv" if command == "score" else "out")
    assert cli.main([*_command(command, files), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: --out {out}: {blocker} is a file, so no folder can be created there. "
                                       "Choose another --out.\n")
    assert blocker.read_text() == "mine" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["demo", "score", "design", "drivetime"])
def test_an_out_of_the_wrong_kind_exits_2_before_computing(files, tmp_path, capsys, nothing_computes, command):
    out = tmp_path / "there"
    if command == "score":
        out.mkdir()
        message = f"--out {out} is a folder, but this command writes a file. Give a file's path (a name inside it)."
    else:
        out.write_text("mine")
        message = (f"--out {out} is a file, but this command writes a folder. Give a folder's path, or move the file "
                   "away.")
    assert cli.main([*_command(command, files), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert (list(out.iterdir()) == [] if out.is_dir() else out.read_text() == "mine")
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only folder")
def test_an_out_in_a_read_only_folder_exits_2_before_computing(files, tmp_path, capsys, nothing_computes):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert cli.main([*_command("design", files), "--out", str(locked / "out")]) == 2
    finally:
        locked.chmod(0o755)
    assert capsys.readouterr().err == (f"error: --out {locked / 'out'}: cannot write in {locked} (permission denied). "
                                       "Choose another --out, or make that folder writable.\n")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("command", ["score", "design"])
def test_an_out_without_write_permission_exits_2_before_computing(files, tmp_path, capsys, nothing_computes,
                                                                  monkeypatch, command):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as if not writable (tests may run as root)
    out = tmp_path / "new" / ("scored.csv" if command == "score" else "out")
    assert cli.main([*_command(command, files), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: --out {out}: cannot write in {out.parent} (permission denied). "
                                       "Choose another --out, or make that folder writable.\n")
    assert not (tmp_path / "new").exists()  # the folder created for it is removed again


# --- --out: all or nothing ------------------------------------------------------------------------------------------


@pytest.fixture
def small_design(tmp_path: Path) -> list[str]:
    """``design`` arguments for six Providence-area accounts and two reps (a design takes a fraction of a second)."""
    accounts, reps = tmp_path / "accounts.csv", tmp_path / "reps.csv"
    accounts.write_text("Account ID,Account Name,Billing Zip/Postal Code,ARR,Expansion Potential,Account Owner\n"
                        "A1,One,02903,1000,500,R1\nA2,Two,02904,2000,500,R1\nA3,Three,02905,1500,500,R2\n"
                        "A4,Four,02906,1200,500,R2\nA5,Five,02908,900,500,R1\nA6,Six,02909,1100,500,R2\n")
    reps.write_text("Rep ID,Name,Home ZIP\nR1,Ana,02903\nR2,Ben,02909\n")
    return ["design", "--accounts", str(accounts), "--reps", str(reps), "--seed", "3"]


@pytest.fixture
def fake_design(monkeypatch):
    """A designer that returns at once and a write_design that writes every file, then fails on call ``fail_at``
    (1-based; 0 never) with ``error``. Returns the settings as a dict to change and the list of folders written."""
    state = {"fail_at": 0, "error": RuntimeError("disk on fire"), "calls": []}

    def fit(self, inputs):
        self.max_seconds_, self.status_, self.message_ = 1.0, "ok", "fake plan"
        return self

    def write_design(out_dir, designer, inputs, settings):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in cli.DESIGN_FILES:
            (out_dir / name).write_text(f"new {designer.scenario.name}")
        state["calls"].append(designer.scenario.name)
        if len(state["calls"]) == state["fail_at"]:
            raise state["error"]
        return {"cv_potential": 0.0, "max_dev_potential": 0.0, "n_noncontiguous": 0, "pp_mean": 0.5,
                "runtime_s": 0.0, "territories": []}

    monkeypatch.setattr(design.TerritoryDesigner, "fit", fit)
    monkeypatch.setattr(export, "write_design", write_design)
    return state


def _previous_output(out: Path) -> dict[str, str]:
    out.mkdir()
    (out / "assignment.csv").write_text("old")
    (out / "notes.txt").write_text("mine")
    return {"assignment.csv": "old", "notes.txt": "mine"}


def _contents(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("error", "code"), [(RuntimeError("disk on fire"), 1), (TerritoryError("bad ZIP"), 2),
                                             (KeyboardInterrupt(), None)])
def test_a_design_failing_mid_way_leaves_the_previous_output_as_it_was(small_design, fake_design, tmp_path, capsys,
                                                                       error, code):
    out = tmp_path / "out"
    before = _previous_output(out)
    fake_design.update(fail_at=1, error=error)
    if code is None:
        with pytest.raises(KeyboardInterrupt):
            cli.main([*small_design, "--out", str(out)])
    else:
        assert cli.main([*small_design, "--out", str(out)]) == code
    assert fake_design["calls"] == ["evenness"]  # it wrote its files, then failed
    assert _contents(out) == before
    assert _leftovers(tmp_path) == []


def test_scenario_all_failing_at_the_third_scenario_leaves_nothing(small_design, fake_design, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "out"
    fake_design.update(fail_at=3)
    assert cli.main([*small_design, "--scenario", "all", "--out", str(out)]) == 1
    assert fake_design["calls"] == ["evenness", "disruption", "proximity"]
    assert not (tmp_path / "new").exists()  # neither the output nor the folders created for it
    assert _leftovers(tmp_path) == []
    assert "unexpected error (RuntimeError: disk on fire)" in capsys.readouterr().err


def test_scenario_all_writes_a_new_folder_with_the_usual_permissions(small_design, fake_design, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    assert cli.main([*small_design, "--scenario", "all", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["blend", "comparison.json", "disruption", "evenness", "proximity"]
    assert (out / "blend" / "assignment.csv").read_text() == "new blend"
    assert set(json.loads((out / "comparison.json").read_text())) == set(design.SCENARIOS)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not the 0700 of a temporary folder
    assert f"-> {out / 'evenness'}" in capsys.readouterr().out
    assert _leftovers(tmp_path) == []


def test_a_successful_design_replaces_the_previous_output(small_design, tmp_path, capsys):
    out = tmp_path / "out"
    _previous_output(out)
    (out / "comparison.json").write_text("{}")  # an earlier --scenario all run: stale now
    (out / "evenness").mkdir()
    (out / "evenness" / "metrics.json").write_text("{}")
    assert cli.main([*small_design, "--out", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["account_assignment.csv", "assignment.csv", "metrics.json",
                                                      "notes.txt", "territories.geojson"]
    assert (out / "notes.txt").read_text() == "mine"  # not the command's: kept
    assignment = pd.read_csv(out / "assignment.csv", dtype=str)
    assert list(assignment.columns) == ["zip", "territory_id", "rep_id"]
    assert set(assignment["rep_id"]) == {"R1", "R2"} and {"02903", "02909"} <= set(assignment["zip"])
    assert json.loads((out / "metrics.json").read_text())["seed"] == 3
    assert capsys.readouterr().out.rstrip().endswith(f"-> {out}")
    assert _leftovers(tmp_path) == []


def test_score_keeps_the_previous_file_unless_it_succeeds(files, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    out.write_text("old")
    assert cli.main(["score", "--accounts", str(files["all_bad"]), "--out", str(out)]) == 2
    assert out.read_text() == "old"
    assert cli.main(["score", "--accounts", str(files["accounts"]), "--out", str(out)]) == 0
    assert pd.read_csv(out, dtype=str)["account_id"].tolist() == ["A1", "A2", "A3", "A4"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0600 of a temporary file
    assert _leftovers(tmp_path) == []


def test_a_failure_while_moving_the_output_in_puts_the_previous_output_back(small_design, fake_design, tmp_path,
                                                                            capsys, monkeypatch):
    out = tmp_path / "out"
    before = _previous_output(out)
    rename, moved_in = os.rename, []

    def rename_until_the_disk_is_full(src, dst):
        if ".tmp-" in str(src) and Path(dst).parent == out:  # a new file moving into place
            moved_in.append(Path(dst).name)
            if len(moved_in) == 2:
                raise OSError(28, "No space left on device")
        rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_until_the_disk_is_full)
    assert cli.main([*small_design, "--out", str(out)]) == 2
    assert moved_in == ["account_assignment.csv", "assignment.csv"]  # the first was in place, then moved back
    assert "error: [Errno 28] No space left on device" in capsys.readouterr().err
    assert _contents(out) == before
    assert _leftovers(tmp_path) == []
