"""The balance measure and the tallies the search keeps of it.

Each component is normalised by its total and blended by the scenario's weights; a territory's target is its
capacity share of the whole (:func:`norms`, :func:`unit_measure`, :func:`targets`). The local search tallies each
territory's components exactly (:class:`BalanceTally`, travel included); the border searches work on a linear view
of the same measure taken when they start (:class:`LinearBalance`), with the distance (:class:`DistanceTally`);
:class:`ChurnTally` counts the ARR changing owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from territory_geo.design.problem import Problem

if TYPE_CHECKING:
    from territory_geo.design.state import WorkingState


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


class BalanceTally:
    """The local search's view of balance: each territory's balance components (``K x C``, named accounts plus its
    units' values for its rep), exact whatever the travel totals do.

    Parameters
    ----------
    problem
        The problem arrays.
    assign
        Rep position of every unit: the assignment tallied.

    Attributes
    ----------
    comp_tally
        ``K x C`` component totals of each territory.
    seen
        The assignment the tallies describe (a state's assignment once caught up, :meth:`loaded`).
    """

    def __init__(self, problem: Problem, assign: np.ndarray) -> None:
        self.problem = problem
        self.seen = np.asarray(assign, dtype=np.int64).copy()
        n = problem.geo.n
        self.comp_tally = problem.fixed.copy()
        np.add.at(self.comp_tally, self.seen, problem.comp[np.arange(n), self.seen])

    def moved(self, u: int, a: int, b: int) -> None:
        """See :class:`~territory_geo.design.state.Tally`."""
        comp = self.problem.comp
        self.comp_tally[a] -= comp[u, a]
        self.comp_tally[b] += comp[u, b]
        self.seen[u] = b

    def loaded(self, state: WorkingState) -> None:
        """Catch up with ``state``: every unit whose territory differs moves, in unit order."""
        for u in np.flatnonzero(state.assign != self.seen).tolist():
            self.moved(u, int(self.seen[u]), int(state.assign[u]))

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """The tallies and their assignment, for :meth:`restore`."""
        return self.comp_tally.copy(), self.seen.copy()

    def restore(self, saved: tuple[np.ndarray, np.ndarray]) -> None:
        """Go back to a :meth:`snapshot`."""
        self.comp_tally, self.seen = (x.copy() for x in saved)

    def scale(self) -> np.ndarray:
        """Each component's total over all territories (1 where it is 0)."""
        totals = self.comp_tally.sum(axis=0)
        return np.where(totals > 0, totals, 1.0)

    def deviations(self) -> np.ndarray:
        """Deviation of each territory's balance measure from its target (blend of component ratios)."""
        totals = self.comp_tally.sum(axis=0)
        ratio = self.comp_tally / np.where(totals > 0, totals, 1.0) / self.problem.shares[:, None]
        return (ratio - 1.0) @ self.problem.weights

    def unit_shares(self, units: np.ndarray, t: int) -> np.ndarray:
        """Each unit's share of territory ``t``'s target, in deviation units."""
        p = self.problem
        return (p.comp[units, t] / self.scale() / p.shares[t]) @ p.weights

    def linear(self) -> tuple[np.ndarray, np.ndarray]:
        """The linear view for a border search (:class:`LinearBalance`): ``mu`` (``n x K``, each unit's share of
        each target at today's totals, travel included) and ``offset`` (each territory's deviation not from units)."""
        p = self.problem
        totals = self.scale()
        mu = np.einsum("ukc,c->uk", p.comp / totals, p.weights) / p.shares[None, :]
        offset = ((p.fixed / totals) @ p.weights) / p.shares - 1.0
        return mu, offset


class ChurnTally:
    """ARR that changed owner since the tally started: a unit's ARR counts when it leaves today's owner, and counts
    back when it returns (what the start itself moved is not counted)."""

    def __init__(self, owner: np.ndarray, arr: np.ndarray, assign: np.ndarray) -> None:
        self.owner, self.arr = owner, arr
        self.seen = np.asarray(assign, dtype=np.int64).copy()
        self.value = 0.0

    def change(self, u: int, a: int, b: int) -> float:
        """The change of :attr:`value` if unit ``u`` moves from ``a`` to ``b``."""
        owner = self.owner[u]
        return self.arr[u] if owner == a else (-self.arr[u] if owner == b else 0.0)

    def moved(self, u: int, a: int, b: int) -> None:
        """See :class:`~territory_geo.design.state.Tally`."""
        self.value += self.change(u, a, b)
        self.seen[u] = b

    def loaded(self, state: WorkingState) -> None:
        """Catch up with ``state``, as :meth:`BalanceTally.loaded`."""
        for u in np.flatnonzero(state.assign != self.seen).tolist():
            self.moved(u, int(self.seen[u]), int(state.assign[u]))

    def snapshot(self) -> tuple[float, np.ndarray]:
        """The value and its assignment, for :meth:`restore`."""
        return self.value, self.seen.copy()

    def restore(self, saved: tuple[float, np.ndarray]) -> None:
        """Go back to a :meth:`snapshot`."""
        self.value, self.seen = saved[0], saved[1].copy()


class LinearBalance:
    """The border searches' view of balance, linear in the moved units: territory t's deviation is
    ``Σ mu[u, t]`` over its units ``+ offset[t]`` (:meth:`BalanceTally.linear`).

    Attributes
    ----------
    dev
        Each territory's deviation.
    """

    def __init__(self, mu: np.ndarray, offset: np.ndarray) -> None:
        self.mu = mu
        self.offset = np.asarray(offset).astype(float).tolist()
        self.dev: list[float] = []

    def moved(self, u: int, a: int, b: int) -> None:
        """See :class:`~territory_geo.design.state.Tally`."""
        self.dev[a] -= float(self.mu[u, a])
        self.dev[b] += float(self.mu[u, b])

    def loaded(self, state: WorkingState) -> None:
        """Count every deviation again from ``state``."""
        mu = self.mu
        self.dev[:] = self.offset
        for u, a in enumerate(state.labels):
            self.dev[a] += float(mu[u, a])


class DistanceTally:
    """Weighted mean distance to home: ``Σ weight[u] · dist[u, t]`` with the weights normalised to sum to 1.

    Attributes
    ----------
    weight
        Each unit's normalised weight.
    value
        The weighted distance (km).
    """

    def __init__(self, dist: np.ndarray, weight: np.ndarray) -> None:
        self.dist = dist
        total = float(weight.sum()) or 1.0
        self.weight = (weight / total).tolist()
        self.value = 0.0

    def moved(self, u: int, a: int, b: int) -> None:
        """See :class:`~territory_geo.design.state.Tally`."""
        self.value += self.weight[u] * float(self.dist[u, b] - self.dist[u, a])

    def loaded(self, state: WorkingState) -> None:
        """Count the distance again from ``state``."""
        self.value = sum(self.weight[u] * float(self.dist[u, a]) for u, a in enumerate(state.labels))
