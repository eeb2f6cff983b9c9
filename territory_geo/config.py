"""The design config file (TOML): its schema as data, and :func:`load_config`.

A config file holds ``[design]`` settings (with the tables ``[design.locks]`` and ``[design.named]``, and the
engine's tuning constants in ``[design.engine]``) and ``[scenarios.<name>]`` overrides of the built-in scenarios::

    [design]
    scenario = "blend"
    tolerance = 0.04
    [design.locks]
    "30303" = "R01"
    [design.engine]
    settle_tries = 5000
    [scenarios.blend]
    weights = { potential = 0.5, workload_units = 0.3, travel = 0.2 }

The whole file is checked against :data:`SCHEMA` before anything runs, overrides of scenarios that are not run
included. Every problem is reported at once, in one :class:`~territory_geo.errors.ConfigError`, one line each:
``plan.toml: [design] seed = "x": expected a whole number ≥ 0, e.g. 7``.

To add a setting, add its rule to its section below (:data:`DESIGN`, :data:`ENGINE` or :data:`SCENARIO`); a
``[design]`` setting also needs a field of the same name in :class:`DesignConfig`, an ``[design.engine]`` one a field
of :class:`~territory_geo.settings.DesignSettings`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from territory_geo.design import COMPONENTS, SCENARIOS
from territory_geo.errors import ConfigError
from territory_geo.settings import DesignSettings, design_settings_from_mapping

# --- rules ----------------------------------------------------------------------------------------------------------


class Rule(Protocol):
    """What a valid value of one key is."""

    def problems(self, table: str, key: str, value: Any) -> list[str]:
        """One line per problem of ``value``, found at ``key`` of ``table`` (a dotted table name, "" at the top)."""
        ...


@dataclass(frozen=True)
class Scalar:
    """A single value: ``valid(value)`` decides, ``expected`` says what would be valid (for the message)."""

    valid: Callable[[Any], bool]
    expected: str

    def problems(self, table: str, key: str, value: Any) -> list[str]:
        """See :class:`Rule`."""
        return [] if self.valid(value) else [f"{_where(table, key, value)}: expected {self.expected}"]


@dataclass(frozen=True)
class Choice:
    """One of a few names; a near miss gets a "did you mean"."""

    options: tuple[str, ...]

    @property
    def expected(self) -> str:
        """What would be valid, for the message."""
        return f"one of {_names(self.options)}"

    def valid(self, value: Any) -> bool:
        """Whether ``value`` is one of the options."""
        return isinstance(value, str) and value in self.options

    def problems(self, table: str, key: str, value: Any) -> list[str]:
        """See :class:`Rule`."""
        if self.valid(value):
            return []
        hint = _did_you_mean(value, self.options) if isinstance(value, str) else ""
        return [f"{_where(table, key, value)}: expected {self.expected}{hint}"]


@dataclass(frozen=True)
class Section:
    """A table with a fixed set of keys, each with its own rule; any other key is an error naming the allowed ones.

    Attributes
    ----------
    noun
        What a key is, for "unknown ..." messages ("[design] setting", "scenario", "balance component").
    rules
        Allowed keys and their rules.
    expected
        What the table is, for the message when the value is not a table at all.
    whole
        A rule for the table as a whole, checked once every key is valid (e.g. weights with a positive sum).
    headers
        Keys name tables written as headers (``[design]``), and are shown so in the list of allowed keys.
    """

    noun: str
    rules: Mapping[str, Rule]
    expected: str = "a table"
    whole: Scalar | None = None
    headers: bool = False

    def problems(self, table: str, key: str, value: Any) -> list[str]:
        """See :class:`Rule`."""
        if not isinstance(value, dict):
            return [f"{_where(table, key, value)}: expected {self.expected}"]
        inner = self.entry_problems(_join(table, key), value)
        if inner or self.whole is None:
            return inner
        return self.whole.problems(table, key, value)

    def entry_problems(self, table: str, entries: Mapping[str, Any]) -> list[str]:
        """Problems of each entry of the table named ``table``."""
        problems = []
        for key, value in entries.items():
            rule = self.rules.get(key)
            if rule is None:
                problems.append(self._unknown(table, key, value))
            else:
                problems += rule.problems(table, key, value)
        return problems

    def _unknown(self, table: str, key: str, value: Any) -> str:
        show = "[{}]".format if self.headers else str
        shown = ", ".join(show(name) for name in self.rules)
        if self.headers and not isinstance(value, dict):  # a setting above every table header
            owners = [name for name, rule in self.rules.items() if isinstance(rule, Section) and key in rule.rules]
            hint = f" (did you mean [{owners[0]}] {_key(key)}?)" if owners else ""
            return f"{_where(table, key, value)}: settings go inside a table{hint}; tables: {shown}"
        where = f"[{_join(table, key)}]" if isinstance(value, dict) else _where(table, key, value)
        hint = _did_you_mean(key, list(self.rules), show if self.headers else json.dumps)
        return f"{where}: unknown {self.noun}{hint}; allowed: {shown}"


@dataclass(frozen=True)
class Table:
    """A table of free keys (ZIP codes, account ids) with one rule for every key and one for every value."""

    key: Scalar
    value: Rule
    expected: str

    def problems(self, table: str, key: str, value: Any) -> list[str]:
        """See :class:`Rule`."""
        if not isinstance(value, dict):
            return [f"{_where(table, key, value)}: expected {self.expected}"]
        inner = _join(table, key)
        problems = []
        for entry, entry_value in value.items():
            if not self.key.valid(entry):
                problems.append(f"{_where(inner, entry, entry_value)}: expected the key to be {self.key.expected}")
            problems += self.value.problems(inner, entry, entry_value)
        return problems


# --- value tests ----------------------------------------------------------------------------------------------------


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_non_negative(value: Any) -> bool:
    return _is_number(value) and value >= 0


def _is_positive(value: Any) -> bool:
    return _is_number(value) and value > 0


def _is_share(value: Any) -> bool:
    """Strictly between 0 and 1 (a tolerance of 0 would make every plan infeasible)."""
    return _is_number(value) and 0 < value < 1


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _has_positive_sum(weights: Mapping[str, float]) -> bool:
    return sum(weights.values()) > 0


def _is_zip(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{5}", value) is not None


def _is_count(value: Any) -> bool:
    """A whole number ≥ 1."""
    return _is_whole(value) and value >= 1


def _is_rings(value: Any) -> bool:
    return isinstance(value, list) and value != [] and all(_is_count(ring) for ring in value)


# --- the schema -----------------------------------------------------------------------------------------------------

TOLERANCE = Scalar(_is_share, "a number between 0 and 1 (0.05 = ±5 %)")
REP_ID = Scalar(_is_text, 'a rep id in quotes, e.g. "R01"')
WEIGHT = Scalar(_is_non_negative, "a number ≥ 0, e.g. 0.5")

_WHOLE = Scalar(_is_whole, "a whole number ≥ 0, e.g. 3")
_COUNT = Scalar(_is_count, "a whole number ≥ 1, e.g. 3")
_SECONDS = Scalar(_is_positive, "a positive number of seconds, e.g. 30")
_SHARE = Scalar(lambda v: _is_number(v) and 0 < v <= 1, "a share above 0 and at most 1, e.g. 0.1")
_FRACTION = Scalar(lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1, e.g. 0.5")
_FACTOR = Scalar(lambda v: _is_number(v) and v >= 1, "a factor ≥ 1, e.g. 1.04")

#: ``[design.engine]``: the design engine's tuning constants (:class:`~territory_geo.settings.DesignSettings`).
ENGINE = Section("[design.engine] setting", {
    "default_seconds": _SECONDS, "large_seconds": _SECONDS, "large_problem_units": _WHOLE, "thorough_budget": _COUNT,
    "lp_max_pairs": _WHOLE, "coarse_clusters": _COUNT, "centre_blend": _FRACTION, "centre_iterations": _WHOLE,
    "full_bound_variables": _WHOLE, "bound_trigger": _FACTOR, "bound_stop": _FACTOR, "bound_cap": _FACTOR,
    "goal_factor": _SHARE, "diffuse_stall_rounds": _WHOLE, "eject_depth": _WHOLE, "eject_budget": _WHOLE,
    "recombine_share": _SHARE, "recombine_budget": _WHOLE, "chain_slack": _WHOLE,
    "carry_growth": Scalar(_is_positive, "a positive number, e.g. 3.0"), "local_tries": _WHOLE,
    "settle_tries": _WHOLE, "settle_bad_bias": _FRACTION, "settle_rings": _WHOLE, "shorten_share": _SHARE,
    "shorten_trigger": _FACTOR, "shorten_stop": _FACTOR, "polish_steps": _WHOLE, "compact_share": _SHARE,
    "compact_rounds": _WHOLE, "compact_tries": _WHOLE, "redraw_share": _SHARE, "repartition_trees": _WHOLE,
    "repartition_node_limit": _COUNT,
    "repartition_rings": Scalar(_is_rings, "a list of whole numbers ≥ 1, e.g. [1, 2]"),
    "repartition_max_units": _WHOLE,
}, expected="a table of engine settings, e.g. [design.engine] settle_tries = 5000")

#: ``[design]``: one design run's settings.
DESIGN = Section("[design] setting", {
    "scenario": Choice((*SCENARIOS, "all")),
    "tolerance": TOLERANCE,
    "seed": Scalar(_is_whole, "a whole number ≥ 0, e.g. 7"),
    "pin_top_n": Scalar(_is_whole, "a whole number ≥ 0 (top accounts by ARR pinned to each owner), e.g. 3"),
    "max_seconds": Scalar(_is_positive, "a positive number of seconds, e.g. 30"),
    "thorough": Scalar(lambda v: isinstance(v, bool), "true or false"),
    "allow_cross_region": Scalar(lambda v: isinstance(v, bool), "true or false (territories across water)"),
    "locks": Table(Scalar(_is_zip, 'a 5-digit ZIP code in quotes, e.g. "02134"'), REP_ID,
                   'a table of ZIP code = rep id, e.g. [design.locks] "30303" = "R01"'),
    "named": Table(Scalar(_is_text, 'an account id in quotes, e.g. "ACC-00012"'), REP_ID,
                   'a table of account id = rep id, e.g. [design.named] "ACC-00012" = "R05"'),
    "engine": ENGINE,
}, expected="a table of design settings, e.g. [design] seed = 7")

#: ``[scenarios.<name>]``: overrides of a built-in scenario's fields.
SCENARIO = Section("scenario setting", {
    "weights": Section("balance component", dict.fromkeys(COMPONENTS, WEIGHT),
                       expected="a table of balance component = weight, e.g. { potential = 0.5, travel = 0.5 }",
                       whole=Scalar(_has_positive_sum, "weights with a positive sum, e.g. { potential = 1 }")),
    "tolerance": TOLERANCE,
    "disruption_budget": Scalar(lambda v: _is_number(v) and 0 <= v <= 1,
                                "a share of ARR between 0 and 1 (0.1 = at most 10 % changes owner)"),
    "proximity_weight": Scalar(_is_non_negative, "a number ≥ 0, e.g. 1.0"),
    "compactness_weight": Scalar(_is_non_negative, "a number ≥ 0, e.g. 1.0"),
    "label": Scalar(_is_text, 'text, e.g. "My blend"'),
}, expected="a table of scenario settings, e.g. [scenarios.blend] tolerance = 0.04")

#: The whole file: every scenario may be overridden, whether or not it is run.
SCHEMA = Section("table", {
    "design": DESIGN,
    "scenarios": Section("scenario", dict.fromkeys(SCENARIOS, SCENARIO),
                         expected="a table of [scenarios.<name>] overrides, e.g. [scenarios.blend] tolerance = 0.04"),
}, headers=True)


# --- the result -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignConfig:
    """A validated design config; defaults where the file says nothing.

    Attributes
    ----------
    scenario
        A name from :data:`territory_geo.design.SCENARIOS`, or ``"all"``.
    tolerance
        Overrides every run scenario's tolerance (None: each scenario's own).
    seed, pin_top_n, max_seconds, thorough, allow_cross_region
        Passed to :class:`territory_geo.design.TerritoryDesigner` (``max_seconds`` None: its default budget).
    locks
        ZIP -> rep id that must not change.
    named
        Account id -> rep id: accounts that stay with that rep.
    engine
        The engine's tuning constants (``[design.engine]``), passed to the designer.
    scenario_overrides
        Scenario name -> fields to override (``[scenarios.<name>]``), for
        :func:`territory_geo.design.scenario_from_mapping`.
    """

    scenario: str = "evenness"
    tolerance: float | None = None
    seed: int = 0
    pin_top_n: int = 0
    max_seconds: float | None = None
    thorough: bool = False
    allow_cross_region: bool = False
    locks: dict[str, str] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)
    engine: DesignSettings = field(default_factory=DesignSettings)
    scenario_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def scenario_names(self) -> list[str]:
        """The scenarios to run, in order."""
        return list(SCENARIOS) if self.scenario == "all" else [self.scenario]


def check_config(document: Mapping[str, Any]) -> list[str]:
    """Every problem of a parsed config file (``where = value: expected ...``, one line each); empty when valid."""
    return SCHEMA.entry_problems("", document)


def config_from_mapping(document: Mapping[str, Any], source: str = "config") -> DesignConfig:
    """A :class:`DesignConfig` from a parsed config file; :class:`ConfigError` listing every problem if invalid.

    Parameters
    ----------
    document
        The file's tables, as :func:`tomllib.load` returns them.
    source
        The file's name, at the start of each problem line.
    """
    problems = check_config(document)
    if problems:
        raise ConfigError(_message(source, problems))
    section = document.get("design", {})
    values: dict[str, Any] = {f.name: section[f.name] for f in fields(DesignConfig) if f.name in section}
    for key in ("tolerance", "max_seconds"):
        if key in values:
            values[key] = float(values[key])
    for key in ("locks", "named"):
        if key in values:
            values[key] = dict(values[key])
    if "engine" in values:
        values["engine"] = _engine(values["engine"])
    overrides = {name: dict(table) for name, table in document.get("scenarios", {}).items()}
    return DesignConfig(**values, scenario_overrides=overrides)


def _engine(table: Mapping[str, Any]) -> DesignSettings:
    """The ``[design.engine]`` table (already checked) as :class:`DesignSettings`; numbers become floats where the
    setting is one."""
    floats = {f.name for f in fields(DesignSettings) if isinstance(f.default, float)}
    return design_settings_from_mapping({k: float(v) if k in floats else v for k, v in table.items()})


def load_config(path: str | Path) -> DesignConfig:
    """Read and validate a design config file (TOML); see the module docstring.

    Raises
    ------
    ConfigError
        The file is missing, unreadable, not TOML (with the line and column), or does not match :data:`SCHEMA`
        (every problem listed).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError as exc:
        msg = f"Config file not found: {path}. Check the path of --config."
        raise ConfigError(msg) from exc
    except OSError as exc:
        msg = f"{path}: the config file cannot be read ({exc.strerror})."
        raise ConfigError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"{path.name}: not UTF-8 text (at byte offset {exc.start}); save the config file as UTF-8."
        raise ConfigError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path.name}: not valid TOML: {exc}. See https://toml.io for the syntax."
        raise ConfigError(msg) from exc
    return config_from_mapping(document, path.name)


