"""Balance: boundary moves on the working state that bring every territory within the goal while keeping each in
one piece.

First pieces cut off from a territory's main piece join the neighbour they share most border with (contiguity
repair). Then planned flows push surplus along the territory graph, and diffusion moves it to less-loaded
neighbours unit by unit, by swaps and by slices, so it travels along chains of full territories. For lumpy units
diffusion cannot place, ejection chains (:func:`eject`): each territory on a chain trades a unit, or a unit for a
unit, so that it lands within the goal itself, until one with room absorbs the rest; then chains of re-splits and
a settling walk (:mod:`.resplit`).
"""

from __future__ import annotations

import heapq
import time
from functools import cached_property

import numpy as np
from scipy import sparse

from territory_geo.design.border import BorderSearch, past
from territory_geo.design.bounds import dual_lower_bound
from territory_geo.design.measure import BalanceTally, ChurnTally
from territory_geo.design.problem import Problem
from territory_geo.design.resplit import recombine, settle
from territory_geo.design.scenarios import Scenario
from territory_geo.design.state import WorkingState
from territory_geo.design.verdict import search_verdict
from territory_geo.errors import TerritoryError
from territory_geo.settings import DesignSettings


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
    """Boundary moves on one working state (the result becomes a :class:`~territory_geo.plan.Plan`).

    Parameters
    ----------
    problem
        The problem arrays.
    assign
        The start: rep position of every unit (locks applied).
    scenario
        The scenario designed for.
    baseline
        Today's owner of every unit (rep positions), or None. The disruption budget counts against it; the search
        prices ARR changing owner only where the scenario keeps owners (:attr:`.Scenario.keeps_owners`).
    deadline
        When the search must stop (``time.perf_counter()``).
    seed, thorough
        Seed of the border searches; whether the region re-draw runs.
    settings
        The engine's settings (goal, counts of work, shares of the time budget).

    Attributes
    ----------
    state
        The working state; its tallies: :attr:`tally` (each territory's balance components) and :attr:`churn`
        (ARR changing owner, with a baseline).
    clock_stops
        The steps the deadline cut short (shared with the border searches).
    """

    def __init__(self, problem: Problem, assign: np.ndarray, scenario: Scenario, baseline: np.ndarray | None,
                 deadline: float, seed: int = 0, thorough: bool = False,
                 settings: DesignSettings | None = None) -> None:
        self.p = problem
        self.settings = settings or DesignSettings()
        self.thorough = thorough
        self.seed = seed
        self.geo = problem.geo
        self.scenario = scenario
        self.baseline = baseline
        self.keeps_owners = scenario.keeps_owners
        if self.keeps_owners and baseline is None:
            msg = "The min-disruption scenario needs the current ownership (an owner column in the accounts)."
            raise TerritoryError(msg)
        self.deadline = deadline
        self.k = len(problem.tids)
        self.tol = scenario.tolerance
        self.goal = self.settings.goal_factor * scenario.tolerance
        self.weights = problem.weights
        self.rows = np.repeat(np.arange(self.geo.n), np.diff(self.geo.indptr))
        self.state = WorkingState(self.geo, assign, self.k)
        self.tally = BalanceTally(problem, self.state.assign)
        self.churn = None if baseline is None else ChurnTally(baseline, problem.unit_arr, self.state.assign)
        self.state.attach(self.tally, self.churn)
        self.perim_scale = float(np.median(self.geo.perimeter)) or 1.0
        self.dist_scale = float(problem.weight_u.mean() * np.sqrt(np.median(self.geo.area)) / 1000.0) or 1.0
        self.budget_hit = False
        self.started = time.perf_counter()
        self.clock_stops: list[str] = []

    # --- bookkeeping ---------------------------------------------------------------------------------------------

    @property
    def assign(self) -> np.ndarray:
        """The working assignment (rep position of every unit)."""
        return self.state.assign

    @cached_property
    def distance_bound(self) -> float | None:
        """The dual lower bound on the distance (:func:`~territory_geo.design.bounds.dual_lower_bound`) where it
        describes this scenario's best distance: balance on potential alone, optimised from scratch (else None)."""
        potential_only = self.weights[0] > 0 and np.count_nonzero(self.weights) == 1
        if not potential_only or self.keeps_owners:
            return None
        return dual_lower_bound(self.p, max_variables=self.settings.full_bound_variables)

    def late(self, step: str) -> bool:
        """Whether the deadline has passed; if so, notes that ``step`` was cut short (or skipped)."""
        return past(self.deadline, step, self.clock_stops)

    def deviations(self) -> np.ndarray:
        """Deviation of each territory's balance measure from its target (:meth:`.BalanceTally.deviations`)."""
        return self.tally.deviations()

    def _boundary(self) -> tuple[np.ndarray, np.ndarray]:
        """Boundary (unit, neighbour territory) pairs, unlocked units only."""
        owner = self.state.assign[self.rows]
        other = self.state.assign[self.geo.indices]
        mask = (owner != other) & (self.p.locked[self.rows] < 0)
        return self.rows[mask], other[mask]

    def _shared_with(self, u: int, t: int) -> float:
        """Border length between unit ``u`` and territory ``t`` (summed as an array: :meth:`_geo_cost`'s figure)."""
        lo, hi = self.geo.indptr[u], self.geo.indptr[u + 1]
        return float(self.geo.border[lo:hi][self.state.assign[self.geo.indices[lo:hi]] == t].sum())

    def _geo_cost(self, u: int, a: int, b: int) -> float:
        """Change of total border length and of proximity if ``u`` moves from ``a`` to ``b`` (scaled), and where the
        scenario keeps owners, of the ARR changing owner."""
        border = 2.0 * (self._shared_with(u, a) - self._shared_with(u, b)) / self.perim_scale
        dist = self.p.weight_u[u] * (self.p.dist[u, b] - self.p.dist[u, a]) / self.dist_scale
        churn = 0.0
        if self.keeps_owners:
            churn = (1.0 if self.baseline[u] == a else -1.0 if self.baseline[u] == b else 0.0) * \
                self.p.unit_arr[u] / max(self.p.unit_arr.mean(), 1e-9)
        return (self.scenario.compactness_weight * border + self.scenario.proximity_weight * dist) * 0.1 + churn

    def _within_budget(self, *moves: tuple[int, int, int]) -> bool:
        """Whether the moves (unit, from, to), made together, keep the ARR changing owner within the scenario's
        disruption budget (a unit returning to its owner gives its ARR back); without owners there is none to
        count."""
        budget = self.scenario.disruption_budget
        if self.churn is None or budget is None:
            return True
        extra = sum(self.churn.change(u, a, b) for u, a, b in moves)
        ok = self.churn.value + extra <= budget * max(self.p.unit_arr.sum(), 1e-9) + 1e-9
        self.budget_hit |= not ok
        return ok

    # --- phases --------------------------------------------------------------------------------------------------

    def repair_contiguity(self) -> None:
        """Give every piece cut off from a territory's main piece to the neighbour it shares most border with."""
        from scipy.sparse import csgraph

        for _ in range(20):
            owner = self.state.assign[self.rows]
            same = owner == self.state.assign[self.geo.indices]
            graph = sparse.csr_matrix((np.ones(int(same.sum())), (self.rows[same], self.geo.indices[same])),
                                      shape=(self.geo.n, self.geo.n))
            _, comp = csgraph.connected_components(graph, directed=False)
            pot = self.geo.values[:, 0] + 1e-9
            keep: dict[int, int] = {}
            for t in range(self.k):
                members = np.flatnonzero(self.state.assign == t)
                if len(members):
                    keep[t] = int(np.argmax(np.bincount(comp[members], weights=pot[members])))
            stray = np.flatnonzero(np.array([comp[u] != keep.get(int(self.state.assign[u]), -1)
                                             for u in range(self.geo.n)]) & (self.p.locked < 0))
            if not len(stray):
                return
            state = self.state
            for piece in np.unique(comp[stray]):
                units = stray[comp[stray] == piece]
                a = state.labels[int(units[0])]
                border: dict[int, float] = {}
                for u in units.tolist():
                    for v, length in zip(state.nbrs[u], state.lengths[u], strict=True):
                        t = state.labels[v]
                        if t != a:
                            border[t] = border.get(t, 0.0) + length + 1e-6
                if border:
                    b = max(border, key=lambda t: (border[t], -t))
                    for u in units.tolist():
                        state.move(u, b)

    def balance(self) -> None:
        """Push surplus along the territory graph (planned flows), diffuse locally until within the goal or stalled,
        then ejection chains for what is left, chains of re-splits and a settling walk."""
        best = np.abs(self.deviations()).max()
        for _ in range(12):
            if best <= self.goal or self.late("balance"):
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
        if np.abs(self.deviations()).max() > self.goal and not self.late("balance"):
            # lumpy units diffusion could not place: ejection chains on the fast border search, aiming just
            # inside the tolerance (the goal's margin is for later travel drift, which chains need not keep); then
            # chains of re-splits for the lumpiest, which single trades cannot settle (a share of the time)
            search = self.border_search()
            goal = self.tol - 0.1 * (self.tol - self.goal)
            if not eject(search, self.deadline, goal=goal):
                share = self.settings.recombine_share * (self.deadline - self.started)
                if not recombine(search, min(self.deadline, time.perf_counter() + share), goal=goal):
                    settle(search, min(self.deadline, time.perf_counter() + share), goal=goal)
            self.adopt(search)

    def rebalance_if_worse(self, before: float) -> None:
        """Balance again if the largest deviation drifted past both the tolerance and ``before`` (travel totals
        shift with every move); rounding noise does not count."""
        if np.abs(self.deviations()).max() > max(before, self.tol) + 1e-9:
            self.balance()

    def verdict(self) -> tuple[str, str]:
        """Status and message of the plan (:func:`~territory_geo.design.verdict.search_verdict`)."""
        return search_verdict(self.p, self.scenario, self.state.assign, self.tally, self.budget_hit, self.thorough)

    def _snapshot(self) -> tuple:
        return (self.state.assign.copy(), self.tally.snapshot(), None if self.churn is None else self.churn.snapshot())

    def _restore(self, saved: tuple) -> None:
        assign, tally, churn = saved
        self.tally.restore(tally)
        if self.churn is not None:
            self.churn.restore(churn)
        self.state.load(assign)

    def _flow_round(self) -> bool:
        """Plan flows of surplus between adjacent territories (least total flow that clears every excess, an LP on
        the territory graph), then realise each as a slice moved across that border. Surplus thereby crosses
        territories that are themselves full."""
        from scipy.optimize import linprog

        dev = self.deviations()
        excess = dev * self.p.shares  # in units of the total measure
        units, nbr_t = self._boundary()
        owners = self.state.assign[units].tolist()
        pairs = sorted({(int(a), int(b)) for a, b in zip(owners, nbr_t.tolist(), strict=True)})
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
        while stalled < self.settings.diffuse_stall_rounds and not self.late("balance"):
            dev = self.deviations()
            if np.abs(dev).max() <= self.goal:
                return
            energy = float((np.maximum(np.abs(dev) - self.goal, 0.0) ** 2).sum())
            best, stalled = (energy, 0) if energy < 0.99 * best else (best, stalled + 1)
            units, nbr_t = self._boundary()
            src = self.state.assign[units]
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
        ua, ub = self.tally.unit_shares(us, a), self.tally.unit_shares(us, b)
        va, vb = self.tally.unit_shares(vs, a), self.tally.unit_shares(vs, b)
        new_a = dev[a] - ua[:, None] + va[None, :]
        new_b = dev[b] + ub[:, None] - vb[None, :]
        gain = new_a ** 2 + new_b ** 2 - dev[a] ** 2 - dev[b] ** 2
        order = np.argsort(gain, axis=None, kind="stable")
        state = self.state
        for flat in order[:40].tolist():
            i, j = divmod(flat, len(vs))
            if gain[i, j] >= -1e-12:
                return False
            u, v = int(us[i]), int(vs[j])
            if u == v or not self._within_budget((u, a, b), (v, b, a)):
                continue
            # local tests first (a whole without u, b without v with u in it, each unit touching the territory it
            # joins); only when they fail is each territory searched, since v may be what rejoins a without u
            local = state.stays_connected(u, a)
            state.move(u, b)
            local = local and state.stays_connected(v, b)
            state.move(v, a)
            if (local and state.touches(u, b) and state.touches(v, a)) or (state.connected(a) and state.connected(b)):
                return True
            state.move(v, b)
            state.move(u, a)
        return False

    def _best_move(self, a: int, b: int, cand: np.ndarray, dev: np.ndarray) -> bool:
        """The single move of one of ``cand`` (a's units on its border with b) from a to b that best evens the
        pair out, keeping a in one piece."""
        if not len(cand):
            return False
        out_a, in_b = self.tally.unit_shares(cand, a), self.tally.unit_shares(cand, b)
        gain = (dev[a] - out_a) ** 2 + (dev[b] + in_b) ** 2 - dev[a] ** 2 - dev[b] ** 2
        improving = gain < -1e-12
        if not improving.any():
            return False
        geo_cost = np.array([self._geo_cost(int(u), a, b) for u in cand[improving]])
        score = gain[improving] / max(dev[a] ** 2 + dev[b] ** 2, 1e-12) + 0.02 * np.tanh(geo_cost)
        for i in np.argsort(score, kind="stable").tolist():
            u = int(cand[improving][i])
            if self._within_budget((u, a, b)) and self.state.stays_connected(u, a):
                self.state.move(u, b)
                return True
        return False

    def _transfer_slice(self, a: int, b: int, dev: np.ndarray, want: float | None = None,
                        require_gain: bool = True, border: list[int] | None = None) -> bool:
        """Move a connected slice of ``a``, grown from its border with ``b``, worth ``want`` (default: half the gap;
        in units of the total measure). Units of no value are carried along for free, so surplus can cross empty
        country to reach ``b``."""
        if want is None:
            want = (dev[a] - dev[b]) / 2 * self.p.shares[a]
        state, assign = self.state, self.state.assign
        if border is None:  # a's movable units on its border with b
            touching = (assign[self.rows] == a) & (assign[self.geo.indices] == b) & (self.p.locked[self.rows] < 0)
            border = np.unique(self.rows[touching]).tolist()
        if not border:
            return False
        scale = self.tally.scale()
        value = lambda u: float((self.p.comp[u, a] / scale) @ self.weights)  # noqa: E731
        # grow from the border in order of how much nearer each unit is to b's home than to a's (a straight-ish
        # cut that leaves a's side whole), carrying units of no value along
        lean = self.p.dist[:, b] - self.p.dist[:, a]
        if self.keeps_owners:  # leave customers' ARR with its owner where possible
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
            for w in state.nbrs[u]:
                if w not in seen and state.labels[w] == a and self.p.locked[w] < 0:
                    seen.add(w)
                    heapq.heappush(heap, (float(lean[w]), w))
        if got <= 0 or len(taken) >= state.size[a]:
            return False
        taken += state.cut_off(a, set(taken), self.p.locked, self.geo.values[:, 0])
        if len(taken) >= state.size[a]:
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
            state.move(u, b)
        return True

    # --- border searches -----------------------------------------------------------------------------------------

    def border_search(self) -> BorderSearch:
        """A border search on the working state: each unit's share of each target (with today's travel totals), the
        goal, the distance budget and the units it may move. The local search's tallies wait meanwhile
        (:meth:`adopt`, :meth:`discard`)."""
        mu, offset = self.tally.linear()
        movable = self.p.locked < 0
        if self.keeps_owners:  # reshape only where no customer's ARR changes owner
            movable &= self.p.unit_arr <= 0
        self.state.detach(self.tally, self.churn)
        return BorderSearch(self.state, mu, offset, self.goal, self.p.dist, self.geo.values[:, 0],
                            distance_budget=1.0 + 0.02 / max(self.scenario.proximity_weight, 1e-9),
                            movable=movable, seed=self.seed, clock_stops=self.clock_stops, settings=self.settings)

    def adopt(self, search: BorderSearch) -> None:
        """Keep what a border search made: the local search's tallies catch up, unit by unit (exact whatever
        travel does)."""
        search.close()
        self.state.attach(self.tally, self.churn)

    def discard(self, search: BorderSearch) -> None:
        """Undo what a border search made: back to the assignment the local search's tallies describe."""
        search.close()
        self.state.load(self.tally.seen)
        self.state.attach(self.tally, self.churn)


