"""The local search: boundary moves on a working assignment that balance the territories while keeping each in one
piece (contiguity repair, planned flows, diffusion, single moves, swaps and slices), then the border searches'
ejection chains and re-splits for lumpy units, distance re-splits, the compactness polish and the region re-draw."""

from __future__ import annotations

import heapq
import time
from functools import cached_property

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from territory_geo.design.bounds import dual_lower_bound
from territory_geo.design.measure import norms
from territory_geo.design.polish import CompactnessPolish, past
from territory_geo.design.problem import Problem
from territory_geo.design.scenarios import Scenario
from territory_geo.design.verdict import search_verdict

#: Diffusion stops after this many rounds without a 1 % fall of the balance energy (the summed squares of each
#: territory's deviation beyond the goal); ejection chains take over. Lumpy units otherwise cycle there until the
#: deadline and leave no time for the compactness polish (national scale: 60 s of diffusion, PP 0.24).
_DIFFUSE_STALL_ROUNDS = 40

#: Share of the search's time budget the re-split chains may take, and the settling walk after them. The chains
#: settle the national instance's lumpy metro ZIPs in ~2.5 s; where no chain exists (GA at K = 50) they would
#: otherwise search until the deadline.
_RECOMBINE_SHARE = 0.15

#: Share of the time budget the distance re-splits may take (a sweep over every pair of neighbours took 0.1-0.5 s at
#: state scale; a plan needs a few sweeps).
_SHORTEN_SHARE = 0.1

#: Where the balance measure is potential alone (the evenness scenario), the design knows a tight lower bound on the
#: distance (:func:`dual_lower_bound`) and steers by it: the distance re-splits run only when the balanced plan is
#: more than ``_BOUND_TRIGGER`` times the bound and stop at ``_BOUND_STOP`` times it, and the compactness polish may
#: not take the distance past ``_BOUND_CAP`` times it (nor past its own budget). Other scenarios balance a blend
#: whose best distance this bound does not describe; they keep the re-splits' own reach as the yardstick.
_BOUND_TRIGGER, _BOUND_STOP, _BOUND_CAP = 1.045, 1.035, 1.045

#: Share of the time budget the compactness re-splits may take (three sweeps took 0.1-0.8 s at state scale in the
#: prototype).
_COMPACT_SHARE = 0.1


class _PairIndex:
    """Boundary units grouped by (territory, neighbouring territory) key, for one round's boundary."""

    def __init__(self, units: np.ndarray, keys: np.ndarray) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.unit = units

    def units(self, key: int) -> np.ndarray:
        """The distinct units with ``key`` (territory * K + neighbouring territory)."""
        lo, hi = np.searchsorted(self.keys, [key, key + 1])
        return np.unique(self.unit[self.order[lo:hi]])


