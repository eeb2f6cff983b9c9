"""Command line: ``python -m territory_geo {demo,validate,score,design,drivetime}``.

The CLI contracts (options, file names, JSON keys, exit codes) are relied on by scripts: keep them stable.
Exit codes: 0 success (warnings allowed), 2 bad input (a clear message, never a traceback), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path


from territory_geo import demo, design, export, units
from territory_geo import drivetime as dt
from territory_geo import io as tg_io
from territory_geo import validate as tg_validate
from territory_geo.dataset import Dataset, ingest
from territory_geo.design import SCENARIOS
from territory_geo.errors import TerritoryError

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m territory_geo",
                                     description="Sales territory planning workbench (headless).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the synthetic demo's accounts.csv and reps.csv")
    p.add_argument("--out", required=True, type=Path, help="output folder")

    p = sub.add_parser("validate", help="validate an accounts file (and reps); exit 2 on fatal errors")
    p.add_argument("--accounts", required=True, type=Path)
    p.add_argument("--reps", type=Path)
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("score", help="score and tier accounts; writes potential, tier, score, score_<factor>")
    p.add_argument("--accounts", required=True, type=Path)
    p.add_argument("--reps", type=Path)
    p.add_argument("--market", type=Path, help="optional market file (company counts per ZIP)")
    p.add_argument("--out", required=True, type=Path, help="output CSV")

    p = sub.add_parser("design", help="design balanced, contiguous territories; writes assignment.csv, "
                                      "account_assignment.csv, territories.geojson, metrics.json")
    p.add_argument("--accounts", required=True, type=Path)
    p.add_argument("--reps", required=True, type=Path)
    p.add_argument("--zip-areas", type=Path, help="ZIP/ZCTA polygons (default: Voronoi of ZIP centroids)")
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default=None,
                   help="evenness (default), disruption, proximity, blend, or all")
    p.add_argument("--tolerance", type=float, help="allowed deviation from target, e.g. 0.05 for ±5 %%")
    p.add_argument("--seed", type=int, help="random seed (same seed, same result; metrics.json's "
                   "`reproducible` is false if the time budget cut a step short)")
    p.add_argument("--config", type=Path, help="TOML file with [design] settings, locks, named accounts, "
                                               "and [scenarios.<name>] overrides")
    p.add_argument("--thorough", action="store_true", default=None,
                   help="where lumpy ZIPs leave territories beyond the tolerance, re-draw the region around them as "
                        "one set-partitioning problem (slower: 4x the default time budget)")
    p.add_argument("--out", required=True, type=Path, help="output folder")

    p = sub.add_parser("drivetime", help="drive-time matrix from rep homes to ZIP units (or accounts); writes "
                                         "matrix.csv and calibration.json")
    p.add_argument("--reps", required=True, type=Path)
    p.add_argument("--accounts", type=Path, help="accounts: their ZIP units are the targets (or the accounts "
                                                 "themselves with --per-account)")
    p.add_argument("--graph", type=Path, help="road graph file (.osm.pbf, .osm / .osm.xml, .graphml); without it "
                                              "every figure is the crow-fly estimate")
    p.add_argument("--per-account", action="store_true", help="one target per account instead of per ZIP unit")
    p.add_argument("--dask", action="store_true", help="compute the matrix on Dask (TERRITORY_GEO_DASK_SCHEDULER, "
                                                       "else a LocalCluster)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    accounts, reps = demo.write_demo(args.out)
    print(f"Wrote {accounts} and {reps} (synthetic demo data, seed fixed).")
    return EXIT_OK


def _print_report(report_dict: dict, stream: object = sys.stdout) -> None:
    print(f"{report_dict['n_valid']:,} of {report_dict['n_rows']:,} rows valid; "
          f"{len(report_dict['errors'])} error(s), {len(report_dict['warnings'])} warning(s).", file=stream)
    for kind in ("errors", "warnings"):
        for item in report_dict[kind][:200]:
            where = f"{item.get('file') or ''} row {item['row']}" if item["row"] is not None else ""
            column = f" [{item['column']}]" if item["column"] else ""
            value = f" value={item['value']!r}" if item.get("value") is not None else ""
            fix = f" Fix: {item['fix']}" if item["fix"] != "See the message." else ""
            print(f"  {kind[:-1]}: {where}{column}{value}: {item['message']}{fix}".replace(":  ", ": ")
                  .replace("error: :", "error:"), file=stream)
    for note in report_dict.get("notes", []):
        print(f"  note: {note}", file=stream)


def _print_set_aside(data: Dataset) -> None:
    """Say on stderr what the loaded data leaves out (rows, reps, owners), so nothing is dropped silently."""
    for line in data.set_aside_lines():
        print(f"warning: {line}", file=sys.stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    data = ingest(args.accounts, args.reps)
    report = data.report.to_json_dict()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        if not report["ok"]:  # stdout stays pure JSON; say why on stderr
            for item in report["errors"][:20]:
                print(f"error: {item['message']}", file=sys.stderr)
    else:
        _print_report(report, sys.stdout if report["ok"] else sys.stderr)
    return EXIT_OK if report["ok"] else EXIT_BAD_INPUT


def _cmd_score(args: argparse.Namespace) -> int:
    data = ingest(args.accounts, args.reps, args.market)
    if data.scored is None:
        _print_report(data.report.to_json_dict(), sys.stderr)
        return EXIT_BAD_INPUT
    _print_set_aside(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export.to_safe_csv(export.scored_export(data.scored.accounts), args.out)
    quarantined = len(data.accounts.quarantine)
    print(f"Scored {len(data.scored.accounts):,} account(s) -> {args.out}"
          + (f"; {quarantined} row(s) quarantined (run validate for details)." if quarantined else "."))
    for note in data.scored.notes:
        print(f"  note: {note}")
    return EXIT_OK


def _load_config(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        msg = f"Config file not found: {path}."
        raise TerritoryError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc})."
        raise TerritoryError(msg) from exc


def _cmd_design(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    section = dict(config.get("design", {}))
    known = {"scenario", "tolerance", "seed", "pin_top_n", "max_seconds", "thorough", "locks", "named"}
    unknown = sorted(set(section) - known)
    if unknown:
        msg = f"Unknown [design] setting(s) {unknown} in {args.config}; allowed: {sorted(known)}."
        raise TerritoryError(msg)
    name = args.scenario or section.get("scenario", "evenness")
    tolerance = args.tolerance if args.tolerance is not None else section.get("tolerance")
    seed = args.seed if args.seed is not None else int(section.get("seed", 0))
    thorough = args.thorough if args.thorough is not None else section.get("thorough", False)
    overrides = config.get("scenarios", {})
    names = list(SCENARIOS) if name == "all" else [name]
    if any(n not in SCENARIOS for n in names):
        msg = f"`scenario` was {name!r} but is expected to be one of {[*SCENARIOS, 'all']}."
        raise TerritoryError(msg)

    data = ingest(args.accounts, args.reps)
    if data.scored is None or data.reps is None:
        _print_report(data.report.to_json_dict(), sys.stderr)
        return EXIT_BAD_INPUT
    _print_set_aside(data)
    areas = units.read_zip_areas(args.zip_areas) if args.zip_areas else None
    built = units.build_units(data.scored.accounts, areas, data.tam)
    inputs = design.prepare_inputs(data.scored.accounts, data.reps.data, built,
                                   locks={str(k): str(v) for k, v in section.get("locks", {}).items()},
                                   named={str(k): str(v) for k, v in section.get("named", {}).items()})
    comparison = {}
    for scenario_name in names:
        scenario = design.scenario_from_mapping(SCENARIOS[scenario_name], overrides.get(scenario_name, {}))
        designer = design.TerritoryDesigner(scenario, tolerance=tolerance, seed=seed,
                                            pin_top_n=int(section.get("pin_top_n", 0)),
                                            max_seconds=section.get("max_seconds"), thorough=thorough).fit(inputs)
        out = args.out if len(names) == 1 else args.out / scenario_name
        settings = {"tolerance": designer.scenario.tolerance, "seed": seed,
                    "pin_top_n": int(section.get("pin_top_n", 0)), "locks": inputs.locks, "named": inputs.named,
                    "max_seconds": designer.max_seconds_, "thorough": designer.thorough,
                    "config": str(args.config) if args.config else None,
                    "inputs": {"accounts": str(args.accounts), "reps": str(args.reps),
                               "zip_areas": str(args.zip_areas) if args.zip_areas else None}}
        metrics = export.write_design(out, designer, inputs, settings)
        comparison[scenario_name] = {k: metrics[k] for k in metrics if k != "territories"}
        print(f"{designer.scenario.label}: {designer.status_} — {designer.message_} "
              f"(CV {metrics['cv_potential']:.3f}, max dev {metrics['max_dev_potential']:.1%}, "
              f"{metrics['n_noncontiguous']} non-contiguous, PP {metrics['pp_mean']:.2f}, "
              f"{metrics['runtime_s']:.1f} s) -> {out}")
    if len(names) > 1:
        (args.out / "comparison.json").write_text(json.dumps(comparison, indent=2, default=str))
    return EXIT_OK


def _drivetime_inputs(args: argparse.Namespace) -> tuple | None:
    """Validated reps and, with ``--accounts``, scored accounts (else None); None after printing a bad report."""
    if args.accounts is not None:
        data = ingest(args.accounts, args.reps)
        if data.scored is None or data.reps is None:
            _print_report(data.report.to_json_dict(), sys.stderr)
            return None
        _print_set_aside(data)
        return data.reps.data, data.scored.accounts
    table = tg_validate.validate_reps(tg_io.read_table(args.reps), args.reps.name)
    if table.report.fatal:
        _print_report(table.report.to_json_dict(), sys.stderr)
        return None
    _print_set_aside(Dataset.of_reps(table, args.reps.name))
    return table.data, None


def _cmd_drivetime(args: argparse.Namespace) -> int:
    if args.per_account and args.accounts is None:
        msg = "--per-account needs --accounts: the accounts are the targets."
        raise TerritoryError(msg)
    loaded = _drivetime_inputs(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    reps, accounts = loaded
    points = accounts if accounts is not None else reps.rename(columns={"home_lat": "lat", "home_lon": "lon"})
    states = units.states_touched(points.dropna(subset=["lat", "lon"]), nearest=False)
    built = units.build_units(accounts) if accounts is not None and states else None
    if args.per_account:
        targets = dt.account_targets(accounts, built)
    elif built is not None:
        targets = dt.zip_targets(built.table)
    elif states:
        targets = dt.zip_targets(units.voronoi_zip_areas(states))
    else:
        msg = ("ZIP-unit targets need reps or accounts in the lower 48 US states; for places located only by "
               "latitude/longitude elsewhere, use --per-account with --accounts.")
        raise TerritoryError(msg)
    graph = dt.read_graph(args.graph) if args.graph else None
    frame, calibration = dt.rep_matrix(reps, targets, graph, dask=args.dask)
    args.out.mkdir(parents=True, exist_ok=True)
    export.to_safe_csv(frame, args.out / "matrix.csv")
    estimated = int((frame["source"] == dt.ESTIMATED).sum())
    n_reps = frame["rep_id"].nunique()
    report = calibration.to_json() | {"targets": targets.kind, "n_reps": n_reps, "n_targets": len(targets.ids),
                                      "n_estimated": estimated}
    (args.out / "calibration.json").write_text(json.dumps(report, indent=2))
    written = ["matrix.csv", "calibration.json"]
    if accounts is not None and built is not None and not args.per_account:
        owners = units.ownership_by_zip(built, accounts)
        if len(owners):
            hours = dt.plan_drive_hours(accounts, built, owners, frame)
            export.to_safe_csv(hours, args.out / "drive_hours.csv")
            written.append("drive_hours.csv")
    where = f"road graph {graph.source}" if graph else "the crow-fly estimate (no road graph)"
    print(f"{len(frame):,} drive times from {n_reps} rep(s) to {len(targets.ids):,} {targets.kind} target(s) "
          f"by {where}; {estimated:,} estimated -> {args.out} ({', '.join(written)})")
    if graph is not None and calibration.estimate.fitted:
        print(f"  estimate calibrated on the graph: median error {calibration.median_error:.0%} "
              f"(defaults: {calibration.median_error_default:.0%})")
    elif graph is not None:
        print("  too few routes on the graph to calibrate the estimate; its typical factors are kept")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    handlers = {"demo": _cmd_demo, "validate": _cmd_validate, "score": _cmd_score, "design": _cmd_design,
                "drivetime": _cmd_drivetime}
    try:
        return handlers[args.command](args)
    except TerritoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: say so plainly instead of a traceback
        print(f"unexpected error ({type(exc).__name__}: {exc}). Please report it with the input that caused it.",
              file=sys.stderr)
        return EXIT_UNEXPECTED
