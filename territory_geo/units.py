"""ZIP units: the building blocks territories are made of.

A unit is a ZIP area with its accounts' totals (count, potential, ARR, workload units, whitespace), its land area,
account density, an urban/suburban/rural class and a polygon. Polygons come from a ZCTA file the user supplies
(Shapefile, GeoJSON, GeoPackage; any CRS), or by default from the STANDARD ZIP centroids of every state the data
touches: Voronoi cells built per state and clipped to that state's outline, so the cells of each state cover its
land without gaps or overlaps. Rook adjacency (a shared border of positive length) is part of the API; units or
groups of units with no land neighbour (islands, or a state far from the others) are linked to their nearest unit.
The default areas, their adjacency and the state outlines are the same for every run on the same states: they are
kept on disk (:mod:`territory_geo.cache`) and read back exactly; areas from a user's file are always read as given.

Every unit belongs to a road region (:attr:`Units.region`): the lower 48 states and DC are one (:data:`CONUS`), and
each state or territory outside them (Alaska, Hawaii, Puerto Rico, ...) is its own. No road joins two regions, so the
links between them (:attr:`Units.water_links`) are not road links: designs keep territories inside one region.

Uploaded files are written under a fixed name in a fresh temporary folder and deleted once read; the name a client
sent is used only to pick the reader by its suffix and, sanitised (:func:`display_name`), in messages.
"""

from __future__ import annotations

import importlib.util
import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from territory_geo import cache, geocode
from territory_geo.errors import InputFileError
from territory_geo.io import normalise_name
from territory_geo.settings import (DISPLAY_CRS, EQUAL_AREA_CRS, FAR_ACCOUNT_KM, SUBURBAN_MAX_KM2,
                                    UPLOAD_NAME_MAX_CHARS, URBAN_MAX_KM2)

#: Column names recognised as the ZIP of a polygon file (after :func:`normalise_name`).
ZIP_AREA_COLUMNS: tuple[str, ...] = ("zip", "zcta", "zcta5ce20", "zcta5ce10", "geoid20", "geoid10", "zcta5",
                                     "zipcode", "zip_code", "postalcode")
_SHARED_BORDER_M = 50.0
_SNAP_M = 5.0
_DUPLICATE_JITTER_M = 150.0
_ISLAND_FALLBACK_M = 1500.0

#: Rook adjacency, island links and shared border lengths (:func:`_rook`).
_Rook = tuple[dict[str, tuple[str, ...]], list[tuple[str, str]], dict[tuple[str, str], float]]

#: Road region of the lower 48 states and DC; every state or territory in :data:`geocode.NON_CONUS` is its own.
CONUS = "CONUS"

#: Suffixes a ZIP-areas upload may have (a Shapefile is uploaded zipped with its .dbf, .shx and .prj).
ZIP_AREA_UPLOAD_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".zip")


