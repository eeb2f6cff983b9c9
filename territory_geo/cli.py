"""Command line: ``python -m territory_geo {demo,validate,score,design,drivetime}``.

The CLI contracts (options, file names, JSON keys, exit codes) are relied on by scripts: keep them stable.
Exit codes: 0 success (warnings allowed), 2 bad input (a clear message, never a traceback), 1 unexpected failure.
A command that writes ``--out`` checks it before computing anything and writes into a temporary folder (or file)
beside it, moved into place only when the command succeeds (:func:`_atomic_output`).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from territory_geo import demo, design, export, trips, units
from territory_geo import drivetime as dt
from territory_geo import io as tg_io
from territory_geo import validate as tg_validate
from territory_geo.config import DesignConfig, load_config, with_options
from territory_geo.dataset import Dataset, ingest
from territory_geo.design import SCENARIOS
from territory_geo.errors import TerritoryError

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2

#: What ``design`` writes in each scenario's folder (see :func:`territory_geo.export.write_design`).
DESIGN_FILES = ("assignment.csv", "account_assignment.csv", "territories.geojson", "metrics.json")
#: What ``design --sweep`` writes (:func:`territory_geo.design.sweep.run_sweep`).
FRONTIER_FILE = "frontier.csv"
#: What ``drivetime`` writes (``drive_hours.csv`` only with owned accounts and ZIP-unit targets).
DRIVETIME_FILES = ("matrix.csv", "calibration.json", "drive_hours.csv")

_OUT_DIR = ("output folder, written only when the command succeeds (nothing is left behind otherwise): its files "
            "replace those of an earlier run, other files in the folder stay")
_OUT_FILE = "output CSV, written only when the command succeeds (then it replaces an existing file)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m territory_geo",
                                     description="Sales territory planning workbench (headless).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the synthetic demo's accounts.csv and reps.csv")
    p.add_argument("--out", required=True, type=Path, help=_OUT_DIR)

    p = sub.add_parser("validate", help="validate an accounts file (and reps); exit 2 on fatal errors")
    p.add_argument("--accounts", required=True, type=Path)
    p.add_argument("--reps", type=Path)
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("score", help="score and tier accounts; writes potential, tier, score, score_<factor>")
    p.add_argument("--accounts", required=True, type=Path)
    p.add_argument("--reps", type=Path)
    p.add_argument("--market", type=Path, help="optional market file (company counts per ZIP)")
    p.add_argument("--out", required=True, type=Path, help=_OUT_FILE)

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
    p.add_argument("--allow-cross-region", action="store_true", default=None,
                   help="let a territory span regions no road joins (AK, HI, PR, ... and the lower 48); by default "
                        "each region is covered by the reps who live there")
    p.add_argument("--sweep", action="store_true",
                   help="instead of designs, write frontier.csv: the min-disruption scenario at disruption budgets "
                        "0/5/10/20/40 %% and the proximity scenario at tolerances ±2.5/5/10/20 %%, one run each on "
                        "Dask (TERRITORY_GEO_DASK_SCHEDULER, else a LocalCluster); --scenario disruption or "
                        "proximity runs that frontier only; --tolerance applies to the disruption frontier")
    p.add_argument("--out", required=True, type=Path, help=_OUT_DIR)

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
    p.add_argument("--out", required=True, type=Path, help=_OUT_DIR)
    return parser


# --- output: staged beside --out, published only when the command succeeds --------------------------------------


@dataclass
class _Staging:
    """Where a command writes (``path``) until :meth:`publish` moves it to ``dest``.

    A new folder (or a file) is renamed into place in one step. Into an existing folder, each entry the command wrote
    replaces the entry of that name; ``names`` the command may write but did not this time (e.g. a
    ``drive_hours.csv`` from an earlier run) are removed; anything else in the folder stays.
    """

    dest: Path
    kind: str  # "dir" or "file"
    names: tuple[str, ...]
    path: Path
    published: bool = False

    def publish(self) -> None:
        """Move what was written to ``dest``; on failure ``dest`` is as it was."""
        if self.kind == "file":
            os.chmod(self.path, 0o666 & ~_umask())
            os.replace(self.path, self.dest)
        elif not self.dest.exists():
            os.chmod(self.path, 0o777 & ~_umask())
            os.rename(self.path, self.dest)
        else:
            _replace_entries(self.path, self.dest, self.names)
        self.published = True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _replace_entries(staged: Path, dest: Path, names: tuple[str, ...]) -> None:
    """Move every entry of ``staged`` into ``dest``; the entries they replace (and stale ``names``) go to a backup
    folder, deleted at the end, or moved back if a step fails."""
    entries = sorted(os.listdir(staged))
    replaced = [n for n in dict.fromkeys([*entries, *names]) if os.path.lexists(dest / n)]
    backup = Path(tempfile.mkdtemp(dir=dest, prefix=f".{dest.name}.old-"))
    aside: list[str] = []
    moved: list[str] = []
    try:
        for name in replaced:
            os.rename(dest / name, backup / name)
            aside.append(name)
        for name in entries:
            os.rename(staged / name, dest / name)
            moved.append(name)
    except BaseException:
        for name in reversed(moved):
            os.rename(dest / name, staged / name)
        for name in reversed(aside):
            os.rename(backup / name, dest / name)
        backup.rmdir()
        raise
    shutil.rmtree(backup)


def _prepare(out: Path, dest: Path, kind: str) -> list[Path]:
    """Refuse a ``--out`` that cannot be written; create the folders above it, returning those it created."""
    if kind == "dir" and os.path.lexists(dest) and not dest.is_dir():
        msg = f"--out {out} is a file, but this command writes a folder. Give a folder's path, or move the file away."
        raise TerritoryError(msg)
    if kind == "file" and dest.is_dir():
        msg = f"--out {out} is a folder, but this command writes a file. Give a file's path (a name inside it)."
        raise TerritoryError(msg)
    missing = list(itertools.takewhile(lambda folder: not folder.is_dir(), dest.parents))
    blocked = [folder for folder in missing if os.path.lexists(folder)]
    if blocked:
        msg = f"--out {out}: {blocked[0]} is a file, so no folder can be created there. Choose another --out."
        raise TerritoryError(msg)
    try:
        for folder in reversed(missing):
            folder.mkdir()
    except OSError as exc:
        _remove_folders(missing)
        msg = f"--out {out}: cannot create {exc.filename} ({exc.strerror}). Choose another --out."
        raise TerritoryError(msg) from exc
    return missing


def _staging_path(out: Path, dest: Path, kind: str) -> Path:
    """A new, empty temporary folder (or file) beside ``dest``, or inside it when it is an existing folder."""
    home = dest if kind == "dir" and dest.is_dir() else dest.parent
    prefix = f".{dest.name}.tmp-"
    problem = None if os.access(home, os.W_OK | os.X_OK) else "permission denied"
    if problem is None:
        try:
            if kind == "dir":
                return Path(tempfile.mkdtemp(dir=home, prefix=prefix))
            handle, name = tempfile.mkstemp(dir=home, prefix=prefix, suffix=dest.suffix)
            os.close(handle)
            return Path(name)
        except OSError as exc:
            problem = exc.strerror or str(exc)
    msg = f"--out {out}: cannot write in {home} ({problem}). Choose another --out, or make that folder writable."
    raise TerritoryError(msg)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _remove_folders(folders: list[Path]) -> None:
    """Remove the folders (deepest first) that are there and empty."""
    for folder in folders:
        with suppress(OSError):
            folder.rmdir()


@contextmanager
def _atomic_output(out: Path, kind: str, names: tuple[str, ...] = ()) -> Iterator[_Staging]:
    """Check that ``--out`` can be written, before anything is computed, and stage it.

    Parameters
    ----------
    out
        The destination as given: a folder (``kind="dir"``) or a file (``kind="file"``).
    names
        Every name the command may write in the folder (see :class:`_Staging`).

    Nothing reaches ``out`` unless the caller calls :meth:`_Staging.publish`. On leaving, whatever is still staged
    is deleted, and so are the folders created above ``out``, also after an error or Ctrl-C: a failed command
    leaves no partial output, and an earlier output stays as it was.
    """
    dest = Path(os.path.abspath(out))
    created = _prepare(out, dest, kind)
    staging = None
    try:
        staging = _Staging(dest, kind, names, _staging_path(out, dest, kind))
        yield staging
    finally:
        if staging is not None:
            _remove(staging.path)
        if staging is None or not staging.published:
            _remove_folders(created)


def _writes(kind: str, names: tuple[str, ...] = ()) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """A command that writes ``--out``: it is called with a staging path, published only when it returns 0."""

    def decorate(command: Callable[[argparse.Namespace, Path], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            with _atomic_output(args.out, kind, names) as staging:
                code = command(args, staging.path)
                if code == EXIT_OK:
                    staging.publish()
            return code

        return run

    return decorate


# --- commands -----------------------------------------------------------------------------------------------------


@_writes("dir", ("accounts.csv", "reps.csv"))
def _cmd_demo(args: argparse.Namespace, out: Path) -> int:
    accounts, reps = demo.write_demo(out)
    print(f"Wrote {args.out / accounts.name} and {args.out / reps.name} (synthetic demo data, seed fixed).")
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
    for record in data.set_aside():
        hint = " Run validate for details." if record.kind == "account_rows" else ""
        print(f"warning: {record.message}{hint}", file=sys.stderr)


def _print_far_accounts(built: units.Units, scored: object) -> None:
    """Warn about accounts placed far outside every ZIP area (coordinates abroad or at sea)."""
    note = units.far_accounts_note(built, scored)
    if note:
        print(f"warning: {note}", file=sys.stderr)


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


@_writes("file")
def _cmd_score(args: argparse.Namespace, out: Path) -> int:
    data = ingest(args.accounts, args.reps, args.market)
    if data.scored is None:
        _print_report(data.report.to_json_dict(), sys.stderr)
        return EXIT_BAD_INPUT
    _print_set_aside(data)
    export.to_safe_csv(export.scored_export(data.scored.accounts), out)
    quarantined = len(data.accounts.quarantine)
    print(f"Scored {len(data.scored.accounts):,} account(s) -> {args.out}"
          + (f"; {quarantined} row(s) quarantined (run validate for details)." if quarantined else "."))
    for note in data.scored.notes:
        print(f"  note: {note}")
    return EXIT_OK


def _design_config(args: argparse.Namespace) -> DesignConfig:
    """The ``--config`` file's settings (validated as a whole), overridden by the command line's."""
    config = load_config(args.config) if args.config is not None else DesignConfig()
    return with_options(config, scenario=args.scenario, tolerance=args.tolerance, seed=args.seed,
                        thorough=args.thorough, allow_cross_region=args.allow_cross_region)


@_writes("dir", (*DESIGN_FILES, "comparison.json", *SCENARIOS, FRONTIER_FILE))
def _cmd_design(args: argparse.Namespace, out: Path) -> int:
    config = _design_config(args)
    names = config.scenario_names
    frontiers = _frontiers(args) if args.sweep else ()

    data = ingest(args.accounts, args.reps)
    if data.scored is None or data.reps is None:
        _print_report(data.report.to_json_dict(), sys.stderr)
        return EXIT_BAD_INPUT
    _print_set_aside(data)
    areas = units.read_zip_areas(args.zip_areas) if args.zip_areas else None
    built = units.build_units(data.scored.accounts, areas, data.tam)
    _print_far_accounts(built, data.scored.accounts)
    inputs = design.prepare_inputs(data.scored.accounts, data.reps.data, built,
                                   locks=config.locks, named=config.named)
    if args.sweep:
        return _sweep(args, config, inputs, frontiers, out)
    comparison = {}
    for scenario_name in names:
        scenario = design.scenario_from_mapping(SCENARIOS[scenario_name],
                                                config.scenario_overrides.get(scenario_name, {}))
        designer = design.TerritoryDesigner(scenario, tolerance=config.tolerance, seed=config.seed,
                                            pin_top_n=config.pin_top_n, max_seconds=config.max_seconds,
                                            thorough=config.thorough, allow_cross_region=config.allow_cross_region,
                                            settings=config.engine).fit(inputs)
        folder = Path() if len(names) == 1 else Path(scenario_name)
        settings = {"tolerance": designer.scenario.tolerance, "seed": config.seed,
                    "pin_top_n": config.pin_top_n, "locks": inputs.locks, "named": inputs.named,
                    "max_seconds": designer.max_seconds_, "thorough": designer.thorough,
                    "engine": asdict(designer.settings),
                    "config": str(args.config) if args.config else None,
                    "inputs": {"accounts": str(args.accounts), "reps": str(args.reps),
                               "zip_areas": str(args.zip_areas) if args.zip_areas else None}}
        metrics = export.write_design(out / folder, designer, inputs, settings)
        comparison[scenario_name] = {k: metrics[k] for k in metrics if k != "territories"}
        print(f"{designer.scenario.label}: {designer.status_} — {designer.message_} "
              f"(CV {metrics['cv_potential']:.3f}, max dev {metrics['max_dev_potential']:.1%}, "
              f"{metrics['n_noncontiguous']} non-contiguous, PP {metrics['pp_mean']:.2f}, "
              f"{metrics['runtime_s']:.1f} s) -> {args.out / folder}")
    if len(names) > 1:
        (out / "comparison.json").write_text(json.dumps(comparison, indent=2, default=str))
    return EXIT_OK


#: ``--scenario`` -> the frontiers ``design --sweep`` runs (no ``--scenario``: both).
_FRONTIERS = {None: ("disruption", "travel"), "all": ("disruption", "travel"), "disruption": ("disruption",),
              "proximity": ("travel",)}


def _frontiers(args: argparse.Namespace) -> tuple[str, ...]:
    """The frontiers ``design --sweep`` runs for ``--scenario`` (checked before anything is computed)."""
    if args.scenario not in _FRONTIERS:
        msg = (f"--sweep sweeps the min-disruption scenario (disruption budgets) and the proximity scenario "
               f"(tolerances); --scenario {args.scenario} has no frontier. Leave --scenario out, or give disruption, "
               "proximity or all.")
        raise TerritoryError(msg)
    return _FRONTIERS[args.scenario]


def _sweep(args: argparse.Namespace, config: DesignConfig, inputs: design.DesignInputs, kinds: tuple[str, ...],
           out: Path) -> int:
    """``design --sweep``: the frontiers as ``frontier.csv`` (:data:`territory_geo.design.sweep.FRONTIER_COLUMNS`,
    then ``kind`` and ``value``), one line per run on stdout. The config's scenario overrides apply; its tolerance
    (or ``--tolerance``) is the disruption frontier's, since the travel frontier sweeps the tolerance."""
    from territory_geo.design import sweep

    scenarios = {}
    for kind in kinds:
        name = sweep.SWEEPS[kind].scenario
        overrides = config.scenario_overrides.get(name, {})
        if kind == "disruption" and config.tolerance is not None:
            overrides = {**overrides, "tolerance": config.tolerance}
        scenarios[kind] = design.scenario_from_mapping(SCENARIOS[name], overrides)
    table = sweep.run_sweep(inputs, kinds, seed=config.seed, settings=config.engine, scenarios=scenarios,
                            pin_top_n=config.pin_top_n, max_seconds=config.max_seconds, thorough=config.thorough,
                            allow_cross_region=config.allow_cross_region).table()
    export.to_safe_csv(table, out / FRONTIER_FILE)
    for row in table.itertuples():
        changed = "n/a (no owners)" if math.isnan(row.arr_changed_share) else f"{row.arr_changed_share:.1%}"
        print(f"{row.kind} {row.setting}: {row.status} (CV {row.cv_potential:.3f}, max dev "
              f"{row.max_dev_potential:.1%}, ARR changing owner {changed}, drive h/month {row.drive_hours_total:.0f} "
              f"total, {row.drive_hours_max:.0f} worst rep, PP {row.pp_mean:.2f})")
    print(f"{len(table)} run(s) -> {args.out / FRONTIER_FILE}")
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


