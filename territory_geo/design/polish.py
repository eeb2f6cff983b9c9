"""Compactness polish: boundary flips and balance-neutral swaps that raise Polsby-Popper compactness.

It starts from a balanced, contiguous assignment and keeps both properties while it reshapes borders:

* a **flip** moves one boundary unit to the neighbouring territory when that raises the two territories' summed
  Polsby-Popper score (4πA/P²), keeps both balance measures within the goal (or no worse than they already are),
  stays within the distance budget and leaves the losing territory in one piece;
* a **swap** pairs an improving flip that balance forbids with a flip back across the same border that pays for it,
  so two lumpy units can trade places where neither could move alone.

Flips are annealed (worse moves are accepted with probability exp(ΔPP / T) at a falling temperature, fixed seed),
which lets borders straighten past small bumps; the last sweeps are greedy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from territory_geo.design.border import BorderSearch


def anneal(search: BorderSearch, deadline: float, steps: int = 20, start_temperature: float = 3e-3,
           end_temperature: float = 1e-4) -> BorderSearch:
    """Annealed flip sweeps with swap sweeps between them (``steps`` temperatures from ``start_temperature`` down
    to ``end_temperature``), then greedy sweeps; stops at ``deadline``."""
    schedule = [*np.geomspace(start_temperature, end_temperature, steps).tolist(), 0.0, 0.0]
    search.step = "polish"
    for temperature in schedule:
        if search.late(deadline):
            break
        for _ in range(3):
            _flips(search, temperature, deadline)
        _swaps(search, deadline)
    return search


def _boundary(search: BorderSearch) -> list[tuple[int, int]]:
    """(unit, neighbouring territory) pairs of movable boundary units, in a seeded random order."""
    out = []
    labels, nbrs, movable = search.state.labels, search.state.nbrs, search.movable
    for u in range(search.n):
        if not movable[u]:
            continue
        a = labels[u]
        for b in {labels[v] for v in nbrs[u]}:
            if b != a:
                out.append((u, b))
    search.rng.shuffle(out)
    return out


def _live(search: BorderSearch, pairs: list[tuple[int, int]], deadline: float,
          every: int) -> Iterator[tuple[int, int, int, bool]]:
    """The (unit, neighbouring territory) pairs of a sweep that are still flips when their turn comes (earlier
    moves of the sweep change the boundary), as (u, from, to, whether balance allows the flip); stops at the
    deadline, checking the clock every ``every`` pairs."""
    labels, nbrs, goal, dev, mu = search.state.labels, search.state.nbrs, search.goal, search.dev, search.mu
    for i, (u, b) in enumerate(pairs):
        if i % every == 0 and search.late(deadline):
            return
        a = labels[u]
        if a == b or b not in {labels[v] for v in nbrs[u]}:
            continue
        new_a, new_b = dev[a] - mu[u, a], dev[b] + mu[u, b]
        yield u, a, b, search.balance_ok(dev[a], new_a, dev[b], new_b, goal)


def _flips(search: BorderSearch, temperature: float, deadline: float) -> None:
    """One sweep of flips at ``temperature`` (0: improving flips only)."""
    weight, dist, rng, state = search.weight, search.dist, search.rng, search.state
    for u, a, b, balanced in _live(search, _boundary(search), deadline, 256):
        if not balanced:
            continue
        step = weight[u] * float(dist[u, b] - dist[u, a])
        if step > 0 and search.distance + step > search.distance_cap:
            continue
        gain, pa, pb = search.flip_gain(u, a, b)
        accept = gain > 1e-12 or (temperature > 0 and rng.random() < math.exp(gain / temperature))
        if accept and state.stays_connected(u, a):
            search.apply(u, b, pa, pb)


def _swaps(search: BorderSearch, deadline: float) -> None:
    """Improving flips that balance forbids, each paired with the best flip back across the same border."""
    state, goal, mu, dev, weight, dist = search.state, search.goal, search.mu, search.dev, search.weight, search.dist
    labels, nbrs = state.labels, state.nbrs
    pairs = _boundary(search)
    across: dict[tuple[int, int], list[int]] = {}
    for v, a in pairs:
        across.setdefault((labels[v], a), []).append(v)
    for u, a, b, balanced in _live(search, pairs, deadline, 64):
        if balanced:
            continue  # a plain flip; the flip sweeps handle it
        gain, pa, pb = search.flip_gain(u, a, b)
        if gain <= 1e-12 or not state.stays_connected(u, a):
            continue
        step_u = weight[u] * float(dist[u, b] - dist[u, a])
        search.apply(u, b, pa, pb)
        best = None
        for v in across.get((b, a), ()):
            if v == u or labels[v] != b or a not in {labels[w] for w in nbrs[v]}:
                continue
            back_a, back_b = dev[a] + mu[v, a], dev[b] - mu[v, b]
            if abs(back_a) > max(goal, abs(dev[a] + mu[u, a])) or \
                    abs(back_b) > max(goal, abs(dev[b] - mu[u, b])):
                continue
            step_v = weight[v] * float(dist[v, a] - dist[v, b])
            if step_u + step_v > 0 and search.distance + step_v > search.distance_cap:
                continue
            gain_v, pb2, pa2 = search.flip_gain(v, b, a)
            if gain + gain_v > 1e-12 and (best is None or gain_v > best[0]):
                best = (gain_v, v, pb2, pa2)
        if best is not None and state.stays_connected(best[1], b):
            search.apply(best[1], a, best[2], best[3])
        else:  # undo u
            _, pb_back, pa_back = search.flip_gain(u, b, a)
            search.apply(u, a, pb_back, pa_back)
            search.moves_ -= 2
