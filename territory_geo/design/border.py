"""The fast border search: what the ejection chains (:mod:`.balance`), re-splits (:mod:`.resplit`), the compactness
polish (:mod:`.polish`) and the region re-draw (:mod:`.repartition`) work on.

A :class:`BorderSearch` sits on a :class:`~territory_geo.design.state.WorkingState` and attaches the linear view of
balance (territory t's deviation is ``Σ mu[u, t]`` over its units ``+ offset[t]``,
:class:`~territory_geo.design.measure.LinearBalance`) and the weighted distance to home; it holds the balance goal,
the distance budget, the units it may move, a seeded random order and the clock. Everything runs on plain Python
lists: one move costs a few microseconds.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np

from territory_geo.design.measure import DistanceTally, LinearBalance
from territory_geo.design.state import WorkingState
from territory_geo.settings import DesignSettings


def past(deadline: float, step: str, noted: list[str]) -> bool:
    """Whether ``deadline`` has passed; if so, notes ``step`` in ``noted`` (once): the steps a clock cut short, whose
    result may differ on a faster or slower machine."""
    if time.perf_counter() <= deadline:
        return False
    if step not in noted:
        noted.append(step)
    return True


class BorderSearch:
    """Boundary moves on a working state that keep balance within the goal and the distance within its budget.

    Parameters
    ----------
    state
        The working state (counted again from its assignment; moved in place).
    mu
        ``n x K``: each unit's share of each territory's target in the balance measure.
    offset
        Per-territory deviation that does not come from units (named accounts, minus 1).
    goal
        Balance goal: a move may not push a territory's deviation beyond ``max(goal, |current|)``.
    dist, weight
        ``n x K`` distance (km) of each unit to each rep's home, and each unit's proximity weight (potential).
    distance_budget
        Potential-weighted mean distance may grow by at most this factor over the start's.
    movable
        Units the search may move (locked ZIPs and, for min-disruption, customers' ZIPs are left out).
    seed
        Seed of the move order and the random draws.
    clock_stops
        A list to note in (shared with the caller; default: a new one), see :attr:`clock_stops_`.
    settings
        The engine's settings (the searches' counts of work).

    Attributes
    ----------
    moves_
        Flips made (a swap counts as two).
    clock_stops_
        The steps (``polish``, ``eject``, ``recombine``, ``settle``, ``shorten``, ``compact``, ``repartition``) that
        a deadline cut short. Every step also has a count of work that ends it; only a step the clock ends can give
        another result on a faster or slower machine, so an empty list means the same seed gives the same result
        anywhere.
    """

    def __init__(self, state: WorkingState, mu: np.ndarray, offset: np.ndarray, goal: float, dist: np.ndarray,
                 weight: np.ndarray, distance_budget: float = 1.02, movable: np.ndarray | None = None, seed: int = 0,
                 clock_stops: list[str] | None = None, settings: DesignSettings | None = None) -> None:
        self.state = state
        self.settings = settings or DesignSettings()
        self.n, self.k = state.n, mu.shape[1]
        self.movable = [True] * self.n if movable is None else [bool(m) for m in movable]
        self.mu, self.dist = mu, dist
        self.goal = goal
        self.balance, self.distances = LinearBalance(mu, offset), DistanceTally(dist, weight)
        state.recount()
        state.attach(self.balance, self.distances)
        self.distance_cap = self.distance * distance_budget
        self.rng = random.Random(seed)
        self.seed = seed
        self.moves_ = 0
        self.chain_deadline = math.inf  # where a chain of re-splits must stop, inside the chain
        self.clock_stops_ = [] if clock_stops is None else clock_stops
        self.step = "polish"

    def close(self) -> None:
        """Detach this search's tallies from the state (the state keeps its assignment)."""
        self.state.detach(self.balance, self.distances)

    @property
    def dev(self) -> list[float]:
        """Each territory's deviation (linear view)."""
        return self.balance.dev

    @property
    def offset(self) -> list[float]:
        """Each territory's deviation not from units."""
        return self.balance.offset

    @property
    def weight(self) -> list[float]:
        """Each unit's proximity weight, normalised to sum to 1."""
        return self.distances.weight

    @property
    def distance(self) -> float:
        """Potential-weighted mean distance to home (km)."""
        return self.distances.value

    @property
    def assign_(self) -> np.ndarray:
        """The current assignment."""
        return np.array(self.state.labels, dtype=np.int64)

    def late(self, deadline: float) -> bool:
        """Whether ``deadline`` has passed; if so, notes the running step in :attr:`clock_stops_`."""
        return past(deadline, self.step, self.clock_stops_)

    # --- measures ------------------------------------------------------------------------------------------------

    def pp(self, t: int) -> float:
        """Polsby-Popper compactness of territory ``t``."""
        p = self.state.perimeter[t]
        return 4 * math.pi * self.state.area[t] / (p * p) if p > 0 else 0.0

    def pp_mean(self) -> float:
        """Mean Polsby-Popper compactness."""
        return sum(self.pp(t) for t in range(self.k)) / self.k

    def excess(self) -> float:
        """Balance energy: the summed squares of every territory's deviation beyond the goal (0 when balanced)."""
        goal = self.goal
        return sum(max(abs(d) - goal, 0.0) ** 2 for d in self.dev)

    def flip_gain(self, u: int, a: int, b: int) -> tuple[float, float, float]:
        """PP gain of a + b if ``u`` moves from a to b, and the two new perimeters."""
        state = self.state
        au = state.unit_area[u]
        pa, pb = state.perimeters_after(u, a, b)
        after = (4 * math.pi * (state.area[a] - au) / (pa * pa) if pa > 0 else 0.0) \
            + 4 * math.pi * (state.area[b] + au) / (pb * pb)
        return after - self.pp(a) - self.pp(b), pa, pb

    @staticmethod
    def balance_ok(a: float, new_a: float, b: float, new_b: float, goal: float) -> bool:
        """Whether both new deviations are within ``goal`` or no worse than before."""
        return abs(new_a) <= max(goal, abs(a)) and abs(new_b) <= max(goal, abs(b))

    # --- moves ---------------------------------------------------------------------------------------------------

    def apply(self, u: int, b: int, pa: float, pb: float) -> None:
        """Move ``u`` to ``b``, given the perimeters of its territory and of b afterwards (:meth:`flip_gain`)."""
        self.state.move(u, b, (pa, pb))
        self.moves_ += 1

    def flip(self, u: int, b: int) -> None:
        """Move ``u`` to ``b``."""
        _, pa, pb = self.flip_gain(u, self.state.labels[u], b)
        self.apply(u, b, pa, pb)

    def load(self, assign: list[int]) -> None:
        """Take ``assign`` as the assignment (every tally counted again)."""
        self.state.load(assign)

    def border_units(self, t: int, b: int) -> list[int]:
        """Movable units of ``t`` that touch territory ``b``."""
        labels, movable, nbrs = self.state.labels, self.movable, self.state.nbrs
        return [u for u in self.state.members[t] if movable[u] and any(labels[v] == b for v in nbrs[u])]

    def run_chains(self, deadline: float, budget: int, chain: Callable[[int, int, list[int]], bool]) -> bool:
        """Run ``chain(territory, sign, [budget])`` from every territory beyond the goal, worst first, until all
        are within it, a round makes no progress, or the deadline. Returns whether all are within the goal."""
        goal = self.goal
        while True:
            bad = sorted((t for t in range(self.k) if abs(self.dev[t]) > goal), key=lambda t: -abs(self.dev[t]))
            if not bad or self.late(deadline):
                break
            progress = False
            for t in bad:
                if self.late(deadline):
                    break
                if abs(self.dev[t]) > goal and chain(t, 1 if self.dev[t] > 0 else -1, [budget]):
                    progress = True
            if not progress:
                break
        return self.excess() == 0
