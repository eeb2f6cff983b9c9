"""territory_geo.cli with messy and hostile input, as the hardening issue found it: nothing dropped without a word,
clear errors (exit 2) instead of "unexpected error", bounded inputs, faithful outputs.

The inputs are the real demo (:func:`territory_geo.demo.write_demo`), trimmed to a few hundred accounts and edited
the way the issue describes (a duplicate rep id, every home at (0, 0), one home at (0, 0), quarantined rows, Paris
coordinates on a Maine account, a 4-digit ZIP, a rep in Anchorage, an account in Honolulu, 60 reps on a handful of
ZIPs, a NUL in a name, a rep id starting with '+', 10,000 columns, bad config files, an --out that is a file). One
parametrized test runs every case through :func:`territory_geo.cli.main`; the set-aside cases also check that
stderr holds exactly the set-aside lines.
"""

from __future__ import annotations

import re
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


def _implausible_places(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    """Paris coordinates on a Portland (Maine) account, a 4-digit ZIP, a rep living in Anchorage."""
    accounts = accounts.head(300).copy()
    accounts.loc[0, ["Billing Zip/Postal Code", "BillingLatitude", "BillingLongitude"]] = ["04101", "48.8566", "2.3522"]
    accounts.loc[1, ["Billing Zip/Postal Code", "BillingLatitude", "BillingLongitude"]] = ["2134", "", ""]
    reps = reps.copy()
    reps.loc[2, "Home ZIP"] = "99501"
    return accounts, reps


def _text_fidelity(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    """A NUL inside an account name, and a rep id a spreadsheet would run as a formula."""
    accounts = accounts.head(300).copy()
    accounts.loc[2, "Account Name"] = "Nul\x00Co"
    reps = reps.copy()
    reps.loc[1, "Rep ID"] = "+R02"
    return accounts, reps


def _honolulu(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    """The Florida reps' first 240 accounts, one of them moved to Honolulu (no rep lives in Hawaii)."""
    accounts, reps = _florida_with_bad_rows(accounts, reps)
    accounts = accounts.iloc[2:].reset_index(drop=True)
    accounts.loc[0, ["Billing Zip/Postal Code", "BillingLatitude", "BillingLongitude"]] = ["96813", "", ""]
    return accounts, reps


def _more_reps_than_zips(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    """60 accounts and 60 reps on the 30 ZIP areas of :func:`_thirty_zip_areas`."""
    zips = _thirty_zips()
    accounts = accounts.head(60).copy()
    accounts["Billing Zip/Postal Code"] = [zips[i % len(zips)] for i in range(len(accounts))]
    accounts[["BillingLatitude", "BillingLongitude", "Billing State/Province"]] = ["", "", "RI"]
    many = pd.DataFrame({"Rep ID": [f"X{i:02d}" for i in range(60)], "Name": [f"Rep {i}" for i in range(60)],
                         "Home ZIP": [zips[i % len(zips)] for i in range(60)]})
    return accounts, many


def _thirty_zips() -> list[str]:
    from territory_geo import units

    return sorted(units.voronoi_zip_areas(("RI",)).index)[:30]


def _thirty_zip_areas(folder: Path) -> list[str]:
    """A ZIP-areas file with 30 of Rhode Island's ZIP areas (GeoJSON, WGS 84)."""
    from territory_geo import units

    areas = units.voronoi_zip_areas(("RI",)).loc[_thirty_zips()].to_crs("EPSG:4326").reset_index()
    path = folder / "zip_areas.geojson"
    path.write_text(areas.to_json(drop_id=True))
    return ["--zip-areas", str(path)]


def _wide(accounts: pd.DataFrame, reps: pd.DataFrame) -> Frames:
    """10,000 extra (empty) columns."""
    extra = pd.DataFrame("", index=accounts.head(50).index, columns=[f"extra_{i}" for i in range(10_000)])
    return pd.concat([accounts.head(50), extra], axis=1), reps


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
            f"{name} ({n}; rep row {row} set aside).")


CASES = [
    pytest.param("score", _duplicate_id, 0, lambda acc: [
        "warning: 1 rep(s) in reps.csv set aside: R03 (Caleb Brooks, row 4: duplicate id).",
        _unrostered(acc, "Caleb Brooks", 4),
    ], id="duplicate-rep-id-score"),
    pytest.param("drivetime", _duplicate_id, 0, lambda acc: [
        "warning: 1 rep(s) in reps.csv set aside: R03 (Caleb Brooks, row 4: duplicate id).",
    ], id="duplicate-rep-id-drivetime"),
    pytest.param("validate", _every_home_at_zero, 2, lambda acc: [
        NO_HOME,
        ("  error: reps.csv row 7 [Home ZIP]: Rep R07 (Imani Carter) has no usable home base: no ZIP code, and the "
         "coordinates are unusable (see the warning). Fix: Give a ZIP code or latitude/longitude."),
    ], id="every-home-at-zero-validate"),
    pytest.param("score", _every_home_at_zero, 2, lambda acc: [NO_HOME], id="every-home-at-zero-score"),
    pytest.param("drivetime", _one_home_at_zero, 0, lambda acc: [
        "warning: 1 rep(s) in reps.csv set aside: R07 (Imani Carter, row 7: no usable home base).",
        _unrostered(acc, "Imani Carter", 7),
    ], id="one-home-at-zero-drivetime"),
    pytest.param("design", _florida_with_bad_rows, 0, lambda acc: [
        ("warning: 2 of 240 account rows in accounts.csv were quarantined (1 unknown ZIP, 1 negative ARR). Run "
         "validate for details."),
    ], id="quarantined-rows-design"),
]


def _config(text: str) -> Callable[[Path], list[str]]:
    def extra(folder: Path) -> list[str]:
        path = folder / "plan.toml"
        path.write_text(text)
        return ["--config", str(path)]

    return extra


def _out_is_a_file(folder: Path) -> list[str]:
    (folder / "taken").write_text("a file")
    return ["--out", str(folder / "taken")]


def _geojson_decimals(out: Path) -> None:
    text = (out / "territories.geojson").read_text()
    decimals = [len(m) for m in re.findall(r"-?\d+\.(\d+)", text.split('"geometry"', 1)[1])]
    assert decimals and max(decimals) <= 6  # RFC 7946: about 10 cm


#: (command, edit of the demo, extra arguments, exit code, text expected on stdout or stderr, check of the output)
MESSY = [
    pytest.param("validate", _implausible_places, None, 0, [
        "The coordinates are 5,397 km from the centre of ZIP 04101 (Portland, ME); the ZIP's location is used",
        "ZIP '2134' has 4 digits; read as 02134 (Allston, MA) — a leading zero lost in a spreadsheet?",
        "Rep R03 (Priya Raman): the home base (61.2225, -149.8677) is 5,",  # thousands of km ...
        "km from the nearest account.",
    ], None, id="implausible-places"),
    pytest.param("validate", _text_fidelity, None, 0, [
        "row 3 [Account Name] value='NulCo': The cell held invisible control characters (such as NUL)",
        "reps.csv row 2 [Rep ID] value='+R02': The rep id begins with '+', a formula sign",
    ], None, id="nul-and-formula-id"),
    pytest.param("validate", _wide, None, 2, [
        "accounts.csv has 10,019 columns; the limit is 500 (TERRITORY_GEO_MAX_COLUMNS)",
    ], None, id="ten-thousand-columns"),
    pytest.param("design", _honolulu, None, 0, [
        "HI", "no rep",
    ], _geojson_decimals, id="account-across-water-and-geojson"),
    pytest.param("design", _more_reps_than_zips, _thirty_zip_areas, 2, [
        "30 ZIP areas for 60 reps: every rep needs at least one ZIP area",
    ], None, id="more-reps-than-zips"),
    pytest.param("design", _unchanged, _config('[design]\nseed = "x"\n'), 2, [
        'plan.toml: [design] seed = "x": expected a whole number ≥ 0, e.g. 7',
    ], None, id="config-wrong-type"),
    pytest.param("design", _unchanged, _config("[scenarios.evenness]\ntolerance = -0.05\n"), 2, [
        "[scenarios.evenness] tolerance = -0.05: expected a number between 0 and 1",
    ], None, id="config-negative-tolerance"),
    pytest.param("design", _unchanged, _out_is_a_file, 2, [
        "is a file, but this command writes a folder",
    ], None, id="out-is-a-file"),
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


@pytest.mark.parametrize(("command", "edit", "extra", "code", "expected", "check"), MESSY)
def test_messy_input_gets_a_clear_report(make_inputs, tmp_path, capsys, command, edit, extra, code, expected, check):
    accounts, reps, _ = make_inputs(edit)
    out = tmp_path / "out"
    args = [command, "--accounts", str(accounts), "--reps", str(reps)]
    more = extra(tmp_path) if extra is not None else []
    if command != "validate" and "--out" not in more:
        more += ["--out", str(out)]
    assert cli.main(args + more) == code
    captured = capsys.readouterr()
    said = captured.out + captured.err
    for text in expected:
        assert text in said, text
    assert "Traceback" not in said and "unexpected error" not in said
    if code != 0:
        assert not out.exists()  # refused before anything was written
    if check is not None:
        check(out)


def test_nothing_set_aside_prints_no_warning(make_inputs, tmp_path, capsys):
    accounts, reps, _ = make_inputs(_unchanged)
    assert cli.main(["score", "--accounts", str(accounts), "--reps", str(reps), "--out", str(tmp_path / "s.csv")]) == 0
    assert capsys.readouterr().err == ""


def test_drivetime_without_accounts_names_reps_set_aside(make_inputs, tmp_path, capsys):
    _, reps, _ = make_inputs(_one_home_at_zero)
    assert cli.main(["drivetime", "--reps", str(reps), "--out", str(tmp_path / "dt")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: 1 rep(s) in reps.csv set aside: R07 (Imani Carter, row 7: no usable home base)."]
