"""Trade-offs: sweep one setting of a scenario and report the frontier, each run an independent design on Dask.

Two frontiers (:data:`SWEEPS`):

* **disruption**: balance against disruption, the min-disruption scenario at disruption budgets of 0 / 5 / 10 /
  20 / 40 % of ARR;
* **travel**: balance against travel, the proximity scenario at tolerances of ±2.5 / 5 / 10 / 20 %.

A run is a :class:`~territory_geo.design.TerritoryDesigner` fit; its figures are the frontier's columns
(:data:`FRONTIER_COLUMNS`), with each rep's drive hours a month from the trip model (:func:`territory_geo.trips.
plan_field`). The runs share nothing, so they are mapped over a Dask cluster: a scheduler at ``address`` or
``$TERRITORY_GEO_DASK_SCHEDULER``, else a LocalCluster of worker processes on this machine; the inputs are
scattered to the workers once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from territory_geo import drivetime as dt
from territory_geo import trips
from territory_geo.design.designer import TerritoryDesigner
from territory_geo.design.problem import DesignInputs
from territory_geo.design.scenarios import SCENARIOS, Scenario
from territory_geo.errors import TerritoryError
from territory_geo.settings import DesignSettings, dask_scheduler

#: The frontier's columns (``frontier.csv``), in order; :meth:`Sweep.table` adds ``kind`` and ``value`` after them.
FRONTIER_COLUMNS: tuple[str, ...] = ("setting", "cv_potential", "max_dev_potential", "arr_changed_share",
                                     "drive_hours_total", "drive_hours_max", "pp_mean", "status")

#: Disruption budgets of the disruption frontier (share of ARR allowed to change owner).
DISRUPTION_BUDGETS: tuple[float, ...] = (0.0, 0.05, 0.10, 0.20, 0.40)
#: Tolerances of the travel frontier (±).
TOLERANCES: tuple[float, ...] = (0.025, 0.05, 0.10, 0.20)


@dataclass(frozen=True)
class SweepKind:
    """A frontier: the built-in scenario it sweeps, the setting it varies, and the default values."""

    name: str
    scenario: str
    setting: str
    values: tuple[float, ...]
    title: str


#: The two frontiers, by name.
SWEEPS: dict[str, SweepKind] = {
    "disruption": SweepKind("disruption", "disruption", "disruption_budget", DISRUPTION_BUDGETS,
                            "Balance vs disruption"),
    "travel": SweepKind("travel", "proximity", "tolerance", TOLERANCES, "Balance vs travel"),
}


def setting_label(kind: str, value: float) -> str:
    """The ``setting`` text of a run: ``"budget 10%"`` (disruption) or ``"±2.5%"`` (travel)."""
    percent = f"{round(value * 100, 4):g}%"
    return f"budget {percent}" if SWEEPS[kind].setting == "disruption_budget" else f"±{percent}"


@dataclass(frozen=True)
class Run:
    """One design of a sweep, as the worker sends it back.

    Attributes
    ----------
    kind, value, setting
        The frontier, the swept value and its text (:func:`setting_label`).
    label
        The scenario's display name with the setting, e.g. ``"B · Min disruption (budget 10%)"``.
    status, message
        The designer's verdict.
    summary
        The designer's scenario metrics (``summary_``).
    assignment, rep_of
        The plan, ZIP -> territory id, and territory id -> rep id.
    table
        Per-territory figures (``table_``).
    field
        Each rep's field month (:data:`territory_geo.trips.FIELD_COLUMNS`): the designer's ``field_`` when it has
        one, else :func:`territory_geo.trips.plan_field` on the sweep's matrix.
    runtime_s
        Seconds the design took.
    baseline_summary
        The same metrics for today's ownership (None without owners).
    """

    kind: str
    value: float
    setting: str
    label: str
    status: str
    message: str
    summary: dict[str, float]
    assignment: pd.Series
    rep_of: dict[str, str]
    table: pd.DataFrame
    field: pd.DataFrame
    runtime_s: float
    baseline_summary: dict[str, float] | None = None

    @property
    def key(self) -> str:
        """A stable id of the run: ``"<kind>:<value>"``."""
        return f"{self.kind}:{self.value:g}"

    def rep_assignment(self) -> pd.Series:
        """The plan as ZIP -> rep id."""
        return self.assignment.map(self.rep_of)

    def row(self) -> dict[str, Any]:
        """The run's frontier row: :data:`FRONTIER_COLUMNS`, then ``kind`` and ``value``."""
        return point(self.setting, self.summary, self.field, self.status) | {"kind": self.kind, "value": self.value}


