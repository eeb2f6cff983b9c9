"""Team changes (territory_geo.design.team): adding and removing a rep with little disruption."""

from __future__ import annotations

import pytest

from territory_geo import design
from territory_geo.errors import TerritoryError
from tests.design_inputs import grid_inputs


def test_adding_a_rep_carves_a_territory_with_little_disruption() -> None:
    inputs = grid_inputs(k=4)
    before = design.design(inputs, "evenness")
    current = before.plan_.to_series().str.removeprefix("T-")
    import geopandas as gpd

    home = gpd.GeoSeries(gpd.points_from_xy([5500], [5500]), crs="EPSG:5070").to_crs("EPSG:4326")
    result = design.add_rep(inputs, current, {"rep_id": "R9", "home_lat": home.y[0], "home_lon": home.x[0],
                                               "capacity": 150.0}, tolerance=0.1)
    assert "T-R9" in result.plan_.territories
    assert result.plan_.tallies().loc["T-R9", "potential"] > 0
    assert result.summary_["n_noncontiguous"] == 0
    assert result.status_ == "ok", result.message_
    kept = (result.plan_.to_series().str.removeprefix("T-") == current.reindex(result.plan_.geography.zips)).mean()
    assert kept > 0.5  # most ZIPs keep their rep


def test_removing_a_rep_hands_their_zips_to_the_others() -> None:
    inputs = grid_inputs(k=4)
    before = design.design(inputs, "evenness")
    current = before.plan_.to_series().str.removeprefix("T-")
    result = design.remove_rep(inputs, current, "R3", tolerance=0.1)
    assert "T-R3" not in result.plan_.territories and len(result.plan_.territories) == 3
    assert result.summary_["n_noncontiguous"] == 0
    assert result.status_ == "ok", result.message_
    with pytest.raises(TerritoryError, match="not on the team"):
        design.remove_rep(inputs, current, "R7")
