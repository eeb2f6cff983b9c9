"""The Plan: incremental tallies equal a recount after every one of 1,000 random moves; lineage; contiguity."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from territory_geo import units
from territory_geo.errors import TerritoryError
from territory_geo.plan import METRICS, Geography, Plan, split_named_accounts


def grid_units(n: int = 3, size: float = 1000.0) -> units.Units:
    """An n x n grid of square ZIP units (1 km cells); unit (r, c) is ZIP f"{r}{c}", potential r*n+c+1."""
    assert n <= 10, "cell names f'{r}{c}' are unique only up to a 10 x 10 grid"
    cells, zips = [], []
    for r in range(n):
        for c in range(n):
            cells.append(shapely.box(c * size, r * size, (c + 1) * size, (r + 1) * size))
            zips.append(f"{r}{c}")
    table = gpd.GeoDataFrame({"state": "XX"}, geometry=cells, index=pd.Index(zips, name="zip"), crs="EPSG:5070")
    values = np.arange(1, n * n + 1, dtype=float)
    table["potential"] = values
    table["workload_units"] = values % 3 + 1
    table["accounts"] = 1.0
    table["arr"] = values * 10
    table["area_class"] = units.area_class(table.geometry.area / 1e6)
    neighbors, links, borders = units._rook(table)
    return units.Units(table=table, neighbors=neighbors, island_links=links, borders=borders)


@pytest.fixture
def grid() -> Geography:
    return Geography.from_units(grid_units())


def test_a_fresh_plan_counts_tallies_perimeters_and_contiguity(grid: Geography) -> None:
    # left column + middle column -> "W"; right column -> "E"
    plan = Plan(grid, {z: ("E" if z.endswith("2") else "W") for z in grid.zips})
    tallies = plan.tallies()
    assert tallies.loc["E", "potential"] == 3 + 6 + 9
    assert tallies.loc["W", "potential"] == 45 - 18
    shape = plan.shape()
    assert shape.loc["E", "perimeter_km"] == pytest.approx(8.0)  # a 1 x 3 km strip
    assert shape.loc["W", "perimeter_km"] == pytest.approx(10.0)  # a 2 x 3 km block
    assert shape.loc["E", "polsby_popper"] == pytest.approx(4 * np.pi * 3 / 64)
    assert plan.noncontiguous() == []


def test_move_returns_a_child_and_leaves_the_parent_alone(grid: Geography) -> None:
    plan = Plan(grid, {z: "W" if z[1] in "01" else "E" for z in grid.zips})
    child = plan.move(["11"], "E")
    assert child.parent is plan and child.moved == ("11",)
    assert plan.territory_of("11") == "W" and child.territory_of("11") == "E"
    assert child.tallies().loc["E", "potential"] == plan.tallies().loc["E", "potential"] + 5
    assert child.history() == [child, plan]


def test_cutting_a_territory_in_two_is_detected(grid: Geography) -> None:
    plan = Plan(grid, {z: "A" if z[1] == "0" else "B" for z in grid.zips})
    split = plan.move(["10", "11", "12"], "A")  # A's middle row cuts B into a top and a bottom piece
    assert split.noncontiguous() == ["B"]
    assert split.move(["11", "12"], "B").noncontiguous() == []


def test_bad_moves_are_clear_errors(grid: Geography) -> None:
    plan = Plan(grid, {z: "A" for z in grid.zips}, territories=["A", "B"])
    with pytest.raises(TerritoryError, match="is not a unit"):
        plan.move(["99"], "B")
    with pytest.raises(TerritoryError, match="expected to be one of"):
        plan.move(["00"], "Z")
    with pytest.raises(TerritoryError, match="without a territory"):
        Plan(grid, {"00": "A"})


def test_named_accounts_count_for_their_territory_wherever_they_sit() -> None:
    built = grid_units()
    scored = pd.DataFrame({"account_id": ["a1", "a2"], "potential": [100.0, 7.0], "workload_units": [3.0, 1.0],
                           "arr": [50.0, 0.0]})
    built.account_zip = pd.Series(["00", "22"], index=scored.index)
    built.table[list(METRICS)] = 0.0
    built.table.loc["00", list(METRICS)] = [100.0, 3.0, 1.0, 50.0]
    built.table.loc["22", list(METRICS)] = [7.0, 1.0, 1.0, 0.0]
    unit_values, fixed = split_named_accounts(built, scored, {"a1": "B"})
    geo = Geography.from_units(built, unit_values)
    plan = Plan(geo, {z: "A" for z in geo.zips}, territories=["A", "B"], fixed=fixed)
    assert plan.tallies().loc["B", "potential"] == 100.0  # a1 sits in A's ZIP but counts for B
    assert plan.tallies().loc["A", "potential"] == 7.0
    moved = plan.move(["00"], "B")
    assert moved.tallies().loc["B", "potential"] == 100.0  # moving a1's ZIP does not move a1 twice
    with pytest.raises(TerritoryError, match="not in the accounts file"):
        split_named_accounts(built, scored, {"zz": "B"})


def test_1000_random_moves_keep_incremental_tallies_equal_to_a_recount() -> None:
    """The GerryChain-style chain: every step's incremental figures equal a full recount."""
    built = grid_units(n=8)
    geo = Geography.from_units(built)
    rng = np.random.default_rng(7)
    territories = ["T1", "T2", "T3", "T4"]
    plan = Plan(geo, {z: territories[(int(z[0]) // 4) * 2 + int(z[1]) // 4] for z in geo.zips})
    for step in range(1000):
        zips = rng.choice(geo.zips, size=int(rng.integers(1, 4)), replace=False).tolist()
        plan = plan.move(zips, territories[int(rng.integers(0, 4))])
        pd.testing.assert_frame_equal(plan.tallies(), plan.recount(), check_exact=False, rtol=1e-9)
        fresh = Plan(geo, plan.to_series(), territories=territories)
        np.testing.assert_allclose(plan.shape().to_numpy(), fresh.shape().to_numpy(), rtol=1e-9, atol=1e-6)
        assert plan.noncontiguous() == fresh.noncontiguous(), f"step {step}"
    assert len(plan.history()) == 1001
