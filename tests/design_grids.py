"""Small hand-drawn grids for the border searches' tests (an 8 x 8 grid of 1 km cells unless said), and a border
search set up on a fresh working state."""

from __future__ import annotations

from typing import Any

import numpy as np

from territory_geo.design.border import BorderSearch
from territory_geo.design.state import WorkingState
from territory_geo.plan import Geography
from tests.test_plan import grid_units

N = 8


def border_search(geo: Geography, assign: np.ndarray, mu: np.ndarray, offset: np.ndarray, *args: Any,
                  **options: Any) -> BorderSearch:
    """A :class:`BorderSearch` on a new working state holding ``assign`` (same arguments otherwise)."""
    return BorderSearch(WorkingState(geo, assign, mu.shape[1]), mu, offset, *args, **options)


def comb_start() -> np.ndarray:
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


def two_halves(assign: np.ndarray) -> tuple[Geography, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 8 x 8 grid for two territories of 32 cells each (``assign``), every cell 1/32 of a target, homes in the
    middle of the left and right halves: the geography, ``mu``, ``offset``, distances and unit weights."""
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


def deviation(assign: np.ndarray, mu: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Each territory's deviation, counted from scratch."""
    return offset + np.array([mu[assign == t, t].sum() for t in range(mu.shape[1])])


def _cell_neighbours(c: int) -> list[int]:
    r, col = divmod(c, N)
    return [rr * N + cc for rr, cc in ((r - 1, col), (r + 1, col), (r, col - 1), (r, col + 1))
            if 0 <= rr < N and 0 <= cc < N]


def grown(seed: int, k: int = 3) -> np.ndarray:
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


def bands() -> np.ndarray:
    """Two territories of 32 cells each, split top / bottom although the homes sit left and right (see
    :func:`two_halves`): balanced and contiguous, but every unit of the far half of each band is on the wrong side."""
    assign = np.zeros((N, N), dtype=np.int64)
    assign[N // 2:, :] = 1
    return assign.ravel()


def weighted_distance(assign: np.ndarray, dist: np.ndarray, weight: np.ndarray) -> float:
    """Weighted mean distance to home, counted from scratch."""
    return float((weight * dist[np.arange(len(assign)), assign]).sum() / weight.sum())
