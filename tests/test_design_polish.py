"""Compactness polish (territory_geo.design.polish): raises mean Polsby-Popper without breaking balance, contiguity,
locks or the distance budget."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territory_geo.design.polish import anneal
from territory_geo.design.resplit import compact, shorten
from territory_geo.plan import Geography, Plan
from tests.design_grids import N, border_search, comb_start, deviation, grown, two_halves
from tests.test_plan import grid_units


def test_polish_straightens_a_zigzag_border_and_keeps_balance_and_contiguity() -> None:
    start = comb_start()
    geo, mu, offset, dist, weight = two_halves(start)
    before = Plan(geo, start, ["A", "B"])
    polish = anneal(border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, distance_budget=1.10,
                                  seed=1), deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B"])
    assert after.noncontiguous() == []
    assert np.abs(deviation(polish.assign_, mu, offset)).max() <= 0.05 + 1e-12
    assert after.shape()["polsby_popper"].mean() > before.shape()["polsby_popper"].mean() + 0.05
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())  # its own tally is exact
    assert polish.clock_stops_ == []  # ended on its own schedule: no clock decided anything


def test_a_deadline_that_cuts_a_step_short_is_noted() -> None:
    start = comb_start()
    geo, mu, offset, dist, weight = two_halves(start)
    noted: list[str] = []
    polish = anneal(border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, distance_budget=1.10,
                                  seed=1, clock_stops=noted), deadline=time.perf_counter() - 1)
    assert (polish.assign_ == start).all()  # nothing ran
    assert noted == ["polish"] and polish.clock_stops_ is noted  # shared with the caller
    compact(polish, deadline=time.perf_counter() - 1)
    shorten(polish, deadline=time.perf_counter() - 1, trigger=1.0, stop=0.0)
    assert noted == ["polish", "compact", "shorten"]


def test_polish_respects_frozen_units_and_the_distance_budget() -> None:
    start = comb_start()
    geo, mu, offset, dist, weight = two_halves(start)
    frozen = np.zeros(geo.n, dtype=bool)
    frozen[[3, 4, 11, 12]] = True  # the teeth of the first two rows
    polish = anneal(border_search(geo, start, mu, offset, goal=0.05, dist=dist, weight=weight, distance_budget=1.0,
                                  movable=~frozen, seed=1), deadline=time.perf_counter() + 30)
    assert (polish.assign_[frozen] == start[frozen]).all()
    start_distance = (weight * dist[np.arange(geo.n), start]).sum()
    end_distance = (weight * dist[np.arange(geo.n), polish.assign_]).sum()
    assert end_distance <= start_distance + 1e-9


def test_polish_is_deterministic_for_a_seed() -> None:
    start = comb_start()
    geo, mu, offset, dist, weight = two_halves(start)
    runs = [anneal(border_search(geo, start, mu, offset, 0.05, dist, weight, 1.1, seed=7),
                   deadline=time.perf_counter() + 30).assign_ for _ in range(2)]
    assert (runs[0] == runs[1]).all()


@pytest.mark.parametrize("seed", range(6))
def test_polish_keeps_random_contiguous_starts_contiguous_and_within_balance(seed: int) -> None:
    start = grown(seed)
    geo = Geography.from_units(grid_units(n=N))
    k = 3
    mu = np.full((geo.n, k), k / geo.n)
    offset = np.full(k, -1.0)
    homes = geo.xy[[0, N - 1, N * N - 1]]
    dist = np.hypot(geo.xy[:, None, 0] - homes[None, :, 0], geo.xy[:, None, 1] - homes[None, :, 1]) / 1000.0
    assert Plan(geo, start, ["A", "B", "C"]).noncontiguous() == []
    start_dev = np.abs(deviation(start, mu, offset))
    goal = 0.1
    polish = anneal(border_search(geo, start, mu, offset, goal=goal, dist=dist, weight=np.ones(geo.n),
                                  distance_budget=1.5, seed=seed), deadline=time.perf_counter() + 30)
    after = Plan(geo, polish.assign_, ["A", "B", "C"])
    assert after.noncontiguous() == []
    dev = np.abs(deviation(polish.assign_, mu, offset))
    assert (dev <= np.maximum(goal, start_dev.max()) + 1e-12).all()
    assert polish.pp_mean() == pytest.approx(after.shape()["polsby_popper"].mean())