def with_options(config: DesignConfig, **options: Any) -> DesignConfig:
    """``config`` with command-line values (``--seed 3`` as ``seed=3``; None keeps the file's), each checked by the
    ``[design]`` setting's own rule: ``--tolerance -0.05: expected a number between 0 and 1 (0.05 = ±5 %)``."""
    given = {key: value for key, value in options.items() if value is not None}
    problems = []
    for key, value in given.items():
        rule = DESIGN.rules[key]
        if isinstance(rule, (Scalar, Choice)) and not rule.valid(value):
            problems.append(f"--{key.replace('_', '-')} {value}: expected {rule.expected}")
    if problems:
        raise ConfigError("\n".join(problems))
    return replace(config, **given)


# --- messages -------------------------------------------------------------------------------------------------------


def _message(source: str, problems: Sequence[str]) -> str:
    lines = [f"{source}: {problem}" for problem in problems]
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} problems in {source}:\n" + "\n".join(f"  {line}" for line in lines)


def _did_you_mean(word: str, options: Sequence[str], show: Callable[[str], str] = json.dumps) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {show(close[0])}?)" if close else ""


def _names(options: Sequence[str]) -> str:
    quoted = [json.dumps(option) for option in options]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _join(table: str, key: str) -> str:
    return f"{table}.{_key(key)}" if table else _key(key)


def _where(table: str, key: str, value: Any) -> str:
    """``[table] key = value`` as the file would spell it (``key = value`` at the top level)."""
    lhs = f"[{table}] {_key(key)}" if table else _key(key)
    return f"{lhs} = {_toml(value)}"


def _key(key: str) -> str:
    """A key as TOML spells it: bare when it is a name, quoted otherwise (ZIP codes, ids with dots or spaces)."""
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else json.dumps(key, ensure_ascii=False)


def _toml(value: Any, limit: int = 60) -> str:
    """A value as TOML spells it, shortened past ``limit`` characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list):
        text = "[" + ", ".join(_toml(v, limit) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{_key(k)} = {_toml(v, limit)}" for k, v in value.items()) + " }"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."
