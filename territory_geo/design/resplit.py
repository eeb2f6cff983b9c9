"""Re-splits: two neighbouring territories merged and cut in two again.

A cut along a random spanning tree of the union (the move of GerryChain's ReCom) leaves both parts connected and
offers thousands of ways to cut a dozen lumpy ZIPs where single trades offer a handful; a part grown from one side in
order of nearness to a point (that side's home, or its centroid) gives compact cuts cheap in distance. They serve:

* **chains of re-splits** (:func:`recombine`): ejection chains whose trades are re-splits, for lumpy units single
  trades cannot settle, and the **settling walk** (:func:`settle`) around what the chains left;
* **distance re-splits** (:func:`shorten`, :func:`shorten_to`): cuts towards the homes, for the distance balancing
  adds;
* **compactness re-splits** (:func:`compact`): cuts between the two centroids, for Polsby-Popper.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from territory_geo.design.border import BorderSearch


class _Pair:
    """Two neighbouring territories t and b seen as one union for a re-split: its units (positions ``0..n-1``),
    each unit's share of t's and b's targets and weighted distance to either home, and what a split costs."""

    def __init__(self, search: BorderSearch, t: int, b: int) -> None:
        mu, dist, weight, labels = search.mu, search.dist, search.weight, search.state.labels
        self.units = sorted(search.state.members[t] | search.state.members[b])
        self.where = {u: i for i, u in enumerate(self.units)}
        self.in_t = [labels[u] == t for u in self.units]
        self.mt = [float(mu[u, t]) for u in self.units]
        self.mb = [float(mu[u, b]) for u in self.units]
        self.dt = [weight[u] * float(dist[u, t]) for u in self.units]
        self.db = [weight[u] * float(dist[u, b]) for u in self.units]
        self.off_t = search.dev[t] - sum(m for m, inside in zip(self.mt, self.in_t, strict=True) if inside)
        self.off_b = search.dev[b] - sum(m for m, inside in zip(self.mb, self.in_t, strict=True) if not inside)
        self.now = sum(x if inside else y for x, y, inside in zip(self.dt, self.db, self.in_t, strict=True))
        self.all_t, self.all_b, self.all_dt, self.all_db = sum(self.mt), sum(self.mb), sum(self.dt), sum(self.db)

    def outcome(self, st: float, sb: float, sdt: float, sdb: float, to_t: bool) -> tuple[float, float, float]:
        """t's and b's deviations and the change of weighted distance when one part (whose sums of ``mt``,
        ``mb``, ``dt`` and ``db`` are given) goes to t (``to_t``) or to b, and the rest to the other."""
        if to_t:
            return self.off_t + st, self.off_b + self.all_b - sb, sdt + self.all_db - sdb - self.now
        return self.off_t + self.all_t - st, self.off_b + sb, self.all_dt - sdt + sdb - self.now


def recombine(search: BorderSearch, deadline: float, budget: int | None = None, goal: float | None = None) -> bool:
    """Ejection chains whose trades are re-splits: a territory beyond the goal and a neighbour are merged and
    cut in two again so that the first lands within the goal, and the neighbour passes the surplus on the same
    way until a territory with room absorbs it. Cuts come from random spanning trees of the union (the move of
    GerryChain's ReCom: both parts connected, thousands of ways to cut a dozen lumpy ZIPs where single trades
    offer a handful) and from parts grown from one side in order of nearness to that side's home (compact,
    cheap in distance). Where room is far, chains head for the nearest territories with room, however many
    territories away (:func:`_resplit_chain`). ``budget`` re-splits are tried from each start (default:
    ``recombine_budget``). Stops at ``deadline``, also inside a chain. Returns whether every territory ended within
    the goal."""
    budget = search.settings.recombine_budget if budget is None else budget
    saved, search.goal, search.step = search.goal, search.goal if goal is None else goal, "recombine"
    try:
        search.chain_deadline = deadline
        return search.run_chains(deadline, budget, lambda t, sign, left: _resplit_chain(search, t, sign, left))
    finally:
        search.goal, search.chain_deadline = saved, math.inf


