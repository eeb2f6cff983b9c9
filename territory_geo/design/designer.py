"""The designer: runs the pipeline for one scenario (set-up, start, search, verdict, metrics), region by region
where the reps' homes lie in several road regions."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from territory_geo.design.balance import LocalSearch
from territory_geo.design.bounds import lp_lower_bound
from territory_geo.design.measure import BalanceTally
from territory_geo.design.polish import anneal
from territory_geo.design.problem import DesignInputs, Problem, baseline_plan, build_problem, plan_of
from territory_geo.design.regions import RegionSplit, merged, merged_bound, merged_problem
from territory_geo.design.repartition import repartition
from territory_geo.design.resplit import compact, shorten, shorten_to
from territory_geo.design.scenarios import SCENARIOS, Scenario
from territory_geo.design.start import disruption_start, kmeans, transport
from territory_geo.design.verdict import regions_verdict
from territory_geo.errors import InfeasibleBalanceError, TerritoryError
from territory_geo.metrics import plan_summary, territory_table
from territory_geo.plan import Plan
from territory_geo.settings import DesignSettings


class TerritoryDesigner:
    """Builds territories for one scenario.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the name of a built-in one (``evenness``, ``disruption``, ``proximity``, ``blend``).
    tolerance
        Overrides the scenario's tolerance.
    seed
        Seed for every random choice (k-means is seeded by the homes, so runs are deterministic anyway).
    pin_top_n
        Relationship protection: pin each current owner's top N accounts by ARR to that owner (0 = off).
    lock_homes
        Keep each rep's home ZIP in the rep's territory (off by default: a home in a dense metro may belong in a
        neighbour's territory for balance).
    max_seconds
        Time budget of the whole design, counted from the start of :meth:`fit` (None: the settings' default budget,
        30 s, or 60 s from 10,000 ZIPs on, where the national search needs the time to reach its last balancing
        step; times ``thorough_budget`` when ``thorough``). The resolved value is :attr:`max_seconds_`.
    compute_bound
        Solve the exact-balance LP for :attr:`lp_bound_km_`.
    thorough
        Where the search leaves territories beyond the tolerance (lumpy ZIPs, each a large share of a target), re-draw
        the region around them as one set-partitioning problem (:mod:`territory_geo.design.repartition`). Slower: the
        time budget is ``thorough_budget`` times longer by default: the usual steps keep their usual share of it,
        and the re-draw, after the polish, may take most of the rest.
    allow_cross_region
        Let territories span road regions (Alaska, Hawaii, Puerto Rico, ... and the lower 48, which no road joins):
        the whole country is designed as one, and units of a region without a rep join the nearest territory. Off
        by default: each region is designed for the reps based there.
    settings
        The engine's tuning constants (:class:`~territory_geo.settings.DesignSettings`; default: its defaults).

    Attributes (after :meth:`fit`)
    ------------------------------
    plan_, kmeans_plan_, baseline_plan_
        The designed plan, the seeded k-means reference, and the current ownership (None without owners).
    summary_, table_, kmeans_summary_, baseline_summary_
        Scenario metrics and per-territory figures; the same metrics for the references.
    status_, message_
        ``"ok"`` or ``"infeasible"`` (with the reason and numbers), and a plain-English summary.
    lp_bound_km_
        Potential-weighted distance (km) of the LP relaxation: a lower bound for exact balance.
    named_
        Account id -> rep id of every named account kept with its rep (given, plus pinned top accounts).
    max_seconds_
        The time budget used (``max_seconds`` or its size-dependent default).
    clock_stops_
        The search steps the time budget cut short (``balance``, ``eject``, ``recombine``, ``settle``, ``shorten``,
        ``polish``, ``compact``). Every step ends on a count of work too; empty means no clock decided anything,
        so the same seed gives the same plan on any machine. Otherwise the message says so.
    runtime_s_
        Seconds the design took (the LP bound, a measurement, is solved afterwards and not counted).
    travel_source_
        ``"graph"`` when the travel component used road drive times (``DesignInputs.cost``), else ``"estimated"``
        (the drive-time module's crow-fly estimate).
    uncovered_
        What the plan leaves out because no rep is based in its region: ``{"regions": [...], "zips": n,
        "accounts": n, "potential": x}`` (named accounts count for their rep, not here).
    regions_
        One record per road region: ``region``, ``zips``, ``potential_share`` (of the units' potential), ``reps``
        (ids of the reps based there) and their ``capacity_share``.
    """

    def __init__(self, scenario: Scenario | str = "evenness", tolerance: float | None = None, seed: int = 0,
                 pin_top_n: int = 0, lock_homes: bool = False, max_seconds: float | None = None,
                 compute_bound: bool = True, thorough: bool = False, allow_cross_region: bool = False,
                 settings: DesignSettings | None = None) -> None:
        if isinstance(scenario, str):
            if scenario not in SCENARIOS:
                msg = f"`scenario` was {scenario!r} but is expected to be one of {list(SCENARIOS)}."
                raise TerritoryError(msg)
            scenario = SCENARIOS[scenario]
        if tolerance is not None:
            if not 0 < tolerance < 1:
                msg = f"`tolerance` was {tolerance} but is expected to be between 0 and 1 (0.05 = ±5 %)."
                raise TerritoryError(msg)
            scenario = replace(scenario, tolerance=float(tolerance))
        if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
                                        or max_seconds <= 0):
            msg = f"`max_seconds` was {max_seconds!r} but is expected to be a positive number of seconds (e.g. 30)."
            raise TerritoryError(msg)
        self.scenario = scenario
        self.seed = seed
        self.pin_top_n = pin_top_n
        self.lock_homes = lock_homes
        self.max_seconds = None if max_seconds is None else float(max_seconds)
        self.compute_bound = compute_bound
        if not isinstance(thorough, (bool, np.bool_)):
            msg = f"`thorough` was {thorough!r} but is expected to be true or false."
            raise TerritoryError(msg)
        self.thorough = bool(thorough)
        if not isinstance(allow_cross_region, (bool, np.bool_)):
            msg = f"`allow_cross_region` was {allow_cross_region!r} but is expected to be true or false."
            raise TerritoryError(msg)
        self.allow_cross_region = bool(allow_cross_region)
        if settings is not None and not isinstance(settings, DesignSettings):
            msg = f"`settings` was {settings!r} but is expected to be a DesignSettings (territory_geo.settings)."
            raise TerritoryError(msg)
        self.settings = settings or DesignSettings()

    # ------------------------------------------------------------------------------------------------------------

    def fit(self, inputs: DesignInputs) -> TerritoryDesigner:
        """Design the territories; results land in the attributes ending in ``_``."""
        start = time.perf_counter()
        split = RegionSplit.of(inputs)
        split.check(inputs, self.allow_cross_region)
        if self.allow_cross_region or split.single:
            self._fit_one(inputs, start)
        elif len(split.covered) == 1 and not split.idle_reps:  # one region designed, others left out
            self._fit_one(replace(inputs, units=inputs.units.within_regions(split.covered)), start)
        else:
            self._fit_regions(inputs, split, start)
        self.uncovered_ = {"regions": [], "zips": 0, "accounts": 0, "potential": 0.0} if self.allow_cross_region \
            else split.uncovered_record(inputs, self.named_)
        self.regions_ = split.records(inputs, self)
        if self.uncovered_["regions"]:
            self.message_ += " " + split.uncovered_note(self.uncovered_)
        return self

    def _clock_note(self) -> str:
        """What the message says when the time budget cut search steps short (nothing otherwise)."""
        if not self.clock_stops_:
            return ""
        return (f" The {self.max_seconds_:g} s time budget cut short: {', '.join(self.clock_stops_)}; the same seed "
                "may give another plan on a faster or slower machine (a larger time budget avoids that).")

    def _budget(self, n: int) -> float:
        """The time budget: ``max_seconds``, or the settings' default for ``n`` units (x ``thorough_budget`` when
        thorough)."""
        s = self.settings
        return self.max_seconds if self.max_seconds is not None else (
            s.large_seconds if n >= s.large_problem_units else s.default_seconds) * (
            s.thorough_budget if self.thorough else 1)

    def _fit_one(self, inputs: DesignInputs, start: float) -> None:
        """Design all of ``inputs`` as one (the engine without regions)."""
        problem = self._problem(inputs)
        k = len(problem.tids)
        self.kmeans_plan_ = plan_of(problem, kmeans(problem, self.seed))
        baseline = baseline_plan(problem, inputs.baseline)
        if self.scenario.start == "current":
            if baseline is None:
                msg = "The min-disruption scenario needs the current ownership (an owner column in the accounts)."
                raise TerritoryError(msg)
            assign = disruption_start(problem, baseline.assignment, self.scenario, self.seed, self.settings)
        else:
            assign = self._transport(problem)
        self.max_seconds_ = self._budget(problem.geo.n)
        search = self._search(problem, assign, baseline, start + self.max_seconds_)
        self.plan_ = plan_of(problem, search.assign)
        self.status_, self.message_ = search.verdict()
        self._balance_message = self.message_
        self.clock_stops_ = list(search.clock_stops)
        self.message_ += self._clock_note()
        self.summary_ = plan_summary(self.plan_, problem.shares, problem.homes, baseline, problem.unit_arr)
        self.summary_["max_dev_balance"] = float(np.abs(search.deviations()).max()) if k else 0.0
        self.table_ = territory_table(self.plan_, problem.shares, problem.homes,
                                      dict(zip(problem.tids, problem.rep_ids, strict=True)))
        self.kmeans_summary_ = plan_summary(self.kmeans_plan_, problem.shares, problem.homes)
        self.baseline_plan_ = baseline
        self.baseline_summary_ = None if baseline is None else plan_summary(
            baseline, problem.shares, problem.homes, baseline, problem.unit_arr)
        self.runtime_s_ = time.perf_counter() - start
        self.travel_source_ = "estimated" if inputs.cost is None else "graph"
        # the bound is a measurement of the result, not part of designing it: solved after the clock stops
        optimised = self.scenario.start != "current"
        self.lp_bound_km_ = lp_lower_bound(problem, self.settings.full_bound_variables) \
            if self.compute_bound and optimised else None
        self.problem_ = problem

    def _fit_regions(self, inputs: DesignInputs, split: RegionSplit, start: float) -> None:
        """Design each covered region for the reps based there (smallest first, each with its share of the time
        left), then report the whole against the global targets."""
        covered = replace(inputs, units=inputs.units.within_regions(split.covered))
        problem = self._problem(covered)
        self.max_seconds_ = self._budget(problem.geo.n)
        sizes = {r: int((split.unit == r).sum()) for r in split.covered}
        subs: dict[str, TerritoryDesigner] = {}
        for region in sorted(split.covered, key=lambda r: (sizes[r], r)):
            left = max(start + self.max_seconds_ - time.perf_counter(), 1e-3)
            share = sizes[region] / sum(sizes[r] for r in split.covered if r not in subs)
            sub = TerritoryDesigner(self.scenario, seed=self.seed, lock_homes=self.lock_homes,
                                    max_seconds=left * share, compute_bound=self.compute_bound,
                                    thorough=self.thorough, settings=self.settings)
            sub._fit_one(split.region_inputs(inputs, region, self.named_), time.perf_counter())
            subs[region] = sub
        problem = merged_problem(problem, subs.values())
        assign = merged(problem, subs.values(), lambda d: d.plan_.assignment)
        self.plan_ = plan_of(problem, assign)
        self.kmeans_plan_ = plan_of(problem, merged(problem, subs.values(), lambda d: d.kmeans_plan_.assignment))
        baseline = baseline_plan(problem, inputs.baseline)
        check = BalanceTally(problem, assign)
        dev = check.deviations()
        self.clock_stops_ = list(dict.fromkeys(c for d in subs.values() for c in d.clock_stops_))
        self.status_, self.message_ = regions_verdict(split, problem, check, subs, self.scenario)
        self._balance_message = self.message_
        self.message_ += self._clock_note()
        self.summary_ = plan_summary(self.plan_, problem.shares, problem.homes, baseline, problem.unit_arr)
        self.summary_["max_dev_balance"] = float(np.abs(dev).max())
        self.table_ = territory_table(self.plan_, problem.shares, problem.homes,
                                      dict(zip(problem.tids, problem.rep_ids, strict=True)))
        self.kmeans_summary_ = plan_summary(self.kmeans_plan_, problem.shares, problem.homes)
        self.baseline_plan_ = baseline
        self.baseline_summary_ = None if baseline is None else plan_summary(
            baseline, problem.shares, problem.homes, baseline, problem.unit_arr)
        self.runtime_s_ = time.perf_counter() - start
        self.travel_source_ = "estimated" if inputs.cost is None else "graph"
        self.lp_bound_km_ = merged_bound(subs.values())
        self.problem_ = problem

    def _search(self, problem: Problem, assign: np.ndarray, baseline_plan: Plan | None,
                deadline: float) -> LocalSearch:
        """Contiguity repair, balancing, distance re-splits and the compactness polish from a start assignment (locks
        applied); with ``thorough``, a region re-draw where territories are still beyond the tolerance."""
        assign = np.where(problem.locked >= 0, problem.locked, assign)
        search = LocalSearch(problem, assign, self.scenario, baseline=None if baseline_plan is None
                             else baseline_plan.assignment, deadline=deadline, seed=self.seed,
                             thorough=self.thorough, settings=self.settings)
        if self.thorough:  # the usual steps keep the usual budget; the re-draw gets the rest
            search.deadline = time.perf_counter() + (deadline - time.perf_counter()) / self.settings.thorough_budget
        search.repair_contiguity()
        search.balance()
        _shorten(search)
        _polish(search)
        search.deadline = deadline
        _redraw(search)
        return search

    def rep_assignment(self) -> pd.Series:
        """The designed plan as ZIP -> rep id."""
        rep_of = dict(zip(self.problem_.tids, self.problem_.rep_ids, strict=True))
        return self.plan_.to_series().map(rep_of)

    def raise_if_infeasible(self) -> TerritoryDesigner:
        """For automation: raise :class:`InfeasibleBalanceError` (with the reason and numbers) unless the plan is
        within tolerance; returns self otherwise."""
        if self.status_ != "ok":
            raise InfeasibleBalanceError(self.message_)
        return self

    # --- set-up --------------------------------------------------------------------------------------------------

    def _problem(self, inputs: DesignInputs) -> Problem:
        """The problem arrays of ``inputs``; notes the named accounts kept with their reps in :attr:`named_`."""
        problem, self.named_ = build_problem(inputs, self.scenario, self.pin_top_n, self.lock_homes)
        return problem

    def _transport(self, problem: Problem) -> np.ndarray:
        """The transport LP start, rounded (:func:`~territory_geo.design.start.transport`)."""
        return transport(problem, self.scenario.tolerance, self.seed, self.settings)


def design(inputs: DesignInputs, scenario: Scenario | str = "evenness", **options: Any) -> TerritoryDesigner:
    """Convenience: ``TerritoryDesigner(scenario, **options).fit(inputs)``."""
    return TerritoryDesigner(scenario, **options).fit(inputs)


# --- the steps after balancing ----------------------------------------------------------------------------------


def _shorten(search: LocalSearch) -> None:
    """Distance re-splits (:func:`~territory_geo.design.resplit.shorten`) when balancing left the plan well above the
    distance bound (:attr:`LocalSearch.distance_bound`), or where none applies, well above the distance the re-splits
    reach; within a share of the time budget, with the balance re-checked as after the polish."""
    if search.k < 2 or search.late("shorten"):
        return
    before = float(np.abs(search.deviations()).max())
    border = search.border_search()
    settings = search.settings
    deadline = min(search.deadline, time.perf_counter() + settings.shorten_share * (search.deadline - search.started))
    bound = search.distance_bound
    if bound is None:
        moved = shorten(border, deadline)
    else:
        moved = border.distance > settings.bound_trigger * bound and shorten_to(border, deadline,
                                                                                 settings.bound_stop * bound)
    if moved:
        search.adopt(border)
        search.rebalance_if_worse(before)
    else:
        search.discard(border)


def _polish(search: LocalSearch) -> None:
    """Compactness: annealed flips and balance-neutral swaps (:func:`~territory_geo.design.polish.anneal`) within the
    balance goal and a distance budget, then compactness re-splits of neighbouring pairs and greedy flips once more
    at no further distance; travel totals shift with every move, so the balance is checked exactly afterwards and
    restored if it drifted past the tolerance."""
    if search.k < 2 or search.late("polish"):
        return
    settings = search.settings
    before = float(np.abs(search.deviations()).max())
    border = search.border_search()
    bound = search.distance_bound
    if bound is not None:
        border.distance_cap = min(border.distance_cap, max(border.distance, settings.bound_cap * bound))
    steps = max(round(settings.polish_steps * search.scenario.compactness_weight), 0)
    anneal(border, search.deadline, steps=steps)
    if steps:  # compactness re-splits, then greedy flips to clean their borders, adding no more distance
        border.distance_cap = min(border.distance_cap, border.distance)
        share = settings.compact_share * (search.deadline - search.started)
        compact(border, min(search.deadline, time.perf_counter() + share))
        anneal(border, search.deadline, steps=0)
    search.adopt(border)
    search.rebalance_if_worse(before)


def _redraw(search: LocalSearch) -> None:
    """``thorough`` only: where territories are still beyond the tolerance after the polish, re-draw the region
    around them as one set-partitioning problem (:func:`~territory_geo.design.repartition.repartition`, with most of
    the time left), then polish once more."""
    if not search.thorough or search.k < 2 or np.abs(search.deviations()).max() <= search.tol + 1e-9 \
            or search.late("repartition"):
        return
    border = search.border_search()
    share = search.settings.redraw_share * (search.deadline - time.perf_counter())
    if repartition(border, time.perf_counter() + share, goal=search.tol):
        search.adopt(border)
        _polish(search)
    else:
        search.discard(border)
