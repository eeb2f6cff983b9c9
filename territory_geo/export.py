"""Exports that are safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is a formula to Excel and
LibreOffice; a CRM field like ``=HYPERLINK(...)`` in an account name would run when the export is opened. Every CSV
the workbench writes goes through :func:`to_safe_csv`, which prefixes such text with a single quote (OWASP's
advice). Numbers stay numbers: a negative amount is not text and is written as is. The prefix is reversible:
:func:`unescape_formulas` gives back exactly the text that was escaped (ids such as ``+R02`` survive a round trip),
because text that already starts with quotes before a formula character gets one more.

Territory GeoJSON follows RFC 7946: WGS 84 lon/lat with at most 6 decimals (about 10 cm), valid geometries,
counter-clockwise exteriors and clockwise holes, no ``crs`` member.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from territory_geo.errors import TerritoryError
from territory_geo.plan import Plan
from territory_geo.settings import DISPLAY_CRS

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A negative number written as text ("-1200", "-0.5", "-1e3"): a value, not a formula, so it is left alone.
_NEGATIVE_NUMBER = r"-(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"


#: Decimals of GeoJSON coordinates (RFC 7946 recommends 6: about 10 cm).
GEOJSON_DECIMALS = 6


def _needs_quote(text: pd.Series) -> pd.Series:
    """Text that :func:`escape_formulas` prefixes: after any leading quotes it starts like a formula (and is not a
    negative number). Counting the quotes makes the prefix reversible: ``'=x`` becomes ``''=x``."""
    core = text.str.lstrip("'")
    return core.str.startswith(_FORMULA_START, na=False) & ~core.str.fullmatch(_NEGATIVE_NUMBER, na=False)


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot be read as spreadsheet formulas."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            text = col.astype("string")
            risky = _needs_quote(text)
            if risky.any():
                out[name] = text.where(~risky, "'" + text)
    return out