@dataclass
class Units:
    """ZIP units with totals, geometry and adjacency.

    Attributes
    ----------
    table
        One row per ZIP (index ``zip``), in the equal-area CRS (EPSG:5070): ``state``, ``accounts``, ``potential``,
        ``arr``, ``workload_units``, ``expansion``, ``whitespace``, ``penetration``, ``area_km2``, ``density``
        (accounts per km²), ``area_class`` and ``geometry``.
    neighbors
        ZIP -> sorted tuple of rook-adjacent ZIPs, including the links that join islands to their nearest unit.
    island_links
        The (zip, zip) links added to join islands and separate groups of units.
    account_zip
        For each account (same index as the scored accounts), the ZIP unit it belongs to.
    geometry_source
        Where polygons came from: "voronoi" (built from ZIP centroids) or the user's file name.
    borders
        Length in metres of the border each pair of neighbours shares, keyed (a, b) and (b, a); island links are
        absent (no shared border). Used for exact, incremental territory perimeters.
    far_accounts
        Accounts placed by their point outside every ZIP area and given the nearest one: account index -> km from
        the point to that unit, for those farther than :data:`~territory_geo.settings.FAR_ACCOUNT_KM`
        (:func:`far_accounts_note` words the warning).
    """

    table: gpd.GeoDataFrame
    neighbors: dict[str, tuple[str, ...]]
    island_links: list[tuple[str, str]] = field(default_factory=list)
    account_zip: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    geometry_source: str = "voronoi"
    borders: dict[tuple[str, str], float] = field(default_factory=dict)
    far_accounts: pd.Series = field(default_factory=lambda: pd.Series(dtype=float, name="km"))

    @property
    def region(self) -> pd.Series:
        """Road region of every unit (ZIP -> label): :data:`CONUS`, or the state outside it (``AK``, ``HI``, ...).
        The table's ``region`` column when it has one, else derived from ``state``."""
        if "region" in self.table.columns:
            return self.table["region"]
        return pd.Series(unit_regions(self.table), index=self.table.index, name="region")

    @property
    def water_links(self) -> list[tuple[str, str]]:
        """The island links that join units of different regions: no road runs along them."""
        region = self.region.to_dict()
        return [(a, b) for a, b in self.island_links if region[a] != region[b]]

    def within_regions(self, regions: Iterable[str]) -> Units:
        """The units of ``regions`` without the water links between them (each region is then its own piece).
        Accounts of other units map to no ZIP (NaN)."""
        region = self.region.to_dict()
        keep = {z for z, r in region.items() if r in set(regions)}

        def joined(a: str, b: str) -> bool:
            return b in keep and region[a] == region[b]

        table = self.table[self.table.index.isin(keep)]
        neighbors = {a: tuple(b for b in nbrs if joined(a, b)) for a, nbrs in self.neighbors.items() if a in keep}
        return replace(self, table=table, neighbors=neighbors,
                       island_links=[(a, b) for a, b in self.island_links if a in keep and joined(a, b)],
                       account_zip=self.account_zip.where(self.account_zip.isin(keep)),
                       borders={k: v for k, v in self.borders.items() if k[0] in keep and joined(*k)},
                       far_accounts=self.far_accounts[self.far_accounts.index.isin(
                           self.account_zip.index[self.account_zip.isin(keep)])])

    def adjacency(self) -> sparse.csr_matrix:
        """Symmetric 0/1 adjacency matrix in the order of ``table.index``."""
        pos = {z: i for i, z in enumerate(self.table.index)}
        rows = [pos[a] for a, nbrs in self.neighbors.items() for _ in nbrs]
        cols = [pos[b] for nbrs in self.neighbors.values() for b in nbrs]
        n = len(pos)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))

    def to_display(self, tolerance_m: float = 250.0, grid_deg: float = 1e-5) -> gpd.GeoDataFrame:
        """The table in WGS 84 (lon/lat), simplified for drawing and snapped to a ~1 m grid (fewer JSON digits)."""
        simplified = self.table.copy()
        simplified["geometry"] = shapely.simplify(simplified.geometry.values, tolerance_m, preserve_topology=True)
        display = simplified.to_crs(DISPLAY_CRS)
        display["geometry"] = shapely.set_precision(display.geometry.values, grid_deg, mode="pointwise")
        return display


# --- outlines and default polygons ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def state_outlines() -> gpd.GeoDataFrame:
    """Lower-48 state outlines (libpysal's bundled ``us48``), indexed by state abbreviation, equal-area CRS. Kept in
    the cache (:mod:`territory_geo.cache`) between runs: treat as read-only."""
    key = {"libpysal": cache.package_version("libpysal"), "code": cache.source_digest(__file__),
           "crs": EQUAL_AREA_CRS} | cache.common_key(geometry=True)
    return cache.cached("state-outlines", key, _read_state_outlines, cache.geoframe_arrays, _equal_area_frame)


def _equal_area_frame(arrays: cache.Arrays) -> gpd.GeoDataFrame:
    return cache.geoframe_of(arrays, EQUAL_AREA_CRS)


def _read_state_outlines() -> gpd.GeoDataFrame:
    frame = gpd.read_file(_us48_path())
    frame = frame.set_crs("EPSG:4326", allow_override=True)[["STATE_ABBR", "geometry"]]
    frame = frame.dissolve("STATE_ABBR").to_crs(EQUAL_AREA_CRS)
    frame["geometry"] = shapely.make_valid(frame.geometry.values)
    return frame


def _us48_path() -> str:
    """libpysal's ``us48.shp``: found in its package folder without importing libpysal (which imports much of
    SciPy), else by its example manager."""
    spec = importlib.util.find_spec("libpysal")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "examples" / "us_income" / "us48.shp"
        if path.is_file():
            return str(path)
    from libpysal import examples

    return examples.get_path("us48.shp")


def _project(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=DISPLAY_CRS).to_crs(EQUAL_AREA_CRS)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def _separate_duplicates(xy: np.ndarray) -> np.ndarray:
    """Spread ZIPs that share a centroid on a small ring so each gets its own Voronoi cell."""
    xy = xy.copy()
    keys = pd.Series([f"{x:.0f},{y:.0f}" for x, y in xy])
    for _, idx in keys.groupby(keys).groups.items():
        if len(idx) > 1:
            angles = np.linspace(0, 2 * np.pi, len(idx), endpoint=False)
            xy[idx, 0] += _DUPLICATE_JITTER_M * np.cos(angles)
            xy[idx, 1] += _DUPLICATE_JITTER_M * np.sin(angles)
    return xy


