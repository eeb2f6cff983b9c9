"""The one mutable working state of a design: which territory holds each unit, each territory's members, size, area
and perimeter, the connectivity checks, and the tallies that follow every move.

Balance, re-splits, polish and re-draw all move units through :meth:`WorkingState.move`, so the figures stay exact
through one code path. Each phase attaches the tallies it reads (:mod:`territory_geo.design.measure`): the local
search its component tallies, a border search its linear balance and distance. A tally detached while another phase
works catches up when it is attached again (:meth:`Tally.loaded`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from territory_geo.plan import Geography


class Tally(Protocol):
    """A figure of the plan kept up to date move by move."""

    def moved(self, u: int, a: int, b: int) -> None:
        """Unit ``u`` moved from territory ``a`` to ``b``."""
        ...

    def loaded(self, state: WorkingState) -> None:
        """The assignment was replaced as a whole, or the tally was attached: bring it up to date with ``state``."""
        ...


class WorkingState:
    """The assignment of units to territories, with running members, sizes, areas and perimeters.

    Parameters
    ----------
    geo
        The shared geography (adjacency, shared borders, unit perimeters and areas).
    assign
        Territory position of every unit (copied).
    k
        Number of territories (default: one more than the largest position in ``assign``).

    Attributes
    ----------
    assign, labels
        Each unit's territory, as an array (vector reads) and as a list (fast scalar reads); always equal.
    members, size, area, perimeter
        Per territory: its units, their count, their area, and the length of its outline (unit perimeters less
        twice each border shared inside the territory).
    nbrs, lengths, nbr_set
        Each unit's neighbours, the border length shared with each, and the neighbours as a set.
    """

    def __init__(self, geo: Geography, assign: np.ndarray, k: int | None = None) -> None:
        self.geo, self.n = geo, geo.n
        self.assign = np.asarray(assign, dtype=np.int64).copy()
        self.k = int(self.assign.max()) + 1 if k is None else int(k)
        indptr, indices, border = geo.indptr.tolist(), geo.indices.tolist(), geo.border.tolist()
        self.nbrs = [indices[indptr[u]:indptr[u + 1]] for u in range(self.n)]
        self.lengths = [border[indptr[u]:indptr[u + 1]] for u in range(self.n)]
        self.nbr_set = [frozenset(nb) for nb in self.nbrs]
        self.unit_perimeter, self.unit_area = geo.perimeter.tolist(), geo.area.tolist()
        self.xy = geo.xy.tolist()
        self.labels = self.assign.tolist()
        self.members: list[set[int]] = []
        self.size: list[int] = []
        self.area: list[float] = []
        self.perimeter: list[float] = []
        self.tallies: list[Tally] = []
        self.recount()

    # --- tallies -----------------------------------------------------------------------------------------------

    def attach(self, *tallies: Tally | None) -> None:
        """Let ``tallies`` follow every move from now on (each is first brought up to date)."""
        for tally in tallies:
            if tally is not None:
                tally.loaded(self)
                self.tallies.append(tally)

    def detach(self, *tallies: Tally | None) -> None:
        """Stop ``tallies`` following the moves (until attached again)."""
        for tally in tallies:
            if tally is not None:
                self.tallies.remove(tally)

    # --- moves -------------------------------------------------------------------------------------------------

    def recount(self) -> None:
        """Members, sizes, areas and perimeters counted again from the assignment, unit by unit."""
        k = self.k
        self.members[:] = [set() for _ in range(k)]
        self.size[:] = [0] * k
        self.area[:] = [0.0] * k
        self.perimeter[:] = [0.0] * k
        for u, a in enumerate(self.labels):
            self.members[a].add(u)
            self.area[a] += self.unit_area[u]
            self.perimeter[a] += self.unit_perimeter[u] - self.shared(u, a)  # each internal border counted twice
            self.size[a] += 1

    def load(self, assign: Iterable[int]) -> None:
        """Take ``assign`` as the assignment: everything is counted again, and the attached tallies catch up."""
        self.assign[:] = np.fromiter(assign, dtype=np.int64, count=self.n)
        self.labels[:] = self.assign.tolist()
        self.recount()
        for tally in self.tallies:
            tally.loaded(self)

    def shared(self, u: int, t: int) -> float:
        """Border length between unit ``u`` and territory ``t``."""
        labels = self.labels
        return sum(length for v, length in zip(self.nbrs[u], self.lengths[u], strict=True) if labels[v] == t)

    def perimeters_after(self, u: int, a: int, b: int) -> tuple[float, float]:
        """Perimeters of ``a`` and ``b`` if unit ``u`` moves from a to b."""
        pu = self.unit_perimeter[u]
        return self.perimeter[a] - pu + 2.0 * self.shared(u, a), self.perimeter[b] + pu - 2.0 * self.shared(u, b)

    def move(self, u: int, b: int, perimeters: tuple[float, float] | None = None) -> None:
        """Move unit ``u`` to territory ``b``; ``perimeters`` (of its old territory and of b afterwards) saves
        computing them again when the caller has."""
        a, b = self.labels[u], int(b)
        self.perimeter[a], self.perimeter[b] = perimeters or self.perimeters_after(u, a, b)
        self.area[a] -= self.unit_area[u]
        self.area[b] += self.unit_area[u]
        self.size[a] -= 1
        self.size[b] += 1
        self.labels[u] = b
        self.assign[u] = b
        self.members[a].discard(u)
        self.members[b].add(u)
        for tally in self.tallies:
            tally.moved(u, a, b)

    # --- connectivity ------------------------------------------------------------------------------------------

    def touches(self, u: int, t: int) -> bool:
        """Whether unit ``u`` borders territory ``t``."""
        labels = self.labels
        return any(labels[v] == t for v in self.nbrs[u])

    def neighbours(self, t: int) -> set[int]:
        """The territories bordering ``t``."""
        labels = self.labels
        return {labels[v] for u in self.members[t] for v in self.nbrs[u]} - {t}

    def territory_graph(self) -> list[set[int]]:
        """Each territory's neighbouring territories."""
        return [self.neighbours(t) for t in range(self.k)]

    def stays_connected(self, u: int, a: int) -> bool:
        """Whether territory ``a`` stays one piece without ``u``: a local test on u's neighbours first, then a
        search through ``a`` only when the neighbours are not joined around ``u``."""
        labels, nbr_set = self.labels, self.nbr_set
        ring = [v for v in self.nbrs[u] if labels[v] == a]
        if len(ring) <= 1:
            return self.size[a] > 1
        ring_set = set(ring)
        seen, stack = {ring[0]}, [ring[0]]
        while stack:
            x = stack.pop()
            for y in nbr_set[x] & ring_set:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        if len(seen) == len(ring_set):
            return True
        missing = ring_set - seen
        seen.add(u)
        stack = list(seen - {u})
        while stack:
            x = stack.pop()
            for y in nbr_set[x]:
                if y not in seen and labels[y] == a:
                    if y in missing:
                        missing.discard(y)
                        if not missing:
                            return True
                    seen.add(y)
                    stack.append(y)
        return False

    def connected(self, t: int) -> bool:
        """Whether territory ``t`` is one piece (a search through it)."""
        members = self.members[t]
        if len(members) <= 1:
            return len(members) == 1
        start = min(members)
        labels, seen, stack = self.labels, {start}, [start]
        while stack:
            x = stack.pop()
            for y in self.nbrs[x]:
                if y not in seen and labels[y] == t:
                    seen.add(y)
                    stack.append(y)
        return len(seen) == len(members)

    def cut_off(self, a: int, removed: set[int], locked: np.ndarray, weight: np.ndarray) -> list[int]:
        """Units of ``a`` that removing ``removed`` would cut off from a's main piece: the piece holding a unit locked
        to ``a``, else the heaviest by ``weight``. Locked units are not returned (they stay)."""
        labels = self.labels
        members = [u for u in sorted(self.members[a]) if u not in removed]
        label: dict[int, int] = {}
        pieces: list[list[int]] = []
        for start in members:
            if start in label:
                continue
            piece, stack = [start], [start]
            label[start] = len(pieces)
            while stack:
                x = stack.pop()
                for y in self.nbrs[x]:
                    if y not in label and y not in removed and labels[y] == a:
                        label[y] = len(pieces)
                        piece.append(y)
                        stack.append(y)
            pieces.append(piece)
        if len(pieces) <= 1:
            return []
        anchored = [i for i, piece in enumerate(pieces) if any(locked[u] == a for u in piece)]
        main = anchored[0] if anchored else max(range(len(pieces)), key=lambda i: weight[pieces[i]].sum())
        return [u for i, piece in enumerate(pieces) if i != main for u in piece if locked[u] < 0]
