"""Benchmark: where the ``design`` command's wall time goes, phase by phase.

Builds the same instances as :mod:`bench_design_cli` (CSV files shaped like a CRM export) and runs the steps of
``cli._cmd_design`` in a fresh process, timing each: imports, ``ingest`` (read, validate, score), ``build_units``
(ZIP areas, adjacency, accounts to units), ``prepare_inputs``, the engine's ``fit`` (less the LP bound), the LP bound
solved after the design for ``metrics.json`` (``lp_lower_bound``), and ``write_design`` (split into the CSVs, the
territories' GeoJSON and metrics.json). The engine's own clock (``runtime_s``) is reported beside them, and so are
the packages imported after the imports phase (``imported_later``: their import time is inside the phase that
first needs them, e.g. scikit-learn inside ``fit``).

Run it by hand from the repository root (it is not a test)::

    python benchmarks/bench_cli_phases.py                       # TX K=50
    python benchmarks/bench_cli_phases.py --instances TX:20,CO:8 --repeat 2
    python benchmarks/bench_cli_phases.py --cache cold --repeat 2  # an empty cache folder: cold, then warm
    python benchmarks/bench_cli_phases.py --cache off           # no cache at all

Prints one JSON line per run and a Markdown table; ``--out`` writes them all as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("imports", "ingest", "build_units", "prepare_inputs", "fit", "lp_bound", "write_csv", "write_geojson",
          "write_metrics")


def child(folder: Path, scenario: str) -> dict[str, Any]:
    """The steps of ``cli._cmd_design`` on ``folder``'s CSV files, each timed (seconds)."""
    sys.path.insert(0, str(ROOT))
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    from territory_geo import cli, design, export, units  # noqa: F401  (what ``python -m territory_geo`` loads)
    from territory_geo.dataset import ingest
    from territory_geo.design import designer as designer_module

    times["imports"] = time.perf_counter() - t0
    loaded = {name.split(".")[0] for name in sys.modules}
    _time_calls(designer_module, "lp_lower_bound", times, "lp_bound")
    _time_calls(export, "to_safe_csv", times, "write_csv")
    _time_calls(export, "territories_geojson", times, "write_geojson")
    _time_calls(export, "design_metrics", times, "write_metrics")

    t = time.perf_counter()
    data = ingest(folder / "accounts.csv", folder / "reps.csv")
    times["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    built = units.build_units(data.scored.accounts, None, data.tam)
    times["build_units"] = time.perf_counter() - t
    t = time.perf_counter()
    inputs = design.prepare_inputs(data.scored.accounts, data.reps.data, built)
    times["prepare_inputs"] = time.perf_counter() - t
    t = time.perf_counter()
    fitted = design.TerritoryDesigner(design.SCENARIOS[scenario], seed=0).fit(inputs)
    times["fit"] = time.perf_counter() - t - times.get("lp_bound", 0.0)
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        export.write_design(Path(out), fitted, inputs, {"seed": 0})
        times["write_design"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    times["engine_runtime_s"] = float(fitted.runtime_s_)
    later = sorted({name.split(".")[0] for name in sys.modules} - loaded - {"__main__"})
    return {k: round(v, 3) for k, v in times.items()} | {"n_units": len(built.table), "status": fitted.status_,
                                                         "imported_later": later}


def _time_calls(module: object, name: str, times: dict[str, float], key: str) -> None:
    """Wrap ``module.name`` so the seconds spent in it add up in ``times[key]``."""
    inner = getattr(module, name)

    def timed(*args: object, **kwargs: object) -> object:
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            times[key] = times.get(key, 0.0) + time.perf_counter() - t

    setattr(module, name, timed)


def run_child(folder: Path, scenario: str, env: dict[str, str]) -> dict[str, Any]:
    """:func:`child` in a fresh process (so imports and caches start cold); its timings."""
    cmd = [sys.executable, __file__, "--child", str(folder), "--scenarios", scenario]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": done.stderr[-2000:], "wall_s": round(wall, 2)}
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="TX:50", help="comma-separated STATES:K, states joined by +")
    parser.add_argument("--scenarios", default="evenness")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cache", choices=("default", "cold", "off"), default="default",
                        help="the cache (territory_geo.cache): as configured, an empty folder for each instance (run 1 "
                             "cold, then warm), or off")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.scenarios)))
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_design_cli import build_instance

    from territory_geo import units

    records = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if args.cache == "off":
            env["TERRITORY_GEO_CACHE"] = ""
        for spec in args.instances.split(","):
            if args.cache == "cold":  # each instance starts with an empty folder: run 1 cold, the others warm
                env["TERRITORY_GEO_CACHE"] = str(Path(tmp) / f"cache-{spec}")
            geo, k = spec.split(":")
            states = tuple(sorted(units.state_outlines().index)) if geo == "US48" else tuple(geo.split("+"))
            folder = Path(tmp) / spec.replace(":", "_").replace("+", "_")
            build_instance(states, int(k), folder)
            for scenario in args.scenarios.split(","):
                for i in range(args.repeat):
                    rec = {"instance": spec, "scenario": scenario, "run": i + 1} | run_child(folder, scenario, env)
                    records.append(rec)
                    print(json.dumps(rec), flush=True)
    if args.out:
        args.out.write_text(json.dumps(records, indent=2))
    cols = (*PHASES, "write_design", "total", "wall_s", "engine_runtime_s")
    print("\n| instance | run | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for rec in records:
        print(f"| {rec['instance']} | {rec['run']} | " + " | ".join(f"{rec.get(c, 0.0):.2f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