def settle(search: BorderSearch, deadline: float, tries: int | None = None, goal: float | None = None) -> bool:
    """A walk of re-splits around what the chains left beyond the goal: pick a territory (mostly one beyond
    the goal, else any within two rings of them) and a neighbour, cut their union along random spanning trees,
    and take a random cut that does not raise the pair's balance energy (Σ excess⁴, which favours cutting
    the largest excess) within the distance budget. Moves that keep the energy let the surplus wander through
    full territories until it meets room. Keeps the best state seen (largest excess, then energy); stops after
    ``tries`` re-splits (default: ``settle_tries``), at the deadline, or when every territory is within the goal.
    Returns whether every territory ended within the goal."""
    tries = search.settings.settle_tries if tries is None else tries
    saved, search.goal, search.step = search.goal, search.goal if goal is None else goal, "settle"
    try:
        return _settle(search, deadline, tries)
    finally:
        search.goal = saved


def _settle(search: BorderSearch, deadline: float, tries: int) -> bool:
    """The walk of :func:`settle` at the search's goal."""
    goal, rng, dev = search.goal, search.rng, search.dev

    def excess(d: float) -> float:
        return max(abs(d) - goal, 0.0)

    def score() -> tuple[float, float]:
        over = [excess(d) for d in dev]
        return max(over), sum(x ** 4 for x in over)

    best, best_assign = score(), list(search.state.labels)
    graph = search.state.territory_graph()
    region = {t for t in range(search.k) if excess(dev[t]) > 0}
    ring = set(region)
    for _ in range(search.settings.settle_rings):
        ring = {b for t in ring for b in graph[t]} - region
        region |= ring
    order = sorted(region)
    for _ in range(tries):
        if best[0] == 0 or search.late(deadline):
            break
        bad = [t for t in order if excess(dev[t]) > 0]
        t = rng.choice(bad) if bad and rng.random() < search.settings.settle_bad_bias else rng.choice(order)
        nbrs = sorted(graph[t] & region)
        if not nbrs:
            continue
        b = rng.choice(nbrs)
        energy = excess(dev[t]) ** 4 + excess(dev[b]) ** 4
        cuts = [split for new_t, new_b, step, split in tree_splits(search, t, b, 3)
                if search.distance + step <= search.distance_cap and excess(new_t) ** 4 + excess(new_b) ** 4
                <= energy + 1e-18]
        if not cuts or resplit(search, t, b, rng.choice(cuts)) is None:
            continue
        for x in {t, b} | graph[t] | graph[b]:
            graph[x] = search.state.neighbours(x)
        now = score()
        if now < best:
            best, best_assign = now, list(search.state.labels)
    if best_assign != search.state.labels:
        search.load(best_assign)
    return best[0] == 0


def shorten(search: BorderSearch, deadline: float, trigger: float | None = None, stop: float | None = None) -> bool:
    """Distance re-splits: each pair of neighbouring territories is cut again along a part grown from one side
    in order of how much nearer each unit is to that side's home (the cut a two-rep transport problem would
    make), when that lowers the weighted distance and keeps both within the goal (or no worse). Balancing moves
    surplus across borders with no price on distance, and single flips cannot take it back (the balanced plan is
    a local optimum for them); a re-split moves a whole stretch of border at once.

    First measures how far the re-splits reach from the current plan. Only when the plan is more than
    ``trigger`` times that far does it re-split, and then only until the distance is within ``stop`` times the
    reach (defaults: ``shorten_trigger``, ``shorten_stop``): every re-split also redraws borders the compactness
    polish shaped. Returns whether anything moved."""
    trigger = search.settings.shorten_trigger if trigger is None else trigger
    stop = search.settings.shorten_stop if stop is None else stop
    start, before, search.step = list(search.state.labels), search.distance, "shorten"
    _shorten(search, deadline, 0.0)
    reach = search.distance
    search.load(start)
    if before <= trigger * reach:
        return False
    return shorten_to(search, deadline, stop * reach)


def shorten_to(search: BorderSearch, deadline: float, stop: float) -> bool:
    """The re-splits of :func:`shorten` until the distance is at most ``stop`` (km) or none is left, without
    measuring their reach first: for a caller that knows how far the distance needs to come down. Returns
    whether anything moved."""
    start, search.step = list(search.state.labels), "shorten"
    _shorten(search, deadline, stop)
    return search.state.labels != start


