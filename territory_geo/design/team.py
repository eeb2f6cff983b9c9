"""Team changes with minimal disruption: add a rep (:func:`add_rep`) or remove one (:func:`remove_rep`), each
rebalanced from the current plan by the min-disruption scenario."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from territory_geo.design.designer import TerritoryDesigner
from territory_geo.design.problem import DesignInputs, project
from territory_geo.design.scenarios import SCENARIOS
from territory_geo.errors import TerritoryError
from territory_geo.plan import Geography
from territory_geo.settings import CapacitySettings


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
    home = project(np.array([float(rep["home_lon"])]), np.array([float(rep["home_lat"])]))[0]
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
