"""Design engine: seeded k-means -> exact-balance transport LP (HiGHS) -> contiguity repair -> local search.

1. **Seed.** k-means on projected ZIP centroids, weighted by potential, started at the reps' homes
   (``KMeans(init=homes, n_init=1)``): cluster i -> rep i. Kept as the reference the engine must beat.
2. **Transport LP.** Assign units fractionally to reps so that every territory holds its capacity share of the
   balance measure (a band of half the tolerance) at the least potential-weighted distance to home. A basic
   solution splits at most K-1 units; each goes to its largest share. The LP objective is also the lower bound the
   benchmark reports distance against.
3. **Contiguity repair.** Pieces cut off from a territory's main piece join the neighbour they share most border
   with.
4. **Local search.** Boundary moves that keep the losing territory in one piece: planned flows of surplus along the
   territory graph, then diffusion balancing (surplus flows to any less-loaded neighbour, so it travels along
   chains of full territories), then ejection chains for lumpy units diffusion cannot place (each territory on a
   chain trades a unit, or a unit for a unit, so that it lands within the tolerance itself, until one with room
   absorbs the rest; :meth:`territory_geo.polish.CompactnessPolish.eject`), and last chains of re-splits, in
   which a territory and a neighbour are merged and cut in two again along a spanning tree
   (:meth:`territory_geo.polish.CompactnessPolish.recombine`).
5. **Distance re-splits** (:meth:`territory_geo.polish.CompactnessPolish.shorten`): when balancing left the plan
   well above the distance that re-splitting neighbouring pairs along their homes reaches, pairs are re-split
   until it is close to that. Where balance is on potential alone, the yardstick is instead a lower bound on the
   distance of any exactly balanced plan (:func:`dual_lower_bound`, the LP's Lagrangian dual, a fraction of a
   second): re-splits run only above 1.045 x it, down to 1.035 x.
6. **Compactness polish** (:mod:`territory_geo.polish`): annealed flips and balance-neutral swaps that raise
   Polsby-Popper compactness within the balance goal and a distance budget (and, with the bound, at most
   1.045 x it), then compactness re-splits
   (:meth:`territory_geo.polish.CompactnessPolish.compact`: pairs re-cut between their centroids at no extra
   distance) and greedy flips.

Scenarios are data (:class:`Scenario`): balance weights, tolerance, start (optimised or current ownership),
disruption budget, proximity weight. Locked ZIPs never move; named accounts count for their rep wherever they sit.

**Road regions** (:attr:`territory_geo.units.Units.region`: the lower 48 and DC, and each state outside them): no
road joins two, so unless ``allow_cross_region`` a unit only goes to a rep whose home is in its region. Each region
is designed on its own (its reps share its total by capacity, the targets it can reach), and the plan is reported
against the global targets; the verdict names any region whose reps' capacity share differs from its share of the
measure by more than the tolerance. Units of a region with no rep home are left out of the plan and reported
(:attr:`TerritoryDesigner.uncovered_`). With one region the engine runs exactly as without regions.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog, minimize
from sklearn.cluster import KMeans

from territory_geo.drivetime import Estimate
from territory_geo.errors import InfeasibleBalanceError, TerritoryError
from territory_geo.metrics import plan_summary, territory_table
from territory_geo.plan import METRICS, Geography, Plan, split_named_accounts
from territory_geo.polish import CompactnessPolish, past
from territory_geo.settings import DISPLAY_CRS, EQUAL_AREA_CRS, CapacitySettings, DriveTimeSettings
from territory_geo.units import Units, point_regions

#: Balance components: the four additive unit figures plus travel (hours a year from the rep's home).
COMPONENTS: tuple[str, ...] = (*METRICS, "travel")



@dataclass(frozen=True)
class Scenario:
    """A design objective as data.

    Attributes
    ----------
    name, label
        Short key (CLI) and display name.
    weights
        Weights of the balance measure over :data:`COMPONENTS` (normalised to sum to 1).
    tolerance
        Allowed deviation of each territory's balance measure from its target (0.05 = ±5 %).
    start
        ``"optimize"`` (k-means + LP) or ``"current"`` (today's ownership; move only what the tolerance demands:
        the search starts from the balanced transport LP with the least ARR changing owner).
    disruption_budget
        Max share of ARR allowed to change owner (``start="current"`` only); None = no limit.
    proximity_weight, compactness_weight
        Weights of travel distance and of border length in the local search.
    """

    name: str
    label: str
    weights: dict[str, float]
    tolerance: float
    start: str = "optimize"
    disruption_budget: float | None = None
    proximity_weight: float = 1.0
    compactness_weight: float = 1.0

    def normalised_weights(self) -> dict[str, float]:
        """Weights over :data:`COMPONENTS`, summing to 1."""
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            msg = f"Unknown balance component(s) {unknown}; allowed: {list(COMPONENTS)}."
            raise TerritoryError(msg)
        total = sum(max(v, 0.0) for v in self.weights.values())
        if total <= 0:
            msg = "Balance weights must have a positive sum."
            raise TerritoryError(msg)
        return {c: max(self.weights.get(c, 0.0), 0.0) / total for c in COMPONENTS}


_BLEND = {"potential": 0.4, "workload_units": 0.3, "travel": 0.3}  # the domain's published example
SCENARIOS: dict[str, Scenario] = {
    "evenness": Scenario("evenness", "A · Max revenue evenness", {"potential": 1.0}, 0.025),
    "disruption": Scenario("disruption", "B · Min disruption", dict(_BLEND), 0.05, start="current"),
    "proximity": Scenario("proximity", "C · Max rep proximity", dict(_BLEND), 0.15, proximity_weight=4.0),
    "blend": Scenario("blend", "D · Balanced blend (40/30/30)", dict(_BLEND), 0.05),
}


@dataclass
class DesignInputs:
    """What a design run needs.

    Attributes
    ----------
    units
        ZIP units (:func:`territory_geo.units.build_units`).
    scored
        Scored accounts (same index as ``units.account_zip``).
    reps
        Validated reps: ``rep_id``, ``home_lat``, ``home_lon``, ``capacity``.
    baseline
        Current ownership, ZIP -> rep id (:func:`territory_geo.units.ownership_by_zip`); needed for "current" starts
        and disruption metrics.
    locks
        ZIP -> rep id that must not change.
    named
        Account id -> rep id: accounts that stay with that rep wherever they sit.
    cost
        Optional unit x rep travel cost (minutes one way, e.g. road drive times), indexed by ZIP with rep ids as
        columns. When given it replaces the crow-fly estimate in the travel component, and proximity (the LP's
        cost, the search's distance to home) ranks homes by it instead of by straight-line distance.
    """

    units: Units
    scored: pd.DataFrame
    reps: pd.DataFrame
    baseline: pd.Series | None = None
    locks: dict[str, str] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)
    cost: pd.DataFrame | None = None


def territory_id(rep_id: str) -> str:
    """Territory id of a rep's territory."""
    return f"T-{rep_id}"


def pinned_accounts(scored: pd.DataFrame, top_n: int) -> dict[str, str]:
    """Relationship protection: each owner's top ``top_n`` accounts by ARR, pinned to that owner."""
    if top_n <= 0 or "owner_rep_id" not in scored.columns:
        return {}
    owned = scored.dropna(subset=["owner_rep_id"]).sort_values(["owner_rep_id", "arr", "account_id"],
                                                                  ascending=[True, False, True])
    top = owned[owned["arr"] > 0].groupby("owner_rep_id").head(top_n)
    return dict(zip(top["account_id"].astype(str), top["owner_rep_id"].astype(str), strict=True))


def _project(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    import geopandas as gpd

    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=DISPLAY_CRS).to_crs(EQUAL_AREA_CRS)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


@dataclass
class _Problem:
    """Arrays the optimiser works on (built once per run)."""

    geo: Geography
    rep_ids: list[str]
    tids: list[str]
    homes: np.ndarray  # K x 2 (m)
    shares: np.ndarray  # K, capacity shares
    dist: np.ndarray  # n x K km
    comp: np.ndarray  # n x K x C: per-unit component values for each rep (travel depends on the rep)
    fixed: np.ndarray  # K x C
    weights: np.ndarray  # C
    weight_u: np.ndarray  # n, potential + epsilon: proximity weight
    locked: np.ndarray  # n, rep position or -1
    fixed_frame: pd.DataFrame
    unit_arr: np.ndarray
    road_times: bool = False  # proximity is drive time (a cost matrix), not straight-line distance


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
        Time budget of the whole design, counted from the start of :meth:`fit` (None: 30 s, or 60 s from
        :data:`LARGE_PROBLEM_UNITS` ZIPs on, where the national search needs the time to reach its last balancing
        step; times :data:`THOROUGH_BUDGET` when ``thorough``). The resolved value is :attr:`max_seconds_`.
    compute_bound
        Solve the exact-balance LP for :attr:`lp_bound_km_`.
    centre_blend, centre_iterations
        After the first transport solve, re-solve ``centre_iterations`` times with each territory's centre moved to
        ``centre_blend`` x home + (1 - centre_blend) x the territory's area centroid: more compact territories for a
        little distance (measured with one iteration: PP up to +0.05, distance still within 1.05 x the LP bound).
    thorough
        Where the search leaves territories beyond the tolerance (lumpy ZIPs, each a large share of a target), re-draw
        the region around them as one set-partitioning problem (:mod:`territory_geo.repartition`). Slower: the
        time budget is :data:`THOROUGH_BUDGET` times longer by default: the usual steps keep their usual share of it,
        and the re-draw, after the polish, may take most of the rest.
    allow_cross_region
        Let territories span road regions (Alaska, Hawaii, Puerto Rico, ... and the lower 48, which no road joins):
        the whole country is designed as one, and units of a region without a rep join the nearest territory. Off
        by default: each region is designed for the reps based there.

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
                 compute_bound: bool = True, centre_blend: float = 0.5, centre_iterations: int = 1,
                 thorough: bool = False, allow_cross_region: bool = False) -> None:
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
        self.centre_blend = centre_blend
        self.centre_iterations = centre_iterations
        if not isinstance(thorough, (bool, np.bool_)):
            msg = f"`thorough` was {thorough!r} but is expected to be true or false."
            raise TerritoryError(msg)
        self.thorough = bool(thorough)
        if not isinstance(allow_cross_region, (bool, np.bool_)):
            msg = f"`allow_cross_region` was {allow_cross_region!r} but is expected to be true or false."
            raise TerritoryError(msg)
        self.allow_cross_region = bool(allow_cross_region)

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
        """The time budget: ``max_seconds``, or 30 s (60 s from :data:`LARGE_PROBLEM_UNITS` units), x
        :data:`THOROUGH_BUDGET` when thorough."""
        return self.max_seconds if self.max_seconds is not None else (
            60.0 if n >= LARGE_PROBLEM_UNITS else 30.0) * (THOROUGH_BUDGET if self.thorough else 1)

    def _fit_one(self, inputs: DesignInputs, start: float) -> None:
        """Design all of ``inputs`` as one (the engine without regions)."""
        problem = self._problem(inputs)
        k = len(problem.tids)
        self.kmeans_plan_ = self._plan(problem, self._kmeans(problem))
        baseline_plan = self._baseline_plan(problem, inputs.baseline)
        if self.scenario.start == "current":
            if baseline_plan is None:
                msg = "The min-disruption scenario needs the current ownership (an owner column in the accounts)."
                raise TerritoryError(msg)
            assign = self._disruption_start(problem, baseline_plan.assignment)
        else:
            assign = self._transport(problem)
        self.max_seconds_ = self._budget(problem.geo.n)
        search = self._search(problem, assign, baseline_plan, start + self.max_seconds_)
        self.plan_ = self._plan(problem, search.assign)
        self.status_, self.message_ = search.verdict()
        self._balance_message = self.message_
        self.clock_stops_ = list(search.clock_stops)
        self.message_ += self._clock_note()
        self.summary_ = plan_summary(self.plan_, problem.shares, problem.homes, baseline_plan, problem.unit_arr)
        self.summary_["max_dev_balance"] = float(np.abs(search.deviations()).max()) if k else 0.0
        self.table_ = territory_table(self.plan_, problem.shares, problem.homes,
                                      dict(zip(problem.tids, problem.rep_ids, strict=True)))
        self.kmeans_summary_ = plan_summary(self.kmeans_plan_, problem.shares, problem.homes)
        self.baseline_plan_ = baseline_plan
        self.baseline_summary_ = None if baseline_plan is None else plan_summary(
            baseline_plan, problem.shares, problem.homes, baseline_plan, problem.unit_arr)
        self.runtime_s_ = time.perf_counter() - start
        self.travel_source_ = "estimated" if inputs.cost is None else "graph"
        # the bound is a measurement of the result, not part of designing it: solved after the clock stops
        optimised = self.scenario.start != "current"
        self.lp_bound_km_ = lp_lower_bound(problem) if self.compute_bound and optimised else None
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
                                    centre_blend=self.centre_blend, centre_iterations=self.centre_iterations,
                                    thorough=self.thorough)
            sub._fit_one(split.region_inputs(inputs, region, self.named_), time.perf_counter())
            subs[region] = sub
        problem = _merged_problem(problem, subs.values())
        assign = _merged(problem, subs.values(), lambda d: d.plan_.assignment)
        self.plan_ = self._plan(problem, assign)
        self.kmeans_plan_ = self._plan(problem, _merged(problem, subs.values(), lambda d: d.kmeans_plan_.assignment))
        baseline_plan = self._baseline_plan(problem, inputs.baseline)
        check = _LocalSearch(problem, assign, self.scenario, baseline=None, deadline=np.inf)
        dev = check.deviations()
        self.clock_stops_ = list(dict.fromkeys(c for d in subs.values() for c in d.clock_stops_))
        self.status_, self.message_ = split.verdict(problem, check, subs, self.scenario)
        self._balance_message = self.message_
        self.message_ += self._clock_note()
        self.summary_ = plan_summary(self.plan_, problem.shares, problem.homes, baseline_plan, problem.unit_arr)
        self.summary_["max_dev_balance"] = float(np.abs(dev).max())
        self.table_ = territory_table(self.plan_, problem.shares, problem.homes,
                                      dict(zip(problem.tids, problem.rep_ids, strict=True)))
        self.kmeans_summary_ = plan_summary(self.kmeans_plan_, problem.shares, problem.homes)
        self.baseline_plan_ = baseline_plan
        self.baseline_summary_ = None if baseline_plan is None else plan_summary(
            baseline_plan, problem.shares, problem.homes, baseline_plan, problem.unit_arr)
        self.runtime_s_ = time.perf_counter() - start
        self.travel_source_ = "estimated" if inputs.cost is None else "graph"
        self.lp_bound_km_ = _merged_bound(subs.values())
        self.problem_ = problem

    def _search(self, problem: _Problem, assign: np.ndarray, baseline_plan: Plan | None,
                deadline: float) -> _LocalSearch:
        """Contiguity repair, balancing, distance re-splits and the compactness polish from a start assignment (locks
        applied); with ``thorough``, a region re-draw where territories are still beyond the tolerance."""
        assign = np.where(problem.locked >= 0, problem.locked, assign)
        search = _LocalSearch(problem, assign, self.scenario, baseline=None if baseline_plan is None
                              else baseline_plan.assignment, deadline=deadline, seed=self.seed,
                              thorough=self.thorough)
        if self.thorough:  # the usual steps keep the usual budget; the re-draw gets the rest
            search.deadline = time.perf_counter() + (deadline - time.perf_counter()) / THOROUGH_BUDGET
        search.repair_contiguity()
        search.balance()
        search.shorten()
        search.polish()
        search.deadline = deadline
        search.redraw()
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

    def _problem(self, inputs: DesignInputs) -> _Problem:
        reps = inputs.reps.dropna(subset=["home_lat", "home_lon"]).reset_index(drop=True)
        if reps.empty:
            msg = "No rep has a home base; add home ZIPs or coordinates to the reps file."
            raise TerritoryError(msg)
        rep_ids = reps["rep_id"].astype(str).tolist()
        tids = [territory_id(r) for r in rep_ids]
        rep_pos = {r: i for i, r in enumerate(rep_ids)}
        capacity = reps["capacity"].astype(float).fillna(CapacitySettings().full_capacity_units).to_numpy()
        shares = capacity / capacity.sum()

        named = self._named(inputs, rep_ids)
        self.named_ = named
        unit_values, fixed = split_named_accounts(inputs.units, inputs.scored, {a: territory_id(r)
                                                                              for a, r in named.items()})
        geo = Geography.from_units(inputs.units, unit_values)
        homes = _project(reps["home_lon"].to_numpy(float), reps["home_lat"].to_numpy(float))
        dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0

        visits = self._visits(inputs, geo, named)
        if inputs.cost is not None:
            minutes = inputs.cost.reindex(index=geo.zips, columns=rep_ids)
            if minutes.isna().any().any():
                msg = "The travel cost matrix does not cover every ZIP unit and rep."
                raise TerritoryError(msg)
            hours = 2 * minutes.to_numpy(float) / 60.0
            # proximity in drive time: minutes expressed as km at the data's median crow-fly speed, so the LP, the
            # search and the distance budget keep their scale while ranking homes by road time
            speed = float(np.median(dist[hours > 0] / hours[hours > 0] * 2)) if (hours > 0).any() else 1.0
            dist = hours / 2 * speed
        else:  # the drive-time module's crow-fly estimate, per urban / suburban / rural class of each ZIP
            classes = inputs.units.table["area_class"].reindex(geo.zips).fillna("suburban").to_numpy(dtype=object)
            hours = 2 * Estimate.default().minutes(dist.T, classes).T / 60.0
        travel = visits[:, None] * hours  # hours a year
        n, k = geo.n, len(rep_ids)
        comp = np.empty((n, k, len(COMPONENTS)))
        comp[:, :, :len(METRICS)] = geo.values[:, None, :]
        comp[:, :, len(METRICS)] = travel
        fixed_arr = np.zeros((k, len(COMPONENTS)))
        for t, row in fixed.iterrows():
            fixed_arr[tids.index(str(t)), :len(METRICS)] = row[list(METRICS)].to_numpy(float)
        weights = np.array([self.scenario.normalised_weights()[c] for c in COMPONENTS])

        locked = np.full(n, -1, dtype=np.int64)
        if self.lock_homes:
            home_units = np.argmin(np.hypot(geo.xy[:, None, 0] - homes[None, :, 0],
                                            geo.xy[:, None, 1] - homes[None, :, 1]), axis=0)
            for r, u in enumerate(home_units):
                if locked[u] < 0:
                    locked[u] = r
        for zip5, rep in inputs.locks.items():
            if rep not in rep_pos:
                msg = f"ZIP {zip5} is locked to rep {rep!r}, who is not in the reps file."
                raise TerritoryError(msg)
            locked[geo.position(zip5)] = rep_pos[rep]
        pot = geo.values[:, 0]
        weight_u = pot + 0.01 * max(pot.mean(), 1e-9)
        return _Problem(geo=geo, rep_ids=rep_ids, tids=tids, homes=homes, shares=shares, dist=dist, comp=comp,
                        fixed=fixed_arr, weights=weights, weight_u=weight_u, locked=locked, fixed_frame=fixed,
                        unit_arr=inputs.units.table["arr"].reindex(geo.zips).to_numpy(float),
                        road_times=inputs.cost is not None)

    def _named(self, inputs: DesignInputs, rep_ids: list[str]) -> dict[str, str]:
        """Named accounts (given, plus each owner's pinned top accounts) of the reps in ``rep_ids``."""
        named = dict(pinned_accounts(inputs.scored, self.pin_top_n))
        named.update(inputs.named)
        return {a: r for a, r in named.items() if r in set(rep_ids)}

    @staticmethod
    def _visits(inputs: DesignInputs, geo: Geography, named: dict[str, str]) -> np.ndarray:
        """In-person visits a year per unit: touchpoints x the in-person share (named accounts excluded)."""
        if "touchpoints" not in inputs.scored.columns:
            return np.zeros(geo.n)
        keep = ~inputs.scored["account_id"].astype(str).isin(set(named))
        per_zip = inputs.scored.loc[keep, "touchpoints"].groupby(inputs.units.account_zip[keep]).sum()
        return per_zip.reindex(geo.zips).fillna(0.0).to_numpy(float) * DriveTimeSettings().in_person_share

    def _plan(self, problem: _Problem, assign: np.ndarray) -> Plan:
        return Plan(problem.geo, assign, problem.tids, fixed=problem.fixed_frame)

    @staticmethod
    def _baseline_plan(problem: _Problem, baseline: pd.Series | None) -> Plan | None:
        if baseline is None or baseline.empty:
            return None
        pos = {r: i for i, r in enumerate(problem.rep_ids)}
        owner = baseline.reindex(problem.geo.zips).map(lambda r: pos.get(str(r), -1) if isinstance(r, str) else -1)
        assign = owner.to_numpy(dtype=np.int64).copy()
        if (assign < 0).any():  # units of reps who left: nearest remaining home
            assign[assign < 0] = problem.dist[assign < 0].argmin(axis=1)
        return Plan(problem.geo, assign, problem.tids, fixed=problem.fixed_frame)

    def _kmeans(self, problem: _Problem) -> np.ndarray:
        km = KMeans(n_clusters=len(problem.tids), init=problem.homes, n_init=1, random_state=self.seed)
        return km.fit(problem.geo.xy, sample_weight=problem.weight_u).labels_.astype(np.int64)

    def _transport(self, problem: _Problem) -> np.ndarray:
        """The transport LP, rounded: each unit goes to the territory holding its largest share.

        Cost is potential x squared distance: the LP then assigns by a power diagram (straight borders, convex
        cells), which keeps territories compact and nearly contiguous. Every unit carries a sliver of measure
        (1 % of the mean) so that units without potential are priced like the rest and follow the same borders
        instead of scattering to the nearest home. Above :data:`_LP_MAX_PAIRS` unit x candidate pairs (national
        scale) the variables come from the same LP solved on clusters of units first (:func:`_coarse_candidates`).
        """
        n, k = problem.geo.n, len(problem.tids)
        tp = _transport_problem(problem)
        pairs = None if n * min(k, 24) <= _LP_MAX_PAIRS else _coarse_candidates(tp, problem.geo, self.seed)
        # the centre re-solve pulls towards geometric middles, which means nothing for road times
        labels = self._solve_lp(tp, pairs, 0 if problem.road_times else self.centre_iterations)
        return self._kmeans(problem) if labels is None else labels

    def _disruption_start(self, problem: _Problem, owner: np.ndarray) -> np.ndarray:
        """Where the min-disruption search starts: the least-churn balanced LP (:meth:`_keep_owners`), or today's
        ownership itself when that LP would already move more ARR than the disruption budget allows (the search
        then moves what the budget permits and reports the rest)."""
        start = self._keep_owners(problem, owner)
        budget = self.scenario.disruption_budget
        if budget is not None:
            moved = float(problem.unit_arr[start != owner].sum())
            if moved > budget * max(float(problem.unit_arr.sum()), 1e-9):
                return owner.copy()
        return start

    def _keep_owners(self, problem: _Problem, owner: np.ndarray) -> np.ndarray:
        """Minimum disruption as a transport LP, rounded: the least ARR changing owner (plus a tenth as much
        potential x squared distance, so units without ARR follow compact borders) that puts every territory
        within half the tolerance. Each unit may stay with its owner or go to one of its 24 nearest homes; above
        :data:`_LP_MAX_PAIRS` pairs (national scale), to a neighbouring unit's owner or a rep of the clustered
        transport LP's candidates (:func:`_coarse_candidates`)."""
        n, k = problem.geo.n, len(problem.tids)
        tp = _transport_problem(problem)
        if n * min(k, 24) > _LP_MAX_PAIRS:
            geo = problem.geo
            coarse_rows, coarse_cols = _coarse_candidates(tp, geo, self.seed)
            rows = [coarse_rows, np.arange(n), np.repeat(np.arange(n), np.diff(geo.indptr))]
            cols = [coarse_cols, owner, owner[geo.indices]]
        else:
            nearest = np.argsort(problem.dist, axis=1, kind="stable")[:, :min(k, 24)]
            rows = [np.repeat(np.arange(n), nearest.shape[1]), np.arange(n)]
            cols = [nearest.ravel(), owner]
        pairs = np.unique(np.column_stack([np.concatenate(rows), np.concatenate(cols)]), axis=0)
        churn = np.where(np.arange(k)[None, :] == owner[:, None], 0.0, problem.unit_arr[:, None])
        churn = churn / max(float(problem.unit_arr.mean()), 1e-9)
        proximity = tp.weight[:, None] * problem.dist ** 2
        proximity = proximity / max(float(proximity[np.arange(n), owner].mean()), 1e-300)
        x = _solve_transport(tp, churn + 0.1 * proximity, band=self.scenario.tolerance / 2,
                             candidates=(pairs[:, 0], pairs[:, 1]))
        return owner.copy() if x is None else np.asarray(x.argmax(axis=1)).ravel().astype(np.int64)

    def _solve_lp(self, tp: _Transport, pairs: tuple[np.ndarray, np.ndarray] | None,
                  centre_iterations: int) -> np.ndarray | None:
        """Labels of the rounded transport LP with the centre re-solves, or None when no band up to 4x is feasible.

        ``pairs`` restricts the variables to given (unit, rep) pairs (national scale); otherwise each unit's 24
        nearest homes are tried first, then 64, then all (remote reps may need units farther away)."""
        k = len(tp.homes)
        band = self.scenario.tolerance / 2
        dist2 = tp.dist ** 2
        x = None
        tries: list[int | tuple[np.ndarray, np.ndarray]] = [pairs] if pairs is not None else \
            sorted({min(k, 24), min(k, 64), k})
        for candidates in tries:
            x = _solve_transport(tp, dist2 * tp.weight[:, None], band=band, candidates=candidates,
                                 widen=(1, 2, 4) if candidates is tries[-1] else (1,))
            if x is not None:
                break
        if x is None:
            return None
        for _ in range(centre_iterations):  # pull each territory's centre towards its own middle
            labels = np.asarray(x.argmax(axis=1)).ravel()
            middle = np.array([np.average(tp.xy[labels == t], axis=0, weights=tp.area[labels == t])
                               if (labels == t).any() else tp.homes[t] for t in range(k)])
            centres = self.centre_blend * tp.homes + (1 - self.centre_blend) * middle
            d2 = ((tp.xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2) / 1e6
            again = _solve_transport(tp, d2 * tp.weight[:, None], band=band, candidates=candidates)
            if again is None:
                break
            x = again
        return np.asarray(x.argmax(axis=1)).ravel().astype(np.int64)


# --- road regions ------------------------------------------------------------------------------------------------

_CROSS_REGION_FIX = "allow territories across regions (allow_cross_region)"


@dataclass(frozen=True)
class RegionSplit:
    """The road regions of a design: each unit's (:attr:`territory_geo.units.Units.region`) and each homed rep's
    (the region of the home's nearest ZIP, :func:`territory_geo.units.point_regions`).

    Attributes
    ----------
    unit
        ZIP -> region of every unit.
    rep
        Rep id -> region of the rep's home, for the reps that have one.
    """

    unit: pd.Series
    rep: pd.Series

    @classmethod
    def of(cls, inputs: DesignInputs) -> RegionSplit:
        """The regions of a design's units and reps."""
        homed = inputs.reps.dropna(subset=["home_lat", "home_lon"])
        rep = pd.Series(point_regions(homed["home_lon"].to_numpy(float), homed["home_lat"].to_numpy(float)),
                        index=homed["rep_id"].astype(str).to_numpy(), dtype=object)
        return cls(unit=inputs.units.region.astype(object), rep=rep)

    @property
    def single(self) -> bool:
        """Whether every unit and every home lies in one region (the engine then runs as without regions)."""
        return len(set(self.unit) | set(self.rep)) <= 1

    @property
    def covered(self) -> list[str]:
        """Regions with units and at least one rep based there."""
        return sorted(set(self.unit) & set(self.rep))

    @property
    def uncovered(self) -> list[str]:
        """Regions with units but no rep based there."""
        return sorted(set(self.unit) - set(self.rep))

    @property
    def idle_reps(self) -> list[str]:
        """Reps based in a region with no unit of the design."""
        return [r for r, region in self.rep.items() if region not in set(self.unit)]

    def check(self, inputs: DesignInputs, allow_cross_region: bool) -> None:
        """Refuse, before anything runs, a design no plan can satisfy: no rep with a home, fewer ZIP areas than reps
        (in all, or in a region for the reps based there), a ZIP locked to a rep based in another region."""
        n, k = len(self.unit), len(self.rep)
        if k == 0:
            msg = "No rep has a home base; add home ZIPs or coordinates to the reps file."
            raise TerritoryError(msg)
        if n < k:
            msg = (f"{n:,} ZIP areas for {k:,} reps: every rep needs at least one ZIP area. Remove reps from the "
                   "roster, or load finer ZIP polygons (--zip-areas on the command line, the ZIP/ZCTA polygons "
                   "upload in the app) so that there are at least as many ZIP areas as reps.")
            raise TerritoryError(msg)
        if allow_cross_region or self.single:
            return
        problems = []
        for region in self.covered:
            reps = [r for r, g in self.rep.items() if g == region]
            zips = int((self.unit == region).sum())
            if zips < len(reps):
                problems.append(f"{region}: {zips:,} ZIP area(s) for {len(reps)} reps based there "
                                f"({_names(reps)}): every rep needs at least one ZIP area of their own region. "
                                "Remove reps or move their home bases, or load finer ZIP polygons (--zip-areas).")
        for zip5, rep in inputs.locks.items():
            zone, home = self.unit.get(zip5), self.rep.get(rep)
            if zone is not None and home is not None and zone != home:
                problems.append(f"ZIP {zip5} ({zone}) is locked to rep {rep}, whose home is in {home}: unlock it "
                                f"or lock it to a rep based in {zone}.")
        if problems:
            problems.append("No road joins one region to another, so territories stay inside their region unless "
                            f"you {_CROSS_REGION_FIX}.")
            msg = " ".join(problems)
            raise TerritoryError(msg)

    def region_inputs(self, inputs: DesignInputs, region: str, named: dict[str, str]) -> DesignInputs:
        """The design inputs of one region: its units, the reps based there, their named accounts and locks (the
        accounts named to other reps are taken out, as they count for those reps)."""
        reps = {r for r, g in self.rep.items() if g == region}
        elsewhere = {a for a, r in named.items() if r not in reps}
        scored = inputs.scored[~inputs.scored["account_id"].astype(str).isin(elsewhere)]
        units = inputs.units.within_regions([region])
        units = replace(units, account_zip=units.account_zip.reindex(scored.index))
        baseline = None if inputs.baseline is None else inputs.baseline[inputs.baseline.index.isin(
            units.table.index)]
        return DesignInputs(units=units, scored=scored, reps=inputs.reps[inputs.reps["rep_id"].astype(str).isin(reps)],
                            baseline=baseline, locks={z: r for z, r in inputs.locks.items() if r in reps},
                            named={a: r for a, r in named.items() if r in reps}, cost=inputs.cost)

    def verdict(self, problem: _Problem, check: _LocalSearch, subs: dict[str, TerritoryDesigner],
                scenario: Scenario) -> tuple[str, str]:
        """Status and message of a plan designed region by region, against the global targets: regions whose reps'
        capacity share differs from the share of the measure they hold by more than the tolerance, the regions'
        own verdicts, and reps based where the design has no unit."""
        tol = scenario.tolerance
        dev = check.deviations()
        totals = check.comp_tally.sum(axis=0)
        held = (check.comp_tally / np.where(totals > 0, totals, 1.0)) @ check.weights
        what = "the potential" if np.count_nonzero(check.weights) == 1 and check.weights[0] > 0 else \
            "the balance measure"
        home = self.rep.reindex(problem.rep_ids).to_numpy(dtype=object)
        reasons = []
        worst_first = sorted(self.covered, key=lambda g: -float(np.abs(dev[home == g]).max()))
        for region in worst_first:
            members = np.flatnonzero(home == region)
            capacity, got = float(problem.shares[members].sum()), float(held[members].sum())
            if abs(got / capacity - 1.0) > tol + 1e-9:
                tids = [problem.tids[i] for i in members]
                one = len(members) == 1
                low, high = f"{dev[members].min():+.0%}", f"{dev[members].max():+.0%}"
                span = low if low == high else f"{high} to {low}"
                reasons.append(f"{region} holds {got:.1%} of {what} but its {len(members)} rep{'' if one else 's'} "
                               f"{'is' if one else 'are'} {capacity:.1%} of capacity: {_names(tids)} cannot come within "
                               f"±{tol:.1%} of {'its target' if one else 'their targets'} ({span}).")
        reasons += [f"Within {region}: {sub._balance_message}" for region, sub in subs.items() if sub.status_ != "ok"]
        for rep in self.idle_reps:
            reasons.append(f"Rep {rep}'s home is in {self.rep[rep]}, where the design has no ZIP area: "
                           f"{territory_id(rep)} gets no territory. Move the home base, or {_CROSS_REGION_FIX}.")
        if np.abs(dev).max() <= tol + 1e-9 and not reasons:
            return "ok", (f"All {len(dev)} territories are within ±{tol:.1%} of their targets, each inside its road "
                          f"region ({', '.join(self.covered)}).")
        if not reasons:
            worst = int(np.argmax(np.abs(dev)))
            reasons.append(f"Territory {problem.tids[worst]} is {dev[worst]:+.1%} from its target (tolerance "
                           f"±{tol:.1%}).")
        return "infeasible", " ".join(reasons)

    def uncovered_record(self, inputs: DesignInputs, named: dict[str, str]) -> dict[str, Any]:
        """What no territory covers: the regions without a rep, their ZIP count, and their accounts and potential
        (named accounts excluded: they count for their rep)."""
        zips = set(self.unit.index[self.unit.isin(self.uncovered)])
        inside = inputs.units.account_zip.reindex(inputs.scored.index).isin(zips)
        mask = inside & ~inputs.scored["account_id"].astype(str).isin(set(named))
        return {"regions": self.uncovered, "zips": len(zips), "accounts": int(mask.sum()),
                "potential": float(inputs.scored.loc[mask, "potential"].sum())}

    def uncovered_note(self, record: dict[str, Any]) -> str:
        """The sentence naming what the plan leaves out (:meth:`uncovered_record`)."""
        regions = record["regions"]
        names = regions[0] if len(regions) == 1 else ", ".join(regions[:-1]) + f" and {regions[-1]}"
        one = len(regions) == 1
        return (f"{names} {'has' if one else 'have'} no rep based there: {'its' if one else 'their'} "
                f"{record['zips']:,} ZIP areas ({record['accounts']:,} accounts, ${record['potential']:,.0f} potential) "
                f"are left out of the plan. Add a rep based there, or {_CROSS_REGION_FIX} to give them to the nearest "
                "territory.")

    def records(self, inputs: DesignInputs, designer: TerritoryDesigner) -> list[dict[str, Any]]:
        """One record per region: its ZIP areas, its share of their potential, the reps based there and their
        share of the capacity."""
        shares = dict(zip(designer.problem_.rep_ids, designer.problem_.shares.tolist(), strict=True))
        potential = inputs.units.table["potential"].groupby(self.unit).sum()
        total = max(float(potential.sum()), 1e-12)
        out = []
        for region in sorted(set(self.unit) | set(self.rep)):
            reps = sorted(r for r, g in self.rep.items() if g == region)
            out.append({"region": region, "zips": int((self.unit == region).sum()),
                        "potential_share": float(potential.get(region, 0.0)) / total, "reps": reps,
                        "capacity_share": float(sum(shares.get(r, 0.0) for r in reps))})
        return out


def _names(ids: list[str], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _merged(problem: _Problem, subs: Iterable[TerritoryDesigner],
            labels_of: Callable[[TerritoryDesigner], np.ndarray]) -> np.ndarray:
    """Rep positions of ``problem`` for every unit, from the regions' designs (``labels_of(design)``: their own
    positions, -1 for none)."""
    pos = {z: i for i, z in enumerate(problem.geo.zips.tolist())}
    rep_pos = {r: i for i, r in enumerate(problem.rep_ids)}
    out = np.full(problem.geo.n, -1, dtype=np.int64)
    for sub in subs:
        idx = np.array([pos[z] for z in sub.problem_.geo.zips.tolist()], dtype=np.int64)
        to_global = np.array([rep_pos[r] for r in sub.problem_.rep_ids], dtype=np.int64)
        labels = np.asarray(labels_of(sub), dtype=np.int64)
        out[idx] = np.where(labels >= 0, to_global[np.maximum(labels, 0)], -1)
    return out


def _merged_problem(problem: _Problem, subs: Iterable[TerritoryDesigner]) -> _Problem:
    """The whole design's problem with the locks the regions' designs used."""
    return replace(problem, locked=_merged(problem, subs, lambda d: d.problem_.locked))


def _merged_bound(subs: Iterable[TerritoryDesigner]) -> float | None:
    """The regions' LP bounds combined, weighted by their potential (None if any region has none)."""
    parts = [(sub.lp_bound_km_, float(sub.problem_.geo.values[:, 0].sum())) for sub in subs]
    if any(bound is None for bound, _ in parts):
        return None
    total = sum(weight for _, weight in parts)
    return float(sum(bound * weight for bound, weight in parts) / total) if total > 0 else float("nan")


def _transport_problem(problem: _Problem) -> _Transport:
    """The transport LP's arrays for a problem. Travel depends on the assignment itself, so the LP balances the
    other components (renormalised) and the local search brings travel in. Every unit carries a sliver of measure
    (1 % of the mean) so that units without potential are priced like the rest."""
    weights = problem.weights.copy()
    weights[-1] = 0.0
    weights = weights / weights.sum() if weights.sum() > 0 else np.eye(len(COMPONENTS))[0]
    problem = replace(problem, weights=weights)
    measure = _measure(problem)
    sliver = 0.01 * measure.mean()
    target = _targets(problem, measure) + problem.shares * sliver * problem.geo.n
    return _Transport(dist=problem.dist, xy=problem.geo.xy, area=problem.geo.area, homes=problem.homes,
                      weight=problem.weight_u, measure=measure + sliver, target=target,
                      fixed=(problem.fixed / _norms(problem)) @ problem.weights, locked=problem.locked)


#: Above this many unit x candidate pairs the transport LP is solved in two levels (:func:`_coarse_candidates`):
#: HiGHS needed more than 5 minutes for 30,000 ZIPs x 24 candidate reps, and remote reps need more than 24.
_LP_MAX_PAIRS = 250_000

#: Clusters of the coarse level: 1,000 clusters x 200 reps solve in a few seconds.
_COARSE_CLUSTERS = 1_000


@dataclass
class _Transport:
    """Arrays of one transport problem (the ZIP units, or the clusters of the national coarse level).

    Attributes
    ----------
    dist
        ``n x K`` km from each unit to each rep's home.
    xy, area, homes
        Unit centroids (m), unit areas (m²), rep homes (m).
    weight
        Proximity weight of each unit (potential + a sliver).
    measure
        ``n x K`` balance measure of each unit for each rep.
    target, fixed
        Each territory's target in the measure, and the part of it that named accounts already supply.
    locked
        Rep position a unit is locked to, or -1.
    """

    dist: np.ndarray
    xy: np.ndarray
    area: np.ndarray
    homes: np.ndarray
    weight: np.ndarray
    measure: np.ndarray
    target: np.ndarray
    fixed: np.ndarray
    locked: np.ndarray


def _coarse_candidates(tp: _Transport, geo: Geography, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (unit, rep) pairs for a national-scale transport LP, from the same LP on clusters of units.

    Units are grouped into :data:`_COARSE_CLUSTERS` clusters (k-means on centroids, weighted by proximity weight);
    the LP with every rep is solved on the clusters, and each unit may then go to any rep that its own cluster or a
    neighbouring unit's cluster uses (plus its lock and its nearest home). The fine LP on these few pairs per unit
    keeps the coarse solution's reach (remote reps get the far units they need) at a fraction of the variables.
    """
    from sklearn.cluster import MiniBatchKMeans

    n, k = tp.dist.shape
    c = min(_COARSE_CLUSTERS, n)
    label = MiniBatchKMeans(c, random_state=seed, n_init=1, batch_size=4096).fit(
        tp.xy, sample_weight=tp.weight).labels_
    weight = np.bincount(label, weights=tp.weight, minlength=c)
    centre = np.column_stack([np.bincount(label, weights=tp.weight * tp.xy[:, i], minlength=c)
                              for i in range(2)]) / np.maximum(weight, 1e-300)[:, None]
    home_d = np.hypot(centre[:, None, 0] - tp.homes[None, :, 0], centre[:, None, 1] - tp.homes[None, :, 1]) / 1000
    measure = np.column_stack([np.bincount(label, weights=tp.measure[:, r], minlength=c) for r in range(k)])
    locked = np.full(c, -1, dtype=np.int64)  # a cluster holding a locked unit is not locked as a whole
    coarse = _Transport(dist=home_d, xy=centre, area=np.bincount(label, weights=tp.area, minlength=c),
                        homes=tp.homes, weight=weight, measure=measure, target=tp.target, fixed=tp.fixed,
                        locked=locked)
    x = _solve_transport(coarse, weight[:, None] * home_d ** 2, band=0.0125, candidates=k, widen=(1, 2, 4, 8))
    if x is None:
        used = [np.argsort(home_d[i])[:8] for i in range(c)]
    else:
        x = x.tocsr()
        used = [x.indices[x.indptr[i]:x.indptr[i + 1]][x.data[x.indptr[i]:x.indptr[i + 1]] > 1e-9]
                for i in range(c)]
    rows = np.repeat(np.arange(n), np.diff(geo.indptr))
    touch = np.unique(np.concatenate([np.column_stack([np.arange(n), label]),
                                      np.column_stack([rows, label[geo.indices]])]), axis=0)
    pair_rows = [np.full(len(used[cl]), u) for u, cl in touch.tolist()]
    pair_cols = [used[cl] for _, cl in touch.tolist()]
    nearest = np.argmin(tp.dist, axis=1)
    unit = np.concatenate([*pair_rows, np.arange(n), np.flatnonzero(tp.locked >= 0)])
    rep = np.concatenate([*pair_cols, nearest, tp.locked[tp.locked >= 0]]).astype(np.int64)
    pairs = np.unique(np.column_stack([unit, rep]), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _solve_transport(tp: _Transport, cost: np.ndarray, band: float, candidates: int | tuple[np.ndarray, np.ndarray],
                     widen: tuple[float, ...] = (1, 2, 4)) -> sparse.csr_matrix | None:
    """min Σ cost·x  s.t. every unit fully assigned, each territory's measure within ``band`` of its target.

    The variables are each unit's ``candidates`` nearest homes, or the given (unit, rep) pairs, plus each unit's
    lock. The band is widened by the factors in ``widen`` while infeasible; returns the fractional assignment
    (n x K) or None.
    """
    n, k = tp.dist.shape
    if isinstance(candidates, tuple):
        rows, cols = candidates
    else:
        order = np.argsort(tp.dist, axis=1, kind="stable")[:, :candidates]
        rows = np.repeat(np.arange(n), order.shape[1])
        cols = order.ravel()
    locked = tp.locked
    keep = (locked[rows] < 0) | (cols == locked[rows])
    rows, cols = rows[keep], cols[keep]
    missing = np.flatnonzero((locked >= 0) & ~np.isin(np.arange(n), rows[cols == locked[rows]]))
    rows = np.concatenate([rows, missing])
    cols = np.concatenate([cols, locked[missing]])
    m = len(rows)
    c = cost[rows, cols]
    c = c / max(float(np.abs(c).mean()), 1e-300)  # well-scaled for HiGHS (raw km² x $ reach 1e11)
    a_unit = sparse.csr_matrix((np.ones(m), (rows, np.arange(m))), shape=(n, m))
    need = np.maximum(tp.target - tp.fixed, 1e-12)  # what geography must supply; rows scaled to 1 for HiGHS
    a_terr = sparse.csr_matrix((tp.measure[rows, cols] / need[cols], (cols, np.arange(m))), shape=(k, m))
    share = tp.target / need
    for factor in widen:
        b = band * factor
        if b == 0:
            res = linprog(c, A_eq=sparse.vstack([a_unit, a_terr]).tocsr(), b_eq=np.concatenate([np.ones(n),
                          np.ones(k)]), bounds=(0, None), method="highs-ipm")
        else:
            res = linprog(c, A_ub=sparse.vstack([a_terr, -a_terr]).tocsr(),
                          b_ub=np.concatenate([1 + share * b, -(1 - share * b)]),
                          A_eq=a_unit, b_eq=np.ones(n), bounds=(0, None), method="highs-ipm")
        if res.status == 0:
            return sparse.csr_matrix((res.x, (rows, cols)), shape=(n, k))
        if b == 0:
            return None
    return None


#: Above this many unit x rep pairs the bound LP is not solved (national scale: 30,000 x 200 pairs took HiGHS over
#: 20 minutes) and the bound is reported as not computed (NaN).
_FULL_BOUND_VARIABLES = 2_000_000


def lp_lower_bound(problem: _Problem) -> float:
    """Potential-weighted distance (km) of the exact-balance transport LP relaxation on potential: no exactly
    balanced plan, contiguous or not, can do better. NaN above ``_FULL_BOUND_VARIABLES`` unit x rep pairs."""
    pot = problem.geo.values[:, 0]
    k = len(problem.tids)
    fixed = problem.fixed[:, 0]
    total = pot.sum() + fixed.sum()
    if problem.geo.n * k > _FULL_BOUND_VARIABLES:
        return float("nan")  # not computed at national scale (the LP alone takes longer than the design)
    tp = _Transport(dist=problem.dist, xy=problem.geo.xy, area=problem.geo.area, homes=problem.homes,
                    weight=pot, measure=np.repeat(pot[:, None], k, axis=1), target=problem.shares * total - fixed,
                    fixed=np.zeros(k), locked=problem.locked)
    x = _solve_transport(tp, problem.dist * pot[:, None], band=0.0, candidates=k)
    if x is None:
        return float("nan")
    return float(x.multiply(problem.dist).multiply(pot[:, None]).sum() / max(pot.sum(), 1e-12))


def dual_lower_bound(problem: _Problem, smoothing: tuple[float, ...] = (0.02, 0.005),
                     iterations: int = 100) -> float | None:
    """A lower bound (km) on the same potential-weighted distance as :func:`lp_lower_bound`, fast enough to use
    inside the design. By weak duality, any price per territory λ gives one:
    ``Σ_u pot_u · min_t (d_ut − λ_t) + Σ_t λ_t · target_t`` (over the total potential). The prices come from
    L-BFGS on the soft-min version of that function (temperature ``smoothing`` x the mean distance to the nearest
    home), and the bound is the exact function at those prices. Measured within 0.01 % of the HiGHS LP at state
    scale in 0.01-0.1 s (the LP takes 0.5-8 s). Locked ZIPs count for their rep only. None where the LP would be as
    large as the design (``_FULL_BOUND_VARIABLES``) or a target is not positive (the named accounts fill it)."""
    pot = problem.geo.values[:, 0]
    k = len(problem.tids)
    target = problem.shares * (pot.sum() + problem.fixed[:, 0].sum()) - problem.fixed[:, 0]
    keep = pot > 0
    if problem.geo.n * k > _FULL_BOUND_VARIABLES or k < 2 or not keep.any() or (target <= 0).any():
        return None
    dist, weight, locked = problem.dist[keep], pot[keep], problem.locked[keep]
    if (locked >= 0).any():  # a locked ZIP can only take its rep's price
        rows = np.flatnonzero(locked >= 0)
        only = np.full((len(rows), k), np.inf)
        only[np.arange(len(rows)), locked[rows]] = dist[rows, locked[rows]]
        dist = dist.copy()
        dist[rows] = only
    total = weight.sum()
    scale = float((weight * dist.min(axis=1)).sum() / total)
    dist32 = dist.astype(np.float32)  # the smoothed function only steers the prices: single precision is plenty

    def negative_smoothed(prices: np.ndarray, temperature: float) -> tuple[float, np.ndarray]:
        z = (prices.astype(np.float32) - dist32) / np.float32(temperature)
        top = z.max(axis=1)
        e = np.exp(z - top[:, None])
        sums = e.sum(axis=1)
        lse = top.astype(float) + np.log(sums)
        mass = (weight / sums).astype(np.float32) @ e  # potential each territory takes at these prices
        value = -temperature * (weight * lse).sum() + prices @ target
        return -value / total, -(target - mass) / total

    prices = np.zeros(k)
    for step in smoothing:
        prices = minimize(negative_smoothed, prices, args=(max(step * scale, 1e-9),), jac=True, method="L-BFGS-B",
                          options={"maxiter": iterations}).x
    bound = float(((weight * (dist - prices).min(axis=1)).sum() + prices @ target) / total)
    return bound if np.isfinite(bound) else None


def _norms(problem: _Problem) -> np.ndarray:
    """Normaliser of each component: its total (travel: as if every unit went to its nearest rep)."""
    totals = problem.comp[:, 0, :].sum(axis=0) + problem.fixed.sum(axis=0)
    totals[-1] = problem.comp[np.arange(problem.geo.n), problem.dist.argmin(axis=1), -1].sum()
    return np.where(totals > 0, totals, 1.0)


def _measure(problem: _Problem) -> np.ndarray:
    """Balance measure of each unit for each rep (n x K): the weighted, normalised blend of components."""
    norm = _norms(problem)
    return (problem.comp / norm) @ problem.weights


def _targets(problem: _Problem, measure: np.ndarray) -> np.ndarray:
    total = measure[np.arange(problem.geo.n), problem.dist.argmin(axis=1)].sum()
    total += ((problem.fixed / _norms(problem)) @ problem.weights).sum()
    return problem.shares * total


#: Diffusion stops after this many rounds without a 1 % fall of the balance energy (the summed squares of each
#: territory's deviation beyond the goal); ejection chains take over. Lumpy units otherwise cycle there until the
#: deadline and leave no time for the compactness polish (national scale: 60 s of diffusion, PP 0.24).
_DIFFUSE_STALL_ROUNDS = 40

#: From this many ZIP units on, the default time budget is 60 s instead of 30 s (the spec's national budget: with
#: 30 s the national search, 29,712 ZIPs at K = 200, ran out of time before its last balancing step and ended at
#: 6.8 % max deviation; with 60 s it ends within the tolerance in about 40-46 s).
LARGE_PROBLEM_UNITS = 10_000

#: Share of the search's time budget the re-split chains may take, and the settling walk after them. The chains
#: settle the national instance's lumpy metro ZIPs in ~2.5 s; where no chain exists (GA at K = 50) they would
#: otherwise search until the deadline.
_RECOMBINE_SHARE = 0.15

#: ``thorough`` designs get this many times the default time budget: the region re-draw
#: (:mod:`territory_geo.repartition`) took 3-26 s on GA K = 50's lumpy Atlanta regions.
THOROUGH_BUDGET = 4

#: Share of the time budget the distance re-splits may take (a sweep over every pair of neighbours took 0.1-0.5 s at
#: state scale; a plan needs a few sweeps).
_SHORTEN_SHARE = 0.1

#: Where the balance measure is potential alone (the evenness scenario), the design knows a tight lower bound on the
#: distance (:func:`dual_lower_bound`) and steers by it: the distance re-splits run only when the balanced plan is
#: more than ``_BOUND_TRIGGER`` times the bound and stop at ``_BOUND_STOP`` times it, and the compactness polish may
#: not take the distance past ``_BOUND_CAP`` times it (nor past its own budget). Other scenarios balance a blend
#: whose best distance this bound does not describe; they keep the re-splits' own reach as the yardstick.
_BOUND_TRIGGER, _BOUND_STOP, _BOUND_CAP = 1.045, 1.035, 1.045

#: Share of the time budget the compactness re-splits may take (three sweeps took 0.1-0.8 s at state scale in the
#: prototype).
_COMPACT_SHARE = 0.1


class _PairIndex:
    """Boundary units grouped by (territory, neighbouring territory) key, for one round's boundary."""

    def __init__(self, units: np.ndarray, keys: np.ndarray) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.unit = units

    def units(self, key: int) -> np.ndarray:
        """The distinct units with ``key`` (territory * K + neighbouring territory)."""
        lo, hi = np.searchsorted(self.keys, [key, key + 1])
        return np.unique(self.unit[self.order[lo:hi]])


class _LocalSearch:
    """Boundary moves on a working assignment (mutable; the result becomes a :class:`Plan`)."""

    def __init__(self, problem: _Problem, assign: np.ndarray, scenario: Scenario, baseline: np.ndarray | None,
                 deadline: float, seed: int = 0, thorough: bool = False) -> None:
        self.p = problem
        self.thorough = thorough
        self.seed = seed
        self.geo = problem.geo
        self.assign = assign.astype(np.int64).copy()
        self.scenario = scenario
        self.baseline = baseline
        self.deadline = deadline
        self.k = len(problem.tids)
        self.tol = scenario.tolerance
        self.goal = 0.8 * scenario.tolerance
        self.norm = _norms(problem)
        self.weights = problem.weights
        self.rows = np.repeat(np.arange(self.geo.n), np.diff(self.geo.indptr))
        self.size = np.bincount(self.assign, minlength=self.k)
        self.comp_tally = problem.fixed.copy()
        np.add.at(self.comp_tally, self.assign, problem.comp[np.arange(self.geo.n), self.assign])
        self.perim_scale = float(np.median(self.geo.perimeter)) or 1.0
        self.dist_scale = float(problem.weight_u.mean() * np.sqrt(np.median(self.geo.area)) / 1000.0) or 1.0
        self.moved_arr = 0.0
        geo = self.geo
        self.area = np.bincount(self.assign, weights=geo.area, minlength=self.k)
        self.perim = np.bincount(self.assign, weights=geo.perimeter, minlength=self.k)
        internal = self.assign[self.rows] == self.assign[geo.indices]
        self.perim -= np.bincount(self.assign[self.rows[internal]], weights=geo.border[internal], minlength=self.k)
        self.budget_hit = False
        self.started = time.perf_counter()
        self.clock_stops: list[str] = []  # steps the deadline cut short (shared with the border searches)

    # --- bookkeeping ---------------------------------------------------------------------------------------------

    @cached_property
    def distance_bound(self) -> float | None:
        """The dual lower bound on the distance (:func:`dual_lower_bound`) where it describes this scenario's best
        distance: balance on potential alone, optimised from scratch (else None)."""
        potential_only = self.weights[0] > 0 and np.count_nonzero(self.weights) == 1
        return dual_lower_bound(self.p) if potential_only and self.baseline is None else None

    def _late(self, step: str) -> bool:
        """Whether the deadline has passed; if so, notes that ``step`` was cut short (or skipped)."""
        return past(self.deadline, step, self.clock_stops)

    def deviations(self) -> np.ndarray:
        """Deviation of each territory's balance measure from its target (blend of component ratios)."""
        totals = self.comp_tally.sum(axis=0)
        ratio = self.comp_tally / np.where(totals > 0, totals, 1.0) / self.p.shares[:, None]
        return (ratio - 1.0) @ self.weights

    def _move(self, u: int, b: int) -> None:
        a = int(self.assign[u])
        da, db = self._perimeter_change(u, a, b)
        self.perim[a] += da
        self.perim[b] += db
        self.area[a] -= self.geo.area[u]
        self.area[b] += self.geo.area[u]
        self.comp_tally[a] -= self.p.comp[u, a]
        self.comp_tally[b] += self.p.comp[u, b]
        self.size[a] -= 1
        self.size[b] += 1
        self.assign[u] = b
        if self.baseline is not None:
            arr = self.p.unit_arr[u]
            self.moved_arr += arr if self.baseline[u] == a else (-arr if self.baseline[u] == b else 0.0)

    def _perimeter_change(self, u: int, a: int, b: int) -> tuple[float, float]:
        """Change of a's and b's perimeters if ``u`` moves from a to b (exact, from shared borders)."""
        pu = self.geo.perimeter[u]
        return -(pu - 2.0 * self._shared_with(u, a)), pu - 2.0 * self._shared_with(u, b)

    def _stays_connected(self, u: int, a: int) -> bool:
        """Whether territory ``a`` stays one piece without unit ``u``."""
        nbrs = [int(v) for v in self.geo.neighbors(u) if self.assign[v] == a]
        if len(nbrs) <= 1:
            return self.size[a] > 1
        targets = set(nbrs)
        seen = {u, nbrs[0]}
        stack = [nbrs[0]]
        found = 1
        assign, geo = self.assign, self.geo
        while stack:
            x = stack.pop()
            for y in geo.indices[geo.indptr[x]:geo.indptr[x + 1]].tolist():
                if y not in seen and assign[y] == a:
                    seen.add(y)
                    if y in targets:
                        found += 1
                        if found == len(targets):
                            return True
                    stack.append(y)
        return False

    def _boundary(self) -> tuple[np.ndarray, np.ndarray]:
        """Boundary (unit, neighbour territory) pairs, unlocked units only."""
        owner = self.assign[self.rows]
        other = self.assign[self.geo.indices]
        mask = (owner != other) & (self.p.locked[self.rows] < 0)
        return self.rows[mask], other[mask]

    def _shared_with(self, u: int, t: int) -> float:
        lo, hi = self.geo.indptr[u], self.geo.indptr[u + 1]
        return float(self.geo.border[lo:hi][self.assign[self.geo.indices[lo:hi]] == t].sum())

    def _geo_cost(self, u: int, a: int, b: int) -> float:
        """Change of total border length and of proximity if ``u`` moves from ``a`` to ``b`` (scaled)."""
        border = 2.0 * (self._shared_with(u, a) - self._shared_with(u, b)) / self.perim_scale
        dist = self.p.weight_u[u] * (self.p.dist[u, b] - self.p.dist[u, a]) / self.dist_scale
        churn = 0.0
        if self.baseline is not None:
            churn = (1.0 if self.baseline[u] == a else -1.0 if self.baseline[u] == b else 0.0) * \
                self.p.unit_arr[u] / max(self.p.unit_arr.mean(), 1e-9)
        return (self.scenario.compactness_weight * border + self.scenario.proximity_weight * dist) * 0.1 + churn

    def _within_budget(self, *moves: tuple[int, int, int]) -> bool:
        """Whether the moves (unit, from, to), made together, keep the ARR changing owner within the disruption
        budget (a unit returning to its owner gives its ARR back)."""
        budget = self.scenario.disruption_budget
        if self.baseline is None or budget is None:
            return True
        arr, owner = self.p.unit_arr, self.baseline
        extra = sum(arr[u] if owner[u] == a else (-arr[u] if owner[u] == b else 0.0) for u, a, b in moves)
        ok = self.moved_arr + extra <= budget * max(arr.sum(), 1e-9) + 1e-9
        self.budget_hit |= not ok
        return ok

    # --- phases --------------------------------------------------------------------------------------------------

    def repair_contiguity(self) -> None:
        """Give every piece cut off from a territory's main piece to the neighbour it shares most border with."""
        from scipy.sparse import csgraph

        for _ in range(20):
            owner = self.assign[self.rows]
            same = owner == self.assign[self.geo.indices]
            graph = sparse.csr_matrix((np.ones(int(same.sum())), (self.rows[same], self.geo.indices[same])),
                                      shape=(self.geo.n, self.geo.n))
            _, comp = csgraph.connected_components(graph, directed=False)
            pot = self.geo.values[:, 0] + 1e-9
            keep: dict[int, int] = {}
            for t in range(self.k):
                members = np.flatnonzero(self.assign == t)
                if len(members):
                    keep[t] = int(np.argmax(np.bincount(comp[members], weights=pot[members])))
            stray = np.flatnonzero(np.array([comp[u] != keep.get(int(self.assign[u]), -1)
                                             for u in range(self.geo.n)]) & (self.p.locked < 0))
            if not len(stray):
                return
            for piece in np.unique(comp[stray]):
                units = stray[comp[stray] == piece]
                a = int(self.assign[units[0]])
                border: dict[int, float] = {}
                for u in units.tolist():
                    for v, length in zip(self.geo.neighbors(u).tolist(),
                                         self.geo.border[self.geo.indptr[u]:self.geo.indptr[u + 1]].tolist(),
                                         strict=True):
                        t = int(self.assign[v])
                        if t != a:
                            border[t] = border.get(t, 0.0) + length + 1e-6
                if border:
                    b = max(border, key=lambda t: (border[t], -t))
                    for u in units.tolist():
                        self._move(u, b)

    def balance(self) -> None:
        """Push surplus along the territory graph (planned flows), diffuse locally until within the goal or stalled,
        then ejection chains for what is left, chains of re-splits and a settling walk."""
        best = np.abs(self.deviations()).max()
        for _ in range(12):
            if best <= self.goal or self._late("balance"):
                break
            saved = self._snapshot()
            if not self._flow_round():
                break
            now = np.abs(self.deviations()).max()
            if now >= best:
                self._restore(saved)
                break
            best = now
        self._diffuse()
        if np.abs(self.deviations()).max() > self.goal and not self._late("balance"):
            # lumpy units diffusion could not place: ejection chains on the fast border search, aiming just
            # inside the tolerance (the goal's margin is for later travel drift, which chains need not keep); then
            # chains of re-splits for the lumpiest, which single trades cannot settle (a share of the time)
            search = self._border_search()
            goal = self.tol - 0.1 * (self.tol - self.goal)
            if not search.eject(self.deadline, goal=goal):
                share = _RECOMBINE_SHARE * (self.deadline - self.started)
                if not search.recombine(min(self.deadline, time.perf_counter() + share), goal=goal):
                    search.settle(min(self.deadline, time.perf_counter() + share), goal=goal)
            self._adopt(search.assign_)

    def _snapshot(self) -> tuple[np.ndarray, ...]:
        return (self.assign.copy(), self.comp_tally.copy(), self.size.copy(), self.area.copy(), self.perim.copy(),
                np.array([self.moved_arr]))

    def _restore(self, saved: tuple[np.ndarray, ...]) -> None:
        self.assign, self.comp_tally, self.size, self.area, self.perim, moved = (x.copy() for x in saved)
        self.moved_arr = float(moved[0])

    def _flow_round(self) -> bool:
        """Plan flows of surplus between adjacent territories (least total flow that clears every excess, an LP on
        the territory graph), then realise each as a slice moved across that border. Surplus thereby crosses
        territories that are themselves full."""
        dev = self.deviations()
        excess = dev * self.p.shares  # in units of the total measure
        units, nbr_t = self._boundary()
        pairs = sorted({(int(a), int(b)) for a, b in zip(self.assign[units].tolist(), nbr_t.tolist(), strict=True)})
        if not pairs:
            return False
        m = len(pairs)
        node_out = sparse.csr_matrix((np.ones(m), ([a for a, _ in pairs], np.arange(m))), shape=(self.k, m))
        node_in = sparse.csr_matrix((np.ones(m), ([b for _, b in pairs], np.arange(m))), shape=(self.k, m))
        rhs = excess - excess.sum() * self.p.shares
        res = linprog(np.ones(m), A_eq=(node_out - node_in).tocsr(), b_eq=rhs, bounds=(0, None), method="highs")
        if res.status != 0:
            return False
        moved = False
        for i in np.argsort(-res.x, kind="stable").tolist():
            flow = float(res.x[i])
            if flow <= 0.25 * self.goal * self.p.shares.min():
                break
            a, b = pairs[i]
            moved |= self._transfer_slice(a, b, self.deviations(), want=flow, require_gain=False)
        return moved

    def _diffuse(self) -> None:
        """Diffusion: move boundary units from more- to less-loaded neighbours until all are within the goal."""
        blocked: set[tuple[int, int]] = set()
        best, stalled = np.inf, 0
        while stalled < _DIFFUSE_STALL_ROUNDS and not self._late("balance"):
            dev = self.deviations()
            if np.abs(dev).max() <= self.goal:
                return
            energy = float((np.maximum(np.abs(dev) - self.goal, 0.0) ** 2).sum())
            best, stalled = (energy, 0) if energy < 0.99 * best else (best, stalled + 1)
            units, nbr_t = self._boundary()
            src = self.assign[units]
            gap = dev[src] - dev[nbr_t]
            by_pair = _PairIndex(units, src * self.k + nbr_t)
            order = np.argsort(-gap, kind="stable")
            pairs: list[tuple[int, int]] = []
            seen: set[tuple[int, int]] = set()
            for i in order.tolist():
                pair = (int(src[i]), int(nbr_t[i]))
                if gap[i] <= 0 or len(pairs) >= 16 * 8:
                    break
                if pair not in blocked and pair not in seen:
                    seen.add(pair)
                    pairs.append(pair)
            if not pairs:
                return
            moved = False
            touched: set[int] = set()  # one move per territory per round: the boundary arrays stay valid
            for a, b in pairs[:16]:
                if a in touched or b in touched:
                    continue
                here, there = by_pair.units(a * self.k + b), by_pair.units(b * self.k + a)
                if (self._best_move(a, b, here, dev) or self._transfer_slice(a, b, dev, border=here.tolist())
                        or self._best_swap(a, b, here, there, dev)):
                    moved = True
                    touched.update((a, b))
                    dev = self.deviations()
                    continue
                blocked.add((a, b))
            if moved:
                blocked.clear()

    def _best_swap(self, a: int, b: int, us: np.ndarray, vs: np.ndarray, dev: np.ndarray) -> bool:
        """Exchange a border unit of ``a`` (``us``: a's units on its border with b) for one of ``b`` (``vs``) when
        their difference evens the pair out: the move that lumpy ZIPs (each a sizeable share of a target) need
        and single moves cannot make."""
        if not len(us) or not len(vs):
            return False
        ua, ub = self._unit_measure(us, a), self._unit_measure(us, b)
        va, vb = self._unit_measure(vs, a), self._unit_measure(vs, b)
        new_a = dev[a] - ua[:, None] + va[None, :]
        new_b = dev[b] + ub[:, None] - vb[None, :]
        gain = new_a ** 2 + new_b ** 2 - dev[a] ** 2 - dev[b] ** 2
        order = np.argsort(gain, axis=None, kind="stable")
        for flat in order[:40].tolist():
            i, j = divmod(flat, len(vs))
            if gain[i, j] >= -1e-12:
                return False
            u, v = int(us[i]), int(vs[j])
            if u == v or not self._within_budget((u, a, b), (v, b, a)):
                continue
            # local tests first (a whole without u, b without v with u in it, each unit touching the territory it
            # joins); only when they fail is each territory searched, since v may be what rejoins a without u
            local = self._stays_connected(u, a)
            self._move(u, b)
            local = local and self._stays_connected(v, b)
            self._move(v, a)
            if (local and self._touches(u, b) and self._touches(v, a)) or (self._connected(a) and self._connected(b)):
                return True
            self._move(v, b)
            self._move(u, a)
        return False

    def _touches(self, u: int, t: int) -> bool:
        return bool((self.assign[self.geo.neighbors(u)] == t).any())

    def _connected(self, t: int) -> bool:
        """Whether territory ``t`` is one piece (a search through it)."""
        members = np.flatnonzero(self.assign == t)
        if len(members) <= 1:
            return len(members) == 1
        seen, stack = {int(members[0])}, [int(members[0])]
        while stack:
            x = stack.pop()
            for y in self.geo.neighbors(x).tolist():
                if y not in seen and self.assign[y] == t:
                    seen.add(y)
                    stack.append(y)
        return len(seen) == len(members)

    def _best_move(self, a: int, b: int, cand: np.ndarray, dev: np.ndarray) -> bool:
        """The single move of one of ``cand`` (a's units on its border with b) from a to b that best evens the
        pair out, keeping a in one piece."""
        if not len(cand):
            return False
        totals = self.comp_tally.sum(axis=0)
        scale = np.where(totals > 0, totals, 1.0)
        out_a = (self.p.comp[cand, a] / scale / self.p.shares[a]) @ self.weights
        in_b = (self.p.comp[cand, b] / scale / self.p.shares[b]) @ self.weights
        gain = (dev[a] - out_a) ** 2 + (dev[b] + in_b) ** 2 - dev[a] ** 2 - dev[b] ** 2
        improving = gain < -1e-12
        if not improving.any():
            return False
        geo_cost = np.array([self._geo_cost(int(u), a, b) for u in cand[improving]])
        score = gain[improving] / max(dev[a] ** 2 + dev[b] ** 2, 1e-12) + 0.02 * np.tanh(geo_cost)
        for i in np.argsort(score, kind="stable").tolist():
            u = int(cand[improving][i])
            if self._within_budget((u, a, b)) and self._stays_connected(u, a):
                self._move(u, b)
                return True
        return False

    def _unit_measure(self, units: np.ndarray, t: int) -> np.ndarray:
        """Each unit's share of territory ``t``'s target, in deviation units."""
        totals = self.comp_tally.sum(axis=0)
        scale = np.where(totals > 0, totals, 1.0)
        return (self.p.comp[units, t] / scale / self.p.shares[t]) @ self.weights

    def _transfer_slice(self, a: int, b: int, dev: np.ndarray, want: float | None = None,
                        require_gain: bool = True, border: list[int] | None = None) -> bool:
        """Move a connected slice of ``a``, grown from its border with ``b``, worth ``want`` (default: half the gap;
        in units of the total measure). Units of no value are carried along for free, so surplus can cross empty
        country to reach ``b``."""
        if want is None:
            want = (dev[a] - dev[b]) / 2 * self.p.shares[a]
        geo, assign = self.geo, self.assign
        if border is None:  # a's movable units on its border with b
            touching = (assign[self.rows] == a) & (assign[geo.indices] == b) & (self.p.locked[self.rows] < 0)
            border = np.unique(self.rows[touching]).tolist()
        if not border:
            return False
        totals = self.comp_tally.sum(axis=0)
        scale = np.where(totals > 0, totals, 1.0)
        value = lambda u: float((self.p.comp[u, a] / scale) @ self.weights)  # noqa: E731
        # grow from the border in order of how much nearer each unit is to b's home than to a's (a straight-ish
        # cut that leaves a's side whole), carrying units of no value along
        lean = self.p.dist[:, b] - self.p.dist[:, a]
        if self.baseline is not None:  # min disruption: leave customers' ARR with its owner where possible
            owned = (self.baseline == a) * self.p.unit_arr / max(float(self.p.unit_arr.mean()), 1e-9)
            lean = lean + owned * float(np.median(self.p.dist.min(axis=1)) + 1.0)
        heap = [(float(lean[u]), u) for u in border]
        heapq.heapify(heap)
        seen = set(border)
        taken: list[int] = []
        got = 0.0
        while heap and got < want:
            _, u = heapq.heappop(heap)
            v = value(u)
            if got + v > want * 1.2:
                continue
            taken.append(u)
            got += v
            for w in geo.neighbors(u).tolist():
                if w not in seen and assign[w] == a and self.p.locked[w] < 0:
                    seen.add(w)
                    heapq.heappush(heap, (float(lean[w]), w))
        if got <= 0 or len(taken) >= self.size[a]:
            return False
        taken += self._cut_off(a, set(taken))
        if len(taken) >= self.size[a]:
            return False
        out_a = sum(value(u) for u in taken) / self.p.shares[a]
        in_b = sum(float((self.p.comp[u, b] / scale) @ self.weights) for u in taken) / self.p.shares[b]
        if require_gain and (dev[a] - out_a) ** 2 + (dev[b] + in_b) ** 2 >= dev[a] ** 2 + dev[b] ** 2:
            return False
        if out_a * self.p.shares[a] > 1.5 * want + 1e-12:  # a cut-off piece made the slice far too big
            return False
        if not self._within_budget(*((u, a, b) for u in taken)):
            return False
        for u in taken:
            self._move(u, b)
        return True

    def _cut_off(self, a: int, removed: set[int]) -> list[int]:
        """Units of ``a`` that removing ``removed`` would cut off from a's main piece (the one with its home)."""
        members = [int(u) for u in np.flatnonzero(self.assign == a) if int(u) not in removed]
        label: dict[int, int] = {}
        pieces: list[list[int]] = []
        for start in members:
            if start in label:
                continue
            piece, stack = [start], [start]
            label[start] = len(pieces)
            while stack:
                x = stack.pop()
                for y in self.geo.neighbors(x).tolist():
                    if y not in label and y not in removed and self.assign[y] == a:
                        label[y] = len(pieces)
                        piece.append(y)
                        stack.append(y)
            pieces.append(piece)
        if len(pieces) <= 1:
            return []
        anchored = [i for i, piece in enumerate(pieces) if any(self.p.locked[u] == a for u in piece)]
        main = anchored[0] if anchored else max(range(len(pieces)),
                                                key=lambda i: self.geo.values[pieces[i], 0].sum())
        return [u for i, piece in enumerate(pieces) if i != main for u in piece
                if self.p.locked[u] < 0]

    def _border_search(self) -> CompactnessPolish:
        """The fast border search (:mod:`territory_geo.polish`) set up on the current assignment: each unit's share
        of each target (with today's travel totals), the goal, the distance budget and the units it may move."""
        totals = self.comp_tally.sum(axis=0)
        totals = np.where(totals > 0, totals, 1.0)
        mu = np.einsum("ukc,c->uk", self.p.comp / totals, self.weights) / self.p.shares[None, :]
        offset = ((self.p.fixed / totals) @ self.weights) / self.p.shares - 1.0
        movable = self.p.locked < 0
        if self.baseline is not None:  # min disruption: reshape only where no customer's ARR changes owner
            movable &= self.p.unit_arr <= 0
        return CompactnessPolish(self.geo, self.assign, mu, offset, self.goal, self.p.dist, self.geo.values[:, 0],
                                 distance_budget=1.0 + 0.02 / max(self.scenario.proximity_weight, 1e-9),
                                 movable=movable, seed=self.seed, clock_stops=self.clock_stops)

    def _adopt(self, assign: np.ndarray) -> None:
        """Replay another assignment through :meth:`_move` (tallies, perimeters and disruption stay exact)."""
        for u in np.flatnonzero(assign != self.assign).tolist():
            self._move(u, int(assign[u]))

    def shorten(self) -> None:
        """Distance re-splits (:meth:`territory_geo.polish.CompactnessPolish.shorten`) when balancing left the plan
        well above the distance bound (:attr:`distance_bound`), or where none applies, well above the distance the
        re-splits reach; within a share of the time budget; replayed through :meth:`_move`, with the balance
        re-checked as after the polish."""
        if self.k < 2 or self._late("shorten"):
            return
        before = float(np.abs(self.deviations()).max())
        search = self._border_search()
        deadline = min(self.deadline, time.perf_counter() + _SHORTEN_SHARE * (self.deadline - self.started))
        bound = self.distance_bound
        if bound is None:
            moved = search.shorten(deadline)
        else:
            moved = search.distance > _BOUND_TRIGGER * bound and search.shorten_to(deadline, _BOUND_STOP * bound)
        if moved:
            self._adopt(search.assign_)
            self._rebalance_if_worse(before)

    def polish(self) -> None:
        """Compactness: :class:`~territory_geo.polish.CompactnessPolish` (annealed flips and balance-neutral swaps)
        within the balance goal and a distance budget, then compactness re-splits of neighbouring pairs and greedy
        flips once more at no further distance; replayed through :meth:`_move`; travel totals shift with
        every move, so the balance is checked exactly afterwards and restored if it drifted past the tolerance."""
        if self.k < 2 or self._late("polish"):
            return
        before = float(np.abs(self.deviations()).max())
        search = self._border_search()
        bound = self.distance_bound
        if bound is not None:
            search.distance_cap = min(search.distance_cap, max(search.distance, _BOUND_CAP * bound))
        steps = max(round(20 * self.scenario.compactness_weight), 0)
        search.run(self.deadline, steps=steps)
        if steps:  # compactness re-splits, then greedy flips to clean their borders, adding no more distance
            search.distance_cap = min(search.distance_cap, search.distance)
            search.compact(min(self.deadline, time.perf_counter() + _COMPACT_SHARE * (self.deadline - self.started)))
            search.run(self.deadline, steps=0)
        self._adopt(search.assign_)
        self._rebalance_if_worse(before)

    def redraw(self) -> None:
        """``thorough`` only: where territories are still beyond the tolerance after the polish, re-draw the region
        around them as one set-partitioning problem (:meth:`~territory_geo.polish.CompactnessPolish.repartition`,
        with most of the time left), then polish once more."""
        if not self.thorough or self.k < 2 or np.abs(self.deviations()).max() <= self.tol + 1e-9 \
                or self._late("repartition"):
            return
        search = self._border_search()
        if search.repartition(time.perf_counter() + 0.8 * (self.deadline - time.perf_counter()), goal=self.tol):
            self._adopt(search.assign_)
            self.polish()

    def _rebalance_if_worse(self, before: float) -> None:
        """Balance again if the largest deviation drifted past both the tolerance and ``before`` (travel totals
        shift with every move); rounding noise does not count."""
        if np.abs(self.deviations()).max() > max(before, self.tol) + 1e-9:
            self.balance()

    def verdict(self) -> tuple[str, str]:
        dev = self.deviations()
        worst = int(np.argmax(np.abs(dev)))
        if self.k == 1:
            return "ok", f"One rep: every ZIP area is in {self.p.tids[0]}, and it is on target."
        if abs(dev[worst]) <= self.tol + 1e-9:
            return "ok", f"All {self.k} territories are within ±{self.tol:.1%} of their targets."
        reasons = [f"Territory {self.p.tids[worst]} is {dev[worst]:+.1%} from its target (tolerance "
                   f"±{self.tol:.1%})."]
        if self.budget_hit:
            reasons.append(f"The disruption budget ({self.scenario.disruption_budget:.0%} of ARR) stopped further "
                           "moves; raise it or accept a wider tolerance.")
        members = np.flatnonzero(self.assign == worst)
        share = 0.0
        if len(members):
            measure = (self.p.comp[members, worst] / self.norm) @ self.weights
            target = self.p.shares[worst] * ((self.comp_tally / self.norm) @ self.weights).sum()
            big = members[np.argmax(measure)]
            share = float(measure.max() / max(target, 1e-12))
            if share > self.tol:
                reasons.append(f"ZIP {self.geo.zips[big]} alone holds {share:.0%} of that target: split its largest "
                               "accounts out as named accounts so they can be balanced individually.")
        if not self.thorough and not self.budget_hit and share <= 1 + self.tol:  # no re-draw places a ZIP > target
            reasons.append("A thorough run (CLI --thorough; \"Thorough\" on the Territories page) re-draws the region "
                           "around such territories as a whole and may balance them, in more time.")
        return "infeasible", " ".join(reasons)


def design(inputs: DesignInputs, scenario: Scenario | str = "evenness", **options: Any) -> TerritoryDesigner:
    """Convenience: ``TerritoryDesigner(scenario, **options).fit(inputs)``."""
    return TerritoryDesigner(scenario, **options).fit(inputs)


__all__ = ["COMPONENTS", "SCENARIOS", "DesignInputs", "Scenario", "TerritoryDesigner", "add_rep", "design",
           "lp_lower_bound", "pinned_accounts", "prepare_inputs", "remove_rep", "territory_id"]


def prepare_inputs(scored: pd.DataFrame, reps: pd.DataFrame, units: Units, locks: dict[str, str] | None = None,
                   named: dict[str, str] | None = None, cost: pd.DataFrame | None = None) -> DesignInputs:
    """Design inputs from a loaded dataset: the current ownership (each ZIP's majority owner) is the baseline."""
    from territory_geo.units import ownership_by_zip

    if reps is None or reps.empty:
        msg = "Designing territories needs a reps file with each rep's home base."
        raise TerritoryError(msg)
    return DesignInputs(units=units, scored=scored, reps=reps, baseline=ownership_by_zip(units, scored),
                        locks=dict(locks or {}), named=dict(named or {}), cost=cost)


def scenario_from_mapping(base: Scenario, values: dict[str, Any]) -> Scenario:
    """A scenario with fields overridden from a mapping (a TOML table), unknown keys rejected by name."""
    allowed = {"weights", "tolerance", "disruption_budget", "proximity_weight", "compactness_weight", "label"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        msg = f"Unknown scenario setting(s) {unknown} for {base.name!r}; allowed: {sorted(allowed)}."
        raise TerritoryError(msg)
    return replace(base, **values)


def scenario_record(scenario: Scenario) -> dict[str, Any]:
    """A scenario as plain data (for metrics.json)."""
    return {"name": scenario.name, "label": scenario.label, "weights": scenario.normalised_weights(),
            "tolerance": scenario.tolerance, "start": scenario.start, "disruption_budget": scenario.disruption_budget,
            "proximity_weight": scenario.proximity_weight, "compactness_weight": scenario.compactness_weight}


def add_rep(inputs: DesignInputs, current: pd.Series, rep: dict[str, Any], tolerance: float | None = None,
            disruption_budget: float | None = None, **options: Any) -> TerritoryDesigner:
    """Add a rep with minimal disruption: the new territory starts as the ZIP at the rep's home and takes what the
    tolerance demands from its neighbours; everything else keeps its current owner.

    Parameters
    ----------
    inputs
        Design inputs of the current team.
    current
        Current assignment, ZIP -> rep id (e.g. a saved plan's, mapped to reps).
    rep
        The new rep: ``rep_id``, ``home_lat``, ``home_lon`` and optionally ``capacity`` (tenure default otherwise).
    """
    missing = [k for k in ("rep_id", "home_lat", "home_lon") if k not in rep]
    if missing:
        msg = f"The new rep needs {missing}."
        raise TerritoryError(msg)
    rep_id = str(rep["rep_id"])
    if rep_id in set(inputs.reps["rep_id"].astype(str)):
        msg = f"Rep {rep_id!r} is already on the team."
        raise TerritoryError(msg)
    row = {"capacity": CapacitySettings().capacity_for_tenure(0.0), **rep}
    reps = pd.concat([inputs.reps, pd.DataFrame([row])], ignore_index=True)
    home = _project(np.array([float(rep["home_lon"])]), np.array([float(rep["home_lat"])]))[0]
    geo = Geography.from_units(inputs.units)
    seed_unit = geo.zips[int(np.argmin(np.hypot(*(geo.xy - home).T)))]
    baseline = current.copy()
    baseline[seed_unit] = rep_id
    return _rebalance(inputs, reps, baseline, tolerance, disruption_budget, options)


def remove_rep(inputs: DesignInputs, current: pd.Series, rep_id: str, tolerance: float | None = None,
               disruption_budget: float | None = None, **options: Any) -> TerritoryDesigner:
    """Remove a rep: their ZIPs go to the neighbouring territories (nearest home first, then rebalanced with
    minimal disruption)."""
    if rep_id not in set(inputs.reps["rep_id"].astype(str)):
        msg = f"Rep {rep_id!r} is not on the team."
        raise TerritoryError(msg)
    reps = inputs.reps[inputs.reps["rep_id"].astype(str) != rep_id].reset_index(drop=True)
    if reps.empty:
        msg = "Cannot remove the last rep."
        raise TerritoryError(msg)
    baseline = current.where(current.astype(str) != rep_id)
    named = {a: r for a, r in inputs.named.items() if r != rep_id}
    locks = {z: r for z, r in inputs.locks.items() if r != rep_id}
    trimmed = replace(inputs, named=named, locks=locks)
    return _rebalance(trimmed, reps, baseline, tolerance, disruption_budget, options)


def _rebalance(inputs: DesignInputs, reps: pd.DataFrame, baseline: pd.Series, tolerance: float | None,
               budget: float | None, options: dict[str, Any]) -> TerritoryDesigner:
    scenario = replace(SCENARIOS["disruption"], disruption_budget=budget)
    changed = replace(inputs, reps=reps, baseline=baseline)
    return TerritoryDesigner(scenario, tolerance=tolerance, **options).fit(changed)