def point(setting: str, summary: Mapping[str, Any], field_table: pd.DataFrame, status: str) -> dict[str, Any]:
    """A frontier point (:data:`FRONTIER_COLUMNS`) from a plan's metrics and its reps' field months; a figure the
    summary lacks (ARR changing owner without owners) is NaN."""
    hours = field_table["drive_hours_month"].astype(float) if len(field_table) else pd.Series(dtype=float)
    return {"setting": setting, "cv_potential": float(summary["cv_potential"]),
            "max_dev_potential": float(summary["max_dev_potential"]),
            "arr_changed_share": float(summary.get("arr_changed_share", math.nan)),
            "drive_hours_total": float(hours.sum()), "drive_hours_max": float(hours.max()) if len(hours) else 0.0,
            "pp_mean": float(summary["pp_mean"]), "status": status}


@dataclass(frozen=True)
class Sweep:
    """The runs of one or more frontiers, in the order of their settings, and today's ownership's point."""

    runs: tuple[Run, ...]
    today: dict[str, Any] | None = None
    kinds: tuple[str, ...] = field(default=())

    def of(self, kind: str) -> tuple[Run, ...]:
        """The runs of one frontier."""
        return tuple(r for r in self.runs if r.kind == kind)

    def table(self, kind: str | None = None) -> pd.DataFrame:
        """One row per run (of ``kind``, or all): :data:`FRONTIER_COLUMNS`, then ``kind`` and ``value``."""
        runs = self.runs if kind is None else self.of(kind)
        return pd.DataFrame([r.row() for r in runs], columns=[*FRONTIER_COLUMNS, "kind", "value"])


# --- the runs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """What one worker designs: a scenario with one setting, and the designer's options."""

    kind: str
    value: float
    scenario: Scenario
    options: dict[str, Any]


@dataclass(frozen=True)
class _Shared:
    """What every run reads, scattered to the workers once."""

    inputs: DesignInputs
    matrix: pd.DataFrame
    stops: trips.Stops


def _designer(spec: _Spec) -> TerritoryDesigner:
    return TerritoryDesigner(spec.scenario, **spec.options)


def field_months(designer: TerritoryDesigner, inputs: DesignInputs, matrix: pd.DataFrame,
                 stops: trips.Stops | None = None) -> pd.DataFrame:
    """Each rep's field month under a fitted designer's plan: its ``field_`` (a frame with ``drive_hours_month``)
    when the designer provides one, else the trip model on ``matrix``."""
    own = getattr(designer, "field_", None)
    if isinstance(own, pd.DataFrame) and "drive_hours_month" in own.columns:
        return own
    table, _ = trips.plan_field(inputs.scored, inputs.units, designer.rep_assignment(), matrix, inputs.reps, stops)
    return table


def _design_run(shared: _Shared, spec: _Spec) -> Run:
    """Design one setting (on a worker) and return what the frontier and the page need of it."""
    designer = _designer(spec).fit(shared.inputs)
    problem = designer.problem_
    return Run(kind=spec.kind, value=spec.value, setting=setting_label(spec.kind, spec.value),
               label=f"{designer.scenario.label} ({setting_label(spec.kind, spec.value)})",
               status=designer.status_, message=designer.message_,
               summary={k: float(v) for k, v in designer.summary_.items()},
               assignment=designer.plan_.to_series(), rep_of=dict(zip(problem.tids, problem.rep_ids, strict=True)),
               table=designer.table_, field=field_months(designer, shared.inputs, shared.matrix, shared.stops),
               runtime_s=float(designer.runtime_s_),
               baseline_summary=None if designer.baseline_summary_ is None
               else {k: float(v) for k, v in designer.baseline_summary_.items()})


