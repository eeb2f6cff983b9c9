"""Compactness polish: raises mean Polsby-Popper without breaking balance, contiguity, locks or the distance budget."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territory_geo.design.polish import CompactnessPolish
from territory_geo.plan import Geography, Plan
from tests.test_plan import grid_units

N = 8  # an 8 x 8 grid of 1 km cells, every cell worth the same


def _comb_start() -> np.ndarray:
    """Two territories split by a comb: left half vs right half, but with interlocking teeth along the middle.

    Rows alternate which side owns columns 3 and 4, so the border zigzags; each side still holds 32 cells, and both
    sides are one piece (each tooth hangs off its own half)."""
    assign = np.zeros((N, N), dtype=np.int64)
    assign[:, N // 2:] = 1
    for r in range(N):
        if r % 2 == 0:
            assign[r, 3], assign[r, 4] = 1, 1  # territory 1 reaches left
            assign[r, 2] = 0
        else:
            assign[r, 3], assign[r, 4] = 0, 0  # territory 0 reaches right
    return assign.ravel()


def _setup(assign: np.ndarray) -> tuple[Geography, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    geo = Geography.from_units(grid_units(n=N))
    k = 2
    counts = np.bincount(assign, minlength=k)
    target = geo.n / k
    mu = np.full((geo.n, k), 1.0 / target)  # each cell is 1/32 of a target
    offset = np.full(k, -1.0)
    homes = np.array([[1500.0, 4000.0], [6500.0, 4000.0]])
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0
    assert (counts == target).all()
    return geo, mu, offset, dist, np.ones(geo.n)


def _deviation(assign: np.ndarray, mu: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return offset + np.array([mu[assign == t, t].sum() for t in range(mu.shape[1])])


def test_polish_straightens_a_zigzag_border_and_keeps_balance_and_contiguity() -> None:
    start = _comb_start()
    geo, mu, offset, dist, weight = _setup(start)
    before = Plan(geo, start, ["A", "B"])
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, distance_budget=1.10,
                               seed=1).run(deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B"])
    assert after.noncontiguous() == []
    assert np.abs(_deviation(polish.assign_, mu, offset)).max() <= 0.05 + 1e-12
    assert after.shape()["polsby_popper"].mean() > before.shape()["polsby_popper"].mean() + 0.05
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())  # its own tally is exact
    assert polish.clock_stops_ == []  # ended on its own schedule: no clock decided anything


def test_a_deadline_that_cuts_a_step_short_is_noted() -> None:
    start = _comb_start()
    geo, mu, offset, dist, weight = _setup(start)
    noted: list[str] = []
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, distance_budget=1.10,
                               seed=1, clock_stops=noted).run(deadline=time.perf_counter() - 1)
    assert (polish.assign_ == start).all()  # nothing ran
    assert noted == ["polish"] and polish.clock_stops_ is noted  # shared with the caller
    polish.compact(deadline=time.perf_counter() - 1)
    polish.shorten(deadline=time.perf_counter() - 1, trigger=1.0, stop=0.0)
    assert noted == ["polish", "compact", "shorten"]


def test_polish_respects_frozen_units_and_the_distance_budget() -> None:
    start = _comb_start()
    geo, mu, offset, dist, weight = _setup(start)
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[[3, 4, 11, 12]] = True  # the teeth of the first two rows
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, distance_budget=1.0,
                               movable=~frozen, seed=1).run(deadline=time.perf_counter() + 30)
    assert (polish.assign_[frozen] == start[frozen]).all()
    start_distance = (weight * dist[np.arange(geo.n), start]).sum()
    end_distance = (weight * dist[np.arange(geo.n), polish.assign_]).sum()
    assert end_distance <= start_distance + 1e-9


def test_polish_is_deterministic_for_a_seed() -> None:
    start = _comb_start()
    geo, mu, offset, dist, weight = _setup(start)
    runs = [CompactnessPolish(geo, start, mu, offset, 0.05, dist, weight, 1.1, seed=7)
            .run(deadline=time.perf_counter() + 30).assign_ for _ in range(2)]
    assert (runs[0] == runs[1]).all()


def _cell_neighbours(c: int) -> list[int]:
    r, col = divmod(c, N)
    return [rr * N + cc for rr, cc in ((r - 1, col), (r + 1, col), (r, col - 1), (r, col + 1))
            if 0 <= rr < N and 0 <= cc < N]


def _grown(seed: int, k: int = 3) -> np.ndarray:
    """A random contiguous start: k territories grown cell by cell from random seeds, each only ever taking a free
    cell next to itself (so every territory is one piece); the smallest territory with room grows next."""
    rng = np.random.default_rng(seed)
    assign = np.full(N * N, -1, dtype=np.int64)
    for t, cell in enumerate(rng.choice(N * N, size=k, replace=False)):
        assign[cell] = t
    while (assign < 0).any():
        sizes = np.bincount(assign[assign >= 0], minlength=k)
        for t in np.argsort(sizes, kind="stable").tolist():
            room = [c for c in np.flatnonzero(assign < 0).tolist()
                    if any(assign[v] == t for v in _cell_neighbours(c))]
            if room:
                assign[room[int(rng.integers(len(room)))]] = t
                break
    return assign


@pytest.mark.parametrize("seed", range(6))
def test_polish_keeps_random_contiguous_starts_contiguous_and_within_balance(seed: int) -> None:
    start = _grown(seed)
    geo = Geography.from_units(grid_units(n=N))
    k = 3
    mu = np.full((geo.n, k), k / geo.n)
    offset = np.full(k, -1.0)
    homes = geo.xy[[0, N - 1, N * N - 1]]
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0
    assert Plan(geo, start, ["A", "B", "C"]).noncontiguous() == []
    start_dev = np.abs(_deviation(start, mu, offset))
    goal = 0.1
    polish = CompactnessPolish(geo, start, mu, offset, goal=goal, dist=dist, weight=np.ones(geo.n),
                               distance_budget=1.5, seed=seed).run(deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B", "C"])
    assert after.noncontiguous() == []
    dev = np.abs(_deviation(polish.assign_, mu, offset))
    assert (dev <= np.maximum(goal, start_dev.max()) + 1e-12).all()
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())


def test_stays_connected_knows_bridges_from_ordinary_cells() -> None:
    """Territory 0 is a dumbbell: two 3 x 3 blocks (rows 0-2 and 5-7, columns 0-2) joined by a one-cell bridge in
    column 1 (rows 3 and 4). Cells of a bridge cut it in two; a block's corner does not; and a cell whose
    neighbours in its territory are not next to each other but meet a step further does not either."""
    assign = np.ones(N * N, dtype=np.int64)
    for r in (0, 1, 2, 5, 6, 7):
        for c in (0, 1, 2):
            assign[r * N + c] = 0
    assign[3 * N + 1] = assign[4 * N + 1] = 0
    geo = Geography.from_units(grid_units(n=N))
    mu = np.zeros((geo.n, 2))
    polish = CompactnessPolish(geo, assign, mu, np.zeros(2), 0.1, np.zeros((geo.n, 2)), np.ones(geo.n))
    assert not polish.stays_connected(3 * N + 1, 0)  # the bridge
    assert not polish.stays_connected(2 * N + 1, 0)  # where the bridge meets the top block's middle
    assert polish.stays_connected(0, 0)  # a corner
    # cell (3, 2) of territory 1 touches (4, 2) and (3, 3) of its own territory, which are not neighbours of each
    # other: the local test fails and the search finds them joined through (4, 3)
    assert polish.stays_connected(3 * N + 2, 1)


def test_ejection_chain_pushes_surplus_through_a_full_territory() -> None:
    """Three column bands of a 3 x 6 grid: A (columns 0-1) | B (2-3) | C (4-5), every cell 1/6 of a target.
    A holds one lumpy cell (+0.1) on its border with B, C one light cell (-0.1) on its border with B; B is exactly
    full. No single move or swap between two territories fixes this without pushing B out of balance: A must trade
    its lumpy cell for one of B's, and B must pass the surplus on to C by a trade of its own."""
    rows, cols = 3, 6
    geo = Geography.from_units(grid_units(n=cols))  # 6 x 6; the top three rows are used as a 3 x 6 band
    assign = np.full(geo.n, -1, dtype=np.int64)
    band = [r * cols + c for r in range(rows) for c in range(cols)]
    for cell in band:
        assign[cell] = (cell % cols) // 2
    assign[assign < 0] = 1  # rows 3-5 join B, with no value: B stays full and the band's ends stay apart
    mu = np.zeros((geo.n, 3))
    mu[band, :] = 1 / 6
    lumpy, light = 1 * cols + 1, 1 * cols + 4
    mu[lumpy, :] += 0.1
    mu[light, :] -= 0.1
    offset = np.full(3, -1.0)
    goal = 0.03
    assert Plan(geo, assign, ["A", "B", "C"]).noncontiguous() == []
    before = _deviation(assign, mu, offset)
    assert before[0] == pytest.approx(0.1) and before[1] == pytest.approx(0.0) and before[2] == pytest.approx(-0.1)

    polish = CompactnessPolish(geo, assign, mu, offset, goal=goal, dist=np.zeros((geo.n, 3)), weight=np.ones(geo.n))
    assert polish.excess() > 0
    assert polish.eject(deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B", "C"])
    assert after.noncontiguous() == []
    assert np.abs(_deviation(polish.assign_, mu, offset)).max() <= goal + 1e-12
    assert polish.excess() == 0
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())  # tallies stayed exact


