"""Drive time: OSM road graphs, travel-time matrices, drive hours, and an honest estimate when there is no graph.

* **Road graphs** come from a file the user points to (``.osm`` / ``.osm.xml`` through osmnx's XML reader,
  ``.osm.pbf`` through pyrosm, ``.graphml``) or, when the machine is online, from an osmnx download of the data's
  area, cached as GraphML so it is fetched once. Being offline is detected in about two seconds
  (:func:`is_online`), never by letting an Overpass request hang.
* Edge speeds come from ``maxspeed`` tags with US per-class defaults where a tag is missing
  (:data:`~territory_geo.settings.US_HIGHWAY_SPEEDS_KMH`); the largest strongly connected component is kept; points
  (rep homes, ZIP centroids, accounts) snap to their nearest node and pay an off-network leg at a slow access speed.
* **Matrices**: the graph is held once as a sparse CSR matrix of travel seconds, and one multi-source
  ``scipy.sparse.csgraph.dijkstra`` call per chunk of sources gives every source's row. :func:`source_row` is the
  same computation for one source as a pure function of (graph, source), which :func:`travel_minutes_dask` maps
  over a Dask cluster for national field forces.
* **Estimate**: crow-fly distance x circuity / speed with factors per urban / suburban / rural class
  (:class:`Estimate`); with a graph loaded, :func:`calibrate` fits the factors from it and reports the median error.
  Every figure from the estimate carries ``source = "estimated"``.
* **Across water**: no road joins two road regions (the lower 48, Alaska, Hawaii, Puerto Rico, ...;
  :attr:`territory_geo.units.Units.region`). A rep home -> target pair whose ends lie in different regions is never
  a graph figure: it is estimated and flagged (:attr:`Matrix.across_water`, :func:`across_water`, the
  ``across_water`` column of :func:`drive_hours`, ``n_across_water`` in ``calibration.json``).
* **Drive hours**: visits a year (touchpoints x the in-person share) x the round trip from the rep's home ÷ 12, plus
  meeting time, as a share of the working month against the 25 % target and the 30 h/month red flag
  (:func:`drive_hours`).
"""

from __future__ import annotations

import hashlib
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from territory_geo.errors import DriveTimeUnavailableError, InputFileError, TerritoryError
from territory_geo.settings import STATE_HIGHWAY_FILTER, DriveTimeSettings, graph_cache_dir

if TYPE_CHECKING:
    import networkx as nx

#: Area classes of the estimate.
CLASSES: tuple[str, ...] = ("urban", "suburban", "rural")

#: File suffixes :func:`read_graph` understands.
GRAPH_SUFFIXES: tuple[str, ...] = (".osm", ".osm.xml", ".xml", ".osm.pbf", ".pbf", ".graphml")

#: Sources of a figure: a road graph, or the crow-fly estimate.
GRAPH, ESTIMATED = "graph", "estimated"

EARTH_RADIUS_KM = 6371.0088


# --- road graphs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A drivable road graph ready for matrices: one strongly connected component with travel times.

    Attributes
    ----------
    graph
        The osmnx-style MultiDiGraph (edges carry ``speed_kph`` and ``travel_time`` in seconds). Shared: treat it as
        read-only.
    source
        Where it came from (file name, or the cached download).
    node_ids
        OSM node ids; position ``i`` is node ``i`` in every array here.
    lonlat
        Node coordinates (WGS 84 lon, lat).
    seconds, metres
        ``N x N`` CSR matrices of the fastest edge's travel time and the shortest edge's length between nodes.
    """

    graph: nx.MultiDiGraph
    source: str
    node_ids: np.ndarray
    lonlat: np.ndarray
    seconds: sparse.csr_matrix
    metres: sparse.csr_matrix
    _origin: tuple[float, float] = field(repr=False)
    _tree: cKDTree = field(repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        """Number of directed node pairs joined by an edge."""
        return int(self.seconds.nnz)

    def project(self, lonlat: np.ndarray) -> np.ndarray:
        """Local metric coordinates (m; an equirectangular projection about the graph's centre, exact enough for
        snapping and access legs)."""
        return _local_xy(lonlat, self._origin)

    def snap(self, lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point, and the crow-fly metres of the off-network leg to it."""
        metres, nodes = self._tree.query(self.project(lonlat))
        return np.asarray(nodes, dtype=np.int64), np.asarray(metres, dtype=float)