# --- ejection chains ------------------------------------------------------------------------------------------------


def eject(search: BorderSearch, deadline: float, depth: int | None = None, budget: int | None = None,
          goal: float | None = None) -> bool:
    """Ejection chains for territories beyond the goal: surplus is pushed (a deficit pulled) through a chain of
    neighbours, each trading a unit (or a unit for a unit) so that it lands within the goal itself, until a territory
    with room absorbs the rest. This is what lumpy units (each a large share of a target) boxed in by full
    territories need; ``depth`` territories at most per chain, ``budget`` trades tried per start (defaults:
    ``eject_depth``, ``eject_budget``). Returns whether every territory ended within the goal."""
    depth = search.settings.eject_depth if depth is None else depth
    budget = search.settings.eject_budget if budget is None else budget
    saved, search.step = search.goal, "eject"
    search.goal = search.goal if goal is None else goal
    try:
        return search.run_chains(deadline, budget, lambda t, sign, left: _chain(search, t, sign, {t}, depth, left))
    finally:
        search.goal = saved


def _transfers(search: BorderSearch, t: int, b: int, sign: int, partial: bool = False) -> list[tuple[float, int, int]]:
    """Trades across the t-b border that bring ``t`` within the goal: ``sign`` = +1 moves value from t to b (one
    unit of t, or a unit of t for one of b), -1 from b to t. Returns (b's deviation after, unit that crosses in the
    trade's direction, unit that comes back or -1)."""
    mu, dev, goal = search.mu, search.dev, search.goal
    give, take = (t, b) if sign > 0 else (b, t)
    out_units, back_units = search.border_units(give, take), search.border_units(take, give)
    lo, hi = dev[t] - goal, dev[t] + goal  # what t must lose (sign +1) or -what it must gain (-1)
    if partial:  # the chain's start need only get nearer its goal
        lo, hi = (1e-9, hi) if sign > 0 else (lo, -1e-9)
    options = []
    for u in out_units:
        moved_t = float(mu[u, t])
        moved_b = float(mu[u, b])
        if lo <= sign * moved_t <= hi:
            options.append((dev[b] + sign * moved_b, u, -1))
        for v in back_units:
            net = sign * (moved_t - float(mu[v, t]))
            if lo <= net <= hi:
                options.append((dev[b] + sign * (moved_b - float(mu[v, b])), u, v))
    return options


