"""What a design run works on: its inputs (:class:`DesignInputs`) and the arrays built from them once per run
(:class:`Problem`: homes, capacity shares, distances, per-unit balance components, locks)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory_geo.design.scenarios import COMPONENTS, Scenario
from territory_geo.drivetime import Estimate
from territory_geo.errors import TerritoryError
from territory_geo.plan import METRICS, Geography, Plan, split_named_accounts
from territory_geo.settings import DISPLAY_CRS, EQUAL_AREA_CRS, CapacitySettings, DriveTimeSettings
from territory_geo.units import Units


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


def prepare_inputs(scored: pd.DataFrame, reps: pd.DataFrame, units: Units, locks: dict[str, str] | None = None,
                   named: dict[str, str] | None = None, cost: pd.DataFrame | None = None) -> DesignInputs:
    """Design inputs from a loaded dataset: the current ownership (each ZIP's majority owner) is the baseline."""
    from territory_geo.units import ownership_by_zip

    if reps is None or reps.empty:
        msg = "Designing territories needs a reps file with each rep's home base."
        raise TerritoryError(msg)
    return DesignInputs(units=units, scored=scored, reps=reps, baseline=ownership_by_zip(units, scored),
                        locks=dict(locks or {}), named=dict(named or {}), cost=cost)


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


def project(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Lon/lat points in the equal-area CRS (metres), as an ``n x 2`` array."""
    import geopandas as gpd

    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=DISPLAY_CRS).to_crs(EQUAL_AREA_CRS)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


@dataclass
class Problem:
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


def build_problem(inputs: DesignInputs, scenario: Scenario, pin_top_n: int = 0,
                  lock_homes: bool = False) -> tuple[Problem, dict[str, str]]:
    """The problem arrays of a run, and the named accounts it keeps with their reps (given, plus each owner's
    ``pin_top_n`` top accounts)."""
    reps = inputs.reps.dropna(subset=["home_lat", "home_lon"]).reset_index(drop=True)
    if reps.empty:
        msg = "No rep has a home base; add home ZIPs or coordinates to the reps file."
        raise TerritoryError(msg)
    rep_ids = reps["rep_id"].astype(str).tolist()
    tids = [territory_id(r) for r in rep_ids]
    rep_pos = {r: i for i, r in enumerate(rep_ids)}
    capacity = reps["capacity"].astype(float).fillna(CapacitySettings().full_capacity_units).to_numpy()
    shares = capacity / capacity.sum()

    named = named_accounts(inputs, rep_ids, pin_top_n)
    unit_values, fixed = split_named_accounts(inputs.units, inputs.scored, {a: territory_id(r)
                                                                          for a, r in named.items()})
    geo = Geography.from_units(inputs.units, unit_values)
    homes = project(reps["home_lon"].to_numpy(float), reps["home_lat"].to_numpy(float))
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0

    visits = _visits(inputs, geo, named)
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
    weights = np.array([scenario.normalised_weights()[c] for c in COMPONENTS])

    locked = np.full(n, -1, dtype=np.int64)
    if lock_homes:
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
    problem = Problem(geo=geo, rep_ids=rep_ids, tids=tids, homes=homes, shares=shares, dist=dist, comp=comp,
                      fixed=fixed_arr, weights=weights, weight_u=weight_u, locked=locked, fixed_frame=fixed,
                      unit_arr=inputs.units.table["arr"].reindex(geo.zips).to_numpy(float),
                      road_times=inputs.cost is not None)
    return problem, named


def named_accounts(inputs: DesignInputs, rep_ids: list[str], pin_top_n: int) -> dict[str, str]:
    """Named accounts (given, plus each owner's pinned top accounts) of the reps in ``rep_ids``."""
    named = dict(pinned_accounts(inputs.scored, pin_top_n))
    named.update(inputs.named)
    return {a: r for a, r in named.items() if r in set(rep_ids)}


def _visits(inputs: DesignInputs, geo: Geography, named: dict[str, str]) -> np.ndarray:
    """In-person visits a year per unit: touchpoints x the in-person share (named accounts excluded)."""
    if "touchpoints" not in inputs.scored.columns:
        return np.zeros(geo.n)
    keep = ~inputs.scored["account_id"].astype(str).isin(set(named))
    per_zip = inputs.scored.loc[keep, "touchpoints"].groupby(inputs.units.account_zip[keep]).sum()
    return per_zip.reindex(geo.zips).fillna(0.0).to_numpy(float) * DriveTimeSettings().in_person_share


def plan_of(problem: Problem, assign: np.ndarray) -> Plan:
    """The :class:`~territory_geo.plan.Plan` of an assignment (rep positions) of the problem's units."""
    return Plan(problem.geo, assign, problem.tids, fixed=problem.fixed_frame)


def baseline_plan(problem: Problem, baseline: pd.Series | None) -> Plan | None:
    """Today's ownership as a plan (None without owners); units of reps who left go to the nearest remaining home."""
    if baseline is None or baseline.empty:
        return None
    pos = {r: i for i, r in enumerate(problem.rep_ids)}
    owner = baseline.reindex(problem.geo.zips).map(lambda r: pos.get(str(r), -1) if isinstance(r, str) else -1)
    assign = owner.to_numpy(dtype=np.int64).copy()
    if (assign < 0).any():  # units of reps who left: nearest remaining home
        assign[assign < 0] = problem.dist[assign < 0].argmin(axis=1)
    return Plan(problem.geo, assign, problem.tids, fixed=problem.fixed_frame)