def _state_cells(xy: np.ndarray, outline: shapely.Geometry | None) -> np.ndarray:
    points = shapely.points(xy)
    if outline is None:  # no outline (outside the lower 48): a hull around the ZIPs
        outline = shapely.buffer(shapely.convex_hull(shapely.multipoints(xy)), 25_000.0)
    if len(xy) == 1:
        return np.array([outline])
    envelope = shapely.buffer(shapely.envelope(shapely.union(outline, shapely.multipoints(xy))), 50_000.0)
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=envelope, ordered=True)
    cells = np.asarray(shapely.get_parts(cells))
    clipped = shapely.intersection(cells, outline)
    empty = shapely.is_empty(clipped) | (shapely.area(clipped) < 1.0)
    if empty.any():  # centroid off a coarse coastline: a small disc stands in for the area
        clipped[empty] = shapely.buffer(points[empty], _ISLAND_FALLBACK_M)
    return shapely.make_valid(clipped)


@lru_cache(maxsize=8)
def voronoi_zip_areas(states: tuple[str, ...]) -> gpd.GeoDataFrame:
    """ZIP areas of the given states from STANDARD ZIP centroids: Voronoi cells per state, clipped to the state.

    Returns a GeoDataFrame indexed by ZIP with ``state`` and ``geometry`` in EPSG:5070. Cached in memory and on disk
    (:mod:`territory_geo.cache`): treat as read-only.
    """
    return cache.cached("zip-areas", _voronoi_key(states), lambda: _build_voronoi_areas(states),
                        cache.geoframe_arrays, _equal_area_frame)


def _voronoi_key(states: tuple[str, ...]) -> dict[str, object]:
    """What the default ZIP areas of ``states`` (and their adjacency) depend on."""
    return {"states": list(states), "zipcodes": cache.package_version("zipcodes"),
            "libpysal": cache.package_version("libpysal"), "code": cache.source_digest(__file__, geocode.__file__),
            "crs": [EQUAL_AREA_CRS, DISPLAY_CRS]} | cache.common_key(geometry=True)


def _build_voronoi_areas(states: tuple[str, ...]) -> gpd.GeoDataFrame:
    zips = geocode.standard_zips(states)
    outlines = state_outlines()
    frames = []
    for state in sorted(set(zips["state"])):
        sub = zips[zips["state"] == state]
        xy = _separate_duplicates(_project(sub["lon"].to_numpy(), sub["lat"].to_numpy()))
        outline = outlines.geometry.get(state)
        cells = _state_cells(xy, outline)
        frames.append(gpd.GeoDataFrame({"state": state}, geometry=cells, index=sub.index, crs=EQUAL_AREA_CRS))
    if not frames:
        msg = f"No STANDARD ZIP codes are known for the state(s) {list(states)}."
        raise InputFileError(msg)
    out = pd.concat(frames)
    out.index.name = "zip"
    return gpd.GeoDataFrame(out, geometry="geometry", crs=EQUAL_AREA_CRS)


def read_zip_areas(source: str | Path | bytes, filename: str | None = None) -> gpd.GeoDataFrame:
    """Read a ZCTA/ZIP polygon file (Shapefile as .zip or .shp, GeoJSON, GeoPackage; any CRS).

    ``source`` is a path, or the bytes of an upload whose client-supplied name is ``filename``: its final suffix
    must be one of :data:`ZIP_AREA_UPLOAD_SUFFIXES`, and the bytes are read from a fixed-name temporary file that is
    deleted afterwards (the name itself never becomes a path). The ZIP column is found by name (``zip``, ``zcta``,
    ``ZCTA5CE20``, ``ZCTA5CE10``, ``GEOID20``, ...). Returns a GeoDataFrame indexed by 5-digit ZIP with ``state``
    and ``geometry`` in EPSG:5070; rows of the same ZIP are merged.
    """
    if isinstance(source, bytes):
        name = "zip_areas.geojson" if filename is None else filename
        suffix = _zip_area_suffix(name)
        label = display_name(name)
        with tempfile.TemporaryDirectory(prefix="territory-geo-") as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(source)
            frame = _read_polygons(_shapefile_in_zip(source, path, label) if suffix == ".zip" else str(path), label)
    else:
        label = display_name(filename) if filename is not None else Path(source).name
        frame = _read_polygons(str(source), label)
    return _zip_areas_frame(frame, label)


def display_name(name: str) -> str:
    """A client-supplied file name as messages may show it: its last part after either slash, without control
    characters, at most :data:`~territory_geo.settings.UPLOAD_NAME_MAX_CHARS` characters ("upload" when nothing
    is left)."""
    base = re.split(r"[\\/]", str(name))[-1]
    cleaned = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C")).strip() or "upload"
    return cleaned if len(cleaned) <= UPLOAD_NAME_MAX_CHARS else cleaned[:UPLOAD_NAME_MAX_CHARS - 1] + "…"