@_writes("dir", DRIVETIME_FILES)
def _cmd_drivetime(args: argparse.Namespace, out: Path) -> int:
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
    if built is not None:
        _print_far_accounts(built, accounts)
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
    export.to_safe_csv(frame, out / "matrix.csv")
    estimated = int((frame["source"] == dt.ESTIMATED).sum())
    n_reps = frame["rep_id"].nunique()
    report = calibration.to_json() | {"targets": targets.kind, "n_reps": n_reps, "n_targets": len(targets.ids),
                                      "n_estimated": estimated}
    (out / "calibration.json").write_text(json.dumps(report, indent=2))
    written = ["matrix.csv", "calibration.json"]
    if accounts is not None and built is not None and not args.per_account:
        owners = units.ownership_by_zip(built, accounts)
        if len(owners):
            stops = trips.Stops.of_units(built, graph)
            hours, _ = trips.plan_field(accounts, built, owners, frame, reps, stops,
                                        estimate=calibration.estimate)
            export.to_safe_csv(hours, out / "drive_hours.csv")
            written.append("drive_hours.csv")
            for note in hours.loc[hours["note"] != "", "note"]:
                print(f"warning: {note}", file=sys.stderr)
    where = f"road graph {graph.source}" if graph else "the crow-fly estimate (no road graph)"
    print(f"{len(frame):,} drive times from {n_reps} rep(s) to {len(targets.ids):,} {targets.kind} target(s) "
          f"by {where}; {estimated:,} estimated -> {args.out} ({', '.join(written)})")
    if graph is not None and calibration.estimate.fitted:
        print(f"  estimate calibrated on the graph: median error {calibration.median_error:.0%} "
              f"(defaults: {calibration.median_error_default:.0%})")
    elif graph is not None:
        print("  too few routes on the graph to calibrate the estimate; its typical factors are kept")
    if calibration.n_across_water:
        print(f"warning: {calibration.n_across_water:,} of the drive times join a rep's home and a place across water "
              "no road joins: they are crow-fly estimates, not drives (calibration.json: n_across_water).",
              file=sys.stderr)
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
