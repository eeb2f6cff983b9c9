"""The balance measure: each component normalised by its total, blended by the scenario's weights, against each
territory's capacity share of the whole."""

from __future__ import annotations

import numpy as np

from territory_geo.design.problem import Problem


def norms(problem: Problem) -> np.ndarray:
    """Normaliser of each component: its total (travel: as if every unit went to its nearest rep)."""
    totals = problem.comp[:, 0, :].sum(axis=0) + problem.fixed.sum(axis=0)
    totals[-1] = problem.comp[np.arange(problem.geo.n), problem.dist.argmin(axis=1), -1].sum()
    return np.where(totals > 0, totals, 1.0)


def unit_measure(problem: Problem) -> np.ndarray:
    """Balance measure of each unit for each rep (n x K): the weighted, normalised blend of components."""
    norm = norms(problem)
    return (problem.comp / norm) @ problem.weights


def targets(problem: Problem, measure: np.ndarray) -> np.ndarray:
    """Each territory's target in the measure: its capacity share of the units' (at their nearest rep) and the named
    accounts' total."""
    total = measure[np.arange(problem.geo.n), problem.dist.argmin(axis=1)].sum()
    total += ((problem.fixed / norms(problem)) @ problem.weights).sum()
    return problem.shares * total