def _shorten(search: BorderSearch, deadline: float, stop: float) -> None:
    """Sweeps of distance re-splits until the distance is at most ``stop``, a sweep finds nothing, or the
    deadline."""
    def cuts(t: int, b: int) -> list[tuple]:
        limit_t, limit_b = max(search.goal, abs(search.dev[t])), max(search.goal, abs(search.dev[b]))
        return [split for step, split in sorted(
            ((step, split) for new_t, new_b, step, split in grown_splits(search, t, b, 1)
             if abs(new_t) <= limit_t and abs(new_b) <= limit_b and step < -1e-6 * search.distance),
            key=lambda option: option[0])]

    while search.distance > stop and not search.late(deadline):
        if not _sweep(search, deadline, cuts, stop):
            break


def _sweep(search: BorderSearch, deadline: float, cuts: Callable[[int, int], list[tuple]],
           stop: float = -math.inf) -> int:
    """One sweep of re-splits over every pair of neighbouring territories, in a seeded order: each pair takes
    the first of its best five ``cuts(t, b)`` (best first) whose leftover part is one piece. Stops at the
    deadline or once the distance is at most ``stop``; returns the re-splits made."""
    graph = search.state.territory_graph()
    pairs = sorted({(min(t, b), max(t, b)) for t in range(search.k) for b in graph[t]})
    search.rng.shuffle(pairs)
    made = 0
    for t, b in pairs:
        if search.distance <= stop or search.late(deadline):
            break
        if b not in search.state.neighbours(t):  # an earlier re-split of this sweep separated them
            continue
        for split in cuts(t, b)[:5]:
            if resplit(search, t, b, split) is not None:
                made += 1
                break
    return made


def compact(search: BorderSearch, deadline: float, rounds: int | None = None, tries: int | None = None) -> int:
    """Compactness re-splits: each pair of neighbouring territories is cut again along a straight-ish line
    between their area centroids (:func:`compact_splits`), taking the cut that raises the pair's summed
    Polsby-Popper most, when both stay within the goal and whole and the distance within the budget. Flips
    straighten a border only cell by cell and stop at the first bump; a re-split redraws it in one move. Runs
    up to ``rounds`` sweeps over every pair (seeded order) with ``tries`` grown cuts per side (defaults:
    ``compact_rounds``, ``compact_tries``); returns the re-splits made."""
    rounds = search.settings.compact_rounds if rounds is None else rounds
    tries = search.settings.compact_tries if tries is None else tries

    def cuts(t: int, b: int) -> list[tuple]:
        return [split for gain, split in sorted(compact_splits(search, t, b, tries), key=lambda option: -option[0])
                if gain > 1e-4]

    made, search.step = 0, "compact"
    for _ in range(rounds):
        now = _sweep(search, deadline, cuts)
        made += now
        if not now:
            break
    return made


def tree_splits(search: BorderSearch, t: int, b: int, trees: int) -> list[tuple[float, float, float, tuple]]:
    """Two-part splits of t ∪ b along ``trees`` random spanning trees of the union (Kruskal over shuffled
    edges); cutting any tree edge leaves two connected parts. Returns (t's deviation after, b's, change of the
    weighted distance, the split for :func:`resplit`) for every cut that keeps fixed units with their owner."""
    pair = _Pair(search, t, b)
    units, where, in_t, n = pair.units, pair.where, pair.in_t, len(pair.units)
    fixed_t = [int(not search.movable[u] and in_t[i]) for i, u in enumerate(units)]
    fixed_b = [int(not search.movable[u] and not in_t[i]) for i, u in enumerate(units)]
    n_ft, n_fb = sum(fixed_t), sum(fixed_b)
    edges = [(i, where[v]) for i, u in enumerate(units) for v in search.state.nbrs[u] if where.get(v, -1) > i]
    out = []
    for _ in range(trees):
        search.rng.shuffle(edges)
        parent, order = spanning_tree(n, edges)
        if len(order) < n:
            return out  # the union is not connected (cannot happen for neighbours that are each one piece)
        st, sb, sdt, sdb, sft, sfb = pair.mt[:], pair.mb[:], pair.dt[:], pair.db[:], fixed_t[:], fixed_b[:]
        for x in reversed(order[1:]):
            p = parent[x]
            st[p] += st[x]
            sb[p] += sb[x]
            sdt[p] += sdt[x]
            sdb[p] += sdb[x]
            sft[p] += sft[x]
            sfb[p] += sfb[x]
        for x in order[1:]:
            for to_t, kept, lost, total in ((True, sft, sfb, n_ft), (False, sfb, sft, n_fb)):
                if lost[x] == 0 and kept[x] == total:  # the part below x keeps every fixed unit of its owner
                    out.append((*pair.outcome(st[x], sb[x], sdt[x], sdb[x], to_t),
                                ("tree", pair, parent, order, x, to_t)))
    return out


