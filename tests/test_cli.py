"""territory_geo.cli: demo / validate / score, exit codes 0 / 2 (/ 1), JSON contract, messages on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from territory_geo import cli

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
