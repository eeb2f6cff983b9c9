"""Re-splits (territory_geo.design.resplit): chains of re-splits and the settling walk that balance lumpy
territories, distance re-splits towards the homes, and compactness re-splits between the centroids."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territory_geo.design.balance import eject
from territory_geo.design.resplit import (
    compact,
    compact_splits,
    hops_to_room,
    recombine,
    resplit,
    settle,
    shorten,
    shorten_to,
    spanning_tree,
)
from territory_geo.plan import Geography, Plan
from tests.design_grids import N, bands, border_search, comb_start, deviation, grown, two_halves, weighted_distance
from tests.test_plan import grid_units


@pytest.mark.parametrize("method", ["recombine", "settle"])
def test_resplits_balance_two_territories_where_no_single_trade_does(method: str) -> None:
    """A 4 x 4 grid, left half A (cells worth 0.15 of a target, +0.2 in all) and right half B (cells worth 0.1,
    -0.2). A must shed 0.2 ± 0.03, but one cell sheds 0.15, two shed 0.3, and a one-for-one trade 0.05: every single
    trade fails, and with two territories there is no chain. Re-splitting A ∪ B along spanning trees finds many
    balanced two-part splits (e.g. the top two rows vs the bottom two): the re-split chains and the settling walk
    both find one. A frozen cell of B stays with B."""
    n = 4
    geo = Geography.from_units(grid_units(n=n))
    assign = np.array([0 if c < n // 2 else 1 for r in range(n) for c in range(n)])
    mu = np.where((assign == 0)[:, None], 0.15, 0.1) * np.ones((1, 2))
    offset = np.full(2, -1.0)
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[n - 1] = True  # row 0's last cell, in B
    goal = 0.03
    polish = border_search(geo, assign, mu, offset, goal=goal, dist=np.zeros((geo.n, 2)), weight=np.ones(geo.n),
                           movable=~frozen, seed=3)
    assert deviation(assign, mu, offset) == pytest.approx([0.2, -0.2])
    assert not eject(polish, deadline=time.perf_counter() + 5)  # the single-trade chains cannot do it
    assert polish.assign_.tolist() == assign.tolist()
    assert {"recombine": recombine, "settle": settle}[method](polish, deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B"])
    assert after.noncontiguous() == []
    assert np.abs(deviation(polish.assign_, mu, offset)).max() <= goal + 1e-12
    assert polish.assign_[n - 1] == 1
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())  # tallies stayed exact


def test_recombine_keeps_the_distance_budget_and_undoes_failed_chains() -> None:
    """The same grid, but any re-split costs distance and the budget allows none: nothing moves."""
    n = 4
    geo = Geography.from_units(grid_units(n=n))
    assign = np.array([0 if c < n // 2 else 1 for r in range(n) for c in range(n)])
    mu = np.where((assign == 0)[:, None], 0.15, 0.1) * np.ones((1, 2))
    homes = geo.xy[[0, n - 1]]  # each home in its own half's first row: every balanced re-split moves a cell away
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0
    dist[:, 0] += (np.arange(n * n) % n >= n // 2) * 100.0  # A's cells are cheap for A, B's for B
    dist[:, 1] += (np.arange(n * n) % n < n // 2) * 100.0
    polish = border_search(geo, assign, mu, np.full(2, -1.0), goal=0.03, dist=dist, weight=np.ones(geo.n),
                           distance_budget=1.0, seed=3)
    assert not recombine(polish, deadline=time.perf_counter() + 10)
    assert polish.assign_.tolist() == assign.tolist()


def test_recombine_carries_surplus_across_full_territories_to_distant_room() -> None:
    """Eight column territories of an 8 x 8 grid, every cell 1/8 of a target. Column 0 holds a lumpy cell (+0.1),
    column 7 a light one (-0.1), and the six between are exactly full: room is seven territories away, so the
    chain goes the guided way (towards room, with grown parts as well as tree cuts), each column landing within
    the goal as it passes the surplus on."""
    geo = Geography.from_units(grid_units(n=N))
    k = N
    assign = np.arange(geo.n) % N
    mu = np.zeros((geo.n, k))
    mu[:, :] = 1 / N
    mu[3 * N + 0, :] += 0.1  # row 3, column 0
    mu[4 * N + 7, :] -= 0.1  # row 4, column 7
    offset = np.full(k, -1.0)
    goal = 0.03
    polish = border_search(geo, assign, mu, offset, goal=goal, dist=np.zeros((geo.n, k)), weight=np.ones(geo.n),
                           seed=5)
    assert hops_to_room(polish, 1, 0.1 - goal)[0] == 7
    assert recombine(polish, deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, [f"T{t}" for t in range(k)])
    assert after.noncontiguous() == []
    assert np.abs(deviation(polish.assign_, mu, offset)).max() <= goal + 1e-12
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_settle_never_ends_worse_and_keeps_every_constraint(seed: int) -> None:
    """Lumpy random values on grown territories of the 8 x 8 grid (35-127 % off target at the start): the walk
    at least halves the largest excess over the goal, territories stay one piece, frozen cells stay, the distance
    budget holds, and the deviations equal a recount."""
    rng = np.random.default_rng(seed)
    k = 4
    geo = Geography.from_units(grid_units(n=N))
    assign = grown(seed, k)
    values = rng.lognormal(0.0, 1.2, geo.n)
    shares = np.bincount(assign, weights=values, minlength=k).mean()
    mu = np.repeat((values / shares)[:, None], k, axis=1)
    offset = np.full(k, -1.0)
    homes = geo.xy[rng.choice(geo.n, k, replace=False)]
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0
    frozen = rng.random(geo.n) < 0.1
    goal = 0.02
    polish = border_search(geo, assign, mu, offset, goal=goal, dist=dist, weight=values, movable=~frozen,
                           distance_budget=1.05, seed=seed)
    cap = polish.distance_cap
    before = max(np.abs(deviation(assign, mu, offset)).max() - goal, 0.0)
    settle(polish, deadline=time.perf_counter() + 30, tries=400)
    dev = deviation(polish.assign_, mu, offset)
    assert max(np.abs(dev).max() - goal, 0.0) < 0.5 * before
    assert np.allclose(dev, polish.dev)
    assert Plan(geo, polish.assign_, [f"T{t}" for t in range(k)]).noncontiguous() == []
    assert (polish.assign_[frozen] == assign[frozen]).all()
    assert polish.distance <= cap + 1e-9


def test_shorten_resplits_a_pair_towards_its_homes_within_the_balance_goal() -> None:
    """Top / bottom bands with homes left and right: the re-splits turn the border towards the homes. The full
    reach (trigger 1, stop 0) ends at the left / right halves; the default stops within 2 % of that reach; both
    keep balance, contiguity and exact tallies."""
    start = bands()
    geo, mu, offset, dist, weight = two_halves(start)
    before = weighted_distance(start, dist, weight)
    full = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert shorten(full, deadline=time.perf_counter() + 30, trigger=1.0, stop=0.0)
    reach = weighted_distance(full.assign_, dist, weight)
    assert reach < 0.8 * before
    assert reach == pytest.approx(weighted_distance(np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel(), dist,
                                                     weight))
    polish = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert shorten(polish, deadline=time.perf_counter() + 30)
    ends = weighted_distance(polish.assign_, dist, weight)
    assert ends <= 1.02 * reach + 1e-9
    for result in (full, polish):
        assert Plan(geo, result.assign_, ["A", "B"]).noncontiguous() == []
        dev = deviation(result.assign_, mu, offset)
        assert np.abs(dev).max() <= 0.05 + 1e-12
        assert np.allclose(dev, result.dev)
        assert result.distance * weight.sum() == pytest.approx(weighted_distance(result.assign_, dist, weight)
                                                                * weight.sum())
        assert result.pp_mean() == pytest.approx(Plan(geo, result.assign_, ["A", "B"]).shape()["polsby_popper"]
                                                 .mean())


def test_shorten_to_stops_once_the_distance_is_down_to_the_given_one() -> None:
    """Given the distance to reach (a caller that knows a bound), the re-splits run until the distance is there (one
    re-split of the pair turns the bands into halves); with the goal already met, nothing moves."""
    start = bands()
    geo, mu, offset, dist, weight = two_halves(start)
    before = weighted_distance(start, dist, weight)
    halves = weighted_distance(np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel(), dist, weight)
    stop = 0.5 * (before + halves)
    polish = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert shorten_to(polish, deadline=time.perf_counter() + 30, stop=stop)
    ends = weighted_distance(polish.assign_, dist, weight)
    assert ends <= stop + 1e-9
    assert Plan(geo, polish.assign_, ["A", "B"]).noncontiguous() == []
    assert np.abs(deviation(polish.assign_, mu, offset)).max() <= 0.05 + 1e-12
    met = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert not shorten_to(met, deadline=time.perf_counter() + 30, stop=1.01 * before)
    assert (met.assign_ == start).all()


def test_shorten_leaves_a_plan_already_near_its_reach_and_frozen_units_alone() -> None:
    """The left / right halves are as near their homes as re-splits get: nothing moves. On the bands, frozen
    cells keep their territory (one that the re-splits move when it is free) while the rest re-splits."""
    halves = np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel()
    geo, mu, offset, dist, weight = two_halves(halves)
    polish = border_search(geo, halves, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    assert not shorten(polish, deadline=time.perf_counter() + 30)
    assert (polish.assign_ == halves).all()

    start = bands()
    free = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    assert shorten(free, deadline=time.perf_counter() + 30)
    assert free.assign_[4] != start[4]  # row 0, column 4: territory 0's, on territory 1's side
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[[0, 4, 63]] = True
    polish = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, movable=~frozen, seed=0)
    assert shorten(polish, deadline=time.perf_counter() + 30)
    assert (polish.assign_[frozen] == start[frozen]).all()
    assert weighted_distance(polish.assign_, dist, weight) < weighted_distance(start, dist, weight)
    assert Plan(geo, polish.assign_, ["A", "B"]).noncontiguous() == []


def test_compact_resplits_raise_pp_without_adding_distance_and_keep_balance() -> None:
    """A zigzag border between two balanced territories: compactness re-splits (cut between the two centroids,
    scored from tallies without moving anything) raise the pair's PP; with the distance budget set to today's
    distance, distance does not grow; balance, contiguity and the tallies stay exact."""
    start = comb_start()
    geo, mu, offset, dist, weight = two_halves(start)
    polish = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=2)
    polish.distance_cap = polish.distance
    pp_before, distance_before = polish.pp_mean(), polish.distance
    scored = compact_splits(polish, 0, 1, 2)  # the scores must match what a re-split gives
    gain, split = max(scored, key=lambda option: option[0])
    moves = resplit(polish, 0, 1, split)
    assert moves is not None
    assert polish.pp(0) + polish.pp(1) - 2 * pp_before == pytest.approx(gain)
    for u, a in reversed(moves):
        polish.flip(u, a)
    made = compact(polish, deadline=time.perf_counter() + 30)
    assert made >= 1
    assert polish.pp_mean() > pp_before + 0.05
    assert polish.distance <= distance_before + 1e-9
    after = Plan(geo, polish.assign_, ["A", "B"])
    assert after.noncontiguous() == []
    dev = deviation(polish.assign_, mu, offset)
    assert np.abs(dev).max() <= 0.05 + 1e-12
    assert np.allclose(dev, polish.dev)
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())


def test_compact_leaves_straight_halves_and_frozen_cells() -> None:
    """Straight halves cannot be cut more compactly within the goal; frozen teeth of the comb stay put."""
    halves = np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel()
    geo, mu, offset, dist, weight = two_halves(halves)
    polish = border_search(geo, halves, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    assert compact(polish, deadline=time.perf_counter() + 30) == 0
    assert (polish.assign_ == halves).all()

    start = comb_start()
    free = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    compact(free, deadline=time.perf_counter() + 30)
    assert (free.assign_[[3, 4]] != start[[3, 4]]).any()  # re-splits move row 0's tooth when it is free
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[[3, 4]] = True  # row 0's tooth (territory 1's cells left of the middle)
    polish = border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, movable=~frozen, seed=0)
    compact(polish, deadline=time.perf_counter() + 30)
    assert (polish.assign_[frozen] == start[frozen]).all()
    assert Plan(geo, polish.assign_, ["A", "B"]).noncontiguous() == []


def test_spanning_tree_reaches_every_connected_node_from_the_root() -> None:
    """Kruskal over the given edge order: a 4-cycle plus an isolated node. The tree drops the cycle's last edge,
    every node of the cycle has a parent on the way to the root, and the isolated node is left out (parent -1)."""
    parent, order = spanning_tree(5, [(0, 1), (1, 2), (2, 3), (3, 0)], root=2)
    assert order == [2, 1, 3, 0]
    assert parent == [1, 2, 2, 2, -1]