def _grow(search: BorderSearch, pair: _Pair, lead: list[float], tries: int,
          noise: float) -> Iterator[tuple[bool, list[int], bool]]:
    """Parts of a pair's union grown from either side: the part starts at the unit with the smallest ``lead``
    (the largest for b's side) and always takes the frontier unit with the smallest, with noise of ``noise``
    x attempt x the spread of ``lead`` after the first try. Yields (whether the part goes to t, the units taken
    so far, whether the part holds every fixed unit of its owner) after each unit; stops a part before it would
    take a unit fixed to the other side. Every prefix is connected; :func:`resplit` checks the rest."""
    units, where, in_t, movable = pair.units, pair.where, pair.in_t, search.movable
    spread = (max(lead) - min(lead)) or 1.0
    for attempt in range(tries):
        for to_t in (True, False):
            key = [(x if to_t else -x) + noise * attempt * spread * search.rng.random() for x in lead]
            owner_fixed = [not movable[u] and in_t[i] == to_t for i, u in enumerate(units)]
            other_fixed = [not movable[u] and in_t[i] != to_t for i, u in enumerate(units)]
            need, got = sum(owner_fixed), 0
            first = min(range(len(units)), key=key.__getitem__)
            heap, seen, order = [(key[first], first)], {first}, []
            while heap and len(order) < len(units) - 1:
                _, i = heapq.heappop(heap)
                if other_fixed[i]:
                    break  # every longer prefix would take a fixed unit from its owner
                order.append(i)
                got += owner_fixed[i]
                for v in search.state.nbrs[units[i]]:
                    j = where.get(v, -1)
                    if j >= 0 and j not in seen:
                        seen.add(j)
                        heapq.heappush(heap, (key[j], j))
                yield to_t, order, got >= need


def grown_splits(search: BorderSearch, t: int, b: int, tries: int) -> list[tuple[float, float, float, tuple]]:
    """Two-part splits of t ∪ b grown from either end (:func:`_grow`), in order of how much nearer each unit's
    home is than the other side's. Same tuples as :func:`tree_splits`, for the prefixes that land t within
    the goal and keep fixed units with their owner."""
    pair = _Pair(search, t, b)
    mt, mb, dt, db, goal = pair.mt, pair.mb, pair.dt, pair.db, search.goal
    lead = [float(search.dist[u, t] - search.dist[u, b]) for u in pair.units]
    out = []
    pt = pb = pdt = pdb = 0.0
    for to_t, order, ready in _grow(search, pair, lead, tries, 0.15):
        i = order[-1]
        if len(order) == 1:
            pt = pb = pdt = pdb = 0.0
        pt, pb, pdt, pdb = pt + mt[i], pb + mb[i], pdt + dt[i], pdb + db[i]
        if not ready:
            continue
        new_t, new_b, step = pair.outcome(pt, pb, pdt, pdb, to_t)
        if abs(new_t) <= goal:
            out.append((new_t, new_b, step, ("part", pair, order, len(order), to_t)))
    return out


