"""Design inputs for the design engine's tests: a hand-drawn grid of ZIP cells and a real-ZIP state."""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory_geo import design, geocode, units
from tests.test_plan import grid_units


def grid_inputs(n: int = 10, k: int = 4, seed: int = 3, big: float | None = None) -> design.DesignInputs:
    """An n x n grid of 1 km cells with skewed potential and ``k`` reps placed on the grid (home lon/lat); ``big``
    makes cell "00" hold that multiple of all the other potential."""
    built = grid_units(n=n)
    rng = np.random.default_rng(seed)
    pot = rng.lognormal(8, 1.0, n * n) * (rng.random(n * n) < 0.8)
    if big is not None:
        pot[0] = big * pot.sum()
    table = built.table
    table["potential"] = pot
    table["workload_units"] = (pot > 0) * 2.0
    table["accounts"] = (pot > 0) * 1.0
    table["arr"] = pot / 2
    built.account_zip = pd.Series(table.index.to_numpy(), index=range(n * n))
    scored = pd.DataFrame({"account_id": [f"a{i}" for i in range(n * n)], "potential": pot,
                           "workload_units": table["workload_units"].to_numpy(), "arr": pot / 2,
                           "touchpoints": 4})
    import geopandas as gpd

    cells = [(2, 2), (2, n - 3), (n - 3, 2), (n - 3, n - 3), (n // 2, n // 2)][:k]
    pts = gpd.GeoSeries(gpd.points_from_xy([c * 1000 + 500 for _, c in cells], [r * 1000 + 500 for r, _ in cells]),
                        crs="EPSG:5070").to_crs("EPSG:4326")
    reps = pd.DataFrame({"rep_id": [f"R{i}" for i in range(k)], "home_lat": pts.y.to_numpy(),
                         "home_lon": pts.x.to_numpy(), "capacity": 150.0})
    return design.DesignInputs(units=built, scored=scored, reps=reps)


def zip_inputs(state: str = "RI", k: int = 3, seed: int = 0) -> design.DesignInputs:
    """Every STANDARD ZIP of ``state`` (Voronoi cells clipped to the state), one account per ZIP with lognormal
    potential (a fifth of the ZIPs without), and ``k`` reps at ZIPs spread over the state; every account owned by
    the rep whose home is nearest."""
    areas = units.voronoi_zip_areas((state,))
    zips = areas.index
    centroid = geocode.zip_table().loc[zips]
    rng = np.random.default_rng(seed)
    potential = np.round(rng.lognormal(10, 1.0, len(zips)) * (rng.random(len(zips)) > 0.2), 2)
    homes = np.linspace(0, len(zips) - 1, k).astype(int)
    lat, lon = centroid["lat"].to_numpy(float), centroid["lon"].to_numpy(float)
    nearest = np.argmin(np.hypot(lat[:, None] - lat[homes][None, :], lon[:, None] - lon[homes][None, :]), axis=1)
    rep_ids = [f"R{i}" for i in range(k)]
    scored = pd.DataFrame({"account_id": [f"A{z}" for z in zips], "zip": zips.to_numpy(), "lat": lat, "lon": lon,
                           "potential": potential, "arr": np.round(potential * 0.4, 2),
                           "expansion": np.round(potential * 0.5, 2),
                           "workload_units": rng.integers(1, 6, len(zips)).astype(float), "touchpoints": 4.0,
                           "owner_rep_id": [rep_ids[i] for i in nearest]})
    built = units.build_units(scored, areas)
    reps = pd.DataFrame({"rep_id": rep_ids, "home_lat": lat[homes], "home_lon": lon[homes], "capacity": 150.0})
    return design.prepare_inputs(scored, reps, built)
