"""pydeck maps of accounts and ZIP areas.

deck.gl ships inside Streamlit's frontend, so the maps draw without a CDN. Street basemap tiles (Carto) need the
internet: they are on by default and switched off with ``TERRITORY_GEO_OFFLINE=1``, in which case the ZIP areas and
state outlines are the map. Tooltips use deck.gl's ``text`` mode, which sets ``innerText``: an account named
``<img src=x onerror=alert(1)>`` shows literally.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from territory_geo.settings import basemap_enabled

#: Tier colours (colour-blind-safe: dark red, orange, blue-grey), RGBA.
TIER_COLORS: dict[str, list[int]] = {"A": [178, 24, 43, 230], "B": [244, 165, 130, 230], "C": [103, 169, 207, 200]}

#: Metrics the ZIP areas can be shaded by: column -> legend label.
AREA_METRICS: dict[str, str] = {
    "potential": "Potential ($)",
    "whitespace": "Whitespace ($)",
    "penetration": "Penetration (ARR ÷ (ARR + whitespace))",
    "density": "Account density (per km²)",
    "accounts": "Accounts",
}

#: An inline map style with only a background: no tiles, no style fetch (Streamlit falls back to Carto's hosted
#: style when the style is empty, so "no basemap" has to be a real, local style).
OFFLINE_STYLE: str = "data:application/json," + quote(json.dumps(
    {"version": 8, "sources": {}, "layers": [{"id": "background", "type": "background",
                                             "paint": {"background-color": "#eef2f5"}}]}))

_RAMP = np.array([[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214],
                  [66, 146, 198], [33, 113, 181], [8, 69, 148]])


class CompactDeck(pdk.Deck):
    """A pydeck Deck serialised without indentation.

    pydeck writes its JSON with ``indent=2``, which makes Python fall back to its pure-Python encoder: for the demo's
    map that was 0.5 s and 5.4 MB on every rerun. Without indentation the C encoder writes the same document.
    """

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))


def _money(values: pd.Series) -> pd.Series:
    return values.map(lambda v: f"${v:,.0f}")


def account_points(accounts: pd.DataFrame, rep_names: dict[str, str]) -> pd.DataFrame:
    """The columns the account layer needs, with display strings for the tooltip."""
    owner = accounts["owner_rep_id"].astype("string") if "owner_rep_id" in accounts.columns else \
        pd.Series(pd.NA, index=accounts.index, dtype="string")
    return pd.DataFrame({
        "account_id": accounts["account_id"].astype(str),
        "name": accounts["name"].astype(str),
        "lon": accounts["lon"].astype(float),
        "lat": accounts["lat"].astype(float),
        "tier": accounts["tier"],
        "score": accounts["score"].round(0).astype(int),
        "potential_text": _money(accounts["potential"]),
        "arr_text": _money(accounts["arr"]),
        "owner": owner.map(lambda r: rep_names.get(r, r) if isinstance(r, str) else "(unassigned)"),
        "color": accounts["tier"].map(TIER_COLORS),
        "radius": np.clip(np.sqrt(accounts["potential"].clip(lower=0)) * 4.0, 250, 6000),
    })


def shade_areas(geojson: dict, metric: str) -> dict:
    """Add a ``fill`` colour to each ZIP feature by quantile of ``metric`` (a copy is modified in place)."""
    values = np.array([f["properties"].get(metric) or 0.0 for f in geojson["features"]], dtype=float)
    positive = values[values > 0]
    edges = np.quantile(positive, np.linspace(0, 1, len(_RAMP))[1:-1]) if len(positive) else np.array([])
    bins = np.where(values > 0, np.searchsorted(edges, values, side="right") + 1, 0)
    bins = np.clip(bins, 0, len(_RAMP) - 1)
    for feature, b in zip(geojson["features"], bins, strict=True):
        feature["properties"]["fill"] = [*_RAMP[b].tolist(), 150]
    return geojson


def view_for(points: pd.DataFrame) -> pdk.ViewState:
    """A view that frames the points."""
    if points.empty:
        return pdk.ViewState(latitude=39.5, longitude=-98.35, zoom=3.3)
    lat = points["lat"].quantile([0.01, 0.99]).to_numpy()
    lon = points["lon"].quantile([0.01, 0.99]).to_numpy()
    span = max(float(lat[1] - lat[0]) * 1.15, float(lon[1] - lon[0]) * 0.75, 0.05)
    zoom = float(np.clip(np.log2(360.0 / span) - 0.35, 2.5, 12))
    return pdk.ViewState(latitude=float(lat.mean()), longitude=float(lon.mean()), zoom=zoom)


def accounts_deck(points: pd.DataFrame, areas_geojson: dict | None, view: pdk.ViewState) -> pdk.Deck:
    """Accounts coloured by tier over shaded ZIP areas; accounts are pickable (layer id ``accounts``)."""
    layers = []
    if areas_geojson is not None:
        layers.append(pdk.Layer(
            "GeoJsonLayer", id="zip-areas", data=areas_geojson, stroked=True, filled=True, pickable=False,
            get_fill_color="properties.fill", get_line_color=[90, 100, 110, 90], line_width_min_pixels=0.5))
    layers.append(pdk.Layer(
        "ScatterplotLayer", id="accounts", data=points, get_position=["lon", "lat"], get_fill_color="color",
        get_radius="radius", radius_min_pixels=2, radius_max_pixels=14, pickable=True, auto_highlight=True,
        stroked=True, get_line_color=[255, 255, 255, 160], line_width_min_pixels=0.3))
    tooltip = {"text": "{name}\nTier {tier} · score {score}\nPotential {potential_text} · ARR {arr_text}\n"
                       "Owner: {owner}"}
    style = None if basemap_enabled() else OFFLINE_STYLE
    return CompactDeck(layers=layers, initial_view_state=view, tooltip=tooltip, map_style=style)


#: Categorical territory colours (cycled), RGB.
TERRITORY_COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148), (247, 182, 210), (219, 219, 141),
    (158, 218, 229), (57, 59, 121),
)


def territory_color(territories: list[str]) -> dict[str, list[int]]:
    """A colour per territory id, stable for the order given."""
    return {t: list(TERRITORY_COLORS[i % len(TERRITORY_COLORS)]) for i, t in enumerate(territories)}


def territories_deck(areas_geojson: dict, assignment: pd.Series, colors: dict[str, list[int]],
                     rep_names: dict[str, str], homes: pd.DataFrame, view: pdk.ViewState) -> pdk.Deck:
    """ZIP areas coloured by territory (tooltip: ZIP, territory, rep) with the reps' homes on top."""
    for feature in areas_geojson["features"]:
        props = feature["properties"]
        tid = assignment.get(props["zip"], "")
        props["territory"] = tid
        props["rep"] = rep_names.get(tid, tid)
        props["fill"] = [*colors.get(tid, [200, 200, 200]), 170]
        props["potential_text"] = f"${props.get('potential') or 0:,.0f}"
    layers = [
        pdk.Layer("GeoJsonLayer", id="territories", data=areas_geojson, stroked=True, filled=True, pickable=True,
                  get_fill_color="properties.fill", get_line_color=[255, 255, 255, 120], line_width_min_pixels=0.3),
        _homes_layer(homes, radius_px=6),
    ]
    return _deck(layers, view, "ZIP {zip} · {territory}\nRep: {rep}\nPotential {potential_text}")


