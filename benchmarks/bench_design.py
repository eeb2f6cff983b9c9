"""Benchmark: the design engine's "evenness" scenario on real ZIP geography.

Instances are built deterministically from real STANDARD ZIP centroids (Voronoi cells clipped to each state's
outline, :func:`territory_geo.units.voronoi_zip_areas`) with a synthetic potential that is skewed and clustered in
metros:

* a *metro kernel* - a Gaussian kernel sum (bandwidth 15 km) over the ZIP centroids, so dense ZIP clusters (cities)
  score high - raised to a power, times a lognormal draw;
* about 30 % of ZIPs hold no potential (more often rural ones than metro ones);
* no ZIP holds more than 30 % of one territory's target at K = 50 (larger ZIPs are capped there). Without the cap
  a single metro ZIP of a small state can exceed a whole territory's target at K = 50, and no plan could then be
  balanced; the engine's own advice for that case is to split such accounts out as named accounts.

Reps are placed one per weighted k-means cluster of the ZIPs (weights: potential), at the cluster's highest-potential
ZIP, so homes sit in high-potential places spread over the geography. All reps have the same capacity.

Every instance runs :class:`territory_geo.design.TerritoryDesigner` with the "evenness" scenario and its defaults
(``--max-seconds`` overrides the time budget) in this one process. Reported per instance: the engine's plan, the
seeded k-means reference (``kmeans_summary_``) and, for reference, the transport LP rounded to its largest share
without contiguity repair or local search. Each figure is checked against the targets in :data:`TARGETS`.
A failing engine (exception, time-out) is recorded for that instance and the run goes on.

This is a benchmark, not a timed test: run it by hand from the repository root::

    python benchmarks/bench_design.py                        # GA, TX, IN+MI+OH at K = 8, 20, 50
    python benchmarks/bench_design.py --quick                # smoke run: CT at K = 8
    python benchmarks/bench_design.py --states GA,OH+PA --k 8,20
    python benchmarks/bench_design.py --national --max-seconds 60   # adds the lower 48 at K = 200
    python benchmarks/bench_design.py --national-only --max-seconds 60

A geography is one state (``GA``) or several joined by ``+`` (``IN+MI+OH``: one instance over the three states).
Writes ``benchmarks/out/design.json`` and ``benchmarks/out/design.md`` (``design_quick.*`` with ``--quick``,
``design_national.*`` with ``--national-only``; ``--out`` to change), and prints a Markdown table for
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import signal
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from territory_geo import design, geocode, units  # noqa: E402
from territory_geo.metrics import plan_summary  # noqa: E402
from territory_geo.plan import Plan  # noqa: E402

SEED = 20261122
DEFAULT_STATES: tuple[str, ...] = ("GA", "TX", "IN+MI+OH")  # 683, 1,745 and 2,628 STANDARD ZIPs
DEFAULT_KS: tuple[int, ...] = (8, 20, 50)
QUICK_STATES: tuple[str, ...] = ("CT",)
QUICK_KS: tuple[int, ...] = (8,)
NATIONAL = "US48"
NATIONAL_K = 200
SCENARIO = "evenness"

# Synthetic potential.
KERNEL_BANDWIDTH_KM = 15.0
METRO_POWER = 0.8
LOGNORMAL_SIGMA = 1.0
ZERO_SHARE_RURAL, ZERO_SHARE_METRO = 0.45, 0.15  # share of ZIPs without potential, least to most metro (mean 0.30)
CAP_K, CAP_SHARE = 50, 0.30  # no ZIP above 30 % of a territory's target at K = 50
REP_CAPACITY = 150.0
HANG_GRACE_S = 60.0  # after --timeout, how long native code may run on before the run is ended

#: Targets of the evenness scenario. ``pp_mean`` depends on K, ``runtime_s`` on the scale (see :func:`targets_for`).
TARGETS: dict[str, tuple[str, float]] = {
    "cv_potential": ("<=", 0.02),
    "max_dev_potential": ("<=", 0.03),
    "n_noncontiguous": ("<=", 0),
    "pp_mean": (">=", 0.45),  # K <= 20; 0.42 above
    "distance_ratio": ("<=", 1.05),  # potential-weighted distance / LP bound
    "runtime_s": ("<=", 10.0),  # state scale; 60 s national
}
METHODS: tuple[str, ...] = ("engine", "kmeans", "lp_rounded")
METHOD_LABELS = {"engine": "engine", "kmeans": "k-means ref.", "lp_rounded": "LP rounded"}


# ---------------------------------------------------------------------------------------------------------------
# Instances


@dataclass
class Geography:
    """One benchmark geography: its ZIP units with synthetic accounts, shared by every K."""

    name: str
    states: tuple[str, ...]
    units: units.Units
    scored: pd.DataFrame
    potential: np.ndarray  # per unit, in the order of units.table
    xy: np.ndarray  # projected unit centroids (m)
    build_s: float
    info: dict[str, Any]


def lower48_states() -> tuple[str, ...]:
    """The 48 contiguous states (those with a bundled outline; DC has none and is left out)."""
    return tuple(sorted(units.state_outlines().index))


def parse_geography(spec: str) -> tuple[str, tuple[str, ...]]:
    """``"GA"`` -> ("GA", ("GA",)); ``"IN+MI+OH"`` -> one geography over three states; ``"US48"`` -> the lower 48."""
    spec = spec.strip().upper()
    if spec == NATIONAL:
        return NATIONAL, lower48_states()
    states = tuple(sorted({s.strip() for s in spec.split("+") if s.strip()}))
    if not states:
        msg = f"empty geography {spec!r}"
        raise SystemExit(msg)
    return spec, states


def stable_seed(*parts: object) -> int:
    """A seed derived from the given parts (stable across processes, unlike ``hash``)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def metro_kernel(xy_m: np.ndarray, bandwidth_km: float = KERNEL_BANDWIDTH_KM) -> np.ndarray:
    """Gaussian kernel sum over ZIP centroids (the ZIP itself counts 1), divided by its median.

    ZIPs are small and many where people are, so this is high in metros and ~1 in the countryside.
    """
    from scipy.spatial import cKDTree

    xy_km = xy_m / 1000.0
    tree = cKDTree(xy_km)
    pairs = tree.sparse_distance_matrix(tree, 3.0 * bandwidth_km, output_type="coo_matrix")
    off = pairs.row != pairs.col
    weight = np.exp(-0.5 * (pairs.data[off] / bandwidth_km) ** 2)
    kernel = 1.0 + np.bincount(pairs.row[off], weights=weight, minlength=len(xy_km))
    return kernel / np.median(kernel)


