"""Benchmark: the ``design`` command as users run it, on instances shaped like real teams.

Each instance is a pair of CSV files written to a work folder and passed to ``python -m territory_geo design`` in a
fresh process, so the figures include what users wait for: imports, reading and validating the files, scoring,
building the ZIP areas and their adjacency, the design itself, and writing the outputs.

Instances (deterministic, fixed seeds):

* **accounts**: ``accounts_per_rep x K`` synthetic accounts on real STANDARD ZIP codes of the states, placed by a
  metro kernel (ZIPs are dense where people are), with a Salesforce-style export's columns (lognormal ARR by
  segment, expansion, a share of prospects, win rates, last activity) — the same path a CRM export takes;
* **reps** live in towns, not on the potential peaks: homes are drawn from the states' ZIPs with probability
  ~ kernel^0.5 (cities more likely, small towns too) at least 25 km apart, with a tenure mix (so capacities
  differ: new hires carry 60 % and 80 % targets);
* **owners**: today's ownership is the nearest rep's (a legacy geography-only design), so every account has an
  owner and the disruption figures are real.

Checks, after the issue "Design engine, field-credible" (evenness scenario): homes outside their own territory
(0), territories in pieces (0), CV of potential (<= 0.02), max deviation (<= 3 %), mean Polsby-Popper (>= 0.42 for
K <= 20, >= 0.38 for K = 50), potential-weighted distance <= 1.10 x the exact-balance LP bound, and the whole
command's wall time (<= 10 s; national <= 60 s).

Run it by hand from the repository root (it is not a test)::

    python benchmarks/bench_design_cli.py                     # TX K=20, 50; CO K=8; IN+MI+OH K=20
    python benchmarks/bench_design_cli.py --instances TX:20 --scenarios evenness,blend
    python benchmarks/bench_design_cli.py --demo              # the embedded demo, every scenario
    python benchmarks/bench_design_cli.py --national          # the lower 48 at K = 200

Writes ``benchmarks/out/design_cli.json`` and prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from territory_geo import geocode, units  # noqa: E402

SEED = 20261204
DEFAULT_INSTANCES = ("TX:20", "TX:50", "CO:8", "IN+MI+OH:20")
ACCOUNTS_PER_REP = 300
MIN_HOME_SPACING_KM = 25.0
TENURE_MIX = ((0.5, 0.10), (1.5, 0.15), (4.0, 0.75))  # (years, share): new hires, ramping, ramped


def stable_seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def kernel_weights(lat: np.ndarray, lon: np.ndarray, bandwidth_km: float = 15.0) -> np.ndarray:
    """Gaussian kernel sum over the ZIP centroids: high in metros, ~1 in the countryside."""
    from scipy.spatial import cKDTree

    xy = np.column_stack([np.radians(lon) * np.cos(np.radians(lat.mean())), np.radians(lat)]) * 6371.0
    tree = cKDTree(xy)
    pairs = tree.sparse_distance_matrix(tree, 3 * bandwidth_km, output_type="coo_matrix")
    off = pairs.row != pairs.col
    return 1.0 + np.bincount(pairs.row[off], weights=np.exp(-0.5 * (pairs.data[off] / bandwidth_km) ** 2),
                             minlength=len(xy))


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1)[:, None], np.radians(lat2)[None, :]
    dlat, dlon = p2 - p1, np.radians(lon2)[None, :] - np.radians(lon1)[:, None]
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def place_homes(zips: pd.DataFrame, weight: np.ndarray, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """K home ZIPs drawn with probability ~ kernel^0.5, at least MIN_HOME_SPACING_KM apart."""
    p = np.sqrt(weight)
    p = p / p.sum()
    chosen: list[int] = []
    spacing = MIN_HOME_SPACING_KM
    while len(chosen) < k:
        for i in rng.choice(len(zips), size=20 * k, p=p):
            if len(chosen) == k:
                break
            if chosen:
                d = haversine_km(zips["lat"].to_numpy()[[i]], zips["lon"].to_numpy()[[i]],
                                 zips["lat"].to_numpy()[chosen], zips["lon"].to_numpy()[chosen])
                if d.min() < spacing:
                    continue
            chosen.append(int(i))
        spacing *= 0.8  # a small state with many reps: allow closer homes
    return zips.iloc[chosen]


def build_instance(states: tuple[str, ...], k: int, folder: Path, seed: int = SEED) -> dict[str, Any]:
    """Write ``accounts.csv`` and ``reps.csv`` for ``states`` and ``k`` reps into ``folder``; returns facts."""
    rng = np.random.default_rng(stable_seed(seed, "+".join(states), k))
    zips = geocode.standard_zips(states)
    weight = kernel_weights(zips["lat"].to_numpy(float), zips["lon"].to_numpy(float))
    homes = place_homes(zips, weight, k, rng)
    tenure_years, shares = zip(*TENURE_MIX, strict=True)
    tenure = rng.choice(np.array(tenure_years), size=k, p=np.array(shares))
    reps = pd.DataFrame({"Rep ID": [f"R{i:03d}" for i in range(k)], "Name": [f"Rep {i:03d}" for i in range(k)],
                         "Home ZIP": homes.index.to_numpy(), "Tenure (years)": tenure})
    n = ACCOUNTS_PER_REP * k
    pick = rng.choice(len(zips), size=n, p=weight ** 1.2 / (weight ** 1.2).sum())
    where = zips.iloc[pick]
    segment = rng.choice(np.array(["Enterprise", "Mid-Market", "SMB"]), size=n, p=[0.06, 0.26, 0.68])
    mu = np.select([segment == "Enterprise", segment == "Mid-Market"], [12.0, 10.4], 8.9)
    base = rng.lognormal(mu, 0.8)
    customer = rng.random(n) < np.select([segment == "Enterprise", segment == "Mid-Market"], [0.55, 0.42], 0.33)
    employees = np.maximum(1, rng.lognormal(np.select([segment == "Enterprise", segment == "Mid-Market"],
                                                      [6.3, 3.7], 1.4), 0.6)).astype(int)
    nearest = haversine_km(where["lat"].to_numpy(float), where["lon"].to_numpy(float),
                           homes["lat"].to_numpy(float), homes["lon"].to_numpy(float)).argmin(axis=1)
    last = pd.Timestamp("2026-09-30") - pd.to_timedelta(np.minimum(rng.exponential(120, n), 700).astype(int), "D")
    accounts = pd.DataFrame({
        "Account ID": [f"ACC-{i:06d}" for i in range(n)],
        "Account Name": [f"Account {i:06d} Inc." for i in range(n)],
        "Billing Zip/Postal Code": where.index.to_numpy(),
        "Industry": rng.choice(np.array(["Healthcare", "Manufacturing", "Retail", "Technology", "Logistics"]), n),
        "Employees": employees,
        "Annual Revenue": np.round(employees * rng.lognormal(np.log(120_000), 0.3, n), -3),
        "ARR": np.where(customer, np.round(base, -2), 0.0),
        "Expansion Potential": np.round(np.where(customer, base * rng.lognormal(-0.7, 0.6, n),
                                                 base * rng.lognormal(0.0, 0.4, n)), -2),
        "Last Activity": last.strftime("%Y-%m-%d"),
        "Account Owner": reps["Name"].to_numpy()[nearest],
    })
    folder.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return {"states": list(states), "k": k, "accounts": n, "standard_zips": int(len(zips))}


def homes_outside(out: Path, reps_csv: Path, states: tuple[str, ...] | None = None) -> list[str]:
    """Reps whose home's ZIP area (the area the home point falls in) is not in their own territory."""
    assignment = pd.read_csv(out / "assignment.csv", dtype=str).set_index("zip")["rep_id"]
    reps = pd.read_csv(reps_csv, dtype=str)
    located = geocode.lookup(reps["Home ZIP"].str.zfill(5))
    areas = units.voronoi_zip_areas(tuple(sorted(set(located["state"].dropna())))) if states is None \
        else units.voronoi_zip_areas(states)
    home_units = units.assign_accounts(pd.DataFrame({"zip": reps["Home ZIP"].str.zfill(5).to_numpy(),
                                                     "lat": located["lat"].to_numpy(float),
                                                     "lon": located["lon"].to_numpy(float)}), areas)
    return [rep for rep, unit in zip(reps["Rep ID"], home_units, strict=True) if assignment.get(unit) != rep]


