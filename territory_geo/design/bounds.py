"""Lower bounds on the potential-weighted distance of any exactly balanced plan: the transport LP relaxation
(:func:`lp_lower_bound`, reported after the design) and its Lagrangian dual (:func:`dual_lower_bound`, fast enough
to steer the design)."""

from __future__ import annotations

import numpy as np

from territory_geo.design.problem import Problem
from territory_geo.design.start import Transport, solve_transport
from territory_geo.settings import DesignSettings


def lp_lower_bound(problem: Problem, max_variables: int | None = None) -> float:
    """Potential-weighted distance (km) of the exact-balance transport LP relaxation on potential: no exactly
    balanced plan, contiguous or not, can do better. NaN above ``max_variables`` unit x rep pairs (default:
    :attr:`~territory_geo.settings.DesignSettings.full_bound_variables`)."""
    pot = problem.geo.values[:, 0]
    k = len(problem.tids)
    fixed = problem.fixed[:, 0]
    total = pot.sum() + fixed.sum()
    if problem.geo.n * k > (DesignSettings().full_bound_variables if max_variables is None else max_variables):
        return float("nan")  # not computed at national scale (the LP alone takes longer than the design)
    tp = Transport(dist=problem.dist, xy=problem.geo.xy, area=problem.geo.area, homes=problem.homes,
                   weight=pot, measure=np.repeat(pot[:, None], k, axis=1), target=problem.shares * total - fixed,
                   fixed=np.zeros(k), locked=problem.locked)
    x = solve_transport(tp, problem.dist * pot[:, None], band=0.0, candidates=k)
    if x is None:
        return float("nan")
    return float(x.multiply(problem.dist).multiply(pot[:, None]).sum() / max(pot.sum(), 1e-12))


def dual_lower_bound(problem: Problem, smoothing: tuple[float, ...] = (0.02, 0.005), iterations: int = 100,
                     max_variables: int | None = None) -> float | None:
    """A lower bound (km) on the same potential-weighted distance as :func:`lp_lower_bound`, fast enough to use
    inside the design. By weak duality, any price per territory λ gives one:
    ``Σ_u pot_u · min_t (d_ut − λ_t) + Σ_t λ_t · target_t`` (over the total potential). The prices come from
    L-BFGS on the soft-min version of that function (temperature ``smoothing`` x the mean distance to the nearest
    home), and the bound is the exact function at those prices (as tight as the LP in a fraction of its time,
    docs/BENCHMARKS.md). Locked ZIPs count for their rep only. None where the LP would be as large as the design
    (above ``max_variables`` unit x rep pairs, as :func:`lp_lower_bound`) or a target is not positive (the named
    accounts fill it)."""
    from scipy.optimize import minimize

    pot = problem.geo.values[:, 0]
    k = len(problem.tids)
    target = problem.shares * (pot.sum() + problem.fixed[:, 0].sum()) - problem.fixed[:, 0]
    keep = pot > 0
    limit = DesignSettings().full_bound_variables if max_variables is None else max_variables
    if problem.geo.n * k > limit or k < 2 or not keep.any() or (target <= 0).any():
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