def synthetic_potential(xy_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-ZIP potential ($): lognormal x metro kernel^power, ~30 % zeros (rural more often), large ZIPs capped."""
    n = len(xy_m)
    metro = metro_kernel(xy_m)
    potential = 50_000.0 * rng.lognormal(0.0, LOGNORMAL_SIGMA, n) * metro ** METRO_POWER
    rank = (np.argsort(np.argsort(metro, kind="stable"), kind="stable") + 0.5) / n  # 0 rural .. 1 metro
    zero_prob = ZERO_SHARE_RURAL + (ZERO_SHARE_METRO - ZERO_SHARE_RURAL) * rank
    potential[rng.random(n) < zero_prob] = 0.0
    for _ in range(50):  # capping lowers the total, so repeat until the cap holds against the new total
        cap = CAP_SHARE * potential.sum() / CAP_K
        if potential.max() <= cap * (1 + 1e-9):
            break
        potential = np.minimum(potential, cap)
    return np.round(potential, 2)


def build_geography(name: str, states: tuple[str, ...], seed: int) -> Geography:
    """ZIP units of ``states`` with one synthetic account per ZIP that has potential."""
    start = time.perf_counter()
    areas = units.voronoi_zip_areas(states)
    points = areas.geometry.representative_point()
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    rng = np.random.default_rng(stable_seed(seed, name))
    potential = synthetic_potential(xy, rng)
    has = potential > 0
    n_acc = int(has.sum())
    zips = areas.index[has]
    centroid = geocode.zip_table().loc[zips]
    scored = pd.DataFrame({
        "account_id": [f"A{z}" for z in zips],
        "zip": zips.to_numpy(),
        "lat": centroid["lat"].to_numpy(float),
        "lon": centroid["lon"].to_numpy(float),
        "potential": potential[has],
        "arr": np.round(potential[has] * rng.uniform(0.2, 0.8, n_acc), 2),
        "expansion": np.round(potential[has] * 0.5, 2),
        "workload_units": rng.integers(1, 6, n_acc).astype(float),
        "touchpoints": 4.0,
    })
    built = units.build_units(scored, areas)
    if not built.table.index.equals(areas.index):
        msg = "build_units reordered the ZIP units"
        raise RuntimeError(msg)
    build_s = time.perf_counter() - start
    total = potential.sum()
    info = {
        "states": list(states),
        "n_units": int(len(areas)),
        "n_with_potential": n_acc,
        "zero_potential_share": round(1 - n_acc / len(areas), 4),
        "island_links": len(built.island_links),
        "capped_units": int(np.sum(potential >= CAP_SHARE * total / CAP_K * (1 - 1e-6))),
        "top10pct_potential_share": round(float(np.sort(potential)[-max(len(potential) // 10, 1):].sum() / total), 4),
        "geometry_build_s": round(build_s, 3),
    }
    return Geography(name, states, built, scored, potential, xy, build_s, info)


def place_reps(geo: Geography, k: int, seed: int) -> pd.DataFrame:
    """K reps, one per potential-weighted k-means cluster of the ZIPs, at its highest-potential ZIP."""
    from sklearn.cluster import KMeans

    weight = geo.potential + 0.01 * max(geo.potential.mean(), 1e-9)
    labels = KMeans(k, n_init=1, random_state=stable_seed(seed, geo.name, k)).fit(geo.xy, sample_weight=weight).labels_
    homes = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        homes.append(members[np.argmax(geo.potential[members])])
    zips = geo.units.table.index[homes]
    centroid = geocode.zip_table().loc[zips]
    return pd.DataFrame({"rep_id": [f"R{i:03d}" for i in range(k)], "home_zip": zips.to_numpy(),
                         "home_lat": centroid["lat"].to_numpy(float), "home_lon": centroid["lon"].to_numpy(float),
                         "capacity": REP_CAPACITY})


def max_unit_share(geo: Geography, k: int) -> float:
    """The largest ZIP's potential as a share of one territory's target (equal capacities): > 1 means infeasible."""
    return float(geo.potential.max() / (geo.potential.sum() / k))


# ---------------------------------------------------------------------------------------------------------------
# Running and checking


class InstanceTimeout(Exception):
    """The engine exceeded the harness's hard per-instance time limit."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`InstanceTimeout` after ``seconds`` (SIGALRM; main thread, Unix). Native code (e.g. HiGHS) is
    interrupted only when it returns to Python."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        msg = f"no result after {seconds:g} s (hard limit of the harness, --timeout)"
        raise InstanceTimeout(msg)

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def targets_for(k: int, national: bool) -> dict[str, tuple[str, float]]:
    """The targets of one instance: PP mean >= 0.45 up to K = 20, else 0.42; runtime <= 10 s (state), 60 s (US48)."""
    out = dict(TARGETS)
    out["pp_mean"] = (">=", 0.45 if k <= 20 else 0.42)
    out["runtime_s"] = ("<=", 60.0 if national else 10.0)
    return out


def check(metrics: dict[str, Any], targets: dict[str, tuple[str, float]]) -> dict[str, str]:
    """PASS / MISS per target; "n/a" when the figure is missing (e.g. no runtime for a reference plan)."""
    out = {}
    for name, (op, limit) in targets.items():
        value = metrics.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[name] = "n/a"
        elif op == "<=":
            out[name] = "PASS" if value <= limit + 1e-12 else "MISS"
        else:
            out[name] = "PASS" if value >= limit - 1e-12 else "MISS"
    return out


def pick_metrics(summary: dict[str, Any], lp_bound: float | None) -> dict[str, Any]:
    """The reported figures of a plan summary, plus distance / LP bound."""
    keys = ("cv_potential", "max_dev_potential", "n_noncontiguous", "pp_mean", "pp_min", "distance_km_weighted",
            "cv_workload", "max_dev_workload")
    out = {k: summary.get(k) for k in keys}
    dist = out["distance_km_weighted"]
    ok = dist is not None and lp_bound is not None and not math.isnan(lp_bound) and lp_bound > 0
    out["distance_ratio"] = float(dist / lp_bound) if ok else None
    return out


def lp_rounded(designer: design.TerritoryDesigner) -> tuple[dict[str, Any], float, bool]:
    """The engine's transport LP rounded to each unit's largest share (homes kept locked), without contiguity
    repair or local search: re-solves the LP on the fitted problem. Relies on the private ``_transport`` (so it may
    break as the engine changes; the failure is then recorded). Returns the plan summary, the LP's seconds, and
    whether the labels equal the k-means reference (the engine falls back to k-means when the LP is infeasible)."""
    problem = designer.problem_
    start = time.perf_counter()
    result = designer._transport(problem)  # noqa: SLF001 - a reference figure only
    seconds = time.perf_counter() - start
    labels = result[0] if isinstance(result, tuple) else result  # older engines also returned the bound
    labels = np.where(problem.locked >= 0, problem.locked, labels)
    plan = Plan(problem.geo, labels, problem.tids, fixed=problem.fixed_frame)
    same = bool(np.array_equal(labels, designer.kmeans_plan_.assignment))
    return plan_summary(plan, problem.shares, problem.homes), seconds, same


def error_record(exc: BaseException) -> dict[str, str]:
    """Type, message and traceback of an exception, for the JSON."""
    return {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": traceback.format_exc()[-4000:]}


def run_instance(geo: Geography, k: int, seed: int, max_seconds: float | None, timeout: float | None,
                 with_lp_rounded: bool, thorough: bool = False) -> dict[str, Any]:
    """Fit the evenness scenario on one (geography, K); every failure is caught and recorded."""
    national = geo.name == NATIONAL
    targets = targets_for(k, national)
    record: dict[str, Any] = {"instance": f"{geo.name} K={k}", "geography": geo.name, "k": k,
                              "n_units": geo.info["n_units"], "national": national,
                              "max_unit_share_of_target": round(max_unit_share(geo, k), 4),
                              "targets": {name: f"{op} {limit:g}" for name, (op, limit) in targets.items()},
                              "error": None}
    options: dict[str, Any] = {"seed": 0}
    if max_seconds is not None:
        options["max_seconds"] = max_seconds
    if thorough:
        options["thorough"] = True
    record["designer_options"] = options
    designer = None
    try:
        reps = place_reps(geo, k, seed)
        record["homes"] = reps["home_zip"].tolist()
        inputs = design.DesignInputs(units=geo.units, scored=geo.scored, reps=reps)
        start = time.perf_counter()
        with time_limit(timeout):
            designer = design.TerritoryDesigner(SCENARIO, **options).fit(inputs)
        wall = time.perf_counter() - start
        lp_bound = getattr(designer, "lp_bound_km_", None)
        lp_bound = None if lp_bound is None or math.isnan(lp_bound) else float(lp_bound)
        engine = pick_metrics(designer.summary_, lp_bound)
        engine.update(runtime_s=float(designer.runtime_s_), wall_s=wall, lp_bound_km=lp_bound,
                      status=designer.status_, message=designer.message_,
                      max_dev_balance=designer.summary_.get("max_dev_balance"),
                      clock_stops=list(designer.clock_stops_))
        engine["checks"] = check(engine, targets)
        kmeans = pick_metrics(designer.kmeans_summary_, lp_bound)
        kmeans.update(runtime_s=None, lp_bound_km=lp_bound, status="reference")
        kmeans["checks"] = check(kmeans, targets)
        record["engine"], record["kmeans"] = engine, kmeans
    except Exception as exc:  # noqa: BLE001 - the engine is work in progress: record and go on
        record["error"] = error_record(exc)
        return record
    if with_lp_rounded:
        try:
            summary, seconds, same = lp_rounded(designer)
            rounded = pick_metrics(summary, lp_bound)
            rounded.update(runtime_s=None, lp_solve_s=seconds, lp_bound_km=lp_bound, same_as_kmeans=same,
                           status="= k-means (LP fallback?)" if same else "reference")
            rounded["checks"] = check(rounded, targets)
            record["lp_rounded"] = rounded
        except Exception as exc:  # noqa: BLE001
            record["lp_rounded"] = {"error": error_record(exc)}
    return record


# ---------------------------------------------------------------------------------------------------------------
# Reporting

COLUMNS: tuple[tuple[str, str, str], ...] = (  # (key, header, format)
    ("runtime_s", "time s", "{:.2f}"),
    ("cv_potential", "CV", "{:.4f}"),
    ("max_dev_potential", "max dev", "{:.4f}"),
    ("n_noncontiguous", "non-contig", "{:d}"),
    ("pp_mean", "PP mean", "{:.3f}"),
    ("distance_km_weighted", "dist km", "{:.1f}"),
    ("lp_bound_km", "LP km", "{:.1f}"),
    ("distance_ratio", "dist/LP", "{:.3f}"),
)


def cell(metrics: dict[str, Any], key: str, fmt: str) -> str:
    """One table cell: the formatted value and, where the figure has a target, PASS or MISS."""
    value = metrics.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        text = "-"
    else:
        text = fmt.format(int(value) if fmt == "{:d}" else float(value))
    verdict = metrics.get("checks", {}).get(key)
    return f"{text} {verdict}" if verdict in ("PASS", "MISS") else text


def result_rows(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table: one row per instance and method (errors get one row)."""
    header = ["instance", "ZIPs", "K", "method", *(h for _, h, _ in COLUMNS), "status"]
    rows = []
    for rec in records:
        lead = [rec["geography"], f"{rec['n_units']:,}", str(rec["k"])]
        if rec["error"]:
            err = rec["error"]
            rows.append([*lead, "engine", *["-"] * len(COLUMNS), f"ERROR {err['type']}: {err['message'][:80]}"])
            continue
        for method in METHODS:
            metrics = rec.get(method)
            if metrics is None:
                continue
            if "error" in metrics:
                rows.append([*lead, METHOD_LABELS[method], *["-"] * len(COLUMNS),
                             f"ERROR {metrics['error']['type']}"])
                continue
            rows.append([*lead, METHOD_LABELS[method], *(cell(metrics, key, fmt) for key, _, fmt in COLUMNS),
                         str(metrics.get("status"))])
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain aligned table for the console."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(map(esc, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(out)


def tally(records: list[dict[str, Any]], method: str = "engine") -> dict[str, int]:
    """How many checks of ``method`` passed / missed, and how many instances errored."""
    counts = {"PASS": 0, "MISS": 0, "n/a": 0, "errors": 0}
    for rec in records:
        if rec["error"] or method not in rec or "error" in rec[method]:
            counts["errors"] += 1
            continue
        for verdict in rec[method]["checks"].values():
            counts[verdict] += 1
    return counts


def machine_info() -> dict[str, Any]:
    """CPU, core count and library versions."""
    import scipy
    import sklearn

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    return {"nproc": nproc, "cpu_model": cpu, "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
            "pandas": pd.__version__}


def engine_fingerprint() -> dict[str, Any]:
    """Which engine was measured: SHA-256 and mtime of design.py (it changes often and may be uncommitted), and the
    git commit checked out (read-only ``git rev-parse``)."""
    import hashlib
    import subprocess

    source = Path(design.__file__)
    out: dict[str, Any] = {"design_py": str(source.relative_to(ROOT)) if source.is_relative_to(ROOT) else str(source),
                           "design_py_sha256": hashlib.sha256(source.read_bytes()).hexdigest()[:16],
                           "design_py_mtime": dt.datetime.fromtimestamp(source.stat().st_mtime).isoformat(
                               timespec="seconds")}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10, check=False)
        out["git_head"] = done.stdout.strip() or None
    return out


def markdown_report(result: dict[str, Any], header: list[str], rows: list[list[str]]) -> str:
    """The Markdown block for docs/BENCHMARKS.md: setup, instance sizes, results and targets."""
    m, src = result["machine"], result["engine_source"]
    lines = [
        f"### Design engine - \"{SCENARIO}\" scenario ({result['date']})",
        "",
        f"`{result['command']}` on {m['cpu_model']} (nproc {m['nproc']}); Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}, scikit-learn {m['sklearn']}. Engine: `{src['design_py']}` sha256 "
        f"{src['design_py_sha256']} (commit {src.get('git_head')}), options: defaults"
        + (f", max_seconds={result['max_seconds']:g}" if result["max_seconds"] is not None else "") + ".",
        "",
        "Instances: real STANDARD ZIP centroids (Voronoi cells clipped to the state outlines), synthetic potential "
        "(lognormal x metro kernel, ~30 % of ZIPs without potential, no ZIP above 30 % of a K = 50 target), one rep "
        "per potential-weighted k-means cluster at its highest-potential ZIP, equal capacities.",
        "",
        "| geography | ZIPs | with potential | top 10 % ZIPs' share | island links | geometry build s |",
        "|---|---|---|---|---|---|",
    ]
    for name, info in result["geographies"].items():
        if "error" in info:
            lines.append(f"| {name} | - | - | - | - | ERROR {info['error']['type']} |")
            continue
        label = f"{name} (lower 48)" if name == NATIONAL else name
        lines.append(f"| {label} | {info['n_units']:,} | {info['n_with_potential']:,} | "
                     f"{info['top10pct_potential_share']:.0%} | {info['island_links']} | "
                     f"{info['geometry_build_s']:.1f} |")
    t = result["targets"]
    lines += [
        "",
        markdown_table(header, rows),
        "",
        f"Targets (engine): CV {t['cv_potential']}, max dev {t['max_dev_potential']}, non-contiguous "
        f"{t['n_noncontiguous']}, PP mean >= 0.45 at K <= 20 and >= 0.42 above, dist/LP {t['distance_ratio']}, "
        "time <= 10 s per state instance and <= 60 s national. k-means ref. = the engine's seeded k-means "
        "(`kmeans_summary_`); LP rounded = the transport LP rounded to each ZIP's largest share, before contiguity "
        "repair and local search. LP km = potential-weighted distance of the exact-balance LP relaxation "
        "(`lp_bound_km_`); dist/LP below 1 is only possible for a plan that is not balanced. time = `runtime_s_` "
        "of `fit`; the references have no time target.",
    ]
    cut = [f"{rec['instance']} ({', '.join(rec['engine']['clock_stops'])})" for rec in result["instances"]
           if not rec["error"] and rec["engine"].get("clock_stops")]
    lines += ["", "Steps the time budget cut short (there the same seed may give another plan on another machine): "
              + ("; ".join(cut) if cut else "none") + "."]
    return "\n".join(lines) + "\n"


def to_jsonable(value: Any) -> Any:
    """numpy scalars -> Python, NaN/inf -> None, recursively."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--states", default=",".join(DEFAULT_STATES),
                        help="comma-separated geographies; join states with + for one instance over several "
                             f"(default {','.join(DEFAULT_STATES)})")
    parser.add_argument("--k", default=",".join(map(str, DEFAULT_KS)), help="comma-separated K (default 8,20,50)")
    parser.add_argument("--national", action="store_true",
                        help=f"also run the lower 48 (all STANDARD ZIPs) at K = {NATIONAL_K}")
    parser.add_argument("--national-only", action="store_true", help="run only the national instance")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="TerritoryDesigner(max_seconds=...); default: the engine's default")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="hard limit per instance in seconds, after which it is recorded as failed (default 900; "
                             f"0 = none). Native code (HiGHS) cannot be interrupted: {HANG_GRACE_S:.0f} s later the "
                             "harness saves what it has and ends the run")
    parser.add_argument("--quick", action="store_true", help="smoke run: CT at K = 8")
    parser.add_argument("--no-lp-rounded", action="store_true", help="skip the LP-rounded reference (one LP solve)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"instance seed (default {SEED})")
    parser.add_argument("--out", type=Path, default=None,
                        help="output stem (default benchmarks/out/design; design_quick with --quick, "
                             "design_national with --national-only)")
    return parser.parse_args(argv)


@dataclass
class Run:
    """One benchmark run: what has been measured so far, and how to save it (after every instance, so that a run
    that is killed or hangs still leaves its finished instances on disk)."""

    args: argparse.Namespace
    command: str
    stem: Path
    machine: dict[str, Any]
    engine: dict[str, Any]
    geographies: dict[str, dict[str, Any]]
    records: list[dict[str, Any]]

    def result(self, complete: bool) -> dict[str, Any]:
        """Everything measured, for the JSON."""
        return {
            "benchmark": "design",
            "scenario": SCENARIO,
            "complete": complete,
            "date": dt.date.today().isoformat(),
            "timestamp_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": self.command,
            "seed": self.args.seed,
            "max_seconds": self.args.max_seconds,
            "timeout_s": self.args.timeout or None,
            "targets": {name: f"{op} {limit:g}" for name, (op, limit) in TARGETS.items()},
            "instance_recipe": {"kernel_bandwidth_km": KERNEL_BANDWIDTH_KM, "metro_power": METRO_POWER,
                                "lognormal_sigma": LOGNORMAL_SIGMA,
                                "zero_share_rural_to_metro": [ZERO_SHARE_RURAL, ZERO_SHARE_METRO],
                                "cap": f"{CAP_SHARE:.0%} of a territory target at K={CAP_K}",
                                "rep_capacity": REP_CAPACITY},
            "machine": self.machine,
            "engine_source": self.engine,
            "geographies": self.geographies,
            "instances": self.records,
            "engine_checks": tally(self.records),
            "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        }

    def save(self, complete: bool) -> str:
        """Write the JSON and the Markdown; returns the Markdown."""
        result = self.result(complete)
        header, rows = result_rows(self.records)
        md = markdown_report(result, header, rows)
        if not complete:
            md = "_Incomplete run: the instances below finished before the run stopped._\n\n" + md
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        self.stem.with_suffix(".json").write_text(json.dumps(to_jsonable(result), indent=2) + "\n")
        self.stem.with_suffix(".md").write_text(md)
        return md


@contextlib.contextmanager
def hang_guard(seconds: float | None, on_hang: Any) -> Iterator[None]:
    """Call ``on_hang()`` from a watchdog thread if the block is still running after ``seconds``.

    The SIGALRM limit of :func:`time_limit` cannot interrupt native code (HiGHS holds the main thread); this thread
    still runs because HiGHS releases the GIL.
    """
    if not seconds:
        yield
        return
    timer = threading.Timer(seconds, on_hang)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        geos, ks = list(QUICK_STATES), list(QUICK_KS)
    else:
        geos = [] if args.national_only else [s for s in args.states.split(",") if s.strip()]
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    todo: list[tuple[str, list[int]]] = [(g, ks) for g in geos]
    if (args.national or args.national_only) and not args.quick:
        todo.append((NATIONAL, [NATIONAL_K]))
    default_stem = "design_quick" if args.quick else "design_national" if args.national_only else "design"
    run = Run(args=args, stem=args.out or ROOT / "benchmarks" / "out" / default_stem, machine=machine_info(),
              engine=engine_fingerprint(),
              command=("python benchmarks/bench_design.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip(),
              geographies={}, records=[])
    m = run.machine
    print(f"machine: nproc={m['nproc']}, {m['cpu_model']}; python {m['python']}, numpy {m['numpy']}, "
          f"scipy {m['scipy']}, sklearn {m['sklearn']}")
    start_all = time.perf_counter()
    for spec, kvals in todo:
        name, states = parse_geography(spec)
        try:
            geo = build_geography(name, states, args.seed)
        except Exception as exc:  # noqa: BLE001
            run.geographies[name] = {"states": list(states), "error": error_record(exc)}
            print(f"{name}: geometry failed: {type(exc).__name__}: {exc}")
            continue
        run.geographies[name] = geo.info
        print(f"{name}: {geo.info['n_units']:,} ZIPs ({geo.info['n_with_potential']:,} with potential, "
              f"{geo.info['island_links']} island links), built in {geo.build_s:.1f} s")
        for k in kvals:
            def on_hang(name: str = name, k: int = k, n: int = geo.info["n_units"]) -> None:
                secs = (args.timeout or 0) + HANG_GRACE_S
                run.records.append({"instance": f"{name} K={k}", "geography": name, "k": k, "n_units": n,
                                    "national": name == NATIONAL, "error": {
                                        "type": "Hung", "message": f"still running after {secs:.0f} s (in native "
                                        "code, which the time limit cannot interrupt); the harness ended the run",
                                        "traceback": ""}})
                run.save(complete=False)
                print(f"  K={k:<4} still running after {secs:.0f} s; partial results saved to {run.stem}.json",
                      flush=True)
                os._exit(3)

            with hang_guard((args.timeout + HANG_GRACE_S) if args.timeout else None, on_hang):
                rec = run_instance(geo, k, args.seed, args.max_seconds, args.timeout or None, not args.no_lp_rounded)
            run.records.append(rec)
            run.save(complete=False)
            if rec["error"]:
                print(f"  K={k:<4} ERROR {rec['error']['type']}: {rec['error']['message'][:200]}")
            else:
                e = rec["engine"]
                misses = [n for n, v in e["checks"].items() if v == "MISS"]
                print(f"  K={k:<4} {e['runtime_s']:.2f} s, status {e['status']}, "
                      f"{'all targets met' if not misses else 'MISS: ' + ', '.join(misses)}")
                if e["status"] != "ok":
                    print(f"         {e['message'][:300]}")

    header, rows = result_rows(run.records)
    print()
    print(text_table(header, rows))
    counts = tally(run.records)
    print(f"\nengine: {counts['PASS']} PASS, {counts['MISS']} MISS, {counts['errors']} instance(s) failed; "
          f"total {time.perf_counter() - start_all:.0f} s")
    md = run.save(complete=True)
    print("\n" + md)
    print(f"wrote {run.stem.with_suffix('.json')} and {run.stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