def _specs(inputs: DesignInputs, kinds: Sequence[str], values: Mapping[str, Sequence[float]] | None,
           scenarios: Mapping[str, Scenario] | None, seed: int, settings: DesignSettings | None,
           options: dict[str, Any]) -> list[_Spec]:
    """The runs of the frontiers ``kinds``, each checked by building its designer (bad options fail here, before
    any cluster starts)."""
    unknown = [k for k in kinds if k not in SWEEPS]
    if unknown or not kinds:
        msg = f"`kind` was {unknown or list(kinds)!r} but is expected to be among {list(SWEEPS)}."
        raise TerritoryError(msg)
    specs = []
    for kind in kinds:
        sweep_kind = SWEEPS[kind]
        if sweep_kind.setting == "disruption_budget" and (inputs.baseline is None or inputs.baseline.empty):
            msg = ("The disruption frontier needs today's ownership (an owner column in the accounts); without "
                   "owners, sweep the travel frontier only (CLI: --sweep --scenario proximity).")
            raise TerritoryError(msg)
        base = (scenarios or {}).get(kind, SCENARIOS[sweep_kind.scenario])
        chosen = tuple((values or {}).get(kind, sweep_kind.values))
        if sweep_kind.setting == "tolerance" and options.get("tolerance") is not None:
            msg = "The travel frontier sweeps the tolerance itself; leave `tolerance` out (it applies to the " \
                  "disruption frontier)."
            raise TerritoryError(msg)
        for value in chosen:
            specs.append(_spec(kind, float(value), base, seed, settings, options))
    return specs


def _spec(kind: str, value: float, base: Scenario, seed: int, settings: DesignSettings | None,
          options: dict[str, Any]) -> _Spec:
    run_options = {"compute_bound": False} | options | {"seed": seed, "settings": settings}
    if SWEEPS[kind].setting == "disruption_budget":
        if not 0 <= value <= 1:
            msg = f"A disruption budget was {value} but is expected to be between 0 and 1 (0.1 = 10 % of ARR)."
            raise TerritoryError(msg)
        scenario = replace(base, disruption_budget=value)
    else:
        scenario = base
        run_options["tolerance"] = value
    spec = _Spec(kind, value, scenario, run_options)
    _designer(spec)
    return spec


def estimated_matrix(inputs: DesignInputs) -> pd.DataFrame:
    """Rep home -> ZIP unit drive minutes by the crow-fly estimate (:func:`territory_geo.drivetime.rep_matrix`)."""
    frame, _ = dt.rep_matrix(inputs.reps, dt.zip_targets(inputs.units.table))
    return frame


def today_point(inputs: DesignInputs, baseline_summary: Mapping[str, Any] | None,
                matrix: pd.DataFrame | None = None, stops: trips.Stops | None = None) -> dict[str, Any] | None:
    """Today's ownership as a frontier point (setting ``"today"``, status ``"current"``, no ARR changing owner):
    its metrics (a designer's ``baseline_summary_``) and its reps' drive hours; None without owners."""
    if baseline_summary is None or inputs.baseline is None or inputs.baseline.empty:
        return None
    matrix = estimated_matrix(inputs) if matrix is None else matrix
    table, _ = trips.plan_field(inputs.scored, inputs.units, inputs.baseline, matrix, inputs.reps, stops)
    return point("today", {**baseline_summary, "arr_changed_share": 0.0}, table, "current")


