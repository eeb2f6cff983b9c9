"""The app's map builders: safe tooltips, no network in offline mode, shading, framing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ui import maps


@pytest.fixture
def scored() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["A1", "A2", "A3"], "name": ["<img src=x onerror=alert(1)>", "Beta", "Gamma"],
        "lat": [33.75, 25.76, 30.33], "lon": [-84.39, -80.19, -81.66], "tier": ["A", "B", "C"],
        "score": [81.4, 55.0, 30.2], "potential": [500_000.0, 40_000.0, 900.0], "arr": [250_000.0, 0.0, 500.0],
        "owner_rep_id": ["R1", None, "R9"]})


def test_points_carry_tier_colours_and_owner_names(scored: pd.DataFrame) -> None:
    points = maps.account_points(scored, {"R1": "Dana"})
    assert points["color"].tolist() == [maps.TIER_COLORS["A"], maps.TIER_COLORS["B"], maps.TIER_COLORS["C"]]
    assert points["owner"].tolist() == ["Dana", "(unassigned)", "R9"]
    assert points["potential_text"].tolist() == ["$500,000", "$40,000", "$900"]


def test_tooltip_is_text_only_so_names_render_literally(scored: pd.DataFrame,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRITORY_GEO_OFFLINE", "1")
    deck = maps.accounts_deck(maps.account_points(scored, {}), None, maps.view_for(scored))
    spec = json.loads(deck.to_json())
    assert set(deck._tooltip) == {"text"}  # deck.gl sets innerText for "text"; "html" would be innerHTML
    assert "http" not in json.dumps(spec["mapStyle"])  # offline: an inline style, no tile or style fetch
    assert spec["mapStyle"].startswith("data:application/json,")


def test_online_mode_uses_the_theme_basemap(scored: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERRITORY_GEO_OFFLINE", raising=False)
    deck = maps.accounts_deck(maps.account_points(scored, {}), None, maps.view_for(scored))
    assert json.loads(deck.to_json()).get("mapStyle") in (None, "")


def test_shading_puts_higher_values_in_darker_bins() -> None:
    features = [{"type": "Feature", "properties": {"potential": v}, "geometry": None}
                for v in [0.0, 1.0, 10.0, 100.0, 1000.0, 10_000.0]]
    shaded = maps.shade_areas({"type": "FeatureCollection", "features": features}, "potential")
    fills = [f["properties"]["fill"] for f in shaded["features"]]
    assert fills[0][:3] == [247, 251, 255]  # zero: the lightest colour
    darkness = [sum(f[:3]) for f in fills]
    assert darkness == sorted(darkness, reverse=True)
    assert darkness[-1] < darkness[1]


def test_view_frames_the_points(scored: pd.DataFrame) -> None:
    view = maps.view_for(scored)
    assert 25 < view.latitude < 34 and -85 < view.longitude < -80
    assert 4 < view.zoom < 8
    assert maps.view_for(scored.iloc[0:0]).zoom == pytest.approx(3.3)


def test_the_legend_names_each_territorys_rep_in_its_colour() -> None:
    colors = maps.territory_color(["T-R1", "T-R2", "T-R3"])
    legend = maps.legend_frame(colors, {"T-R1": "Ana", "T-R2": "Ben"})
    assert legend.to_dict("list") == {"colour": ["#1f77b4", "#ff7f0e", "#2ca02c"], "rep": ["Ana", "Ben", "T-R3"],
                                      "territory": ["T-R1", "T-R2", "T-R3"]}
    assert maps.hex_color([8, 69, 148, 170]) == "#084594"