def run_design(folder: Path, scenario: str, extra: list[str]) -> dict[str, Any]:
    """``python -m territory_geo design`` in a fresh process; wall time, exit code, metrics."""
    out = folder / f"out_{scenario}"
    cmd = [sys.executable, "-m", "territory_geo", "design", "--accounts", str(folder / "accounts.csv"),
           "--reps", str(folder / "reps.csv"), "--scenario", scenario, "--seed", "0", "--out", str(out), *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    record: dict[str, Any] = {"scenario": scenario, "wall_s": round(wall, 2), "exit": done.returncode,
                              "stderr": done.stderr[-2000:], "stdout": done.stdout[-2000:]}
    if done.returncode == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        record["metrics"] = {k: v for k, v in metrics.items() if k not in ("territories", "settings")}
        record["homes_outside"] = homes_outside(out, folder / "reps.csv")
    return record


TARGETS = {"homes_outside": 0, "n_noncontiguous": 0, "cv_potential": 0.02, "max_dev_potential": 0.03,
           "distance_ratio": 1.10, "wall_s": 10.0}


def verdicts(record: dict[str, Any], k: int, national: bool) -> dict[str, bool]:
    """Each target met (evenness scenario)."""
    m = record.get("metrics")
    if not m:
        return {"ran": False}
    bound = m.get("lp_bound_km") or float("nan")
    ratio = m["distance_km_weighted"] / bound if bound and bound == bound else float("nan")
    record["distance_ratio"] = round(ratio, 4) if ratio == ratio else None
    return {
        "homes_inside": len(record["homes_outside"]) == 0,
        "one_piece": m["n_noncontiguous"] == 0,
        "cv": m["cv_potential"] <= TARGETS["cv_potential"],
        "max_dev": m["max_dev_potential"] <= TARGETS["max_dev_potential"],
        "pp": m["pp_mean"] >= (0.42 if k <= 20 else 0.38),
        "distance": ratio <= TARGETS["distance_ratio"] if ratio == ratio else None,
        "time": record["wall_s"] <= (60.0 if national else TARGETS["wall_s"]),
    }


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"), "load_before": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default=",".join(DEFAULT_INSTANCES),
                        help="comma-separated STATES:K, states joined by +")
    parser.add_argument("--scenarios", default="evenness")
    parser.add_argument("--demo", action="store_true", help="the embedded demo, every scenario")
    parser.add_argument("--national", action="store_true", help="the lower 48 at K = 200")
    parser.add_argument("--extra", default="", help="extra design arguments, e.g. '--thorough'")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "design_cli.json")
    args = parser.parse_args()
    extra = args.extra.split() if args.extra else []
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.demo:
            folder = work / "demo"
            folder.mkdir()
            for name in ("accounts.csv", "reps.csv"):
                (folder / name).write_bytes((ROOT / "data" / "demo" / name).read_bytes())
            for scenario in ("evenness", "disruption", "proximity", "blend"):
                rec = run_design(folder, scenario, extra)
                rec.update(instance="demo", k=15)
                records.append(rec)
                print(json.dumps({k: rec.get(k) for k in ("instance", "scenario", "wall_s", "exit",
                                                          "homes_outside")}))
        specs = [] if args.demo else args.instances.split(",")
        if args.national:
            specs = ["US48:200"]
        for spec in specs:
            geo, k = spec.split(":")
            states = tuple(sorted(units.state_outlines().index)) if geo == "US48" else tuple(geo.split("+"))
            folder = work / spec.replace(":", "_").replace("+", "_")
            facts = build_instance(states, int(k), folder)
            for scenario in args.scenarios.split(","):
                rec = run_design(folder, scenario, extra)
                rec.update(instance=spec, k=int(k), facts=facts)
                rec["met"] = verdicts(rec, int(k), geo == "US48") if scenario == "evenness" else {}
                records.append(rec)
                print(json.dumps({key: rec.get(key) for key in ("instance", "scenario", "wall_s", "exit", "met",
                                                                "distance_ratio", "homes_outside")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "records": records}, indent=2, default=str))
    print("\n| instance | scenario | wall s | homes outside | pieces | CV | max dev | PP | dist / LP | status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rec in records:
        m = rec.get("metrics") or {}
        print(f"| {rec['instance']} | {rec['scenario']} | {rec['wall_s']} | {len(rec.get('homes_outside', []))} | "
              f"{m.get('n_noncontiguous')} | {m.get('cv_potential', float('nan')):.4f} | "
              f"{m.get('max_dev_potential', float('nan')):.2%} | {m.get('pp_mean', float('nan')):.3f} | "
              f"{rec.get('distance_ratio')} | {m.get('status', rec['exit'])} |")


if __name__ == "__main__":
    main()
