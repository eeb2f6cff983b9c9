"""Balance (territory_geo.design.balance): the ejection chains that carry lumpy surplus through full territories.
The local search's own moves are exercised through the designer (tests/test_design_designer.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territory_geo.design.balance import eject
from territory_geo.plan import Geography, Plan
from tests.design_grids import border_search, deviation
from tests.test_plan import grid_units


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
    before = deviation(assign, mu, offset)
    assert before[0] == pytest.approx(0.1) and before[1] == pytest.approx(0.0) and before[2] == pytest.approx(-0.1)

    polish = border_search(geo, assign, mu, offset, goal=goal, dist=np.zeros((geo.n, 3)), weight=np.ones(geo.n))
    assert polish.excess() > 0
    assert eject(polish, deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B", "C"])
    assert after.noncontiguous() == []
    assert np.abs(deviation(polish.assign_, mu, offset)).max() <= goal + 1e-12
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
    polish = border_search(geo, assign, mu, np.full(2, -1.0), goal=0.05, dist=np.zeros((geo.n, 2)),
                           weight=np.ones(geo.n))
    assert not eject(polish, deadline=time.perf_counter() + 5)
    assert polish.assign_.tolist() == assign.tolist()