def upload_suffix(name: str, allowed: Sequence[str], what: str) -> str | None:
    """The longest of ``allowed`` that the last part of an uploaded file's name (after either slash) ends with,
    lower case; None when it ends with none. A NUL character is refused: no file system allows one in a name."""
    if "\x00" in str(name):
        msg = f"The {what} file name contains a NUL character; rename the file and upload it again."
        raise InputFileError(msg)
    base = re.split(r"[\\/]", str(name))[-1].lower()
    return next((s for s in sorted(allowed, key=len, reverse=True) if base.endswith(s)), None)


def _zip_area_suffix(name: str) -> str:
    suffix = upload_suffix(name, ZIP_AREA_UPLOAD_SUFFIXES, "ZIP areas")
    if suffix is not None:
        return suffix
    label = display_name(name)
    if label.lower().endswith(".shp"):
        msg = (f"{label}: a Shapefile cannot be read without its .dbf, .shx and .prj files. Zip the four files "
               "together and upload the .zip.")
    else:
        msg = (f"{label}: not a polygon file type the workbench reads. Upload a GeoJSON (.geojson, .json), a "
               "GeoPackage (.gpkg), or a zipped Shapefile (.zip).")
    raise InputFileError(msg)


def _shapefile_in_zip(data: bytes, path: Path, label: str) -> str:
    """The GDAL path (``/vsizip/``) of the one Shapefile in an uploaded archive, read in place: nothing is extracted,
    and an archive whose entries name places outside it is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.namelist()
    except zipfile.BadZipFile as exc:
        msg = f"{label}: not a readable zip archive. Upload a zipped Shapefile (.shp with its .dbf, .shx and .prj)."
        raise InputFileError(msg) from exc
    unsafe = [m for m in members if _unsafe_member(m)]
    if unsafe:
        msg = (f"{label}: the archive holds entries with paths outside it ({[display_name(m) for m in unsafe[:3]]}"
               "). Zip the Shapefile's files themselves and upload again.")
        raise InputFileError(msg)
    shapefiles = [m for m in members if m.lower().endswith(".shp")]
    if len(shapefiles) != 1:
        found = f"{len(shapefiles)} Shapefiles ({[display_name(m) for m in shapefiles[:3]]})" if shapefiles else \
            "no .shp file"
        msg = f"{label}: the archive holds {found}; upload a zip with exactly one (its .shp, .dbf, .shx and .prj)."
        raise InputFileError(msg)
    return f"/vsizip/{path}/{shapefiles[0]}"


def _unsafe_member(member: str) -> bool:
    parts = re.split(r"[\\/]", member)
    return "\x00" in member or member.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", member)) or \
        ".." in parts


def _read_polygons(path: str, label: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        msg = (f"{label}: the polygon file could not be read ({type(exc).__name__}). Upload a GeoJSON, a GeoPackage, "
               "or a zipped Shapefile (.shp with its .dbf, .shx and .prj).")
        raise InputFileError(msg) from exc


def _zip_areas_frame(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """The ZIP areas of a polygon file that was read: ZIP column found, CRS checked, rows of a ZIP merged."""
    normalised = {normalise_name(c): c for c in frame.columns}
    column = next((normalised[c] for c in map(normalise_name, ZIP_AREA_COLUMNS) if c in normalised), None)
    if column is None:
        msg = (f"{name}: no ZIP column found (columns: {[c for c in frame.columns if c != 'geometry']}). "
               f"Name it one of {list(ZIP_AREA_COLUMNS[:6])}.")
        raise InputFileError(msg)
    if frame.crs is None:
        msg = (f"{name}: the polygons have no coordinate reference system. Add the .prj file, or set it with "
               "`set_crs()` / `to_crs()` before saving.")
        raise InputFileError(msg)
    if frame.crs.is_geographic and len(frame) and not _within_lon_lat(frame.total_bounds):
        # GeoJSON without a "crs" member is read as WGS 84 (RFC 7946), even when its coordinates are metres
        msg = (f"{name}: the coordinates are not longitude/latitude (bounds {np.round(frame.total_bounds, 1).tolist()}"
               "), and the file names no other coordinate reference system. Save it as GeoJSON in WGS 84 "
               "(EPSG:4326), or as a GeoPackage / zipped Shapefile with its .prj file.")
        raise InputFileError(msg)
    zip5, _ = geocode.normalise_zip(frame[column].astype(str))
    frame = frame.assign(zip=zip5).dropna(subset=["zip"])
    frame = frame[~frame.geometry.is_empty & frame.geometry.notna()].to_crs(EQUAL_AREA_CRS)
    frame["geometry"] = shapely.make_valid(frame.geometry.values)
    merged = frame[["zip", "geometry"]].dissolve("zip")
    states = geocode.lookup(pd.Series(merged.index, index=merged.index))["state"]
    merged["state"] = states
    return merged[["state", "geometry"]]


def _within_lon_lat(bounds: np.ndarray) -> bool:
    minx, miny, maxx, maxy = bounds
    return bool(-180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0)


# --- adjacency ---------------------------------------------------------------------------------------------------


def rook_neighbors(areas: gpd.GeoDataFrame) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """Rook adjacency (a shared border longer than 50 m) plus links that join every island to its nearest unit.

    Borders built independently on either side of a state line do not share vertices, so sharing is measured
    geometrically: the length of one polygon's boundary inside a 5 m buffer of the other.
    """
    neighbors, links, _ = _rook(areas)
    return neighbors, links


def _rook(areas: gpd.GeoDataFrame) -> _Rook:
    """Rook adjacency, island links, and the length (m) of each shared border, keyed both ways (links: 0)."""
    geoms = areas.geometry.values
    zips = areas.index.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=_SNAP_M)
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(geoms)
    shared = shapely.length(shapely.intersection(boundaries[left], shapely.buffer(geoms[right], _SNAP_M)))
    rook = shared > _SHARED_BORDER_M
    edges = list(zip(left[rook].tolist(), right[rook].tolist(), strict=True))
    links = _link_regions(geoms, edges, unit_regions(areas))
    adj: dict[int, set[int]] = {i: set() for i in range(len(zips))}
    for a, b in edges + links:
        adj[a].add(b)
        adj[b].add(a)
    neighbors = {zips[i]: tuple(sorted(zips[j] for j in nb)) for i, nb in adj.items()}
    borders: dict[tuple[str, str], float] = {}
    for a, b, length in zip(left[rook].tolist(), right[rook].tolist(),
                            _border_lengths(boundaries, left[rook], right[rook], shared[rook]).tolist(), strict=True):
        borders[(zips[a], zips[b])] = borders[(zips[b], zips[a])] = length
    return neighbors, [(zips[a], zips[b]) for a, b in links], borders


def _voronoi_rook(table: gpd.GeoDataFrame, states: tuple[str, ...]) -> _Rook:
    """:func:`_rook` of the default ZIP areas of ``states``, kept in the cache (:mod:`territory_geo.cache`)."""
    zips = table.index.to_numpy()
    return cache.cached("zip-adjacency", _voronoi_key(states), lambda: _rook(table),
                        lambda rook: _rook_arrays(zips, rook), lambda arrays: _rook_of(zips, arrays))


def _rook_arrays(zips: np.ndarray, rook: _Rook) -> cache.Arrays:
    """:func:`_rook`'s result as arrays of positions in ``zips``, in the order of its lists and dicts."""
    neighbors, links, borders = rook
    pos = {z: i for i, z in enumerate(zips)}
    counts = [len(neighbors[z]) for z in zips]
    return {"zips": np.array(zips.tolist(), dtype=str),
            "neighbor_offsets": np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]),
            "neighbors": np.array([pos[b] for z in zips for b in neighbors[z]], dtype=np.int64),
            "links": np.array([(pos[a], pos[b]) for a, b in links], dtype=np.int64).reshape(-1, 2),
            "border_pairs": np.array([(pos[a], pos[b]) for a, b in borders], dtype=np.int64).reshape(-1, 2),
            "border_lengths": np.array(list(borders.values()), dtype=np.float64)}


