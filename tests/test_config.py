"""territory_geo.config: the design config's schema, load_config, and command-line overrides.

The CLI's handling of the same cases (exit 2, nothing written) is in tests/test_cli.py.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from territory_geo import config, design
from territory_geo.config import DesignConfig, load_config, with_options
from territory_geo.errors import ConfigError, TerritoryError
from territory_geo.settings import DesignSettings, design_settings_from_mapping


def _problems(text: str) -> list[str]:
    return config.check_config(tomllib.loads(text))


def _readme_config(repo_root: Path) -> str:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    return re.search(r"```toml\n(.*?)```", readme, re.DOTALL).group(1)


def test_the_readme_example_loads(repo_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(_readme_config(repo_root), encoding="utf-8")
    assert load_config(path) == DesignConfig(
        scenario="blend", tolerance=0.04, seed=7, pin_top_n=3, max_seconds=30.0, thorough=False,
        locks={"30303": "R01"}, named={"ACC-00012": "R05"},
        scenario_overrides={"blend": {"weights": {"potential": 0.5, "workload_units": 0.3, "travel": 0.2}}})


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text("# nothing set\n")
    loaded = load_config(path)
    assert loaded == DesignConfig()
    assert (loaded.scenario, loaded.tolerance, loaded.seed, loaded.max_seconds) == ("evenness", None, 0, None)
    assert loaded.scenario_names == ["evenness"]
    assert DesignConfig(scenario="all").scenario_names == list(design.SCENARIOS)


def test_every_valid_value_is_accepted() -> None:
    text = """
        [design]
        scenario = "all"
        tolerance = 0.999
        seed = 0
        pin_top_n = 0
        max_seconds = 0.5
        thorough = true
        [design.locks]
        "02134" = "R02"
        [design.named]
        "ACC 1.2" = "R01"
        [scenarios.disruption]
        disruption_budget = 0
        weights = { potential = 0, travel = 2 }
        [scenarios.proximity]
        disruption_budget = 1
        proximity_weight = 0
        compactness_weight = 3
        label = "Near home"
        tolerance = 0.001
    """
    assert _problems(text) == []
    loaded = config.config_from_mapping(tomllib.loads(text))
    assert loaded.max_seconds == 0.5 and loaded.thorough is True and loaded.locks == {"02134": "R02"}
    assert loaded.scenario_overrides["proximity"]["label"] == "Near home"


def test_every_problem_is_reported_at_once_with_key_value_and_what_is_expected() -> None:
    text = '[design]\nseed = "x"\npin_top_n = "3"\nlocks = 5\n[scenarios.blend]\ntolerance = 0\n'
    with pytest.raises(ConfigError) as info:
        config.config_from_mapping(tomllib.loads(text), "plan.toml")
    assert isinstance(info.value, TerritoryError)
    assert str(info.value) == (
        "4 problems in plan.toml:\n"
        '  plan.toml: [design] seed = "x": expected a whole number ≥ 0, e.g. 7\n'
        '  plan.toml: [design] pin_top_n = "3": expected a whole number ≥ 0 (top accounts by ARR pinned to each '
        "owner), e.g. 3\n"
        '  plan.toml: [design] locks = 5: expected a table of ZIP code = rep id, e.g. [design.locks] "30303" = "R01"\n'
        "  plan.toml: [scenarios.blend] tolerance = 0: expected a number between 0 and 1 (0.05 = ±5 %)")


def test_one_problem_is_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        config.config_from_mapping({"design": {"seed": -1}}, "plan.toml")
    assert str(info.value) == "plan.toml: [design] seed = -1: expected a whole number ≥ 0, e.g. 7"


@pytest.mark.parametrize(("text", "problem"), [
    pytest.param("[design]\nseed = true\n", "[design] seed = true: expected a whole number ≥ 0, e.g. 7", id="bool-seed"),
    pytest.param("[design]\nseed = 2.0\n", "[design] seed = 2.0: expected a whole number ≥ 0, e.g. 7", id="float-seed"),
    pytest.param("[design]\ntolerance = nan\n", "[design] tolerance = nan: expected a number between 0 and 1 "
                 "(0.05 = ±5 %)", id="nan-tolerance"),
    pytest.param("[design]\ntolerance = 1\n", "[design] tolerance = 1: expected a number between 0 and 1 "
                 "(0.05 = ±5 %)", id="tolerance-1"),
    pytest.param("[design]\nmax_seconds = inf\n", "[design] max_seconds = inf: expected a positive number of "
                 "seconds, e.g. 30", id="inf-seconds"),
    pytest.param("[design]\nthorough = 1\n", "[design] thorough = 1: expected true or false", id="int-thorough"),
    pytest.param('[design]\nscenario = "evenes"\n', '[design] scenario = "evenes": expected one of "evenness", '
                 '"disruption", "proximity", "blend" or "all" (did you mean "evenness"?)', id="scenario-typo"),
    pytest.param("[design]\nscenario = 1\n", '[design] scenario = 1: expected one of "evenness", "disruption", '
                 '"proximity", "blend" or "all"', id="scenario-number"),
    pytest.param('[design.locks]\n"3030" = "R01"\n', '[design.locks] "3030" = "R01": expected the key to be a '
                 '5-digit ZIP code in quotes, e.g. "02134"', id="short-zip"),
    pytest.param('[design.locks]\n"30303" = 1\n', '[design.locks] "30303" = 1: expected a rep id in quotes, '
                 'e.g. "R01"', id="number-rep"),
    pytest.param('[design.named]\nACC-1 = " "\n', '[design.named] ACC-1 = " ": expected a rep id in quotes, '
                 'e.g. "R01"', id="blank-rep"),
    pytest.param('[design]\nnamed = ["ACC-1"]\n', '[design] named = ["ACC-1"]: expected a table of account id = '
                 'rep id, e.g. [design.named] "ACC-00012" = "R05"', id="named-list"),
    pytest.param("[design]\nsead = 7\n", "[design] sead = 7: unknown [design] setting (did you mean \"seed\"?); "
                 "allowed: scenario, tolerance, seed, pin_top_n, max_seconds, thorough, allow_cross_region, locks, named, "
                 "engine", id="typo"),
    pytest.param("seed = 7\n", "seed = 7: settings go inside a table (did you mean [design] seed?); tables: "
                 "[design], [scenarios]", id="above-the-tables"),
    pytest.param("[desing]\nseed = 7\n", "[desing]: unknown table (did you mean [design]?); allowed: [design], "
                 "[scenarios]", id="table-typo"),
    pytest.param("[scenarios.fastest]\n", "[scenarios.fastest]: unknown scenario; allowed: evenness, disruption, "
                 "proximity, blend", id="unknown-scenario"),
    pytest.param("[scenarios]\nblend = 5\n", "[scenarios] blend = 5: expected a table of scenario settings, e.g. "
                 "[scenarios.blend] tolerance = 0.04", id="scenario-not-a-table"),
    pytest.param("[scenarios.blend]\nweights = { potential = 0, travl = 1 }\n", "[scenarios.blend.weights] travl = "
                 '1: unknown balance component (did you mean "travel"?); allowed: potential, workload_units, '
                 "accounts, arr, travel", id="weight-typo"),
    pytest.param("[scenarios.blend]\nweights = { potential = 0 }\n", "[scenarios.blend] weights = { potential = 0 }:"
                 " expected weights with a positive sum, e.g. { potential = 1 }", id="zero-weights"),
    pytest.param("[scenarios.blend]\nweights = { potential = -1, travel = 2 }\n", "[scenarios.blend.weights] "
                 "potential = -1: expected a number ≥ 0, e.g. 0.5", id="negative-weight"),
    pytest.param("[scenarios.blend]\nweights = 1\n", "[scenarios.blend] weights = 1: expected a table of balance "
                 "component = weight, e.g. { potential = 0.5, travel = 0.5 }", id="weights-number"),
    pytest.param("[scenarios.disruption]\ndisruption_budget = 1.5\n", "[scenarios.disruption] disruption_budget = "
                 "1.5: expected a share of ARR between 0 and 1 (0.1 = at most 10 % changes owner)", id="budget"),
    pytest.param("[scenarios.blend]\nlabel = 3\n", '[scenarios.blend] label = 3: expected text, e.g. "My blend"',
                 id="label-number"),
    pytest.param("[design.engine]\nsettle_tries = -1\n", "[design.engine] settle_tries = -1: expected a whole "
                 "number ≥ 0, e.g. 3", id="engine-count"),
    pytest.param("[design.engine]\nsettle_tries = 2.5\n", "[design.engine] settle_tries = 2.5: expected a whole "
                 "number ≥ 0, e.g. 3", id="engine-float-count"),
    pytest.param("[design.engine]\nrecombine_share = 0\n", "[design.engine] recombine_share = 0: expected a share "
                 "above 0 and at most 1, e.g. 0.1", id="engine-share"),
    pytest.param("[design.engine]\nbound_stop = 0.9\n", "[design.engine] bound_stop = 0.9: expected a factor ≥ 1, "
                 "e.g. 1.04", id="engine-factor"),
    pytest.param("[design.engine]\ndefault_seconds = true\n", "[design.engine] default_seconds = true: expected a "
                 "positive number of seconds, e.g. 30", id="engine-seconds"),
    pytest.param("[design.engine]\nrepartition_rings = [1, 0]\n", "[design.engine] repartition_rings = [1, 0]: "
                 "expected a list of whole numbers ≥ 1, e.g. [1, 2]", id="engine-rings"),
    pytest.param("[design]\nengine = 3\n", "[design] engine = 3: expected a table of engine settings, e.g. "
                 "[design.engine] settle_tries = 5000", id="engine-not-a-table"),
])
def test_each_rule_names_the_key_the_value_and_what_is_expected(text: str, problem: str) -> None:
    assert _problems(text) == [problem]


def test_an_unknown_engine_setting_is_named_with_a_near_miss() -> None:
    [problem] = _problems("[design.engine]\nsetle_tries = 5\n")
    assert problem.startswith('[design.engine] setle_tries = 5: unknown [design.engine] setting (did you mean '
                              '"settle_tries"?); allowed: default_seconds, large_seconds, ')
    assert problem.endswith(", repartition_rings, repartition_max_units")


def test_the_engine_table_becomes_design_settings() -> None:
    text = "[design.engine]\nsettle_tries = 5000\ncarry_growth = 2\nrepartition_rings = [1]\ndefault_seconds = 12\n"
    loaded = config.config_from_mapping(tomllib.loads(text))
    assert loaded.engine == DesignSettings(settle_tries=5000, carry_growth=2.0, repartition_rings=(1,),
                                           default_seconds=12.0)
    assert isinstance(loaded.engine.carry_growth, float) and isinstance(loaded.engine.settle_tries, int)
    assert config.config_from_mapping({}).engine == DesignSettings()


def test_the_engine_schema_covers_every_design_setting_and_accepts_the_defaults() -> None:
    assert list(config.ENGINE.rules) == [f.name for f in fields(DesignSettings)]
    defaults = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(DesignSettings()).items()}
    assert config.check_config({"design": {"engine": defaults}}) == []
    with pytest.raises(ValueError, match=r"Unknown design engine setting\(s\) \['speed'\]"):
        design_settings_from_mapping({"speed": 2})


def test_long_values_are_shortened_in_messages() -> None:
    [problem] = _problems(f"[design]\nseed = {list(range(40))}\n")
    assert problem == "[design] seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1 ...: " \
                      "expected a whole number ≥ 0, e.g. 7"


def test_a_toml_syntax_error_gives_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text("[design]\nseed = = 3\n")
    with pytest.raises(ConfigError, match=re.escape(
            "plan.toml: not valid TOML: Invalid value (at line 2, column 8). See https://toml.io for the syntax.")):
        load_config(path)


@pytest.mark.parametrize(("content", "message"), [
    (None, "Config file not found: {path}. Check the path of --config."),
    (b"[design]\nlabel = \"caf\xe9\"\n", "plan.toml: not UTF-8 text (at byte offset 21); save the config file as UTF-8."),
])
def test_an_unreadable_file_is_a_config_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "plan.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == message.format(path=path)


def test_command_line_values_override_the_file_and_none_keeps_it() -> None:
    from_file = DesignConfig(scenario="blend", tolerance=0.04, seed=7, thorough=True)
    assert with_options(from_file, scenario=None, tolerance=None, seed=None, thorough=None) == from_file
    assert with_options(from_file, scenario="all", tolerance=0.1, seed=0) == DesignConfig(
        scenario="all", tolerance=0.1, seed=0, thorough=True)


def test_command_line_values_are_checked_by_the_same_rules() -> None:
    with pytest.raises(ConfigError) as info:
        with_options(DesignConfig(), tolerance=-0.05, seed=-1, scenario="fast")
    assert str(info.value) == ("--tolerance -0.05: expected a number between 0 and 1 (0.05 = ±5 %)\n"
                               "--seed -1: expected a whole number ≥ 0, e.g. 7\n"
                               '--scenario fast: expected one of "evenness", "disruption", "proximity", "blend" or '
                               '"all"')


def test_the_schema_matches_the_config_and_the_scenarios() -> None:
    assert [f.name for f in fields(DesignConfig)] == [*config.DESIGN.rules, "scenario_overrides"]
    assert set(config.SCHEMA.rules["scenarios"].rules) == set(design.SCENARIOS)
    assert set(config.SCENARIO.rules["weights"].rules) == set(design.COMPONENTS)
    # every scenario setting the schema allows is one design.scenario_from_mapping accepts
    valid = {"weights": {"potential": 1.0}, "tolerance": 0.1, "disruption_budget": 0.2, "proximity_weight": 2.0,
             "compactness_weight": 0.5, "label": "Mine"}
    assert set(valid) == set(config.SCENARIO.rules)
    assert config.check_config({"scenarios": {"blend": valid}}) == []
    scenario = design.scenario_from_mapping(design.SCENARIOS["blend"], valid)
    assert (scenario.tolerance, scenario.label, scenario.compactness_weight) == (0.1, "Mine", 0.5)