def compact_splits(search: BorderSearch, t: int, b: int, tries: int) -> list[tuple[float, tuple]]:
    """Two-part splits of t ∪ b grown from either end (:func:`_grow`) in order of how much nearer each unit is
    to that side's area centroid than to the other's: straight-ish cuts between the two. Returns (gain of the
    pair's summed Polsby-Popper, the split) for the prefixes that keep both within the goal and the distance
    within the budget; the parts' perimeters are tallied as they grow, so nothing is moved to score them."""
    pair = _Pair(search, t, b)
    units, in_t, mt, mb, dt, db, goal = pair.units, pair.in_t, pair.mt, pair.mb, pair.dt, pair.db, search.goal
    area = [search.state.unit_area[u] for u in units]
    perimeter = [search.state.unit_perimeter[u] for u in units]
    inner = [[(pair.where[v], length) for v, length in zip(search.state.nbrs[u], search.state.lengths[u], strict=True)
              if v in pair.where] for u in units]
    inner_total = [sum(length for _, length in links) for links in inner]
    between = sum(length for i in range(len(units)) if in_t[i] for j, length in inner[i] if not in_t[j])
    union_area = search.state.area[t] + search.state.area[b]
    union_perimeter = search.state.perimeter[t] + search.state.perimeter[b] - 2.0 * between
    centre = {}
    for side in (True, False):
        weights = [a if inside == side else 0.0 for a, inside in zip(area, in_t, strict=True)]
        total = sum(weights) or 1.0
        centre[side] = [sum(w * search.state.xy[u][c] for w, u in zip(weights, units, strict=True)) / total
                        for c in (0, 1)]
    lead = [math.dist(search.state.xy[u], centre[True]) - math.dist(search.state.xy[u], centre[False]) for u in units]
    before, room = search.pp(t) + search.pp(b), search.distance_cap - search.distance
    out = []
    taken: list[bool] = []
    pt = pb = pdt = pdb = part_area = part_perimeter = cut = 0.0
    for to_t, order, ready in _grow(search, pair, lead, tries, 0.1):
        i = order[-1]
        if len(order) == 1:
            taken = [False] * len(units)
            pt = pb = pdt = pdb = part_area = part_perimeter = cut = 0.0
        with_part = sum(length for j, length in inner[i] if taken[j])
        part_perimeter += perimeter[i] - 2.0 * with_part
        cut += inner_total[i] - 2.0 * with_part  # i's borders with the part close, its others open
        part_area += area[i]
        taken[i] = True
        pt, pb, pdt, pdb = pt + mt[i], pb + mb[i], pdt + dt[i], pdb + db[i]
        if not ready:
            continue
        new_t, new_b, step = pair.outcome(pt, pb, pdt, pdb, to_t)
        if abs(new_t) > goal or abs(new_b) > goal or step > room:
            continue
        rest_perimeter = union_perimeter + 2.0 * cut - part_perimeter
        after = 4 * math.pi * (part_area / (part_perimeter * part_perimeter)
                               + (union_area - part_area) / (rest_perimeter * rest_perimeter))
        out.append((after - before, ("part", pair, order, len(order), to_t)))
    return out


def resplit(search: BorderSearch, t: int, b: int, split: tuple) -> list[tuple[int, int]] | None:
    """Apply a split from :func:`tree_splits` or :func:`grown_splits`; returns the (unit, former territory)
    moves for undoing, or None (nothing moved) when the part left over from a grown split is not one piece."""
    if split[0] == "tree":
        _, pair, parent, order, x, first_to_t = split
        part = {x}
        for y in order[order.index(x) + 1:]:
            if parent[y] in part:
                part.add(y)
    else:
        _, pair, order, size, first_to_t = split
        part = set(order[:size])
        rest = [i for i in range(len(pair.units)) if i not in part]
        seen, stack = {rest[0]}, [rest[0]]
        while stack:
            x = stack.pop()
            for v in search.state.nbrs[pair.units[x]]:
                y = pair.where.get(v, -1)
                if y >= 0 and y not in part and y not in seen:
                    seen.add(y)
                    stack.append(y)
        if len(seen) < len(rest):
            return None
    moves = []
    for i, u in enumerate(pair.units):
        want = t if (i in part) == first_to_t else b
        if search.state.labels[u] != want:
            moves.append((u, search.state.labels[u]))
            search.flip(u, want)
    return moves


def hops_to_room(search: BorderSearch, sign: int, surplus: float) -> dict[int, int]:
    """Territory-graph hops from every territory to the nearest one that could absorb ``surplus`` (in the
    direction of ``sign``) and stay within the goal."""
    graph = search.state.territory_graph()
    hops = {t: 0 for t in range(search.k) if sign * search.dev[t] + surplus <= search.goal}
    frontier = list(hops)
    while frontier:
        nxt = []
        for t in frontier:
            for b in graph[t]:
                if b not in hops:
                    hops[b] = hops[t] + 1
                    nxt.append(b)
        frontier = nxt
    return hops