def _rook_of(zips: np.ndarray, arrays: cache.Arrays) -> _Rook:
    """The inverse of :func:`_rook_arrays` for the same ``zips`` (ValueError for an entry of other ZIPs)."""
    if arrays["zips"].tolist() != zips.tolist():
        msg = "The adjacency was built for other ZIP areas."
        raise ValueError(msg)
    names, offsets, nbrs = zips.tolist(), arrays["neighbor_offsets"].tolist(), arrays["neighbors"].tolist()
    neighbors = {z: tuple(names[j] for j in nbrs[offsets[i]:offsets[i + 1]]) for i, z in enumerate(names)}
    links = [(names[a], names[b]) for a, b in arrays["links"].tolist()]
    borders = {(names[a], names[b]): length for (a, b), length in
               zip(arrays["border_pairs"].tolist(), arrays["border_lengths"].tolist(), strict=True)}
    return neighbors, links, borders


def _border_lengths(boundaries: np.ndarray, left: np.ndarray, right: np.ndarray, buffered: np.ndarray) -> np.ndarray:
    """Length (m) of each shared border: exact where the two outlines share vertices (cells of one tessellation),
    else the buffered measure less the 2 x SNAP m it catches beyond the stretch's ends (borders drawn separately,
    e.g. across a state line). Thin or overlapping cells can make the buffered measure count a stretch twice, so each
    unit's borders are scaled down where they would add up to more than its perimeter."""
    exact = shapely.length(shapely.intersection(boundaries[left], boundaries[right]))
    length = np.where(exact > _SHARED_BORDER_M, exact, np.maximum(buffered - 2 * _SNAP_M, 0.0))
    n = len(boundaries)
    perimeter = shapely.length(boundaries)
    total = np.bincount(left, weights=length, minlength=n) + np.bincount(right, weights=length, minlength=n)
    scale = np.minimum(1.0, perimeter / np.maximum(total, 1e-9))
    return length * np.minimum(scale[left], scale[right])


