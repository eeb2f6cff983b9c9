"""Region re-partition: balance a handful of lumpy territories at once by set partitioning.

Where every ZIP near a territory is worth a quarter of a target, no trade of units between two territories lands
them within the tolerance, and chains of such trades (:func:`~territory_geo.design.resplit.recombine`) can
run out of options too. A plan within the tolerance may still exist: it re-draws several territories at once.

This step takes the territories beyond the goal and their neighbours (then their neighbours' neighbours) as a
region and re-draws the region in one go:

1. **Candidate territories.** Random spanning trees of the region's ZIPs (random-weight Kruskal, fixed seed). In a
   tree, the ZIPs below a node form one connected piece, and so do the ZIPs below a node without those below one
   of its descendants. Every such piece whose balance measure lands within the goal for at least one of the region's
   reps is a candidate; the region's current territories that are within the goal are candidates too.
2. **Set partitioning** (scipy's HiGHS MILP): choose candidates that cover every ZIP of the region exactly once,
   as many as the region has reps, each for a rep it balances for; least total 1/Polsby-Popper (most compact).
   Reps whose targets make the same candidates valid form one group, so equal-capacity reps are one group.
3. **Reps to pieces**: within each group, the assignment with the least potential-weighted distance to home
   (:func:`scipy.optimize.linear_sum_assignment`).

Every piece is connected and within the goal, so the region's territories are one piece each and balanced. Locked
ZIPs (and any unit the caller marks immovable) only go into pieces for their own territory. The work is bounded by
counts (trees, MILP nodes: :class:`~territory_geo.settings.DesignSettings`' ``repartition_*``), so the same seed
gives the same plan on any machine; a time limit is only a safety net, and :attr:`RegionPartition.timed_out` says when
it acted. Regions larger than ``repartition_max_units`` ZIPs are not re-drawn (the MILP would be slow; national
metros use the re-split chains).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from territory_geo.design.border import BorderSearch
from territory_geo.design.resplit import spanning_tree
from territory_geo.design.state import WorkingState
from territory_geo.settings import DesignSettings


class RegionPartition:
    """Re-draw the territories around the unbalanced ones as one set-partitioning problem.

    Parameters
    ----------
    state
        The working state (its geometry and assignment are read; nothing is moved).
    mu, offset
        ``n x K`` share of each territory's target per unit, and each territory's deviation not from units
        (deviation of t = Σ mu[u, t] over its units + offset[t]).
    dist, weight
        ``n x K`` distance of each unit to each rep's home, and each unit's proximity weight (potential).
    movable
        Units that may change territory.
    seed
        Seed of the spanning trees.
    settings
        The engine's settings (``repartition_trees``, ``repartition_node_limit``, ``repartition_rings``,
        ``repartition_max_units``).
    """

    def __init__(self, state: WorkingState, mu: np.ndarray, offset: Sequence[float], dist: np.ndarray,
                 weight: Sequence[float], movable: Sequence[bool], seed: int = 0,
                 settings: DesignSettings | None = None) -> None:
        self.state = state
        self.nbrs, self.unit_perimeter, self.unit_area, self.lengths = (state.nbrs, state.unit_perimeter,
                                                                        state.unit_area, state.lengths)
        self.mu, self.offset = mu, np.asarray(offset, dtype=float)
        self.dist, self.weight = dist, np.asarray(weight, dtype=float)
        self.timed_out = False
        self.movable = movable
        self.seed = seed
        self.settings = settings or DesignSettings()

    def run(self, goal: float, time_limit: float = math.inf) -> list[int] | None:
        """A new assignment (the state's, with the region re-drawn within ``goal``), or None when no region of the
        rings could be re-drawn (with these trees), or the region would be too large. Territories outside the region
        keep their units. ``time_limit`` (s) is a safety net for the MILPs; :attr:`timed_out` says if it acted."""
        trees, node_limit = self.settings.repartition_trees, self.settings.repartition_node_limit
        rings, max_units = self.settings.repartition_rings, self.settings.repartition_max_units
        self.timed_out = False
        stop = time.perf_counter() + time_limit
        assign = list(self.state.labels)
        k = self.mu.shape[1]
        dev = self.offset.copy()
        np.add.at(dev, np.asarray(assign), self.mu[np.arange(len(assign)), assign])
        bad = {t for t in range(k) if abs(dev[t]) > goal}
        if not bad:
            return None
        touching: list[set[int]] = [set() for _ in range(k)]
        for u, a in enumerate(assign):
            touching[a].update(assign[v] for v in self.nbrs[u] if assign[v] != a)
        region = set(bad)
        done = 0
        for ring in sorted(rings):
            for _ in range(ring - done):
                region |= set().union(*(touching[t] for t in region))
            done = ring
            size = sum(1 for a in assign if a in region)
            left = stop - time.perf_counter()
            if size > max_units or left <= 0:
                self.timed_out |= left <= 0
                return None
            result = self._redraw(assign, sorted(region), goal, trees, node_limit, left)
            if result is not None:
                return result
        return None

    # --- one region ----------------------------------------------------------------------------------------------

    def _redraw(self, assign: list[int], reps: list[int], goal: float, trees: int, node_limit: int,
                time_limit: float) -> list[int] | None:
        from scipy.optimize import linear_sum_assignment

        in_region = set(reps)
        units = [u for u, a in enumerate(assign) if a in in_region]
        where = {u: i for i, u in enumerate(units)}
        pieces = self._pieces(units, where, reps, goal, trees)
        pieces |= {frozenset(where[u] for u in units if assign[u] == t) for t in reps}
        pieces_list = sorted(pieces, key=sorted)
        valid = self._valid(pieces_list, units, assign, reps, goal)
        keep = valid.any(axis=1)
        pieces_list = [p for p, ok in zip(pieces_list, keep, strict=True) if ok]
        valid = valid[keep]
        if len(pieces_list) < len(reps):
            return None
        # reps with the same valid pieces are interchangeable in the MILP: one group each
        signature = {}
        group_of = [signature.setdefault(valid[:, j].tobytes(), len(signature)) for j in range(len(reps))]
        members: list[list[int]] = [[] for _ in signature]
        for j, g in enumerate(group_of):
            members[g].append(j)
        columns = [(c, g) for g, js in enumerate(members) for c in np.flatnonzero(valid[:, js[0]]).tolist()]
        roundness = [self._roundness(units, piece) for piece in pieces_list]
        chosen = self._cover(pieces_list, columns, roundness, len(units), [len(js) for js in members], node_limit,
                             time_limit)
        if chosen is None:
            return None
        new = list(assign)
        for g, js in enumerate(members):
            mine = [pieces_list[c] for c, gg in chosen if gg == g]
            rep_ids = [reps[j] for j in js]
            cost = np.array([[float(self.weight[idx] @ self.dist[idx, t]) for t in rep_ids]
                             for idx in ([units[i] for i in piece] for piece in mine)])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                for i in mine[r]:
                    new[units[i]] = rep_ids[c]
        return new

    def _pieces(self, units: list[int], where: dict[int, int], reps: list[int], goal: float,
                trees: int) -> set[frozenset[int]]:
        """Connected pieces cut from random spanning trees whose measure may land within the goal for some rep."""
        m = len(units)
        edges = np.array([(i, where[v]) for i, u in enumerate(units) for v in self.nbrs[u] if where.get(v, -1) > i],
                         dtype=np.int64).reshape(-1, 2)
        sub_mu = self.mu[np.asarray(units)][:, reps]
        share = sub_mu.mean(axis=1)  # a rep-free proxy; each piece is checked exactly per rep afterwards
        spread = float((sub_mu.max(axis=1) - sub_mu.min(axis=1)).sum())
        lo = float((-goal - self.offset[reps]).min()) - spread
        hi = float((goal - self.offset[reps]).max()) + spread
        rng = np.random.default_rng(self.seed)
        pieces: set[frozenset[int]] = set()
        for _ in range(trees):
            shuffled = edges[rng.permutation(len(edges))].tolist()
            root = int(rng.integers(m))
            parent, order = spanning_tree(m, shuffled, root)
            # preorder with subtree ends: the subtree of x is pre[tin[x]:tout[x]]
            children: list[list[int]] = [[] for _ in range(m)]
            for x in order[1:]:
                children[parent[x]].append(x)
            pre, tin, tout = [], [0] * m, [0] * m
            stack = [(root, False)]
            while stack:
                x, leaving = stack.pop()
                if leaving:
                    tout[x] = len(pre)
                    continue
                tin[x] = len(pre)
                pre.append(x)
                stack.append((x, True))
                stack.extend((y, False) for y in children[x])
            pre_arr = np.asarray(pre)
            below = share[pre_arr].cumsum()  # subtree sum of x = below[tout-1] - below[tin-1]
            starts = np.asarray(tin)[pre_arr]
            ends = np.asarray(tout)[pre_arr]
            subtotal = below[ends - 1] - np.where(starts > 0, below[np.maximum(starts - 1, 0)], 0.0)
            for pos in range(m):
                total = subtotal[pos]
                if total < lo:
                    continue
                a, b = pos, ends[pos]
                if total <= hi:
                    pieces.add(frozenset(pre[a:b]))
                rest = total - subtotal[a + 1:b]
                for off in np.flatnonzero((rest >= lo) & (rest <= hi)).tolist():
                    c = a + 1 + off
                    pieces.add(frozenset(pre[a:c] + pre[ends[c]:b]))
        return pieces

    def _valid(self, pieces: list[frozenset[int]], units: list[int], assign: list[int], reps: list[int],
               goal: float) -> np.ndarray:
        """``pieces x reps``: whether the piece lands within the goal for the rep and keeps immovable units home."""
        rows = [i for piece in pieces for i in piece]
        cols = [c for c, piece in enumerate(pieces) for _ in piece]
        incidence = sparse.csr_matrix((np.ones(len(rows)), (cols, rows)), shape=(len(pieces), len(units)))
        dev = incidence @ self.mu[np.asarray(units)][:, reps] + self.offset[reps][None, :]
        valid = np.abs(dev) <= goal
        column = {t: j for j, t in enumerate(reps)}
        for c, piece in enumerate(pieces):
            homes = {assign[units[i]] for i in piece if not self.movable[units[i]]}
            if homes:
                keep = np.zeros(len(reps), dtype=bool)
                if len(homes) == 1:
                    keep[column[homes.pop()]] = True
                valid[c] &= keep
        return valid

    def _cover(self, pieces: list[frozenset[int]], columns: list[tuple[int, int]], roundness: list[float], m: int,
               sizes: list[int], node_limit: int, time_limit: float) -> list[tuple[int, int]] | None:
        """The set-partitioning MILP; the chosen (piece, group) columns, or None if none was found."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        n_col = len(columns)
        rows, cols = [], []
        for j, (c, g) in enumerate(columns):
            rows.extend(pieces[c])
            cols.extend([j] * len(pieces[c]))
            rows.append(m + g)
            cols.append(j)
        a = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(m + len(sizes), n_col))
        rhs = np.r_[np.ones(m), np.asarray(sizes, dtype=float)]
        cost = np.array([roundness[c] for c, _ in columns])
        # presolve off: faster on these set-partitioning problems
        options = {"node_limit": node_limit, "presolve": False, "time_limit": max(time_limit, 0.01)}
        res = milp(cost, constraints=LinearConstraint(a, rhs, rhs), integrality=np.ones(n_col), bounds=Bounds(0, 1),
                   options=options)
        self.timed_out |= res.status == 1 and "time" in res.message.lower()
        if res.x is None:
            return None
        return [columns[j] for j in np.flatnonzero(res.x > 0.5).tolist()]

    def _roundness(self, units: list[int], piece: frozenset[int]) -> float:
        """1 / Polsby-Popper of a piece (perimeter² / 4π·area), from unit perimeters less shared borders."""
        members = {units[i] for i in piece}
        area = sum(self.unit_area[u] for u in members)
        perimeter = sum(self.unit_perimeter[u] for u in members)
        for u in members:
            perimeter -= sum(length for v, length in zip(self.nbrs[u], self.lengths[u], strict=True) if v in members)
        return perimeter * perimeter / (4 * math.pi * area) if area > 0 else 1.0


def repartition(search: BorderSearch, deadline: float, goal: float | None = None) -> bool:
    """Re-draw the territories beyond the goal together with one (then two) rings of neighbours as one set
    partitioning problem (:class:`RegionPartition`): where every nearby ZIP is a large share of a target, a plan
    within the goal may need several territories re-drawn at once. Returns whether every territory ended within the
    goal (the assignment changes only if the region was re-drawn)."""
    goal = search.goal if goal is None else goal
    search.step = "repartition"
    region = RegionPartition(search.state, search.mu, search.offset, search.dist, search.weight, search.movable,
                             seed=search.seed, settings=search.settings)
    new = region.run(goal, time_limit=deadline - time.perf_counter())
    if region.timed_out and search.step not in search.clock_stops_:
        search.clock_stops_.append(search.step)
    if new is not None:
        search.load(new)
    return max(abs(d) for d in search.dev) <= goal
