"""Where the search starts: the seeded k-means reference, the exact-balance transport LP (HiGHS) rounded to each
unit's largest share, its national two-level candidates, and the least-churn LP of the min-disruption scenario."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from territory_geo.design.measure import norms, targets, unit_measure
from territory_geo.design.problem import Problem
from territory_geo.design.scenarios import COMPONENTS, Scenario
from territory_geo.plan import Geography
from territory_geo.settings import DesignSettings


def kmeans(problem: Problem, seed: int) -> np.ndarray:
    """k-means on projected ZIP centroids, weighted by potential, started at the reps' homes: cluster i -> rep i."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=len(problem.tids), init=problem.homes, n_init=1, random_state=seed)
    return km.fit(problem.geo.xy, sample_weight=problem.weight_u).labels_.astype(np.int64)


def transport(problem: Problem, tolerance: float, seed: int, settings: DesignSettings) -> np.ndarray:
    """The transport LP, rounded: each unit goes to the territory holding its largest share.

    Cost is potential x squared distance: the LP then assigns by a power diagram (straight borders, convex
    cells), which keeps territories compact and nearly contiguous. Every unit carries a sliver of measure
    (1 % of the mean) so that units without potential are priced like the rest and follow the same borders
    instead of scattering to the nearest home. Above ``settings.lp_max_pairs`` unit x candidate pairs (national
    scale) the variables come from the same LP solved on clusters of units first (:func:`coarse_candidates`).
    """
    n, k = problem.geo.n, len(problem.tids)
    tp = transport_problem(problem)
    national = n * min(k, 24) > settings.lp_max_pairs
    pairs = coarse_candidates(tp, problem.geo, seed, settings.coarse_clusters) if national else None
    # the centre re-solve pulls towards geometric middles, which means nothing for road times
    labels = solve_lp(tp, pairs, tolerance, settings.centre_blend,
                      0 if problem.road_times else settings.centre_iterations)
    return kmeans(problem, seed) if labels is None else labels


def disruption_start(problem: Problem, owner: np.ndarray, scenario: Scenario, seed: int,
                     settings: DesignSettings) -> np.ndarray:
    """Where the min-disruption search starts: the least-churn balanced LP (:func:`keep_owners`), or today's
    ownership itself when that LP would already move more ARR than the disruption budget allows (the search
    then moves what the budget permits and reports the rest)."""
    start = keep_owners(problem, owner, scenario.tolerance, seed, settings)
    budget = scenario.disruption_budget
    if budget is not None:
        moved = float(problem.unit_arr[start != owner].sum())
        if moved > budget * max(float(problem.unit_arr.sum()), 1e-9):
            return owner.copy()
    return start


def keep_owners(problem: Problem, owner: np.ndarray, tolerance: float, seed: int,
                settings: DesignSettings) -> np.ndarray:
    """Minimum disruption as a transport LP, rounded: the least ARR changing owner (plus a tenth as much
    potential x squared distance, so units without ARR follow compact borders) that puts every territory
    within half the tolerance. Each unit may stay with its owner or go to one of its 24 nearest homes; above
    ``settings.lp_max_pairs`` pairs (national scale), to a neighbouring unit's owner or a rep of the clustered
    transport LP's candidates (:func:`coarse_candidates`)."""
    n, k = problem.geo.n, len(problem.tids)
    tp = transport_problem(problem)
    if n * min(k, 24) > settings.lp_max_pairs:
        geo = problem.geo
        coarse_rows, coarse_cols = coarse_candidates(tp, geo, seed, settings.coarse_clusters)
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
    x = solve_transport(tp, churn + 0.1 * proximity, band=tolerance / 2, candidates=(pairs[:, 0], pairs[:, 1]))
    return owner.copy() if x is None else np.asarray(x.argmax(axis=1)).ravel().astype(np.int64)