def _link_regions(geoms: np.ndarray, edges: list[tuple[int, int]], regions: np.ndarray) -> list[tuple[int, int]]:
    """Island links: first within each road region (so a region stays one piece without the others), then between
    regions (the water links)."""
    links: list[tuple[int, int]] = []
    labels = np.unique(regions)
    for label in labels if len(labels) > 1 else ():
        members = np.flatnonzero(regions == label)
        local = {int(u): i for i, u in enumerate(members)}
        inside = [(local[a], local[b]) for a, b in edges if a in local and b in local]
        links += [(int(members[a]), int(members[b])) for a, b in _link_components(geoms[members], inside,
                                                                                    len(members))]
    return links + _link_components(geoms, edges + links, len(geoms))


def _link_components(geoms: np.ndarray, edges: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Join connected components, smallest first, each to the nearest unit outside it."""
    links: list[tuple[int, int]] = []
    given = np.array(edges, dtype=np.int64).reshape(-1, 2)
    while n > 1:
        pairs = np.concatenate([given, np.array(links, dtype=np.int64).reshape(-1, 2)])
        rows, cols = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        graph = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        n_comp, label = csgraph.connected_components(graph, directed=False)
        if n_comp == 1:
            break
        sizes = np.bincount(label)
        smallest = int(np.argmin(sizes))
        inside = np.flatnonzero(label == smallest)
        outside = np.flatnonzero(label != smallest)
        tree = shapely.STRtree(geoms[outside])
        (src, dst), dist = tree.query_nearest(geoms[inside], return_distance=True, all_matches=False)
        best = int(np.argmin(dist))
        links.append((int(inside[src[best]]), int(outside[dst[best]])))
    return links


# --- road regions --------------------------------------------------------------------------------------------------


def region_of_state(state: object) -> str | None:
    """Road region of a state: :data:`CONUS` for the lower 48 and DC, the state itself outside them, None if unknown."""
    if not isinstance(state, str) or not state:
        return None
    return state if state in geocode.NON_CONUS else CONUS


@lru_cache(maxsize=1)
def _zip_centroid_tree() -> tuple[cKDTree, np.ndarray]:
    zips = geocode.zip_table()
    zips = zips[(zips["zip_type"] == "STANDARD") & zips["lat"].notna() & ~((zips["lat"] == 0) & (zips["lon"] == 0))]
    return cKDTree(_unit_vectors(zips["lon"].to_numpy(float), zips["lat"].to_numpy(float))), \
        zips["state"].to_numpy(dtype=object)


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def point_regions(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Road region of points (WGS 84): that of the state of the nearest STANDARD ZIP centroid (great circle)."""
    lon, lat = np.asarray(lon, float).ravel(), np.asarray(lat, float).ravel()
    if not len(lon):
        return np.array([], dtype=object)
    tree, states = _zip_centroid_tree()
    _, nearest = tree.query(_unit_vectors(lon, lat))
    return np.array([region_of_state(s) or CONUS for s in states[nearest]], dtype=object)


def unit_regions(areas: gpd.GeoDataFrame) -> np.ndarray:
    """Road region of each area: its ``region`` column if it has one, else by its ``state``; an area of unknown state
    takes the region of the nearest ZIP centroid to a point inside it."""
    if "region" in areas.columns:
        return areas["region"].to_numpy(dtype=object)
    states = areas["state"] if "state" in areas.columns else pd.Series(CONUS, index=areas.index)
    regions = np.array([region_of_state(s) for s in states], dtype=object)
    unknown = np.array([r is None for r in regions], dtype=bool)
    if unknown.any():
        points = areas.geometry[unknown].representative_point().to_crs(DISPLAY_CRS)
        regions[unknown] = point_regions(points.x.to_numpy(), points.y.to_numpy())
    return regions


# --- accounts -> units ---------------------------------------------------------------------------------------------


def states_touched(accounts: pd.DataFrame, nearest: bool = True) -> tuple[str, ...]:
    """States of the accounts: from their ZIP, or for coordinate-only accounts by point in state outline. Points in
    no outline (a coastline's edge, or abroad) count for the nearest state, unless ``nearest`` is False."""
    states = set(accounts["state"].dropna()) if "state" in accounts.columns else set()
    no_state = accounts["state"].isna() if "state" in accounts.columns else pd.Series(True, index=accounts.index)
    pts = accounts.loc[no_state & accounts["lat"].notna()]
    if len(pts):
        outlines = state_outlines()
        xy = _project(pts["lon"].to_numpy(), pts["lat"].to_numpy())
        tree = shapely.STRtree(outlines.geometry.values)
        _, hit = tree.query(shapely.points(xy), predicate="intersects")
        states |= set(outlines.index[np.unique(hit)])
        if nearest and len(hit) < len(pts):
            _, near = tree.query_nearest(shapely.points(xy))
            states |= set(outlines.index[np.unique(near)])
    return tuple(sorted(s for s in states if isinstance(s, str)))


def assign_accounts(accounts: pd.DataFrame, areas: gpd.GeoDataFrame) -> pd.Series:
    """ZIP unit of each account: its own ZIP when that is a unit, else the unit its point falls in, else nearest."""
    return _place_accounts(accounts, areas)[0]


def _place_accounts(accounts: pd.DataFrame, areas: gpd.GeoDataFrame) -> tuple[pd.Series, pd.Series]:
    """:func:`assign_accounts`, and the km from each account that lies outside every area to the unit it was given."""
    zip_col = accounts["zip"] if "zip" in accounts.columns else pd.Series(np.nan, index=accounts.index)
    unit = zip_col.where(zip_col.isin(areas.index))
    outside = pd.Series(dtype=float, name="km")
    todo = unit.isna() & accounts["lat"].notna()
    if todo.any():
        sub = accounts.loc[todo]
        points = shapely.points(_project(sub["lon"].to_numpy(), sub["lat"].to_numpy()))
        tree = shapely.STRtree(areas.geometry.values)
        src, dst = tree.query(points, predicate="intersects")
        hit = pd.Series(dst, index=src).groupby(level=0).first()
        found = np.full(len(sub), -1)
        found[hit.index.to_numpy()] = hit.to_numpy()
        missing = found < 0
        if missing.any():
            found[missing] = tree.query_nearest(points[missing], all_matches=False)[1]
            outside = pd.Series(_km_to_area(sub.loc[missing], points[missing], areas.geometry.values[found[missing]]),
                                index=sub.index[missing], name="km")
        unit.loc[todo] = areas.index.to_numpy()[found]
    return unit, outside


def _km_to_area(accounts: pd.DataFrame, points: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Great-circle km from each account to the nearest point of its area (found in the equal-area CRS)."""
    nearest = shapely.get_point(shapely.shortest_line(points, geoms), 1)
    lonlat = gpd.GeoSeries(nearest, crs=EQUAL_AREA_CRS).to_crs(DISPLAY_CRS)
    a = _unit_vectors(accounts["lon"].to_numpy(float), accounts["lat"].to_numpy(float))
    b = _unit_vectors(lonlat.x.to_numpy(), lonlat.y.to_numpy())
    return 6371.0088 * np.arccos(np.clip((a * b).sum(axis=1), -1.0, 1.0))


def far_accounts_note(units_obj: Units, scored: pd.DataFrame) -> str | None:
    """The warning for :attr:`Units.far_accounts` (None when there are none): how many accounts, how far, which rows
    (the source file's ``row`` when the accounts carry it, else their ids)."""
    far = units_obj.far_accounts
    if far.empty:
        return None
    ids = scored["row"] if "row" in scored.columns else scored["account_id"]
    named = [str(v) for v in ids.reindex(far.index).tolist()]
    shown = ", ".join(named[:10]) + (f" and {len(named) - 10:,} more" if len(named) > 10 else "")
    where = "rows" if "row" in scored.columns else "accounts"
    span = f"{far.min():,.0f} km" if len(far) == 1 or round(far.min()) == round(far.max()) else \
        f"{far.min():,.0f}-{far.max():,.0f} km"
    lies = "account lies" if len(far) == 1 else "accounts lie"
    return (f"{len(far):,} {lies} {span} outside every ZIP area ({where[:-1] if len(far) == 1 else where} {shown}): "
            "assigned to the nearest ZIP area. Check their coordinates, or load ZIP areas that cover them.")


def area_class(area_km2: pd.Series) -> pd.Series:
    """Urban / suburban / rural from a ZIP area's size (settings ``URBAN_MAX_KM2``, ``SUBURBAN_MAX_KM2``)."""
    return pd.Series(np.select([area_km2 <= URBAN_MAX_KM2, area_km2 <= SUBURBAN_MAX_KM2],
                               ["urban", "suburban"], "rural"), index=area_km2.index)


def build_units(scored: pd.DataFrame, areas: gpd.GeoDataFrame | None = None,
                tam: pd.Series | None = None) -> Units:
    """Build the units table from scored accounts.

    Parameters
    ----------
    scored
        Accounts from :func:`territory_geo.scoring.score_accounts` (needs ``lat``, ``lon``, ``potential``, ``arr``,
        ``workload_units``, ``expansion``).
    areas
        ZIP polygons (:func:`read_zip_areas`); default: :func:`voronoi_zip_areas` of the states touched.
    tam
        Optional TAM per ZIP from a market file (:func:`territory_geo.market.tam_by_zip`). With it, whitespace is
        TAM not yet penetrated (TAM - ARR); without it, the sum of the accounts' expansion figures.
    """
    states = states_touched(scored) if areas is None else None
    source = "voronoi" if states is not None else "polygon file"
    if states is not None:
        areas = voronoi_zip_areas(states)
    account_zip, outside = _place_accounts(scored, areas)
    keyed = scored.assign(_unit=account_zip)
    sums = keyed.groupby("_unit").agg(accounts=("potential", "size"), potential=("potential", "sum"),
                                      arr=("arr", "sum"), workload_units=("workload_units", "sum"),
                                      expansion=("expansion", "sum"))
    table = areas.join(sums).fillna({c: 0.0 for c in sums.columns})
    table["accounts"] = table["accounts"].astype(int)
    if tam is not None:
        table["tam"] = tam.reindex(table.index).fillna(0.0)
        table["whitespace"] = (table["tam"] - table["arr"]).clip(lower=0.0)
    else:
        table["whitespace"] = table["expansion"]
    denom = (table["arr"] + table["whitespace"]).replace(0.0, np.nan)
    table["penetration"] = (table["arr"] / denom).fillna(0.0)
    table["area_km2"] = table.geometry.area / 1e6
    table["density"] = table["accounts"] / table["area_km2"].clip(lower=0.01)
    table["area_class"] = area_class(table["area_km2"])
    table["region"] = unit_regions(table)
    neighbors, links, borders = _rook(table) if states is None else _voronoi_rook(table, states)
    table.index.name = "zip"
    return Units(table=table, neighbors=neighbors, island_links=links, account_zip=account_zip,
                 geometry_source=source, borders=borders, far_accounts=outside[outside > FAR_ACCOUNT_KM])


def whitespace_zips(table: pd.DataFrame, top: int = 25) -> pd.DataFrame:
    """ZIPs with high potential and low penetration: whitespace in the top quartile of ZIPs that hold accounts and
    penetration at or below the median, largest whitespace first."""
    held = table[table["accounts"] > 0]
    if held.empty:
        return held.drop(columns="geometry", errors="ignore")
    high = held["whitespace"] >= held["whitespace"].quantile(0.75)
    low = held["penetration"] <= held["penetration"].median()
    cols = ["state", "accounts", "potential", "arr", "whitespace", "penetration", "area_class"]
    out = held.loc[high & low, cols].sort_values("whitespace", ascending=False).head(top)
    return out.reset_index()


def ownership_by_zip(units_obj: Units, scored: pd.DataFrame) -> pd.Series:
    """The current ownership as a ZIP -> rep assignment (the baseline plan).

    Each ZIP goes to the owner holding most of its potential; ZIPs with no owned accounts take the owner of the
    nearest owned ZIP along the adjacency graph (ties: the first neighbour in ZIP order), so every unit is assigned.
    Returns an empty Series when no account has an owner.
    """
    owner = scored["owner_rep_id"] if "owner_rep_id" in scored.columns else pd.Series(pd.NA, index=scored.index)
    owned = pd.DataFrame({"zip": units_obj.account_zip, "owner": owner.astype("string"),
                          "potential": scored["potential"]}).dropna(subset=["zip", "owner"])
    if owned.empty:
        return pd.Series(dtype=object, name="territory_id")
    by_zip = owned.groupby(["zip", "owner"])["potential"].sum().reset_index()
    by_zip = by_zip.sort_values(["zip", "potential", "owner"], ascending=[True, False, True], kind="stable")
    assignment: dict[str, str] = dict(by_zip.drop_duplicates("zip")[["zip", "owner"]].itertuples(index=False))
    frontier = sorted(assignment)
    while frontier:
        nxt = []
        for z in frontier:
            for nb in units_obj.neighbors.get(z, ()):
                if nb not in assignment:
                    assignment[nb] = assignment[z]
                    nxt.append(nb)
        frontier = sorted(nxt)
    out = pd.Series(assignment, name="territory_id", dtype=object).reindex(units_obj.table.index)
    out.index.name = "zip"
    return out.dropna()
