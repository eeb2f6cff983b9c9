"""The working state (territory_geo.design.state) and its tallies (territory_geo.design.measure): every figure kept
move by move equals a recount from scratch, and the connectivity checks equal a search of the graph."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse import csgraph

from territory_geo.design import SCENARIOS
from territory_geo.design.measure import BalanceTally, ChurnTally, DistanceTally, LinearBalance
from territory_geo.design.problem import Problem, baseline_plan, build_problem
from territory_geo.design.start import kmeans
from territory_geo.design.state import WorkingState
from territory_geo.plan import Geography
from tests.design_grids import N, grown
from tests.design_inputs import grid_inputs, zip_inputs
from tests.test_plan import grid_units

TIGHT = {"rel": 1e-9, "abs": 1e-9}


def test_stays_connected_knows_bridges_from_ordinary_cells() -> None:
    """Territory 0 is a dumbbell: two 3 x 3 blocks (rows 0-2 and 5-7, columns 0-2) joined by a one-cell bridge in
    column 1 (rows 3 and 4). Cells of a bridge cut it in two; a block's corner does not; and a cell whose
    neighbours in its territory are not next to each other but meet a step further does not either."""
    assign = np.ones(N * N, dtype=np.int64)
    for r in (0, 1, 2, 5, 6, 7):
        for c in (0, 1, 2):
            assign[r * N + c] = 0
    assign[3 * N + 1] = assign[4 * N + 1] = 0
    state = WorkingState(Geography.from_units(grid_units(n=N)), assign, 2)
    assert not state.stays_connected(3 * N + 1, 0)  # the bridge
    assert not state.stays_connected(2 * N + 1, 0)  # where the bridge meets the top block's middle
    assert state.stays_connected(0, 0)  # a corner
    # cell (3, 2) of territory 1 touches (4, 2) and (3, 3) of its own territory, which are not neighbours of each
    # other: the local test fails and the search finds them joined through (4, 3)
    assert state.stays_connected(3 * N + 2, 1)
    assert state.connected(0) and not state.connected(1)  # the bridge cuts cells (3, 0) and (4, 0) off the rest


def test_cut_off_names_the_pieces_away_from_the_main_one() -> None:
    """Without the bridge (rows 3 and 4 of column 1), the dumbbell's bottom block is cut off from the top one: the
    heavier piece (by the weights given) is the main one, unless the other holds a unit locked to the territory;
    locked units are never named."""
    assign = np.ones(N * N, dtype=np.int64)
    for r in (0, 1, 2, 5, 6, 7):
        for c in (0, 1, 2):
            assign[r * N + c] = 0
    assign[3 * N + 1] = assign[4 * N + 1] = 0
    state = WorkingState(Geography.from_units(grid_units(n=N)), assign, 2)
    bridge = {3 * N + 1, 4 * N + 1}
    top = [r * N + c for r in (0, 1, 2) for c in (0, 1, 2)]
    bottom = [r * N + c for r in (5, 6, 7) for c in (0, 1, 2)]
    unlocked, weight = np.full(N * N, -1), np.ones(N * N)
    weight[bottom] = 2.0
    assert sorted(state.cut_off(0, bridge, unlocked, weight)) == top
    locked = unlocked.copy()
    locked[top[0]] = 0
    assert sorted(state.cut_off(0, bridge, locked, weight)) == bottom
    locked[bottom[0]] = 1  # locked elsewhere: not named even where it sits
    assert sorted(state.cut_off(0, bridge, locked, weight)) == bottom[1:]
    assert sorted(state.cut_off(0, {3 * N + 1}, unlocked, weight)) == top  # the bridge's lower cell stays below
    assert state.cut_off(0, set(), unlocked, weight) == []


def _pieces(geo: Geography, assign: np.ndarray, t: int, without: int | None = None) -> int:
    """Pieces of territory ``t`` (without unit ``without``), by scipy's connected components."""
    rows = np.repeat(np.arange(geo.n), np.diff(geo.indptr))
    keep = (assign[rows] == t) & (assign[geo.indices] == t)
    if without is not None:
        keep &= (rows != without) & (geo.indices != without)
    graph = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], geo.indices[keep])), shape=(geo.n, geo.n))
    _, label = csgraph.connected_components(graph, directed=False)
    members = np.flatnonzero(assign == t)
    if without is not None:
        members = members[members != without]
    return len(np.unique(label[members]))