def solve_lp(tp: Transport, pairs: tuple[np.ndarray, np.ndarray] | None, tolerance: float, centre_blend: float,
             centre_iterations: int) -> np.ndarray | None:
    """Labels of the rounded transport LP with the centre re-solves, or None when no band up to 4x is feasible.

    ``pairs`` restricts the variables to given (unit, rep) pairs (national scale); otherwise each unit's 24
    nearest homes are tried first, then 64, then all (remote reps may need units farther away). Each centre
    re-solve moves each territory's centre to ``centre_blend`` x home + (1 - ``centre_blend``) x its area centroid.
    """
    k = len(tp.homes)
    band = tolerance / 2
    dist2 = tp.dist ** 2
    x = None
    tries: list[int | tuple[np.ndarray, np.ndarray]] = [pairs] if pairs is not None else \
        sorted({min(k, 24), min(k, 64), k})
    for candidates in tries:
        x = solve_transport(tp, dist2 * tp.weight[:, None], band=band, candidates=candidates,
                            widen=(1, 2, 4) if candidates is tries[-1] else (1,))
        if x is not None:
            break
    if x is None:
        return None
    for _ in range(centre_iterations):  # pull each territory's centre towards its own middle
        labels = np.asarray(x.argmax(axis=1)).ravel()
        middle = np.array([np.average(tp.xy[labels == t], axis=0, weights=tp.area[labels == t])
                           if (labels == t).any() else tp.homes[t] for t in range(k)])
        centres = centre_blend * tp.homes + (1 - centre_blend) * middle
        d2 = ((tp.xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2) / 1e6
        again = solve_transport(tp, d2 * tp.weight[:, None], band=band, candidates=candidates)
        if again is None:
            break
        x = again
    return np.asarray(x.argmax(axis=1)).ravel().astype(np.int64)


@dataclass
class Transport:
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


def transport_problem(problem: Problem) -> Transport:
    """The transport LP's arrays for a problem. Travel depends on the assignment itself, so the LP balances the
    other components (renormalised) and the local search brings travel in. Every unit carries a sliver of measure
    (1 % of the mean) so that units without potential are priced like the rest."""
    weights = problem.weights.copy()
    weights[-1] = 0.0
    weights = weights / weights.sum() if weights.sum() > 0 else np.eye(len(COMPONENTS))[0]
    problem = replace(problem, weights=weights)
    measure = unit_measure(problem)
    sliver = 0.01 * measure.mean()
    target = targets(problem, measure) + problem.shares * sliver * problem.geo.n
    return Transport(dist=problem.dist, xy=problem.geo.xy, area=problem.geo.area, homes=problem.homes,
                     weight=problem.weight_u, measure=measure + sliver, target=target,
                     fixed=(problem.fixed / norms(problem)) @ problem.weights, locked=problem.locked)


def coarse_candidates(tp: Transport, geo: Geography, seed: int, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (unit, rep) pairs for a national-scale transport LP, from the same LP on clusters of units.

    Units are grouped into ``clusters`` clusters (k-means on centroids, weighted by proximity weight);
    the LP with every rep is solved on the clusters, and each unit may then go to any rep that its own cluster or a
    neighbouring unit's cluster uses (plus its lock and its nearest home). The fine LP on these few pairs per unit
    keeps the coarse solution's reach (remote reps get the far units they need) at a fraction of the variables.
    """
    from sklearn.cluster import MiniBatchKMeans

    n, k = tp.dist.shape
    c = min(clusters, n)
    label = MiniBatchKMeans(c, random_state=seed, n_init=1, batch_size=4096).fit(
        tp.xy, sample_weight=tp.weight).labels_
    weight = np.bincount(label, weights=tp.weight, minlength=c)
    centre = np.column_stack([np.bincount(label, weights=tp.weight * tp.xy[:, i], minlength=c)
                              for i in range(2)]) / np.maximum(weight, 1e-300)[:, None]
    home_d = np.hypot(centre[:, None, 0] - tp.homes[None, :, 0], centre[:, None, 1] - tp.homes[None, :, 1]) / 1000
    measure = np.column_stack([np.bincount(label, weights=tp.measure[:, r], minlength=c) for r in range(k)])
    locked = np.full(c, -1, dtype=np.int64)  # a cluster holding a locked unit is not locked as a whole
    coarse = Transport(dist=home_d, xy=centre, area=np.bincount(label, weights=tp.area, minlength=c),
                       homes=tp.homes, weight=weight, measure=measure, target=tp.target, fixed=tp.fixed,
                       locked=locked)
    x = solve_transport(coarse, weight[:, None] * home_d ** 2, band=0.0125, candidates=k, widen=(1, 2, 4, 8))
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


def solve_transport(tp: Transport, cost: np.ndarray, band: float, candidates: int | tuple[np.ndarray, np.ndarray],
                    widen: tuple[float, ...] = (1, 2, 4)) -> sparse.csr_matrix | None:
    """min Σ cost·x  s.t. every unit fully assigned, each territory's measure within ``band`` of its target.

    The variables are each unit's ``candidates`` nearest homes, or the given (unit, rep) pairs, plus each unit's
    lock. The band is widened by the factors in ``widen`` while infeasible; returns the fractional assignment
    (n x K) or None.
    """
    from scipy.optimize import linprog

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