class LocalSearch:
    """Boundary moves on a working assignment (mutable; the result becomes a :class:`Plan`)."""

    def __init__(self, problem: Problem, assign: np.ndarray, scenario: Scenario, baseline: np.ndarray | None,
                 deadline: float, seed: int = 0, thorough: bool = False) -> None:
        self.p = problem
        self.thorough = thorough
        self.seed = seed
        self.geo = problem.geo
        self.assign = assign.astype(np.int64).copy()
        self.scenario = scenario
        self.baseline = baseline
        self.deadline = deadline
        self.k = len(problem.tids)
        self.tol = scenario.tolerance
        self.goal = 0.8 * scenario.tolerance
        self.norm = norms(problem)
        self.weights = problem.weights
        self.rows = np.repeat(np.arange(self.geo.n), np.diff(self.geo.indptr))
        self.size = np.bincount(self.assign, minlength=self.k)
        self.comp_tally = problem.fixed.copy()
        np.add.at(self.comp_tally, self.assign, problem.comp[np.arange(self.geo.n), self.assign])
        self.perim_scale = float(np.median(self.geo.perimeter)) or 1.0
        self.dist_scale = float(problem.weight_u.mean() * np.sqrt(np.median(self.geo.area)) / 1000.0) or 1.0
        self.moved_arr = 0.0
        geo = self.geo
        self.area = np.bincount(self.assign, weights=geo.area, minlength=self.k)
        self.perim = np.bincount(self.assign, weights=geo.perimeter, minlength=self.k)
        internal = self.assign[self.rows] == self.assign[geo.indices]
        self.perim -= np.bincount(self.assign[self.rows[internal]], weights=geo.border[internal], minlength=self.k)
        self.budget_hit = False
        self.started = time.perf_counter()
        self.clock_stops: list[str] = []  # steps the deadline cut short (shared with the border searches)

    # --- bookkeeping ---------------------------------------------------------------------------------------------

    @cached_property
    def distance_bound(self) -> float | None:
        """The dual lower bound on the distance (:func:`dual_lower_bound`) where it describes this scenario's best
        distance: balance on potential alone, optimised from scratch (else None)."""
        potential_only = self.weights[0] > 0 and np.count_nonzero(self.weights) == 1
        return dual_lower_bound(self.p) if potential_only and self.baseline is None else None

    def _late(self, step: str) -> bool:
        """Whether the deadline has passed; if so, notes that ``step`` was cut short (or skipped)."""
        return past(self.deadline, step, self.clock_stops)

    def deviations(self) -> np.ndarray:
        """Deviation of each territory's balance measure from its target (blend of component ratios)."""
        totals = self.comp_tally.sum(axis=0)
        ratio = self.comp_tally / np.where(totals > 0, totals, 1.0) / self.p.shares[:, None]
        return (ratio - 1.0) @ self.weights

    def _move(self, u: int, b: int) -> None:
        a = int(self.assign[u])
        da, db = self._perimeter_change(u, a, b)
        self.perim[a] += da
        self.perim[b] += db
        self.area[a] -= self.geo.area[u]
        self.area[b] += self.geo.area[u]
        self.comp_tally[a] -= self.p.comp[u, a]
        self.comp_tally[b] += self.p.comp[u, b]
        self.size[a] -= 1
        self.size[b] += 1
        self.assign[u] = b
        if self.baseline is not None:
            arr = self.p.unit_arr[u]
            self.moved_arr += arr if self.baseline[u] == a else (-arr if self.baseline[u] == b else 0.0)

    def _perimeter_change(self, u: int, a: int, b: int) -> tuple[float, float]:
        """Change of a's and b's perimeters if ``u`` moves from a to b (exact, from shared borders)."""
        pu = self.geo.perimeter[u]
        return -(pu - 2.0 * self._shared_with(u, a)), pu - 2.0 * self._shared_with(u, b)

    def _stays_connected(self, u: int, a: int) -> bool:
        """Whether territory ``a`` stays one piece without unit ``u``."""
        nbrs = [int(v) for v in self.geo.neighbors(u) if self.assign[v] == a]
        if len(nbrs) <= 1:
            return self.size[a] > 1
        targets = set(nbrs)
        seen = {u, nbrs[0]}
        stack = [nbrs[0]]
        found = 1
        assign, geo = self.assign, self.geo
        while stack:
            x = stack.pop()
            for y in geo.indices[geo.indptr[x]:geo.indptr[x + 1]].tolist():
                if y not in seen and assign[y] == a:
                    seen.add(y)
                    if y in targets:
                        found += 1
                        if found == len(targets):
                            return True
                    stack.append(y)
        return False

    def _boundary(self) -> tuple[np.ndarray, np.ndarray]:
        """Boundary (unit, neighbour territory) pairs, unlocked units only."""
        owner = self.assign[self.rows]
        other = self.assign[self.geo.indices]
        mask = (owner != other) & (self.p.locked[self.rows] < 0)
        return self.rows[mask], other[mask]

    def _shared_with(self, u: int, t: int) -> float:
        lo, hi = self.geo.indptr[u], self.geo.indptr[u + 1]
        return float(self.geo.border[lo:hi][self.assign[self.geo.indices[lo:hi]] == t].sum())

    def _geo_cost(self, u: int, a: int, b: int) -> float:
        """Change of total border length and of proximity if ``u`` moves from ``a`` to ``b`` (scaled)."""
        border = 2.0 * (self._shared_with(u, a) - self._shared_with(u, b)) / self.perim_scale
        dist = self.p.weight_u[u] * (self.p.dist[u, b] - self.p.dist[u, a]) / self.dist_scale
        churn = 0.0
        if self.baseline is not None:
            churn = (1.0 if self.baseline[u] == a else -1.0 if self.baseline[u] == b else 0.0) * \
                self.p.unit_arr[u] / max(self.p.unit_arr.mean(), 1e-9)
        return (self.scenario.compactness_weight * border + self.scenario.proximity_weight * dist) * 0.1 + churn

    def _within_budget(self, *moves: tuple[int, int, int]) -> bool:
        """Whether the moves (unit, from, to), made together, keep the ARR changing owner within the disruption
        budget (a unit returning to its owner gives its ARR back)."""
        budget = self.scenario.disruption_budget
        if self.baseline is None or budget is None:
            return True
        arr, owner = self.p.unit_arr, self.baseline
        extra = sum(arr[u] if owner[u] == a else (-arr[u] if owner[u] == b else 0.0) for u, a, b in moves)
        ok = self.moved_arr + extra <= budget * max(arr.sum(), 1e-9) + 1e-9
        self.budget_hit |= not ok
        return ok

    # --- phases --------------------------------------------------------------------------------------------------

    def repair_contiguity(self) -> None:
        """Give every piece cut off from a territory's main piece to the neighbour it shares most border with."""
        from scipy.sparse import csgraph

        for _ in range(20):
            owner = self.assign[self.rows]
            same = owner == self.assign[self.geo.indices]
            graph = sparse.csr_matrix((np.ones(int(same.sum())), (self.rows[same], self.geo.indices[same])),
                                      shape=(self.geo.n, self.geo.n))
            _, comp = csgraph.connected_components(graph, directed=False)
            pot = self.geo.values[:, 0] + 1e-9
            keep: dict[int, int] = {}
            for t in range(self.k):
                members = np.flatnonzero(self.assign == t)
                if len(members):
                    keep[t] = int(np.argmax(np.bincount(comp[members], weights=pot[members])))
            stray = np.flatnonzero(np.array([comp[u] != keep.get(int(self.assign[u]), -1)
                                             for u in range(self.geo.n)]) & (self.p.locked < 0))
            if not len(stray):
                return
            for piece in np.unique(comp[stray]):
                units = stray[comp[stray] == piece]
                a = int(self.assign[units[0]])
                border: dict[int, float] = {}
                for u in units.tolist():
                    for v, length in zip(self.geo.neighbors(u).tolist(),
                                         self.geo.border[self.geo.indptr[u]:self.geo.indptr[u + 1]].tolist(),
                                         strict=True):
                        t = int(self.assign[v])
                        if t != a:
                            border[t] = border.get(t, 0.0) + length + 1e-6
                if border:
                    b = max(border, key=lambda t: (border[t], -t))
                    for u in units.tolist():
                        self._move(u, b)

    def balance(self) -> None:
        """Push surplus along the territory graph (planned flows), diffuse locally until within the goal or stalled,
        then ejection chains for what is left, chains of re-splits and a settling walk."""
        best = np.abs(self.deviations()).max()
        for _ in range(12):
            if best <= self.goal or self._late("balance"):
                break
            saved = self._snapshot()
            if not self._flow_round():
                break
            now = np.abs(self.deviations()).max()
            if now >= best:
                self._restore(saved)
                break
            best = now
        self._diffuse()
        if np.abs(self.deviations()).max() > self.goal and not self._late("balance"):
            # lumpy units diffusion could not place: ejection chains on the fast border search, aiming just
            # inside the tolerance (the goal's margin is for later travel drift, which chains need not keep); then
            # chains of re-splits for the lumpiest, which single trades cannot settle (a share of the time)
            search = self._border_search()
            goal = self.tol - 0.1 * (self.tol - self.goal)
            if not search.eject(self.deadline, goal=goal):
                share = _RECOMBINE_SHARE * (self.deadline - self.started)
                if not search.recombine(min(self.deadline, time.perf_counter() + share), goal=goal):
                    search.settle(min(self.deadline, time.perf_counter() + share), goal=goal)
            self._adopt(search.assign_)

    def _snapshot(self) -> tuple[np.ndarray, ...]:
        return (self.assign.copy(), self.comp_tally.copy(), self.size.copy(), self.area.copy(), self.perim.copy(),
                np.array([self.moved_arr]))

    def _restore(self, saved: tuple[np.ndarray, ...]) -> None:
        self.assign, self.comp_tally, self.size, self.area, self.perim, moved = (x.copy() for x in saved)
        self.moved_arr = float(moved[0])

    def _flow_round(self) -> bool:
        """Plan flows of surplus between adjacent territories (least total flow that clears every excess, an LP on
        the territory graph), then realise each as a slice moved across that border. Surplus thereby crosses
        territories that are themselves full."""
        dev = self.deviations()
        excess = dev * self.p.shares  # in units of the total measure
        units, nbr_t = self._boundary()
        pairs = sorted({(int(a), int(b)) for a, b in zip(self.assign[units].tolist(), nbr_t.tolist(), strict=True)})
        if not pairs:
            return False
        m = len(pairs)
        node_out = sparse.csr_matrix((np.ones(m), ([a for a, _ in pairs], np.arange(m))), shape=(self.k, m))
        node_in = sparse.csr_matrix((np.ones(m), ([b for _, b in pairs], np.arange(m))), shape=(self.k, m))
        rhs = excess - excess.sum() * self.p.shares
        res = linprog(np.ones(m), A_eq=(node_out - node_in).tocsr(), b_eq=rhs, bounds=(0, None), method="highs")
        if res.status != 0:
            return False
        moved = False
        for i in np.argsort(-res.x, kind="stable").tolist():
            flow = float(res.x[i])
            if flow <= 0.25 * self.goal * self.p.shares.min():
                break
            a, b = pairs[i]
            moved |= self._transfer_slice(a, b, self.deviations(), want=flow, require_gain=False)
        return moved

    def _diffuse(self) -> None:
        """Diffusion: move boundary units from more- to less-loaded neighbours until all are within the goal."""
        blocked: set[tuple[int, int]] = set()
        best, stalled = np.inf, 0
        while stalled < _DIFFUSE_STALL_ROUNDS and not self._late("balance"):
            dev = self.deviations()
            if np.abs(dev).max() <= self.goal:
                return
            energy = float((np.maximum(np.abs(dev) - self.goal, 0.0) ** 2).sum())
            best, stalled = (energy, 0) if energy < 0.99 * best else (best, stalled + 1)
            units, nbr_t = self._boundary()
            src = self.assign[units]
            gap = dev[src] - dev[nbr_t]
            by_pair = _PairIndex(units, src * self.k + nbr_t)
            order = np.argsort(-gap, kind="stable")
            pairs: list[tuple[int, int]] = []
            seen: set[tuple[int, int]] = set()
            for i in order.tolist():
                pair = (int(src[i]), int(nbr_t[i]))
                if gap[i] <= 0 or len(pairs) >= 16 * 8:
                    break
                if pair not in blocked and pair not in seen:
                    seen.add(pair)
                    pairs.append(pair)
            if not pairs:
                return
            moved = False
            touched: set[int] = set()  # one move per territory per round: the boundary arrays stay valid
            for a, b in pairs[:16]:
                if a in touched or b in touched:
                    continue
                here, there = by_pair.units(a * self.k + b), by_pair.units(b * self.k + a)
                if (self._best_move(a, b, here, dev) or self._transfer_slice(a, b, dev, border=here.tolist())
                        or self._best_swap(a, b, here, there, dev)):
                    moved = True
                    touched.update((a, b))
                    dev = self.deviations()
                    continue
                blocked.add((a, b))
            if moved:
                blocked.clear()

    def _best_swap(self, a: int, b: int, us: np.ndarray, vs: np.ndarray, dev: np.ndarray) -> bool:
        """Exchange a border unit of ``a`` (``us``: a's units on its border with b) for one of ``b`` (``vs``) when
        their difference evens the pair out: the move that lumpy ZIPs (each a sizeable share of a target) need
        and single moves cannot make."""
        if not len(us) or not len(vs):
            return False
        ua, ub = self._unit_measure(us, a), self._unit_measure(us, b)
        va, vb = self._unit_measure(vs, a), self._unit_measure(vs, b)
        new_a = dev[a] - ua[:, None] + va[None, :]
        new_b = dev[b] + ub[:, None] - vb[None, :]
        gain = new_a ** 2 + new_b ** 2 - dev[a] ** 2 - dev[b] ** 2
        order = np.argsort(gain, axis=None, kind="stable")
        for flat in order[:40].tolist():
            i, j = divmod(flat, len(vs))
            if gain[i, j] >= -1e-12:
                return False
            u, v = int(us[i]), int(vs[j])
            if u == v or not self._within_budget((u, a, b), (v, b, a)):
                continue
            # local tests first (a whole without u, b without v with u in it, each unit touching the territory it
            # joins); only when they fail is each territory searched, since v may be what rejoins a without u
            local = self._stays_connected(u, a)
            self._move(u, b)
            local = local and self._stays_connected(v, b)
            self._move(v, a)
            if (local and self._touches(u, b) and self._touches(v, a)) or (self._connected(a) and self._connected(b)):
                return True
            self._move(v, b)
            self._move(u, a)
        return False

    def _touches(self, u: int, t: int) -> bool:
        return bool((self.assign[self.geo.neighbors(u)] == t).any())

    def _connected(self, t: int) -> bool:
        """Whether territory ``t`` is one piece (a search through it)."""
        members = np.flatnonzero(self.assign == t)
        if len(members) <= 1:
            return len(members) == 1
        seen, stack = {int(members[0])}, [int(members[0])]
        while stack:
            x = stack.pop()
            for y in self.geo.neighbors(x).tolist():
                if y not in seen and self.assign[y] == t:
                    seen.add(y)
                    stack.append(y)
        return len(seen) == len(members)

    def _best_move(self, a: int, b: int, cand: np.ndarray, dev: np.ndarray) -> bool:
        """The single move of one of ``cand`` (a's units on its border with b) from a to b that best evens the
        pair out, keeping a in one piece."""
        if not len(cand):
            return False
        totals = self.comp_tally.sum(axis=0)
        scale = np.where(totals > 0, totals, 1.0)
        out_a = (self.p.comp[cand, a] / scale / self.p.shares[a]) @ self.weights
        in_b = (self.p.comp[cand, b] / scale / self.p.shares[b]) @ self.weights
        gain = (dev[a] - out_a) ** 2 + (dev[b] + in_b) ** 2 - dev[a] ** 2 - dev[b] ** 2
        improving = gain < -1e-12
        if not improving.any():
            return False
        geo_cost = np.array([self._geo_cost(int(u), a, b) for u in cand[improving]])
        score = gain[improving] / max(dev[a] ** 2 + dev[b] ** 2, 1e-12) + 0.02 * np.tanh(geo_cost)
        for i in np.argsort(score, kind="stable").tolist():
            u = int(cand[improving][i])
            if self._within_budget((u, a, b)) and self._stays_connected(u, a):
                self._move(u, b)
                return True
        return False

    def _unit_measure(self, units: np.ndarray, t: int) -> np.ndarray:
        """Each unit's share of territory ``t``'s target, in deviation units."""
        totals = self.comp_tally.sum(axis=0)
        scale = np.where(totals > 0, totals, 1.0)
        return (self.p.comp[units, t] / scale / self.p.shares[t]) @ self.weights

    def _transfer_slice(self, a: int, b: int, dev: np.ndarray, want: float | None = None,
                        require_gain: bool = True, border: list[int] | None = None) -> bool:
        """Move a connected slice of ``a``, grown from its border with ``b``, worth ``want`` (default: half the gap;
        in units of the total measure). Units of no value are carried along for free, so surplus can cross empty
        country to reach ``b``."""
        if want is None:
            want = (dev[a] - dev[b]) / 2 * self.p.shares[a]
        geo, assign = self.geo, self.assign
        if border is None:  # a's movable units on its border with b
            touching = (assign[self.rows] == a) & (assign[geo.indices] == b) & (self.p.locked[self.rows] < 0)
            border = np.unique(self.rows[touching]).tolist()
        if not border:
            return False
        totals = self.comp_tally.sum(axis=0)
        scale = np.where(totals > 0, totals, 1.0)
        value = lambda u: float((self.p.comp[u, a] / scale) @ self.weights)  # noqa: E731
        # grow from the border in order of how much nearer each unit is to b's home than to a's (a straight-ish
        # cut that leaves a's side whole), carrying units of no value along
        lean = self.p.dist[:, b] - self.p.dist[:, a]
        if self.baseline is not None:  # min disruption: leave customers' ARR with its owner where possible
            owned = (self.baseline == a) * self.p.unit_arr / max(float(self.p.unit_arr.mean()), 1e-9)
            lean = lean + owned * float(np.median(self.p.dist.min(axis=1)) + 1.0)
        heap = [(float(lean[u]), u) for u in border]
        heapq.heapify(heap)
        seen = set(border)
        taken: list[int] = []
        got = 0.0
        while heap and got < want:
            _, u = heapq.heappop(heap)
            v = value(u)
            if got + v > want * 1.2:
                continue
            taken.append(u)
            got += v
            for w in geo.neighbors(u).tolist():
                if w not in seen and assign[w] == a and self.p.locked[w] < 0:
                    seen.add(w)
                    heapq.heappush(heap, (float(lean[w]), w))
        if got <= 0 or len(taken) >= self.size[a]:
            return False
        taken += self._cut_off(a, set(taken))
        if len(taken) >= self.size[a]:
            return False
        out_a = sum(value(u) for u in taken) / self.p.shares[a]
        in_b = sum(float((self.p.comp[u, b] / scale) @ self.weights) for u in taken) / self.p.shares[b]
        if require_gain and (dev[a] - out_a) ** 2 + (dev[b] + in_b) ** 2 >= dev[a] ** 2 + dev[b] ** 2:
            return False
        if out_a * self.p.shares[a] > 1.5 * want + 1e-12:  # a cut-off piece made the slice far too big
            return False
        if not self._within_budget(*((u, a, b) for u in taken)):
            return False
        for u in taken:
            self._move(u, b)
        return True

    def _cut_off(self, a: int, removed: set[int]) -> list[int]:
        """Units of ``a`` that removing ``removed`` would cut off from a's main piece (the one with its home)."""
        members = [int(u) for u in np.flatnonzero(self.assign == a) if int(u) not in removed]
        label: dict[int, int] = {}
        pieces: list[list[int]] = []
        for start in members:
            if start in label:
                continue
            piece, stack = [start], [start]
            label[start] = len(pieces)
            while stack:
                x = stack.pop()
                for y in self.geo.neighbors(x).tolist():
                    if y not in label and y not in removed and self.assign[y] == a:
                        label[y] = len(pieces)
                        piece.append(y)
                        stack.append(y)
            pieces.append(piece)
        if len(pieces) <= 1:
            return []
        anchored = [i for i, piece in enumerate(pieces) if any(self.p.locked[u] == a for u in piece)]
        main = anchored[0] if anchored else max(range(len(pieces)),
                                                key=lambda i: self.geo.values[pieces[i], 0].sum())
        return [u for i, piece in enumerate(pieces) if i != main for u in piece
                if self.p.locked[u] < 0]

    def _border_search(self) -> CompactnessPolish:
        """The fast border search (:mod:`.polish`) set up on the current assignment: each unit's share
        of each target (with today's travel totals), the goal, the distance budget and the units it may move."""
        totals = self.comp_tally.sum(axis=0)
        totals = np.where(totals > 0, totals, 1.0)
        mu = np.einsum("ukc,c->uk", self.p.comp / totals, self.weights) / self.p.shares[None, :]
        offset = ((self.p.fixed / totals) @ self.weights) / self.p.shares - 1.0
        movable = self.p.locked < 0
        if self.baseline is not None:  # min disruption: reshape only where no customer's ARR changes owner
            movable &= self.p.unit_arr <= 0
        return CompactnessPolish(self.geo, self.assign, mu, offset, self.goal, self.p.dist, self.geo.values[:, 0],
                                 distance_budget=1.0 + 0.02 / max(self.scenario.proximity_weight, 1e-9),
                                 movable=movable, seed=self.seed, clock_stops=self.clock_stops)

    def _adopt(self, assign: np.ndarray) -> None:
        """Replay another assignment through :meth:`_move` (tallies, perimeters and disruption stay exact)."""
        for u in np.flatnonzero(assign != self.assign).tolist():
            self._move(u, int(assign[u]))

    def shorten(self) -> None:
        """Distance re-splits (:meth:`.CompactnessPolish.shorten`) when balancing left the plan
        well above the distance bound (:attr:`distance_bound`), or where none applies, well above the distance the
        re-splits reach; within a share of the time budget; replayed through :meth:`_move`, with the balance
        re-checked as after the polish."""
        if self.k < 2 or self._late("shorten"):
            return
        before = float(np.abs(self.deviations()).max())
        search = self._border_search()
        deadline = min(self.deadline, time.perf_counter() + _SHORTEN_SHARE * (self.deadline - self.started))
        bound = self.distance_bound
        if bound is None:
            moved = search.shorten(deadline)
        else:
            moved = search.distance > _BOUND_TRIGGER * bound and search.shorten_to(deadline, _BOUND_STOP * bound)
        if moved:
            self._adopt(search.assign_)
            self._rebalance_if_worse(before)

    def polish(self) -> None:
        """Compactness: :class:`~.polish.CompactnessPolish` (annealed flips and balance-neutral swaps)
        within the balance goal and a distance budget, then compactness re-splits of neighbouring pairs and greedy
        flips once more at no further distance; replayed through :meth:`_move`; travel totals shift with
        every move, so the balance is checked exactly afterwards and restored if it drifted past the tolerance."""
        if self.k < 2 or self._late("polish"):
            return
        before = float(np.abs(self.deviations()).max())
        search = self._border_search()
        bound = self.distance_bound
        if bound is not None:
            search.distance_cap = min(search.distance_cap, max(search.distance, _BOUND_CAP * bound))
        steps = max(round(20 * self.scenario.compactness_weight), 0)
        search.run(self.deadline, steps=steps)
        if steps:  # compactness re-splits, then greedy flips to clean their borders, adding no more distance
            search.distance_cap = min(search.distance_cap, search.distance)
            search.compact(min(self.deadline, time.perf_counter() + _COMPACT_SHARE * (self.deadline - self.started)))
            search.run(self.deadline, steps=0)
        self._adopt(search.assign_)
        self._rebalance_if_worse(before)

    def redraw(self) -> None:
        """``thorough`` only: where territories are still beyond the tolerance after the polish, re-draw the region
        around them as one set-partitioning problem (:meth:`~.polish.CompactnessPolish.repartition`,
        with most of the time left), then polish once more."""
        if not self.thorough or self.k < 2 or np.abs(self.deviations()).max() <= self.tol + 1e-9 \
                or self._late("repartition"):
            return
        search = self._border_search()
        if search.repartition(time.perf_counter() + 0.8 * (self.deadline - time.perf_counter()), goal=self.tol):
            self._adopt(search.assign_)
            self.polish()

    def _rebalance_if_worse(self, before: float) -> None:
        """Balance again if the largest deviation drifted past both the tolerance and ``before`` (travel totals
        shift with every move); rounding noise does not count."""
        if np.abs(self.deviations()).max() > max(before, self.tol) + 1e-9:
            self.balance()

    def verdict(self) -> tuple[str, str]:
        """Status and message of the plan (:func:`~territory_geo.design.verdict.search_verdict`)."""
        return search_verdict(self.p, self.scenario, self.assign, self, self.budget_hit, self.thorough)