# --- the cluster ------------------------------------------------------------------------------------------------------


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _cluster(client: Any, address: str | None, runs: int) -> Iterator[Any]:
    """``client``; else a client of the scheduler at ``address`` (or ``$TERRITORY_GEO_DASK_SCHEDULER``); else of a
    LocalCluster of ``min(runs, cpus)`` single-threaded worker processes, closed on leaving."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    address = address or dask_scheduler()
    if address:
        try:
            own = Client(address, timeout=30)
        except OSError as exc:
            msg = (f"Cannot reach the Dask scheduler at {address} (TERRITORY_GEO_DASK_SCHEDULER): {exc}. Start it, "
                   "or unset the variable to run on this machine.")
            raise TerritoryError(msg) from exc
        with own:
            yield own
        return
    with LocalCluster(n_workers=max(1, min(runs, _cpus())), threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as own:
        yield own


def run_sweep(inputs: DesignInputs, kinds: Sequence[str] = tuple(SWEEPS), *, seed: int = 0,
          settings: DesignSettings | None = None, values: Mapping[str, Sequence[float]] | None = None,
          scenarios: Mapping[str, Scenario] | None = None, matrix: pd.DataFrame | None = None,
          client: Any = None, address: str | None = None, progress: Callable[[Run, int, int], None] | None = None,
          **designer_options: Any) -> Sweep:
    """Design every setting of the frontiers ``kinds`` on Dask, one independent run each.

    Parameters
    ----------
    inputs
        The design inputs (scattered to the workers once).
    kinds
        Frontiers of :data:`SWEEPS`: ``"disruption"``, ``"travel"``.
    seed, settings
        The designers' seed and tuning constants (:class:`~territory_geo.settings.DesignSettings`).
    values
        Kind -> the values to sweep instead of the defaults (:data:`DISRUPTION_BUDGETS`, :data:`TOLERANCES`).
    scenarios
        Kind -> the scenario to sweep instead of the built-in one (e.g. with a config file's overrides).
    matrix
        Rep home -> ZIP minutes for the drive hours (:func:`territory_geo.drivetime.rep_matrix`); default: the
        crow-fly estimate (:func:`estimated_matrix`), computed once.
    client, address
        A Dask client to use, or a scheduler address; default ``$TERRITORY_GEO_DASK_SCHEDULER``, else a
        LocalCluster of worker processes for the call.
    progress
        Called on this machine as each run comes back: ``progress(run, done, total)``.
    designer_options
        Further :class:`~territory_geo.design.TerritoryDesigner` options (``pin_top_n``, ``thorough``,
        ``allow_cross_region``, ``max_seconds``; ``tolerance`` for the disruption frontier only). The LP bound is
        not computed unless ``compute_bound=True``.

    Returns
    -------
    The runs in the order of ``kinds`` and their values, and today's ownership's point.
    """
    from distributed import as_completed

    specs = _specs(inputs, list(kinds), values, scenarios, seed, settings, designer_options)
    matrix = estimated_matrix(inputs) if matrix is None else matrix
    stops = trips.Stops.of_units(inputs.units)
    with _cluster(client, address, len(specs)) as dask:
        shared = dask.scatter(_Shared(inputs, matrix, stops), broadcast=True, hash=False)
        futures = [dask.submit(_design_run, shared, spec, pure=False) for spec in specs]
        position = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, Run] = {}
        try:
            for future, run in as_completed(futures, with_results=True):
                done[position[future.key]] = run
                if progress is not None:
                    progress(run, len(done), len(specs))
        finally:
            dask.cancel(futures)
    runs = tuple(done[i] for i in range(len(specs)))
    baseline = next((r.baseline_summary for r in runs if r.baseline_summary is not None), None)
    return Sweep(runs=runs, today=today_point(inputs, baseline, matrix, stops), kinds=tuple(kinds))


def frontier(inputs: DesignInputs, kind: str, *, seed: int = 0, settings: DesignSettings | None = None,
             client: Any = None, address: str | None = None, **designer_options: Any) -> pd.DataFrame:
    """The frontier of ``kind`` (``"disruption"`` or ``"travel"``): one row per run with :data:`FRONTIER_COLUMNS`,
    then ``kind`` and ``value`` (see :func:`run_sweep`, whose other keywords ``values``, ``scenarios``, ``matrix``
    and ``progress`` pass through)."""
    return run_sweep(inputs, (kind,), seed=seed, settings=settings, client=client, address=address,
                 **designer_options).table(kind)
