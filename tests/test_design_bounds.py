"""Distance bounds (territory_geo.design.bounds): the Lagrangian dual is as tight as the transport LP, and never
above it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from territory_geo import design
from territory_geo.settings import DesignSettings
from tests.design_inputs import grid_inputs


@pytest.mark.parametrize(("k", "seed", "lock"), [(2, 3, False), (4, 3, False), (5, 7, False), (4, 5, True)])
def test_the_dual_distance_bound_is_the_lp_bound_and_never_above_it(k: int, seed: int, lock: bool) -> None:
    inputs = grid_inputs(k=k, seed=seed)
    if lock:  # a far corner locked to rep 0: the LP and the dual both keep it there
        inputs = replace(inputs, locks={inputs.units.table.index[-1]: "R0"})
    designer = design.design(inputs, "evenness", seed=1)
    lp = designer.lp_bound_km_
    dual = design.dual_lower_bound(designer.problem_)
    assert dual is not None and dual <= lp + 1e-6 * lp  # weak duality: a bound whatever the prices
    assert dual >= lp * (1 - 1e-3)  # and as tight as the LP
    assert designer.summary_["distance_km_weighted"] <= 1.05 * lp  # the engine steers by it


def test_the_bounds_are_skipped_where_the_lp_would_be_too_large() -> None:
    designer = design.design(grid_inputs(), "evenness", seed=1, compute_bound=False)
    assert designer.lp_bound_km_ is None
    assert design.dual_lower_bound(designer.problem_) is not None
    assert design.dual_lower_bound(designer.problem_, max_variables=10) is None  # 100 ZIPs x 4 reps
    assert np.isnan(design.lp_lower_bound(designer.problem_, max_variables=10))
    small = design.design(grid_inputs(), "evenness", seed=1, settings=DesignSettings(full_bound_variables=10))
    assert np.isnan(small.lp_bound_km_)