def unescape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` with the prefix :func:`escape_formulas` added taken off again, so that
    ``unescape_formulas(escape_formulas(f))`` has ``f``'s text (e.g. an id ``+R02`` read back from an export)."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            text = col.astype("string")
            quoted = text.str.startswith("'", na=False) & _needs_quote(text.str.slice(1))
            if quoted.any():
                out[name] = col.where(~quoted, text.str.slice(1))
    return out


def escape_cell(value: object) -> object:
    """One cell as :func:`escape_formulas` writes it (anything but text is returned as is)."""
    if not isinstance(value, str):
        return value
    return "'" + value if bool(_needs_quote(pd.Series([value], dtype="string")).iloc[0]) else value


def unescape_cell(value: object) -> object:
    """One cell as :func:`unescape_formulas` reads it back: the inverse of :func:`escape_cell` on text."""
    if not isinstance(value, str) or not value.startswith("'"):
        return value
    return value[1:] if bool(_needs_quote(pd.Series([value[1:]], dtype="string")).iloc[0]) else value


def to_safe_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """Write ``frame`` as CSV with formula cells escaped; returns the text when ``path`` is None.

    Lines end in CRLF (RFC 4180) so that a cell holding a bare carriage return is quoted: unquoted, a spreadsheet
    would start a new row there, and text after it (``"Acme\\r=HYPERLINK(...)"``) would be read as a formula.
    """
    safe = escape_formulas(frame)
    if path is None:
        return safe.to_csv(index=False, lineterminator="\r\n")
    safe.to_csv(path, index=False, lineterminator="\r\n")
    return None


#: Columns of the scored-accounts export, in order (``score_<factor>`` columns are added after ``score``).
SCORED_COLUMNS: tuple[str, ...] = (
    "account_id", "name", "zip", "state", "city", "lat", "lon", "location_source", "industry", "segment",
    "owner_rep_id", "arr", "expansion", "expansion_source", "win_prob", "win_source", "potential", "potential_source",
    "tier", "score",
)
SCORED_TAIL: tuple[str, ...] = ("value_tier", "growth", "rep_type", "workload_units", "touchpoints", "is_customer")


def scored_export(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored accounts in export order, with every other input column passed through at the end."""
    factor_cols = [c for c in scored.columns if c.startswith("score_")]
    head = [c for c in SCORED_COLUMNS if c in scored.columns] + factor_cols
    head += [c for c in SCORED_TAIL if c in scored.columns]
    rest = [c for c in scored.columns if c not in head and c != "row"]
    return scored[head + rest]


def assignment_frame(plan: Plan, rep_of: Mapping[str, str]) -> pd.DataFrame:
    """``zip,territory_id,rep_id`` for every unit of a plan."""
    series = plan.to_series()
    return pd.DataFrame({"zip": series.index.astype(str), "territory_id": series.to_numpy(),
                         "rep_id": [rep_of.get(t, "") for t in series.to_numpy()]})


def account_assignment_frame(scored: pd.DataFrame, account_zip: pd.Series, plan: Plan, rep_of: Mapping[str, str],
                             named: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every account with its ZIP unit, new territory and rep, its owner before, and whether it changes owner.

    Named accounts keep their rep wherever they sit (``named``: account id -> rep id).
    """
    named = named or {}
    zone = plan.to_series()
    territory = account_zip.map(zone)
    tid_of_rep = {r: t for t, r in rep_of.items()}
    ids = scored["account_id"].astype(str)
    is_named = ids.isin(set(named))
    territory = territory.where(~is_named, ids.map(named).map(tid_of_rep))
    rep = territory.map(rep_of)
    before = scored["owner_rep_id"].astype("string") if "owner_rep_id" in scored.columns else \
        pd.Series(pd.NA, index=scored.index, dtype="string")
    out = pd.DataFrame({
        "account_id": ids, "name": scored["name"].astype(str) if "name" in scored.columns else "",
        "zip": account_zip.astype("string"), "territory_id": territory, "rep_id": rep,
        "owner_before": before, "named_account": is_named,
        "changes_owner": before.notna() & (before != rep.astype("string")),
        "potential": scored["potential"], "arr": scored["arr"],
    })
    return out


def territories_geojson(units_table: gpd.GeoDataFrame, plan: Plan, table: pd.DataFrame) -> dict:
    """Territories as an RFC 7946 FeatureCollection: WGS 84 lon/lat with at most 6 decimals, valid geometries,
    counter-clockwise exteriors and clockwise holes, no ``crs`` (:func:`rfc7946_geometries`).

    One feature per territory (its units dissolved; units in no territory are left out), with the territory's
    figures as properties.
    """
    if units_table.crs is None:
        msg = "The units have no CRS; cannot export GeoJSON. Use `set_crs()` on the ZIP areas first."
        raise TerritoryError(msg)
    frame = units_table[["geometry"]].assign(territory_id=plan.to_series().reindex(units_table.index).to_numpy())
    merged = frame.dissolve("territory_id").to_crs(DISPLAY_CRS)
    merged["geometry"] = rfc7946_geometries(merged.geometry.values)
    props = table.copy()
    props.index = props.index.astype(str)
    features = []
    for tid, geom in merged.geometry.items():
        row = props.loc[str(tid)] if str(tid) in props.index else pd.Series(dtype=object)
        properties = {"territory_id": str(tid)}
        for key, value in row.items():
            properties[str(key)] = _json_value(value)
        features.append({"type": "Feature", "properties": properties, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def rfc7946_geometries(geoms: np.ndarray, decimals: int = GEOJSON_DECIMALS) -> np.ndarray:
    """Lon/lat areas ready for GeoJSON: repaired, snapped to a grid of ``10**-decimals`` degrees, each coordinate the
    double nearest its decimal (so JSON writes at most ``decimals`` digits), checked valid again (snapping can pinch
    a thin part; such geometries are repaired and snapped once more), exteriors counter-clockwise, holes clockwise.
    """
    geoms = _polygonal(shapely.make_valid(np.asarray(geoms, dtype=object)))
    for _ in range(3):
        snapped = shapely.set_precision(geoms, 10.0 ** -decimals)
        geoms = _polygonal(shapely.transform(snapped, lambda xy: np.round(xy, decimals)))
        invalid = ~shapely.is_valid(geoms)
        if not invalid.any():
            break
        geoms[invalid] = _polygonal(shapely.make_valid(geoms[invalid]))
    if (~shapely.is_valid(geoms)).any():
        msg = "A territory outline stays invalid after snapping to 6 decimals; please report it with the ZIP areas."
        raise TerritoryError(msg)
    return shapely.orient_polygons(geoms, exterior_cw=False)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Only the areas of each geometry: repairing a dissolve can leave a GeometryCollection that also holds the
    zero-width lines and points where units only touched, which GeoJSON consumers would draw as stray strokes."""
    out = []
    for geom in geoms:
        if geom.geom_type in {"Polygon", "MultiPolygon"}:
            out.append(geom)
            continue
        polygons = [p for p in shapely.get_parts(geom) if p.geom_type in {"Polygon", "MultiPolygon"}]
        out.append(shapely.union_all(polygons) if polygons else shapely.Polygon())
    return np.array(out, dtype=object)


def _json_value(value: object) -> object:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 6)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def write_design(out_dir: str | Path, designer: object, inputs: object, settings: Mapping[str, object]) -> dict:
    """Write a design run: ``assignment.csv``, ``account_assignment.csv``, ``territories.geojson``, ``metrics.json``.

    ``metrics.json`` holds the scenario metrics at the top level (``cv_potential``, ``max_dev_potential``,
    ``n_noncontiguous``, ``pp_mean``, ``runtime_s``, ...), ``territories`` (per-territory figures), the scenario,
    settings (with ``allow_cross_region``) and seed that reproduce the run, ``uncovered`` (regions without a rep,
    with their ZIP areas, accounts and potential, left out of the plan) and ``regions`` (each road region's ZIP
    areas, potential share, reps and capacity share). ``reproducible`` is false when the time budget cut a search step short
    (listed in ``clock_stops``): then the same seed may give another plan on another machine. Returns that document.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    problem = designer.problem_  # type: ignore[attr-defined]
    plan = designer.plan_  # type: ignore[attr-defined]
    rep_of = dict(zip(problem.tids, problem.rep_ids, strict=True))
    to_safe_csv(assignment_frame(plan, rep_of), out / "assignment.csv")
    named = dict(getattr(designer, "named_", {}))
    accounts = account_assignment_frame(inputs.scored, inputs.units.account_zip, plan, rep_of, named)  # type: ignore[attr-defined]
    to_safe_csv(accounts, out / "account_assignment.csv")
    geojson = territories_geojson(inputs.units.table, plan, designer.table_)  # type: ignore[attr-defined]
    (out / "territories.geojson").write_text(json.dumps(geojson))
    metrics = design_metrics(designer, settings)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    return metrics


def design_metrics(designer: object, settings: Mapping[str, object]) -> dict:
    """The ``metrics.json`` document of a design run (see :func:`write_design`)."""
    from territory_geo.design import scenario_record

    table = designer.table_  # type: ignore[attr-defined]
    summary = {k: _json_value(v) for k, v in designer.summary_.items()}  # type: ignore[attr-defined]
    territories = [{"territory_id": str(t), **{str(k): _json_value(v) for k, v in row.items()}}
                   for t, row in table.iterrows()]
    return {
        **summary,
        "runtime_s": round(float(designer.runtime_s_), 3),  # type: ignore[attr-defined]
        # steps the time budget cut short; empty: the same seed reproduces this plan on any machine
        "clock_stops": list(designer.clock_stops_),  # type: ignore[attr-defined]
        "reproducible": not designer.clock_stops_,  # type: ignore[attr-defined]
        "status": designer.status_, "message": designer.message_,  # type: ignore[attr-defined]
        "lp_bound_km": _json_value(designer.lp_bound_km_),  # type: ignore[attr-defined]
        "kmeans_reference": {k: _json_value(v) for k, v in designer.kmeans_summary_.items()},  # type: ignore[attr-defined]
        "distance_source": "crow-fly km from each ZIP to its rep's home (projected, EPSG:5070)",
        "travel_source": designer.travel_source_,  # type: ignore[attr-defined]
        "scenario": scenario_record(designer.scenario),  # type: ignore[attr-defined]
        "settings": {**settings, "allow_cross_region": bool(getattr(designer, "allow_cross_region", False))},
        "seed": settings.get("seed"),
        # what no territory covers: regions without a rep (their ZIP areas are not in the plan)
        "uncovered": dict(getattr(designer, "uncovered_", {"regions": [], "zips": 0, "accounts": 0,
                                                              "potential": 0.0})),
        "regions": list(getattr(designer, "regions_", [])),
        "territories": territories,
    }