def _resplit_chain(search: BorderSearch, t: int, sign: int, budget: list[int]) -> bool:
    """One chain of re-splits from ``t``. Where room is a territory or two away, first a short free
    depth-first search over tree cuts (lumpy ZIPs need the many cuts), of ``local_tries`` re-splits at most. Then,
    or where room is farther, a search that only heads for room and keeps the surplus passed on bounded
    (``chain_slack``, ``carry_growth``), with grown parts as well, which are compact and cheap in distance."""
    settings = search.settings
    surplus = sign * search.dev[t] - search.goal
    hops = hops_to_room(search, sign, surplus)
    if t not in hops:
        return False
    local = [min(budget[0], settings.local_tries)]
    if hops[t] <= 2 and _split_chain(search, t, sign, {t}, 8, local, 5, 0, {}, math.inf):
        return True
    return _split_chain(search, t, sign, {t}, hops[t] + settings.chain_slack, budget, 4, 3, hops,
                        search.goal + settings.carry_growth * surplus)


def _split_chain(search: BorderSearch, t: int, sign: int, visited: set[int], depth: int, budget: list[int], trees: int,
                 grows: int, hops: dict[int, int], carry: float) -> bool:
    """The ejection chain's search with re-splits of t and a neighbour as the trades: t lands within the goal and the
    neighbour either does too (within the distance budget) or passes its surplus on, depth-first, towards
    the territories with room (``hops``): a neighbour farther from room than t is not taken (with ``hops``
    empty, any neighbour is), and the surplus passed on may not exceed ``carry``."""
    goal, here = search.goal, hops.get(t, search.k)
    options = []
    for b in sorted(search.state.neighbours(t) - visited):
        away = hops.get(b, search.k)
        if away > here:
            continue
        for new_t, new_b, step, split in tree_splits(search, t, b, trees) + grown_splits(search, t, b, grows):
            if abs(new_t) > goal:
                continue
            if abs(new_b) <= goal:
                if search.distance + step <= search.distance_cap:
                    options.append(((0, 0, step), b, split))
            elif depth > 1 and goal < sign * new_b <= carry:
                options.append(((1, away, abs(new_b)), b, split))
    options.sort(key=lambda o: o[0])
    tried: Counter[int] = Counter()
    for _, b, split in options:
        if budget[0] <= 0 or search.late(search.chain_deadline):
            return False
        if tried[b] >= 6:  # a few of the best re-splits with each neighbour, then the next neighbour's
            continue
        moves = resplit(search, t, b, split)
        if moves is None:
            continue
        tried[b] += 1
        budget[0] -= 1
        if (abs(search.dev[b]) <= goal and search.distance <= search.distance_cap) or (
                depth > 1 and sign * search.dev[b] > goal
                and _split_chain(search, b, sign, visited | {b}, depth - 1, budget, trees, grows, hops, carry)):
            return True
        for u, a in reversed(moves):
            search.flip(u, a)
    return False


def spanning_tree(n: int, edges: Sequence[tuple[int, int]], root: int = 0) -> tuple[list[int], list[int]]:
    """A spanning tree of nodes ``0..n-1`` by Kruskal over ``edges`` in the given order (shuffle them first for a
    random tree), as each node's parent (the root is its own) and the breadth-first order from ``root``. Nodes the
    edges do not connect to ``root`` are left out of the order (parent -1)."""
    group = list(range(n))
    adj: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        ri, rj = i, j
        while group[ri] != ri:  # union-find roots, path halving
            group[ri] = group[group[ri]]
            ri = group[ri]
        while group[rj] != rj:
            group[rj] = group[group[rj]]
            rj = group[rj]
        if ri != rj:
            group[ri] = rj
            adj[i].append(j)
            adj[j].append(i)
    parent, order = [-1] * n, [root]
    parent[root] = root
    for x in order:
        for y in adj[x]:
            if parent[y] < 0:
                parent[y] = x
                order.append(y)
    return parent, order