def _homes_layer(homes: pd.DataFrame, radius_px: int) -> pdk.Layer:
    """Reps' homes: black dots with a white ring, drawn on top."""
    return pdk.Layer("ScatterplotLayer", id="homes", data=homes, get_position=["lon", "lat"],
                     get_fill_color=[20, 20, 20, 230], get_line_color=[255, 255, 255, 255], stroked=True,
                     line_width_min_pixels=2, radius_min_pixels=radius_px, get_radius=2000, pickable=False)


def _deck(layers: list[pdk.Layer], view: pdk.ViewState, tooltip_text: str) -> pdk.Deck:
    """A compact deck with a text tooltip, on the street basemap or, offline, the plain local style."""
    style = None if basemap_enabled() else OFFLINE_STYLE
    return CompactDeck(layers=layers, initial_view_state=view, tooltip={"text": tooltip_text}, map_style=style)


#: Fill of the 30 / 60 / 90-minute reachable areas (darkest = nearest), RGBA.
ISOCHRONE_COLORS: dict[float, list[int]] = {30.0: [8, 81, 156, 110], 60.0: [66, 146, 198, 80],
                                            90.0: [158, 202, 225, 60]}


def isochrone_rows(rings: list[dict], rep_names: list[str]) -> list[dict]:
    """Reachable-area records (:func:`territory_geo.drivetime.isochrones`) as PolygonLayer rows, largest first."""
    rows = []
    for ring in rings:
        geometry = ring["geometry"]
        parts = list(geometry.geoms) if hasattr(geometry, "geoms") else [geometry]
        for part in parts:
            rows.append({"rep": rep_names[ring["home"]], "minutes": int(ring["minutes"]),
                         "source": ring["source"], "polygon": [list(map(list, part.exterior.coords))],
                         "fill": ISOCHRONE_COLORS.get(float(ring["minutes"]), [120, 120, 120, 60])})
    return sorted(rows, key=lambda r: -r["minutes"])


def isochrone_deck(rows: list[dict], homes: pd.DataFrame, view: pdk.ViewState) -> pdk.Deck:
    """30 / 60 / 90-minute reachable areas around each rep's home (tooltip: rep, minutes, graph or estimated)."""
    layers = [
        pdk.Layer("PolygonLayer", id="isochrones", data=rows, get_polygon="polygon", get_fill_color="fill",
                  get_line_color=[255, 255, 255, 160], line_width_min_pixels=0.5, stroked=True, filled=True,
                  pickable=True),
        _homes_layer(homes, radius_px=5),
    ]
    return _deck(layers, view, "{rep}: within {minutes} min ({source})")


def hex_color(rgb: list[int] | tuple[int, ...]) -> str:
    """``#rrggbb`` of an RGB(A) colour (alpha dropped)."""
    return "#" + "".join(f"{int(c):02x}" for c in list(rgb)[:3])


def legend_frame(colors: dict[str, list[int]], rep_names: dict[str, str]) -> pd.DataFrame:
    """The territory map's legend: one row per territory, in the colours' order (``colour`` as ``#rrggbb``,
    ``rep``, ``territory``)."""
    return pd.DataFrame({"colour": [hex_color(c) for c in colors.values()],
                         "rep": [rep_names.get(t, t) for t in colors],
                         "territory": list(colors)})