def _local_xy(lonlat: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    lon0, lat0 = origin
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    k = np.pi / 180.0 * EARTH_RADIUS_KM * 1000.0
    return np.column_stack([(lonlat[:, 0] - lon0) * k * np.cos(np.radians(lat0)), (lonlat[:, 1] - lat0) * k])


def _edge_matrix(pos: dict[Any, int], graph: nx.MultiDiGraph, attribute: str) -> sparse.csr_matrix:
    """CSR of an edge attribute, the minimum over parallel edges (self-loops dropped)."""
    u, v, w = [], [], []
    for a, b, value in graph.edges(data=attribute):
        if a != b and value is not None:
            u.append(pos[a])
            v.append(pos[b])
            w.append(float(value))
    frame = pd.DataFrame({"u": u, "v": v, "w": np.maximum(w, 1e-6)})  # csgraph: a stored 0 must not vanish
    frame = frame.sort_values(["u", "v", "w"]).drop_duplicates(["u", "v"])
    n = len(pos)
    return sparse.csr_matrix((frame["w"].to_numpy(), (frame["u"].to_numpy(), frame["v"].to_numpy())), shape=(n, n))


def prepare_graph(graph: nx.MultiDiGraph, source: str, settings: DriveTimeSettings | None = None) -> RoadGraph:
    """Add speeds and travel times (osmnx), keep the largest strongly connected component, build the matrices."""
    import osmnx as ox

    settings = settings or DriveTimeSettings()
    if graph.number_of_edges() == 0:
        msg = f"The road graph from {source} has no drivable roads."
        raise DriveTimeUnavailableError(msg)
    graph = ox.routing.add_edge_speeds(graph, hwy_speeds=settings.highway_speeds_kmh,
                                       fallback=settings.fallback_speed_kmh)
    graph = ox.routing.add_edge_travel_times(graph)
    graph = ox.truncate.largest_component(graph, strongly=True)
    node_ids = np.array(list(graph.nodes), dtype=np.int64)
    pos = {node: i for i, node in enumerate(graph.nodes)}
    lonlat = np.array([[float(d["x"]), float(d["y"])] for _, d in graph.nodes(data=True)])
    origin = (float(np.median(lonlat[:, 0])), float(np.median(lonlat[:, 1])))
    return RoadGraph(graph=graph, source=source, node_ids=node_ids, lonlat=lonlat,
                     seconds=_edge_matrix(pos, graph, "travel_time"), metres=_edge_matrix(pos, graph, "length"),
                     _origin=origin, _tree=cKDTree(_local_xy(lonlat, origin)))


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(GRAPH_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def read_graph(path: str | Path, settings: DriveTimeSettings | None = None, name: str | None = None) -> RoadGraph:
    """A road graph from a file: ``.osm`` / ``.osm.xml`` (osmnx), ``.osm.pbf`` (pyrosm, drivable network) or
    ``.graphml`` (osmnx, e.g. a cached download). ``name`` is how messages and labels call it (default: the file
    name)."""
    path = Path(path)
    name = name or path.name
    if not path.exists():
        msg = f"Road graph file not found: {path}."
        raise InputFileError(msg)
    suffix = _suffix(path)
    try:
        graph = _read_by_suffix(path, suffix, name)
    except (InputFileError, DriveTimeUnavailableError):
        raise
    except Exception as exc:  # noqa: BLE001 - readers raise many kinds; the user needs the file and the reason
        msg = f"{name}: could not be read as a road graph ({type(exc).__name__}: {exc})."
        raise InputFileError(msg) from exc
    return prepare_graph(graph, name, settings)


def read_graph_bytes(data: bytes, name: str, settings: DriveTimeSettings | None = None) -> RoadGraph:
    """A road graph from an upload's bytes. ``name`` is the client's file name: it picks the reader by its longest
    suffix in :data:`GRAPH_SUFFIXES` and, sanitised, labels the graph; it never becomes a path. The bytes are read
    from a fixed-name file in a fresh temporary folder, deleted afterwards (also when reading fails)."""
    from territory_geo.units import display_name, upload_suffix

    suffix = upload_suffix(name, GRAPH_SUFFIXES, "road graph")
    label = display_name(name)
    if suffix is None:
        msg = f"{label}: unknown road graph format; use one of {', '.join(GRAPH_SUFFIXES)}."
        raise InputFileError(msg)
    with tempfile.TemporaryDirectory(prefix="territory-geo-") as folder:
        path = Path(folder) / f"roads{suffix}"
        path.write_bytes(data)
        return read_graph(path, settings, name=label)


def _read_by_suffix(path: Path, suffix: str, name: str | None = None) -> nx.MultiDiGraph:
    import osmnx as ox

    if suffix in (".osm", ".osm.xml", ".xml"):
        return ox.graph_from_xml(path, simplify=True, retain_all=False)
    if suffix == ".graphml":
        return ox.load_graphml(path)
    if suffix in (".osm.pbf", ".pbf"):
        import pyrosm

        osm = pyrosm.OSM(str(path))
        found = osm.get_network(network_type="driving", nodes=True)
        if found is None or found[1] is None or len(found[1]) == 0:
            msg = f"{name or path.name} holds no drivable roads."
            raise DriveTimeUnavailableError(msg)
        nodes, edges = found
        return osm.to_graph(nodes, edges, graph_type="networkx", osmnx_compatible=True)
    msg = f"{name or path.name}: unknown road graph format; use one of {', '.join(GRAPH_SUFFIXES)}."
    raise InputFileError(msg)


def is_online(host: str = "overpass-api.de", port: int = 443, timeout: float = 2.0) -> bool:
    """Whether the Overpass API answers a TCP connection within ``timeout`` seconds (offline: False, quickly)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def data_area(lonlat: np.ndarray, buffer_km: float = 10.0) -> Any:
    """The area to download roads for: the convex hull of the points, grown by ``buffer_km`` (lon/lat polygon)."""
    import geopandas as gpd
    import shapely

    points = gpd.GeoSeries(gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs="EPSG:4326").to_crs("EPSG:3857")
    hull = shapely.convex_hull(shapely.MultiPoint(np.column_stack([points.x, points.y])))
    grown = gpd.GeoSeries([hull.buffer(buffer_km * 1000.0)], crs="EPSG:3857").to_crs("EPSG:4326")
    return grown.iloc[0]


#: Areas larger than this (km²) are "state scale": their downloads keep roads down to tertiary only.
STATE_SCALE_KM2 = 5_000.0


def download_filter(area: Any) -> str | None:
    """The Overpass filter for downloading ``area``: osmnx's whole "drive" network (None) for a metro-sized area,
    roads down to tertiary (:data:`STATE_HIGHWAY_FILTER`) above :data:`STATE_SCALE_KM2`."""
    import geopandas as gpd

    km2 = float(gpd.GeoSeries([area], crs="EPSG:4326").to_crs("EPSG:6933").area.iloc[0]) / 1e6
    return STATE_HIGHWAY_FILTER if km2 > STATE_SCALE_KM2 else None


def cached_graph_path(area: Any, custom_filter: str | None, cache_dir: Path | None = None) -> Path:
    """Where the download of ``area`` with ``custom_filter`` is (or will be) cached as GraphML."""
    key = hashlib.sha256(area.wkb + (custom_filter or "drive").encode()).hexdigest()[:16]
    return Path(cache_dir or graph_cache_dir()) / f"roads-{key}.graphml"


def download_graph(area: Any, custom_filter: str | None = STATE_HIGHWAY_FILTER, cache_dir: Path | None = None,
                   settings: DriveTimeSettings | None = None, online: bool | None = None) -> RoadGraph:
    """The drivable network of ``area`` (a lon/lat polygon) from OpenStreetMap, cached as GraphML.

    A cached download is read from disk without touching the network. Otherwise the machine must be online
    (checked in about two seconds); offline, this raises :class:`DriveTimeUnavailableError` saying what to do.
    ``custom_filter`` defaults to roads down to tertiary (state scale); None downloads osmnx's full "drive" network.
    """
    cached = cached_graph_path(area, custom_filter, cache_dir)
    if cached.exists():
        return read_graph(cached, settings)
    if not (is_online() if online is None else online):
        msg = ("No internet connection, so the road network cannot be downloaded. Load a road graph file instead "
               "(an .osm.pbf extract, e.g. from download.geofabrik.de, or .osm / .graphml), or use the estimate.")
        raise DriveTimeUnavailableError(msg)
    import osmnx as ox

    try:
        graph = ox.graph_from_polygon(area, network_type="drive", custom_filter=custom_filter)
    except Exception as exc:  # noqa: BLE001 - network and Overpass errors of every kind
        msg = f"Downloading the road network failed ({type(exc).__name__}: {exc}). Try again, or load a file."
        raise DriveTimeUnavailableError(msg) from exc
    cached.parent.mkdir(parents=True, exist_ok=True)
    ox.save_graphml(graph, cached)
    return prepare_graph(graph, f"OpenStreetMap download ({cached.name})", settings)


# --- matrices ------------------------------------------------------------------------------------------------------


def source_row(seconds: sparse.csr_matrix, source: int, targets: np.ndarray) -> np.ndarray:
    """Travel seconds from one node to each target node: a pure function of (graph, source), the unit of work a
    cluster runs."""
    return csgraph.dijkstra(seconds, directed=True, indices=int(source))[np.asarray(targets)]


def _rows(seconds: sparse.csr_matrix, sources: np.ndarray, targets: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
    for start in range(0, len(sources), chunk):
        block = csgraph.dijkstra(seconds, directed=True, indices=sources[start:start + chunk])
        yield block[:, targets]


def node_seconds(graph: RoadGraph, sources: np.ndarray, targets: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``S x T`` travel seconds between node positions: one multi-source Dijkstra per chunk of distinct sources."""
    sources = np.asarray(sources, dtype=np.int64)
    distinct, inverse = np.unique(sources, return_inverse=True)
    rows = np.vstack(list(_rows(graph.seconds, distinct, np.asarray(targets, dtype=np.int64), chunk))) \
        if len(distinct) else np.zeros((0, len(targets)))
    return rows[inverse]


def near_hops(graph: RoadGraph, lonlat: np.ndarray, max_minutes: float, settings: DriveTimeSettings | None = None,
              k: int = 10) -> dict[tuple[int, int], float]:
    """Road minutes from each place to its ``k`` nearest places (crow-fly), where both lie within the graph's reach
    and the drive takes at most ``max_minutes``: the hops between meetings of one trip. Each search is a Dijkstra
    cut off at ``max_minutes``, so the cost grows with the places, not with the graph. Returns ``{(i, j): minutes}``
    (positions into ``lonlat``)."""
    settings = settings or DriveTimeSettings()
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    nodes, legs = graph.snap(lonlat)
    inside = np.flatnonzero(legs <= settings.max_snap_km * 1000.0)
    if len(inside) < 2:
        return {}
    _, near = cKDTree(graph.project(lonlat[inside])).query(graph.project(lonlat[inside]), k=min(k + 1, len(inside)))
    speed = settings.access_speed_kmh / 3.6
    hops: dict[tuple[int, int], float] = {}
    for start in range(0, len(inside), 64):
        block = np.arange(start, min(start + 64, len(inside)))
        seconds = csgraph.dijkstra(graph.seconds, directed=True, indices=nodes[inside[block]],
                                   limit=max_minutes * 60.0)
        for row, a in enumerate(block.tolist()):
            for b in near[a][1:].tolist():
                i, j = int(inside[a]), int(inside[b])
                road = float(seconds[row, nodes[j]])
                if np.isfinite(road):
                    minutes = (road + (legs[i] + legs[j]) / speed) / 60.0
                    if minutes <= max_minutes:
                        hops[(i, j)] = minutes
    return hops


@dataclass(frozen=True)
class Matrix:
    """Travel minutes between points, with where each figure came from.

    Attributes
    ----------
    minutes
        ``S x T`` one-way minutes from each origin to each target.
    covered
        ``S x T``: True where both ends lie within the graph's reach (:attr:`DriveTimeSettings.max_snap_km`) and
        the minutes come from the graph; False where they come from the estimate.
    across_water
        ``S x T``: True where the two ends lie in different road regions (no road joins them; the figure is the
        estimate). None when the regions were not given.
    """

    minutes: np.ndarray
    covered: np.ndarray
    across_water: np.ndarray | None = None

    def source(self) -> np.ndarray:
        """``"graph"`` or ``"estimated"`` for every figure."""
        return np.where(self.covered, GRAPH, ESTIMATED)


def _graph_minutes(graph: RoadGraph, origins: np.ndarray, targets: np.ndarray, settings: DriveTimeSettings,
                   seconds_fn: Any) -> tuple[np.ndarray, np.ndarray]:
    o_node, o_leg = graph.snap(origins)
    t_node, t_leg = graph.snap(targets)
    seconds = seconds_fn(o_node, t_node)
    access_s = (o_leg[:, None] + t_leg[None, :]) / (settings.access_speed_kmh / 3.6)
    limit = settings.max_snap_km * 1000.0
    covered = (o_leg[:, None] <= limit) & (t_leg[None, :] <= limit) & np.isfinite(seconds)
    return (seconds + access_s) / 60.0, covered


def _matrix(origins: np.ndarray, targets: np.ndarray, target_classes: np.ndarray | None, graph: RoadGraph | None,
            estimate: Estimate | None, settings: DriveTimeSettings | None, seconds_fn: Any,
            regions: tuple[np.ndarray | None, np.ndarray | None] = (None, None)) -> Matrix:
    """Graph minutes where both ends are within reach (``seconds_fn(origin nodes, target nodes)`` gives the road
    seconds) in the same road region (``regions``: of the origins and of the targets), the estimate everywhere
    else."""
    settings = settings or DriveTimeSettings()
    estimate = estimate or Estimate.default(settings)
    origins, targets = np.asarray(origins, float).reshape(-1, 2), np.asarray(targets, float).reshape(-1, 2)
    classes = np.full(len(targets), "suburban", dtype=object) if target_classes is None else \
        np.asarray(target_classes, dtype=object)
    guess = estimate.minutes(crow_km(origins, targets), classes)
    across = None if regions[0] is None or regions[1] is None else \
        np.asarray(regions[0], dtype=object)[:, None] != np.asarray(regions[1], dtype=object)[None, :]
    if graph is None:
        return Matrix(minutes=guess, covered=np.zeros(guess.shape, dtype=bool), across_water=across)
    minutes, covered = _graph_minutes(graph, origins, targets, settings, seconds_fn)
    if across is not None:
        covered &= ~across
    return Matrix(minutes=np.where(covered, minutes, guess), covered=covered, across_water=across)


def travel_minutes(origins: np.ndarray, targets: np.ndarray, target_classes: np.ndarray | None = None,
                   graph: RoadGraph | None = None, estimate: Estimate | None = None,
                   settings: DriveTimeSettings | None = None, chunk: int = 64,
                   origin_regions: np.ndarray | None = None, target_regions: np.ndarray | None = None) -> Matrix:
    """One-way minutes from each origin to each target (lon/lat arrays ``S x 2`` and ``T x 2``).

    With a graph, figures are road travel times plus the access legs; pairs outside the graph's reach (and every
    pair without a graph) come from the estimate, classed by each target's urban / suburban / rural class
    (``target_classes``; suburban when not given). With the road regions of both ends (``origin_regions``,
    ``target_regions``), pairs in different regions are estimated and flagged in :attr:`Matrix.across_water`.
    """
    return _matrix(origins, targets, target_classes, graph, estimate, settings,
                   lambda o, t: node_seconds(graph, o, t, chunk), (origin_regions, target_regions))


def travel_minutes_dask(origins: np.ndarray, targets: np.ndarray, graph: RoadGraph,
                        target_classes: np.ndarray | None = None, estimate: Estimate | None = None,
                        settings: DriveTimeSettings | None = None, client: Any = None,
                        address: str | None = None, origin_regions: np.ndarray | None = None,
                        target_regions: np.ndarray | None = None) -> Matrix:
    """:func:`travel_minutes` with each origin's row computed on a Dask cluster by :func:`source_row`.

    Uses ``client`` if given, else connects to ``address`` (or :func:`~territory_geo.settings.dask_scheduler`),
    else starts a LocalCluster on this machine for the call. The graph is scattered to every worker once.
    """
    from distributed import Client, LocalCluster

    from territory_geo.settings import dask_scheduler

    own: list[Any] = []
    if client is None:
        address = address or dask_scheduler()
        if address:
            client = Client(address)
        else:
            cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
            client = Client(cluster)
            own.append(cluster)
        own.insert(0, client)

    def seconds_fn(o_node: np.ndarray, t_node: np.ndarray) -> np.ndarray:
        distinct, inverse = np.unique(o_node, return_inverse=True)
        shared = client.scatter(graph.seconds, broadcast=True)
        targets_future = client.scatter(t_node, broadcast=True)
        futures = [client.submit(source_row, shared, int(s), targets_future, pure=True) for s in distinct]
        rows = client.gather(futures)
        return np.vstack(rows)[inverse] if rows else np.zeros((0, len(t_node)))

    try:
        return _matrix(origins, targets, target_classes, graph, estimate, settings, seconds_fn,
                       (origin_regions, target_regions))
    finally:
        for resource in own:
            resource.close()


# --- the estimate --------------------------------------------------------------------------------------------------


def crow_km(origins: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``S x T`` great-circle km (haversine) between lon/lat points."""
    o = np.radians(np.asarray(origins, float).reshape(-1, 2))
    t = np.radians(np.asarray(targets, float).reshape(-1, 2))
    dlon = t[None, :, 0] - o[:, None, 0]
    dlat = t[None, :, 1] - o[:, None, 1]
    a = np.sin(dlat / 2) ** 2 + np.cos(o[:, None, 1]) * np.cos(t[None, :, 1]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Estimate:
    """Drive minutes without a road graph: crow-fly km x circuity / speed x 60, per area class.

    Attributes
    ----------
    circuity, speed_kmh
        Per class in :data:`CLASSES`: road km per crow-fly km, and average speed on the road.
    fitted
        True when the factors were calibrated on a road graph.
    """

    circuity: dict[str, float]
    speed_kmh: dict[str, float]
    fitted: bool = False

    @classmethod
    def default(cls, settings: DriveTimeSettings | None = None) -> Estimate:
        """The settings' typical US factors."""
        settings = settings or DriveTimeSettings()
        return cls(dict(settings.circuity), dict(settings.speed_kmh))

    def minutes_per_km(self, classes: np.ndarray) -> np.ndarray:
        """Minutes per crow-fly km of each class (unknown classes count as suburban)."""
        per = {c: self.circuity[c] / self.speed_kmh[c] * 60.0 for c in CLASSES}
        return np.array([per.get(c, per["suburban"]) for c in np.asarray(classes, dtype=object)], dtype=float)

    def minutes(self, km: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Estimated minutes for crow-fly ``km`` (``S x T``) to targets of ``classes`` (``T``)."""
        return np.asarray(km, float) * self.minutes_per_km(classes)[None, :]


@dataclass(frozen=True)
class Calibration:
    """The estimate fitted on a road graph, and how far it is from the graph.

    Attributes
    ----------
    estimate
        The fitted estimate (classes without enough pairs keep their default factors).
    pairs
        Road-graph pairs used per class.
    median_error, median_error_default
        Median absolute relative error of the fitted and of the default estimate against the graph's minutes.
    graph
        Source of the graph.
    n_across_water
        Pairs of the matrix it was used for (:func:`rep_matrix`) whose ends lie in different road regions: their
        figures are estimates across water, not drive times.
    """

    estimate: Estimate
    pairs: dict[str, int]
    median_error: float
    median_error_default: float
    graph: str
    n_across_water: int = 0

    def to_json(self) -> dict[str, Any]:
        """The calibration as plain data (``calibration.json``)."""
        return {"source": GRAPH if self.graph else ESTIMATED, "graph": self.graph or None,
                "factors": {c: {"circuity": round(self.estimate.circuity[c], 4),
                                "speed_kmh": round(self.estimate.speed_kmh[c], 2)} for c in CLASSES},
                "fitted": self.estimate.fitted, "pairs": self.pairs,
                "median_error": None if np.isnan(self.median_error) else round(self.median_error, 4),
                "median_error_default": None if np.isnan(self.median_error_default)
                else round(self.median_error_default, 4), "n_across_water": int(self.n_across_water)}


def calibration_from_json(report: dict[str, Any]) -> Calibration:
    """A calibration back from its :meth:`Calibration.to_json` report (e.g. one kept in the store)."""
    factors = report["factors"]
    estimate = Estimate({c: float(f["circuity"]) for c, f in factors.items()},
                        {c: float(f["speed_kmh"]) for c, f in factors.items()}, fitted=bool(report["fitted"]))
    nan = float("nan")
    error, default = report.get("median_error"), report.get("median_error_default")
    return Calibration(estimate, dict(report.get("pairs", {})), nan if error is None else float(error),
                       nan if default is None else float(default), report.get("graph") or "",
                       int(report.get("n_across_water", 0)))


def uncalibrated(settings: DriveTimeSettings | None = None) -> Calibration:
    """The default estimate, with no graph to measure it against."""
    return Calibration(Estimate.default(settings), {c: 0 for c in CLASSES}, float("nan"), float("nan"), "")


def calibrate(graph: RoadGraph, origins: np.ndarray, targets: np.ndarray, target_classes: np.ndarray | None = None,
              settings: DriveTimeSettings | None = None, max_pairs: int = 5_000, min_pairs: int = 50,
              seed: int = 0) -> Calibration:
    """Fit the estimate's circuity (median road km ÷ crow-fly km) and speed (road km ÷ road hours) per class from
    the graph's shortest paths between ``origins`` and ``targets`` (a sample of at most ``max_pairs`` pairs within
    the graph's reach, 1 km or more apart), and report the median error before and after."""
    settings = settings or DriveTimeSettings()
    default = Estimate.default(settings)
    origins, targets = np.asarray(origins, float).reshape(-1, 2), np.asarray(targets, float).reshape(-1, 2)
    classes = np.full(len(targets), "suburban", dtype=object) if target_classes is None else \
        np.asarray(target_classes, dtype=object)
    o_node, o_leg = graph.snap(origins)
    t_node, t_leg = graph.snap(targets)
    limit = settings.max_snap_km * 1000.0
    km = crow_km(origins, targets)
    ok = (o_leg[:, None] <= limit) & (t_leg[None, :] <= limit) & (km >= 1.0)
    rows, cols = np.nonzero(ok)
    if len(rows) > max_pairs:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), max_pairs, replace=False))
        rows, cols = rows[pick], cols[pick]
    if not len(rows):
        return Calibration(default, {c: 0 for c in CLASSES}, float("nan"), float("nan"), graph.source)
    access = (o_leg[rows] + t_leg[cols]) / 1000.0
    distinct, inverse = np.unique(o_node[rows], return_inverse=True)
    seconds = csgraph.dijkstra(graph.seconds, directed=True, indices=distinct)[inverse, t_node[cols]]
    metres = csgraph.dijkstra(graph.metres, directed=True, indices=distinct)[inverse, t_node[cols]]
    road_km = metres / 1000.0 + access
    minutes = seconds / 60.0 + access / settings.access_speed_kmh * 60.0
    crow = km[rows, cols]
    finite = np.isfinite(road_km) & np.isfinite(minutes)
    pair_class = classes[cols]
    circuity, speed, pairs = dict(default.circuity), dict(default.speed_kmh), {}
    for c in CLASSES:
        mask = finite & (pair_class == c)
        pairs[c] = int(mask.sum())
        if pairs[c] >= min_pairs:
            circuity[c] = float(np.median(road_km[mask] / crow[mask]))
            speed[c] = float(road_km[mask].sum() / (minutes[mask].sum() / 60.0))
    fitted = Estimate(circuity, speed, fitted=any(pairs[c] >= min_pairs for c in CLASSES))

    def error(estimate: Estimate) -> float:
        guess = crow[finite] * estimate.minutes_per_km(pair_class[finite])
        return float(np.median(np.abs(guess - minutes[finite]) / np.maximum(minutes[finite], 1e-9)))

    return Calibration(fitted, pairs, error(fitted), error(default), graph.source)


# --- isochrones ----------------------------------------------------------------------------------------------------


def isochrones(homes: np.ndarray, minutes: tuple[float, ...] = (30.0, 60.0, 90.0), graph: RoadGraph | None = None,
               estimate: Estimate | None = None, home_classes: np.ndarray | None = None,
               settings: DriveTimeSettings | None = None) -> list[dict[str, Any]]:
    """Reachable areas around each home within each of ``minutes``: from the graph (a concave hull of the nodes
    reached, each grown by what the access speed covers in the time left), or from the estimate (a disc of radius
    time x speed / circuity of the home's class). Returns records ``{"home", "minutes", "geometry" (lon/lat),
    "source"}``, the largest ring first."""
    import shapely

    settings = settings or DriveTimeSettings()
    estimate = estimate or Estimate.default(settings)
    homes = np.asarray(homes, float).reshape(-1, 2)
    classes = np.full(len(homes), "suburban", dtype=object) if home_classes is None else \
        np.asarray(home_classes, dtype=object)
    out: list[dict[str, Any]] = []
    limit_s = max(minutes) * 60.0
    nodes, legs = graph.snap(homes) if graph is not None else (None, None)
    for h, (lon, lat) in enumerate(homes):
        on_graph = graph is not None and legs[h] <= settings.max_snap_km * 1000.0
        reach = csgraph.dijkstra(graph.seconds, directed=True, indices=int(nodes[h]), limit=limit_s) \
            if on_graph else None
        for m in sorted(minutes, reverse=True):
            if on_graph:
                left = m * 60.0 - reach - legs[h] / (settings.access_speed_kmh / 3.6)
                inside = np.flatnonzero(left > 0)
                if len(inside) >= 3:
                    xy = graph.project(graph.lonlat[inside])
                    hull = shapely.concave_hull(shapely.MultiPoint(xy), ratio=0.3)
                    shape = hull.buffer(float(np.median(left[inside])) * settings.access_speed_kmh / 3.6 * 0.5)
                    out.append({"home": h, "minutes": m, "geometry": _unproject(graph, shape), "source": GRAPH})
                    continue
            radius_km = m / float(estimate.minutes_per_km(np.array([classes[h]]))[0])
            out.append({"home": h, "minutes": m, "geometry": _disc(lon, lat, radius_km), "source": ESTIMATED})
    return out


def _unproject(graph: RoadGraph, shape: Any) -> Any:
    import shapely

    lon0, lat0 = graph._origin  # noqa: SLF001 - the inverse of RoadGraph.project
    k = np.pi / 180.0 * EARTH_RADIUS_KM * 1000.0
    return shapely.transform(shape, lambda xy: np.column_stack([xy[:, 0] / (k * np.cos(np.radians(lat0))) + lon0,
                                                                 xy[:, 1] / k + lat0]))


def _disc(lon: float, lat: float, radius_km: float, sides: int = 64) -> Any:
    import shapely

    angle = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    dlat = radius_km / (np.pi / 180.0 * EARTH_RADIUS_KM)
    dlon = dlat / max(np.cos(np.radians(lat)), 1e-6)
    return shapely.Polygon(np.column_stack([lon + dlon * np.cos(angle), lat + dlat * np.sin(angle)]))


# --- drive hours ---------------------------------------------------------------------------------------------------

# --- dataset level: targets, the labelled matrix, design costs, drive hours of a plan ------------------------------

#: Columns of the long-form matrix (``matrix.csv``).
MATRIX_COLUMNS: tuple[str, ...] = ("rep_id", "target_id", "minutes", "source")


@dataclass(frozen=True)
class Targets:
    """Places drive times are computed to: ZIP unit centroids or accounts.

    Attributes
    ----------
    ids
        ZIP or account id of each target.
    lonlat
        ``T x 2`` WGS 84 coordinates.
    classes
        Urban / suburban / rural class of each target (its ZIP unit's; suburban when it has none).
    kind
        ``"zip"``, ``"account"`` or ``"rep"`` (homes).
    regions
        Road region of each target (:attr:`territory_geo.units.Units.region`); None: found from the coordinates
        when needed (:func:`territory_geo.units.point_regions`).
    """

    ids: np.ndarray
    lonlat: np.ndarray
    classes: np.ndarray
    kind: str
    regions: np.ndarray | None = None

    def road_regions(self) -> np.ndarray:
        """The targets' road regions (given, or from their coordinates)."""
        from territory_geo.units import point_regions

        return self.regions if self.regions is not None else point_regions(self.lonlat[:, 0], self.lonlat[:, 1])


def zip_targets(table: Any) -> Targets:
    """ZIP areas' representative points (inside each area) as targets, with their area classes (``area_class``,
    or classed by area when the table has none). ``table``: a units table or ZIP areas (any projected CRS)."""
    from territory_geo.units import area_class, unit_regions

    if "area_class" not in table.columns:
        table = table.assign(area_class=area_class(table.geometry.area / 1e6))
    points = table.geometry.representative_point().to_crs("EPSG:4326")
    return Targets(ids=table.index.to_numpy(dtype=object), lonlat=np.column_stack([points.x, points.y]),
                   classes=table["area_class"].to_numpy(dtype=object), kind="zip", regions=unit_regions(table))


def account_targets(accounts: pd.DataFrame, units_obj: Any | None = None) -> Targets:
    """Accounts with a location as targets (lat/lon-only accounts included); the class is their ZIP unit's."""
    located = accounts.dropna(subset=["lat", "lon"])
    classes = np.full(len(located), "suburban", dtype=object)
    regions = None
    if units_obj is not None:
        zips = units_obj.account_zip.reindex(located.index)
        by_zip = units_obj.table["area_class"]
        classes = zips.map(by_zip).fillna("suburban").to_numpy(dtype=object)
        regions = zips.map(units_obj.region).to_numpy(dtype=object)
        if pd.isna(regions).any():
            from territory_geo.units import point_regions

            gaps = pd.isna(regions)
            regions[gaps] = point_regions(located["lon"].to_numpy(float)[gaps], located["lat"].to_numpy(float)[gaps])
    return Targets(ids=located["account_id"].astype(str).to_numpy(dtype=object),
                   lonlat=located[["lon", "lat"]].to_numpy(float), classes=classes, kind="account", regions=regions)


def rep_homes(reps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rep ids and home lon/lat of the reps that have a home base."""
    homed = reps.dropna(subset=["home_lat", "home_lon"])
    return homed["rep_id"].astype(str).to_numpy(dtype=object), homed[["home_lon", "home_lat"]].to_numpy(float)


def rep_targets(reps: pd.DataFrame, units_obj: Any | None = None) -> Targets:
    """Reps' homes as places (ids = rep ids), classed by their home ZIP's unit (suburban when it is not one)."""
    ids, lonlat = rep_homes(reps)
    homed = reps.dropna(subset=["home_lat", "home_lon"])
    classes = np.full(len(ids), "suburban", dtype=object)
    if units_obj is not None and "home_zip" in homed.columns:
        classes = homed["home_zip"].map(units_obj.table["area_class"]).fillna("suburban").to_numpy(dtype=object)
    return Targets(ids=ids, lonlat=lonlat, classes=classes, kind="rep")


def dataset_area(accounts: pd.DataFrame, reps: pd.DataFrame, buffer_km: float = 10.0) -> Any:
    """The area to download roads for: around every located account and rep home (:func:`data_area`)."""
    points = pd.concat([accounts.dropna(subset=["lat", "lon"])[["lon", "lat"]],
                        reps.dropna(subset=["home_lat", "home_lon"])[["home_lon", "home_lat"]]
                        .set_axis(["lon", "lat"], axis=1)])
    return data_area(points.to_numpy(float), buffer_km)


def rep_matrix(reps: pd.DataFrame, targets: Targets, graph: RoadGraph | None = None,
               calibration: Calibration | None = None, dask: bool = False) -> tuple[pd.DataFrame, Calibration]:
    """Rep home -> target drive minutes as the long-form frame (:func:`matrix_frame`), and the calibration used.

    Without ``calibration`` the estimate is calibrated on ``graph`` (or left at its defaults without one); with
    ``dask`` and a graph the rows are computed by :func:`travel_minutes_dask`."""
    rep_ids, homes = rep_homes(reps)
    if not len(rep_ids):
        msg = "No rep has a home base; add home ZIPs or coordinates to the reps file."
        raise TerritoryError(msg)
    if calibration is None:
        calibration = calibrate(graph, homes, targets.lonlat, targets.classes) if graph else uncalibrated()
    compute = travel_minutes_dask if dask and graph is not None else travel_minutes
    home_regions = _home_regions(homes)
    matrix = compute(homes, targets.lonlat, graph=graph, target_classes=targets.classes,
                     estimate=calibration.estimate, origin_regions=home_regions,
                     target_regions=targets.road_regions())
    frame = matrix_frame(rep_ids, targets, matrix)
    frame.attrs["rep_regions"] = dict(zip(rep_ids.tolist(), home_regions.tolist(), strict=True))
    return frame, replace(calibration, n_across_water=int(frame.attrs["n_across_water"]))


def _home_regions(homes: np.ndarray) -> np.ndarray:
    from territory_geo.units import point_regions

    return point_regions(homes[:, 0], homes[:, 1])


def matrix_frame(rep_ids: np.ndarray, targets: Targets, matrix: Matrix) -> pd.DataFrame:
    """The long-form matrix: one row per (rep, target) with ``rep_id, target_id, minutes, source``. Its
    ``attrs["n_across_water"]`` counts the pairs in different road regions (:attr:`Matrix.across_water`); a
    matrix read back from a file or the store has lost its attrs: :func:`across_water` finds them again."""
    s, t = matrix.minutes.shape
    frame = pd.DataFrame({"rep_id": np.repeat(np.asarray(rep_ids, dtype=object), t),
                          "target_id": np.tile(targets.ids, s),
                          "minutes": np.round(matrix.minutes.ravel(), 3),
                          "source": matrix.source().ravel()})[list(MATRIX_COLUMNS)]
    frame.attrs["n_across_water"] = 0 if matrix.across_water is None else int(matrix.across_water.sum())
    return frame


def across_water(frame: pd.DataFrame, reps: pd.DataFrame, units_obj: Any,
                 accounts: pd.DataFrame | None = None) -> pd.Series:
    """Which rows of a long-form matrix (:func:`matrix_frame`, e.g. read back from the store) join a rep home and a
    target in different road regions: estimates across water, never drive times. Targets are ZIP units of
    ``units_obj``, or with ``accounts`` (``account_id``, aligned with ``units_obj.account_zip``) accounts."""
    rep_ids, homes = rep_homes(reps)
    home = dict(zip(rep_ids.tolist(), _home_regions(homes).tolist(), strict=True))
    target = units_obj.region.to_dict()
    if accounts is not None:
        zips = units_obj.account_zip.reindex(accounts.index)
        target = dict(zip(accounts["account_id"].astype(str), zips.map(units_obj.region), strict=True))
    there = frame["target_id"].astype(str).map(target)
    here = frame["rep_id"].astype(str).map(home)
    return (here.notna() & there.notna() & (here != there)).rename("across_water")


def design_cost(frame: pd.DataFrame) -> pd.DataFrame:
    """A ZIP matrix as the design engine's travel cost: minutes indexed by ZIP, one column per rep."""
    return frame.pivot(index="target_id", columns="rep_id", values="minutes").rename_axis(index="zip", columns=None)