def _chain(search: BorderSearch, t: int, sign: int, visited: set[int], depth: int, budget: list[int]) -> bool:
    """Depth-first search for a chain of trades starting at ``t`` (beyond the goal in the direction of ``sign``)
    that ends in a territory with room; every territory on the way lands within the goal. Trades are applied as the
    search goes and undone when it backs out."""
    goal, state, dev = search.goal, search.state, search.dev
    options = [(o, b) for b in state.neighbours(t) - visited
               for o in _transfers(search, t, b, sign, partial=len(visited) == 1)]
    options.sort(key=lambda ob: abs(ob[0][0]))
    for (_, u, v), b in options[:24]:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        give, take = (t, b) if sign > 0 else (b, t)
        if not state.stays_connected(u, give):
            continue
        search.flip(u, take)
        if v >= 0 and not state.stays_connected(v, take):
            search.flip(u, give)
            continue
        if v >= 0:
            search.flip(v, give)
            if not (state.touches(u, take) and state.touches(v, give)):
                search.flip(v, take)
                search.flip(u, give)
                continue
        if (abs(dev[b]) <= goal and search.distance <= search.distance_cap) or (
                depth > 1 and sign * dev[b] > goal and _chain(search, b, sign, visited | {b}, depth - 1, budget)):
            return True
        if v >= 0:
            search.flip(v, take)
        search.flip(u, give)
    return False
