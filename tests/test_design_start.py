"""Where the search starts (territory_geo.design.start): the national two-level transport LP."""

from __future__ import annotations

import pytest

from territory_geo import design
from territory_geo.design import start
from territory_geo.settings import DesignSettings
from tests.design_inputs import grid_inputs


def test_national_scale_path_solves_the_lp_in_two_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above `lp_max_pairs` the transport LP is solved on clusters first and then on the pairs they use: on the
    grid (thresholds lowered so the path runs) the plan is still balanced and in one piece per territory, and every
    unit's candidates include what the clusters used."""
    inputs = grid_inputs(n=10, k=4)
    national = DesignSettings(lp_max_pairs=10, coarse_clusters=25)
    calls = []
    original = start.coarse_candidates

    def spy(*args: object, **kwargs: object) -> tuple:
        pairs = original(*args, **kwargs)
        calls.append(pairs)
        return pairs

    monkeypatch.setattr(start, "coarse_candidates", spy)
    result = design.design(inputs, "evenness", seed=2, settings=national)
    assert calls, "the two-level path did not run"
    rows, _ = calls[0]
    assert set(rows.tolist()) == set(range(100))  # every unit has candidates
    assert len(rows) < 100 * 4  # and fewer than all reps on average
    assert result.status_ == "ok", result.message_
    assert result.summary_["n_noncontiguous"] == 0
    assert result.summary_["max_dev_potential"] <= 0.025 + 1e-9
