"""Balance, compactness, proximity and disruption metrics of a :class:`~territory_geo.plan.Plan`.

Deviation is measured against each territory's target (targets follow rep capacity), so a new hire's smaller
territory is "balanced" when it matches its smaller target. CV is the coefficient of variation of tally ÷ target
(population standard deviation ÷ mean).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from territory_geo.plan import Plan


def cv(values: np.ndarray) -> float:
    """Coefficient of variation (population std ÷ mean); 0 for an empty or zero-mean array."""
    values = np.asarray(values, dtype=float)
    mean = values.mean() if len(values) else 0.0
    return float(values.std() / mean) if mean else 0.0


def home_distance_km(plan: Plan, homes_xy: np.ndarray) -> np.ndarray:
    """Distance (km) from each unit's centroid to its territory's rep home (projected, equal-area CRS)."""
    geo = plan.geography
    home = homes_xy[plan.assignment]
    return np.hypot(*(geo.xy - home).T) / 1000.0


def territory_table(plan: Plan, shares: np.ndarray, homes_xy: np.ndarray | None = None,
                    rep_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per-territory figures: tallies, targets and deviations, shape, and potential-weighted distance to home."""
    tallies = plan.tallies()
    out = tallies.copy()
    for metric in ("potential", "workload_units"):
        target = shares * tallies[metric].sum()
        out[f"target_{metric}"] = target
        out[f"dev_{metric}"] = np.where(target > 0, tallies[metric].to_numpy() / np.maximum(target, 1e-12) - 1, 0.0)
    out = out.join(plan.shape())
    out["contiguous"] = ~out.index.isin(plan.noncontiguous())
    if homes_xy is not None:
        dist = home_distance_km(plan, homes_xy)
        pot = plan.geography.values[:, 0]
        k = len(plan.territories)
        weighted = np.bincount(plan.assignment, weights=pot * dist, minlength=k)
        total = np.bincount(plan.assignment, weights=pot, minlength=k)
        out["distance_km"] = np.where(total > 0, weighted / np.maximum(total, 1e-12), 0.0)
    if rep_ids is not None:
        out.insert(0, "rep_id", [rep_ids.get(t, t) for t in out.index])
    return out


def plan_summary(plan: Plan, shares: np.ndarray, homes_xy: np.ndarray | None = None,
                 baseline: Plan | None = None, unit_arr: np.ndarray | None = None) -> dict[str, float | int]:
    """The scenario metrics: CV and max deviation of potential and workload, non-contiguous count, mean
    Polsby-Popper, potential-weighted distance to home, and (against a baseline) accounts and ARR changing owner
    and the share of reps whose potential is at least their current one."""
    table = territory_table(plan, shares, homes_xy)
    ratio_p = 1 + table["dev_potential"].to_numpy()
    ratio_w = 1 + table["dev_workload_units"].to_numpy()
    summary: dict[str, float | int] = {
        "cv_potential": cv(ratio_p),
        "max_dev_potential": float(np.abs(table["dev_potential"]).max()),
        "cv_workload": cv(ratio_w),
        "max_dev_workload": float(np.abs(table["dev_workload_units"]).max()),
        "n_noncontiguous": len(plan.noncontiguous()),
        "pp_mean": float(table["polsby_popper"].mean()),
        "pp_min": float(table["polsby_popper"].min()),
    }
    if homes_xy is not None:
        pot = plan.geography.values[:, 0]
        dist = home_distance_km(plan, homes_xy)
        summary["distance_km_weighted"] = float((pot * dist).sum() / max(pot.sum(), 1e-12))
    if baseline is not None:
        changed = plan.assignment != baseline.assignment
        values = plan.geography.values
        summary["units_changed"] = int(changed.sum())
        summary["accounts_changed"] = int(values[changed, 2].sum())
        arr = values[:, 3] if unit_arr is None else unit_arr
        summary["arr_changed"] = float(arr[changed].sum())
        summary["arr_changed_share"] = float(arr[changed].sum() / max(arr.sum(), 1e-12))
        before = baseline.tallies()["potential"].reindex(plan.territories).fillna(0.0).to_numpy()
        after = plan.tallies()["potential"].to_numpy()
        summary["share_reps_not_worse"] = float(np.mean(after >= before - 1e-9))
    return summary


#: Columns of the scenario comparison, in display order.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "cv_potential", "max_dev_potential", "cv_workload", "max_dev_workload", "n_noncontiguous", "pp_mean",
    "distance_km_weighted", "accounts_changed", "arr_changed_share", "share_reps_not_worse",
)


def comparison_table(summaries: Mapping[str, Mapping[str, float | int] | None]) -> pd.DataFrame:
    """Scenario metrics side by side: one row per plan (label -> summary), the columns of
    :data:`COMPARISON_COLUMNS` (missing ones left empty)."""
    rows = {label: {c: (summary or {}).get(c) for c in COMPARISON_COLUMNS} for label, summary in summaries.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("plan").reset_index()


def region_rollup(table: pd.DataFrame, region_of: Mapping[str, str]) -> pd.DataFrame:
    """Territories rolled up into regions (``region_of``: rep id -> region): totals, territory count, and the
    spread of each region's territories around their targets."""
    frame = table.assign(region=table["rep_id"].map(lambda r: region_of.get(r) or "(no region)"))
    return frame.groupby("region").agg(
        territories=("rep_id", "size"), potential=("potential", "sum"), workload_units=("workload_units", "sum"),
        accounts=("accounts", "sum"), arr=("arr", "sum"), worst_dev_potential=("dev_potential", lambda d: d.abs().max()),
    ).reset_index()