def _check_against_recount(state: WorkingState, problem: Problem, tallies: dict, mu: np.ndarray) -> None:
    """Every figure of the state and of its tallies equals a recount from the assignment."""
    geo, assign, k = state.geo, state.assign, state.k
    assert state.labels == assign.tolist()
    assert state.members == [set(np.flatnonzero(assign == t).tolist()) for t in range(k)]
    assert state.size == np.bincount(assign, minlength=k).tolist()
    assert state.area == pytest.approx(np.bincount(assign, weights=geo.area, minlength=k).tolist(), **TIGHT)
    rows = np.repeat(np.arange(geo.n), np.diff(geo.indptr))
    internal = assign[rows] == assign[geo.indices]
    perimeter = np.bincount(assign, weights=geo.perimeter, minlength=k) - np.bincount(
        assign[rows[internal]], weights=geo.border[internal], minlength=k)
    assert state.perimeter == pytest.approx(perimeter.tolist(), rel=1e-9, abs=1e-6)
    recount = BalanceTally(problem, assign)
    assert tallies["balance"].comp_tally == pytest.approx(recount.comp_tally, **TIGHT)
    assert tallies["balance"].deviations() == pytest.approx(recount.deviations(), **TIGHT)
    offset = np.asarray(tallies["linear"].offset)
    assert tallies["linear"].dev == pytest.approx((offset + [mu[assign == t, t].sum() for t in range(k)]).tolist(),
                                                  **TIGHT)
    weight = np.asarray(tallies["distance"].weight)
    assert tallies["distance"].value == pytest.approx(float(weight @ problem.dist[np.arange(geo.n), assign]), **TIGHT)
    owner, arr = tallies["churn"].owner, problem.unit_arr
    moved = float(arr[assign != owner].sum() - arr[tallies["start"] != owner].sum())  # since the start
    assert tallies["churn"].value == pytest.approx(moved, **TIGHT)


def _walk(inputs, start: np.ndarray | None, moves: int, seed: int) -> int:
    """A seeded random walk of boundary moves (a unit joins a neighbouring territory; now and then any territory, so
    territories also split and scatter), with every figure checked against a recount after every move. Returns how
    many moves cut a territory in pieces."""
    problem, _ = build_problem(inputs, SCENARIOS["blend"])
    geo = problem.geo
    assign = kmeans(problem, seed) if start is None else start
    owner = baseline_plan(problem, inputs.baseline).assignment if inputs.baseline is not None else \
        np.roll(assign, 1)
    state = WorkingState(geo, assign, len(problem.tids))
    balance = BalanceTally(problem, state.assign)
    mu, offset = balance.linear()
    tallies = {"balance": balance, "churn": ChurnTally(owner, problem.unit_arr, state.assign),
               "linear": LinearBalance(mu, offset), "distance": DistanceTally(problem.dist, geo.values[:, 0])}
    state.attach(*tallies.values())
    tallies["start"] = state.assign.copy()
    rng = np.random.default_rng(seed)
    splits = 0
    for step in range(moves):
        u = int(rng.integers(geo.n))
        a = state.labels[u]
        around = sorted({state.labels[v] for v in state.nbrs[u]} - {a})
        if rng.random() < 0.05 or not around:
            b = int(rng.integers(state.k))
        else:
            b = around[int(rng.integers(len(around)))]
        if b == a:
            continue
        before = _pieces(geo, state.assign, a)
        if before == 1:  # a whole territory: the local test must agree with a search of the graph
            stays = state.size[a] > 1 and _pieces(geo, state.assign, a, without=u) == 1
            assert state.stays_connected(u, a) == stays
            if not stays and rng.random() < 0.7:
                continue  # mostly keep territories whole, so that the test above keeps being asked
        state.move(u, b)
        splits += state.size[a] > 0 and _pieces(geo, state.assign, a) > before
        _check_against_recount(state, problem, tallies, mu)
        for t in (a, b):
            assert state.connected(t) == (state.size[t] > 0 and _pieces(geo, state.assign, t) == 1)
        if step % 97 == 0:  # a detached tally catches up when attached again; a load recounts everything
            state.detach(balance)
            state.move(u, a)
            state.move(u, b)
            state.attach(balance)
            _check_against_recount(state, problem, tallies, mu)
    state.load(np.roll(state.assign, 3))
    _check_against_recount(state, problem, tallies, mu)
    return splits


def test_a_random_walk_on_the_grid_keeps_every_tally_equal_to_a_recount() -> None:
    splits = _walk(grid_inputs(n=N, k=4), grown(5, 4), moves=1000, seed=11)
    assert splits > 20  # the walk cut territories in pieces, and the checks followed


def test_a_random_walk_on_real_zips_keeps_every_tally_equal_to_a_recount() -> None:
    """Rhode Island's 73 STANDARD ZIPs (Voronoi cells, two island links), three reps, owners by nearest home."""
    splits = _walk(zip_inputs("RI", k=3), None, moves=1000, seed=4)
    assert splits > 20