def test_ejection_gives_up_cleanly_when_no_chain_exists() -> None:
    """Two territories, one holding a single cell worth 0.5 of a target too much, and nothing to trade it for: the
    search ends (no loop), reports failure and leaves the assignment as it was."""
    geo = Geography.from_units(grid_units(n=2))
    assign = np.array([0, 1, 1, 1])
    mu = np.zeros((geo.n, 2))
    mu[0, :] = 1.5
    mu[1:, :] = 1 / 3
    polish = CompactnessPolish(geo, assign, mu, np.full(2, -1.0), goal=0.05, dist=np.zeros((geo.n, 2)),
                               weight=np.ones(geo.n))
    assert not polish.eject(deadline=time.perf_counter() + 5)
    assert polish.assign_.tolist() == assign.tolist()


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
    polish = CompactnessPolish(geo, assign, mu, offset, goal=goal, dist=np.zeros((geo.n, 2)), weight=np.ones(geo.n),
                               movable=~frozen, seed=3)
    assert _deviation(assign, mu, offset) == pytest.approx([0.2, -0.2])
    assert not polish.eject(deadline=time.perf_counter() + 5)  # the single-trade chains cannot do it
    assert polish.assign_.tolist() == assign.tolist()
    assert getattr(polish, method)(deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B"])
    assert after.noncontiguous() == []
    assert np.abs(_deviation(polish.assign_, mu, offset)).max() <= goal + 1e-12
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
    polish = CompactnessPolish(geo, assign, mu, np.full(2, -1.0), goal=0.03, dist=dist, weight=np.ones(geo.n),
                               distance_budget=1.0, seed=3)
    assert not polish.recombine(deadline=time.perf_counter() + 10)
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
    polish = CompactnessPolish(geo, assign, mu, offset, goal=goal, dist=np.zeros((geo.n, k)), weight=np.ones(geo.n),
                               seed=5)
    assert polish._hops_to_room(1, 0.1 - goal)[0] == 7
    assert polish.recombine(deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, [f"T{t}" for t in range(k)])
    assert after.noncontiguous() == []
    assert np.abs(_deviation(polish.assign_, mu, offset)).max() <= goal + 1e-12
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_settle_never_ends_worse_and_keeps_every_constraint(seed: int) -> None:
    """Lumpy random values on grown territories of the 8 x 8 grid (35-127 % off target at the start): the walk
    at least halves the largest excess over the goal, territories stay one piece, frozen cells stay, the distance
    budget holds, and the deviations equal a recount."""
    rng = np.random.default_rng(seed)
    k = 4
    geo = Geography.from_units(grid_units(n=N))
    assign = _grown(seed, k)
    values = rng.lognormal(0.0, 1.2, geo.n)
    shares = np.bincount(assign, weights=values, minlength=k).mean()
    mu = np.repeat((values / shares)[:, None], k, axis=1)
    offset = np.full(k, -1.0)
    homes = geo.xy[rng.choice(geo.n, k, replace=False)]
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0
    frozen = rng.random(geo.n) < 0.1
    goal = 0.02
    polish = CompactnessPolish(geo, assign, mu, offset, goal=goal, dist=dist, weight=values, movable=~frozen,
                               distance_budget=1.05, seed=seed)
    cap = polish.distance_cap
    before = max(np.abs(_deviation(assign, mu, offset)).max() - goal, 0.0)
    polish.settle(deadline=time.perf_counter() + 30, tries=400)
    dev = _deviation(polish.assign_, mu, offset)
    assert max(np.abs(dev).max() - goal, 0.0) < 0.5 * before
    assert np.allclose(dev, polish.dev)
    assert Plan(geo, polish.assign_, [f"T{t}" for t in range(k)]).noncontiguous() == []
    assert (polish.assign_[frozen] == assign[frozen]).all()
    assert polish.distance <= cap + 1e-9


def _bands() -> np.ndarray:
    """Two territories of 32 cells each, split top / bottom although the homes sit left and right (see
    :func:`_setup`): balanced and contiguous, but every unit of the far half of each band is on the wrong side."""
    assign = np.zeros((N, N), dtype=np.int64)
    assign[N // 2:, :] = 1
    return assign.ravel()


def _weighted_distance(assign: np.ndarray, dist: np.ndarray, weight: np.ndarray) -> float:
    return float((weight * dist[np.arange(len(assign)), assign]).sum() / weight.sum())


def test_shorten_resplits_a_pair_towards_its_homes_within_the_balance_goal() -> None:
    """Top / bottom bands with homes left and right: the re-splits turn the border towards the homes. The full
    reach (trigger 1, stop 0) ends at the left / right halves; the default stops within 2 % of that reach; both
    keep balance, contiguity and exact tallies."""
    start = _bands()
    geo, mu, offset, dist, weight = _setup(start)
    before = _weighted_distance(start, dist, weight)
    full = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert full.shorten(deadline=time.perf_counter() + 30, trigger=1.0, stop=0.0)
    reach = _weighted_distance(full.assign_, dist, weight)
    assert reach < 0.8 * before
    assert reach == pytest.approx(_weighted_distance(np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel(), dist,
                                                     weight))
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert polish.shorten(deadline=time.perf_counter() + 30)
    ends = _weighted_distance(polish.assign_, dist, weight)
    assert ends <= 1.02 * reach + 1e-9
    for result in (full, polish):
        assert Plan(geo, result.assign_, ["A", "B"]).noncontiguous() == []
        dev = _deviation(result.assign_, mu, offset)
        assert np.abs(dev).max() <= 0.05 + 1e-12
        assert np.allclose(dev, result.dev)
        assert result.distance * weight.sum() == pytest.approx(_weighted_distance(result.assign_, dist, weight)
                                                                * weight.sum())
        assert result.pp_mean() == pytest.approx(Plan(geo, result.assign_, ["A", "B"]).shape()["polsby_popper"]
                                                 .mean())


def test_shorten_to_stops_once_the_distance_is_down_to_the_given_one() -> None:
    """Given the distance to reach (a caller that knows a bound), the re-splits run until the distance is there (one
    re-split of the pair turns the bands into halves); with the goal already met, nothing moves."""
    start = _bands()
    geo, mu, offset, dist, weight = _setup(start)
    before = _weighted_distance(start, dist, weight)
    halves = _weighted_distance(np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel(), dist, weight)
    stop = 0.5 * (before + halves)
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert polish.shorten_to(deadline=time.perf_counter() + 30, stop=stop)
    ends = _weighted_distance(polish.assign_, dist, weight)
    assert ends <= stop + 1e-9
    assert Plan(geo, polish.assign_, ["A", "B"]).noncontiguous() == []
    assert np.abs(_deviation(polish.assign_, mu, offset)).max() <= 0.05 + 1e-12
    met = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=3)
    assert not met.shorten_to(deadline=time.perf_counter() + 30, stop=1.01 * before)
    assert (met.assign_ == start).all()


def test_shorten_leaves_a_plan_already_near_its_reach_and_frozen_units_alone() -> None:
    """The left / right halves are as near their homes as re-splits get: nothing moves. On the bands, frozen
    cells keep their territory (one that the re-splits move when it is free) while the rest re-splits."""
    halves = np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel()
    geo, mu, offset, dist, weight = _setup(halves)
    polish = CompactnessPolish(geo, halves, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    assert not polish.shorten(deadline=time.perf_counter() + 30)
    assert (polish.assign_ == halves).all()

    start = _bands()
    free = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    assert free.shorten(deadline=time.perf_counter() + 30)
    assert free.assign_[4] != start[4]  # row 0, column 4: territory 0's, on territory 1's side
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[[0, 4, 63]] = True
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, movable=~frozen, seed=0)
    assert polish.shorten(deadline=time.perf_counter() + 30)
    assert (polish.assign_[frozen] == start[frozen]).all()
    assert _weighted_distance(polish.assign_, dist, weight) < _weighted_distance(start, dist, weight)
    assert Plan(geo, polish.assign_, ["A", "B"]).noncontiguous() == []


def test_compact_resplits_raise_pp_without_adding_distance_and_keep_balance() -> None:
    """A zigzag border between two balanced territories: compactness re-splits (cut between the two centroids,
    scored from tallies without moving anything) raise the pair's PP; with the distance budget set to today's
    distance, distance does not grow; balance, contiguity and the tallies stay exact."""
    start = _comb_start()
    geo, mu, offset, dist, weight = _setup(start)
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=2)
    polish.distance_cap = polish.distance
    pp_before, distance_before = polish.pp_mean(), polish.distance
    scored = polish._compact_splits(0, 1, 2)  # the scores must match what a re-split gives
    gain, split = max(scored, key=lambda option: option[0])
    moves = polish._resplit(0, 1, split)
    assert moves is not None
    assert polish.pp(0) + polish.pp(1) - 2 * pp_before == pytest.approx(gain)
    for u, a in reversed(moves):
        polish._flip(u, a)
    made = polish.compact(deadline=time.perf_counter() + 30)
    assert made >= 1
    assert polish.pp_mean() > pp_before + 0.05
    assert polish.distance <= distance_before + 1e-9
    after = Plan(geo, polish.assign_, ["A", "B"])
    assert after.noncontiguous() == []
    dev = _deviation(polish.assign_, mu, offset)
    assert np.abs(dev).max() <= 0.05 + 1e-12
    assert np.allclose(dev, polish.dev)
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())


def test_compact_leaves_straight_halves_and_frozen_cells() -> None:
    """Straight halves cannot be cut more compactly within the goal; frozen teeth of the comb stay put."""
    halves = np.repeat([[0] * 4 + [1] * 4], N, axis=0).ravel()
    geo, mu, offset, dist, weight = _setup(halves)
    polish = CompactnessPolish(geo, halves, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    assert polish.compact(deadline=time.perf_counter() + 30) == 0
    assert (polish.assign_ == halves).all()

    start = _comb_start()
    free = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, seed=0)
    free.compact(deadline=time.perf_counter() + 30)
    assert (free.assign_[[3, 4]] != start[[3, 4]]).any()  # re-splits move row 0's tooth when it is free
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[[3, 4]] = True  # row 0's tooth (territory 1's cells left of the middle)
    polish = CompactnessPolish(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, movable=~frozen, seed=0)
    polish.compact(deadline=time.perf_counter() + 30)
    assert (polish.assign_[frozen] == start[frozen]).all()
    assert Plan(geo, polish.assign_, ["A", "B"]).noncontiguous() == []
