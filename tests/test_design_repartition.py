"""Region re-draws by set partitioning (territory_geo.design.repartition)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territory_geo.design.repartition import RegionPartition, repartition
from territory_geo.design.state import WorkingState
from territory_geo.plan import Geography, Plan
from territory_geo.settings import DesignSettings
from tests.design_grids import border_search
from tests.test_plan import grid_units

N = 4
#: Each row of the 4 x 4 grid holds exactly one target in lumpy cells; the columns hold 1.3, 1.1, 0.9 and 0.7.
ROWS = [[0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]]


def _lumpy_columns() -> tuple[Geography, np.ndarray, np.ndarray, np.ndarray]:
    geo = Geography.from_units(grid_units(n=N))
    share = np.array(ROWS).ravel()
    mu = np.repeat(share[:, None], N, axis=1)
    assign = np.tile(np.arange(N), N)  # territory t = column t
    return geo, mu, np.full(N, -1.0), assign


def _region(geo: Geography, assign: np.ndarray, mu: np.ndarray, offset: np.ndarray,
            movable: np.ndarray | None = None, seed: int = 0, rings: tuple[int, ...] = (1, 2)) -> RegionPartition:
    dist = np.zeros((geo.n, mu.shape[1]))
    return RegionPartition(WorkingState(geo, assign, mu.shape[1]), mu, offset, dist, np.ones(geo.n),
                           [True] * geo.n if movable is None else movable.tolist(), seed=seed,
                           settings=DesignSettings(repartition_rings=rings))


def _deviation(assign: np.ndarray, mu: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return offset + np.array([mu[assign == t, t].sum() for t in range(mu.shape[1])])


def test_redraw_balances_lumpy_territories_in_one_piece_each_and_keeps_frozen_cells_home() -> None:
    """Columns of lumpy cells (1.3 / 1.1 / 0.9 / 0.7 of a target) are re-drawn into four connected pieces each
    within the goal; the frozen corner cell stays with its territory; the same seed gives the same plan."""
    geo, mu, offset, assign = _lumpy_columns()
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[N * N - 1] = True  # top-right cell, territory 3
    goal = 0.03
    first = _region(geo, assign, mu, offset, ~frozen).run(goal)
    assert first is not None
    new = np.array(first)
    assert np.abs(_deviation(new, mu, offset)).max() <= goal + 1e-12
    assert Plan(geo, new, ["A", "B", "C", "D"]).noncontiguous() == []
    assert new[N * N - 1] == 3
    assert _region(geo, assign, mu, offset, ~frozen).run(goal) == first


def test_redraw_reports_none_when_no_balanced_pieces_exist_and_leaves_balanced_plans_alone() -> None:
    """A cell worth 1.5 targets cannot be placed within any goal: None, no loop. A balanced plan is left as is."""
    geo = Geography.from_units(grid_units(n=2))
    mu = np.repeat(np.array([1.5, 0.2, 0.2, 0.1])[:, None], 2, axis=1)
    assert _region(geo, np.array([0, 1, 1, 1]), mu, np.full(2, -1.0)).run(0.05) is None
    geo, mu, offset, _ = _lumpy_columns()
    rows = np.repeat(np.arange(N), N)  # the rows: every territory exactly on target
    assert _region(geo, rows, mu, offset).run(0.03) is None


def test_redraw_leaves_territories_outside_the_region_alone() -> None:
    """Only territories beyond the goal and their neighbours (one ring) are re-drawn: on a 4 x 4 grid of four row
    territories where rows 0 and 1 (1.1 and 0.9 of a target) must trade lumps, row 3 (two rows away) keeps its
    cells."""
    geo = Geography.from_units(grid_units(n=N))
    share = np.array([[0.5, 0.2, 0.2, 0.2], [0.1, 0.2, 0.2, 0.4], [0.25] * 4, [0.25] * 4]).ravel()
    mu = np.repeat(share[:, None], N, axis=1)
    rows = np.repeat(np.arange(N), N)
    new = _region(geo, rows, mu, np.full(N, -1.0), rings=(1,)).run(0.02)
    assert new is not None
    new = np.array(new)
    assert np.abs(_deviation(new, mu, np.full(N, -1.0))).max() <= 0.02 + 1e-12
    assert (new[rows == 3] == 3).all()


def test_a_border_search_redraw_keeps_its_tallies_exact() -> None:
    geo, mu, offset, assign = _lumpy_columns()
    polish = border_search(geo, assign, mu, offset, goal=0.03, dist=np.zeros((geo.n, N)), weight=np.ones(geo.n))
    assert repartition(polish, deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B", "C", "D"])
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())
    assert polish.dev == pytest.approx(_deviation(np.array(polish.assign_), mu, offset).tolist())
    assert polish.clock_stops_ == []
