"""App-layer state and caching: the one place where the app caches library results.

- ``st.cache_data`` for frames (the ingested dataset, GeoJSON of ZIP areas): each caller gets its own copy.
- ``st.cache_resource`` for shared read-only objects (the ZIP units with their adjacency, the store).

The active inputs live in ``st.session_state`` as file bytes, so the same inputs always hit the same cache entries.
Pages call :func:`active` and render; they do not compute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from territory_geo import dataset, design, metrics, trips, units, workbench
from territory_geo import drivetime as dt
from territory_geo.errors import StoreError, TerritoryError
from territory_geo.settings import ScoringSettings, dask_scheduler, scoring_from_mapping, store_path
from territory_geo.store import Store
from ui.widgets import dataset_badge, literal

ROOT = Path(__file__).resolve().parent.parent
DEMO_ACCOUNTS = ROOT / "data" / "demo" / "accounts.csv"
DEMO_REPS = ROOT / "data" / "demo" / "reps.csv"
DEMO_LABEL = "Demo: US Southeast (synthetic)"


@dataclass(frozen=True)
class InputFile:
    """An input file held in session state."""

    name: str
    data: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:16]


#: Roles of the input files, in the order they are read.
ROLES: tuple[str, ...] = ("accounts", "reps", "market", "zip_areas")


@dataclass(frozen=True)
class Inputs:
    """The files the active dataset is built from, and where they came from.

    ``origin`` is ``"demo"``, ``"upload"`` (files sent from the browser; kept in the store as an unsaved working
    copy under ``token`` so a refresh reopens them) or ``"saved"`` (a saved dataset, ``dataset_id``).
    """

    label: str
    accounts: InputFile
    reps: InputFile | None = None
    market: InputFile | None = None
    zip_areas: InputFile | None = None
    origin: str = "upload"
    token: str | None = None
    dataset_id: int | None = None

    def key(self, settings_json: str) -> str:
        parts = [f.digest if f else "-" for f in (self.accounts, self.reps, self.market, self.zip_areas)]
        return hashlib.sha256(("|".join(parts) + settings_json).encode()).hexdigest()[:20]

    def files(self) -> dict[str, InputFile]:
        """The files present, by role."""
        return {role: f for role in ROLES if (f := getattr(self, role)) is not None}

    def url_params(self) -> dict[str, str]:
        """The query parameters that reopen these inputs after a browser refresh."""
        if self.origin == "upload" and self.token:
            return {"upload": self.token}
        if self.origin == "saved" and self.dataset_id is not None:
            return {"dataset": str(self.dataset_id)}
        return {}


def demo_inputs() -> Inputs:
    """The embedded demo's files."""
    return Inputs(label=DEMO_LABEL, accounts=InputFile("accounts.csv", DEMO_ACCOUNTS.read_bytes()),
                  reps=InputFile("reps.csv", DEMO_REPS.read_bytes()), origin="demo")


_ENTRY_RAN = False


def mark_entry() -> None:
    """Called by app.py before it runs the navigation."""
    global _ENTRY_RAN
    _ENTRY_RAN = True


def ensure_navigation() -> None:
    """Rerun through app.py when a page was started without it.

    The design card's ``pages/`` folder makes Streamlit treat the very first run of a fresh server as an old-style
    multipage app: a page opened by URL then runs on its own, with a file-name sidebar. Streamlit switches to
    app.py's ``st.navigation`` only once ``st.navigation`` has been called, so the page declares the real
    navigation and reruns at once.
    """
    if not _ENTRY_RAN:
        st.navigation(pages())
        st.rerun()


def pages() -> list:
    """The app's pages, in sidebar order."""
    return [
        st.Page(str(ROOT / "pages" / "home.py"), title="Home", default=True),
        st.Page(str(ROOT / "pages" / "accounts_map.py"), title="Accounts map"),
        st.Page(str(ROOT / "pages" / "territories.py"), title="Territories"),
        st.Page(str(ROOT / "pages" / "drive_time.py"), title="Drive time"),
    ]


_URL_KEYS = ("upload", "dataset")


def init_session() -> None:
    """Set up shared session state once per session, and keep the URL pointing at the active dataset.

    A new session (a first visit, or a browser refresh) reopens what the URL names: an unsaved upload kept in the
    store (``?upload=<token>``) or a saved dataset (``?dataset=<id>``); otherwise the demo."""
    if "inputs" not in st.session_state:
        st.session_state["inputs"] = _inputs_from_url()
    if "scoring_settings" not in st.session_state:
        st.session_state["scoring_settings"] = json.dumps(asdict(ScoringSettings()), sort_keys=True)
    st.session_state["inputs"] = keep_upload(st.session_state["inputs"])
    _sync_url(st.session_state["inputs"])


def _inputs_from_url() -> Inputs:
    """The inputs the URL's query parameters name, or the demo (with a notice when they are not kept any more)."""
    params = st.query_params
    token, dataset_id = params.get("upload"), params.get("dataset")
    if token:
        kept = store().load_upload(token)
        if kept is not None:
            label, files = kept
            return Inputs(label=label, origin="upload", token=token,
                          **{role: InputFile(name, data) for role, (name, data) in files.items()})
        st.session_state["restore_notice"] = ("The upload this link pointed to is no longer kept on the server (only "
                                              "the newest uploads are); the demo is open instead. Upload the files "
                                              "again, and save them to keep them.")
    elif dataset_id:
        try:
            return saved_inputs(int(dataset_id))
        except (ValueError, StoreError):
            st.session_state["restore_notice"] = ("The saved dataset this link pointed to does not exist; the demo is "
                                                  "open instead.")
    return demo_inputs()


def _sync_url(inputs: Inputs) -> None:
    """Put the active inputs' reopening parameters in the URL (page navigation may drop them)."""
    want = inputs.url_params()
    have = {k: st.query_params.get(k) for k in _URL_KEYS if st.query_params.get(k) is not None}
    if have != want:
        for k in _URL_KEYS:
            if k in st.query_params and k not in want:
                del st.query_params[k]
        st.query_params.update(want)


def keep_upload(inputs: Inputs) -> Inputs:
    """Keep uploaded files in the store as an unsaved working copy (so a refresh reopens them); the inputs with
    their token. Demo and saved inputs are returned as they are."""
    if inputs.origin != "upload" or inputs.token:
        return inputs
    token = store().save_upload(inputs.label, {role: (f.name, f.data) for role, f in inputs.files().items()})
    return replace(inputs, token=token)


def settings() -> ScoringSettings:
    """The active scoring settings."""
    return scoring_from_mapping(json.loads(st.session_state["scoring_settings"]))


def set_settings(new: ScoringSettings) -> None:
    """Replace the active scoring settings (rescoring happens through the cache)."""
    st.session_state["scoring_settings"] = json.dumps(asdict(new), sort_keys=True)


@st.cache_data(show_spinner=False, max_entries=8)
def _ingest(key: str, accounts: InputFile, reps: InputFile | None, market: InputFile | None,
            settings_json: str) -> dataset.Dataset:
    return dataset.ingest(
        accounts.data, reps.data if reps else None, market.data if market else None,
        accounts_name=accounts.name, reps_name=reps.name if reps else None,
        market_name=market.name if market else None,
        settings=scoring_from_mapping(json.loads(settings_json)))


@st.cache_resource(show_spinner=False, max_entries=8)
def _units(key: str, _data: dataset.Dataset, _zip_areas: InputFile | None) -> units.Units:
    areas = units.read_zip_areas(_zip_areas.data, _zip_areas.name) if _zip_areas else None
    assert _data.scored is not None
    return units.build_units(_data.scored.accounts, areas, _data.tam)


@st.cache_data(show_spinner=False, max_entries=16)
def _units_geojson(key: str, _units_obj: units.Units) -> dict:
    display = _units_obj.to_display()
    keep = ["state", "accounts", "potential", "arr", "workload_units", "whitespace", "penetration", "density",
            "area_class", "geometry"]
    frame = display[keep].reset_index()
    return json.loads(frame.to_json(drop_id=True))


@dataclass
class Active:
    """What the pages work with: the inputs, the ingested dataset and (when usable) the units."""

    inputs: Inputs
    key: str
    data: dataset.Dataset
    units: units.Units | None

    def units_geojson(self) -> dict:
        """ZIP areas as WGS 84 GeoJSON (cached per dataset)."""
        assert self.units is not None
        return _units_geojson(self.key, self.units)


def active() -> Active:
    """Ingest (cached) the session's inputs and build their units (cached)."""
    init_session()
    inputs: Inputs = st.session_state["inputs"]
    settings_json = st.session_state["scoring_settings"]
    key = inputs.key(settings_json)
    data = _ingest(key, inputs.accounts, inputs.reps, inputs.market, settings_json)
    built = _units(key, data, inputs.zip_areas) if data.usable else None
    return Active(inputs=inputs, key=key, data=data, units=built)


def load(inputs: Inputs) -> Active:
    """Make ``inputs`` the active dataset, with progress shown while it is read, validated, scored and mapped; an
    upload is kept in the store so that a browser refresh reopens it."""
    inputs = keep_upload(inputs)
    with st.status(f"Loading {literal(inputs.label)}…", expanded=True) as status:
        st.write("Reading and validating files…")
        settings_json = st.session_state["scoring_settings"]
        data = _ingest(inputs.key(settings_json), inputs.accounts, inputs.reps, inputs.market, settings_json)
        if not data.usable:
            status.update(label="The files could not be used; see the validation report.", state="error")
            st.session_state["inputs"] = inputs
            _sync_url(inputs)
            return active()
        st.write(f"Scored {len(data.scored.accounts):,} accounts. Building ZIP areas and adjacency…")
        st.session_state["inputs"] = inputs
        _sync_url(inputs)
        result = active()
        status.update(label=f"Loaded {literal(inputs.label)}.", state="complete", expanded=False)
    return result


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """The shared SQLite store (path from ``TERRITORY_GEO_STORE``, read on every call)."""
    return _store(str(store_path()))


def save_active(current: Active, name: str) -> int:
    """Save the active dataset (its files, validated tables and today's ownership as the baseline plan); returns
    the dataset id."""
    files = {role: (f.name, f.data) for role, f in current.inputs.files().items()}
    return workbench.save_dataset(store(), name, files, current.data, current.units)


def saved_inputs(dataset_id: int) -> Inputs:
    """Inputs of a saved dataset, ready for :func:`load` (the opening is written to the audit log)."""
    label, files = workbench.open_dataset(store(), dataset_id)
    return Inputs(label=label, origin="saved", dataset_id=int(dataset_id),
                  **{role: InputFile(name, data) for role, (name, data) in files.items()})


def start_page(title: str) -> Active:
    """Common top of every page: real navigation, the title, the active dataset (or a clear error), the badge."""
    ensure_navigation()
    st.title(title)
    notice = st.session_state.pop("restore_notice", None)
    if notice:
        st.warning(notice)
    try:
        current = active()
    except TerritoryError as exc:
        st.error(literal(exc))
        st.stop()
    dataset_badge(current.inputs.label, current.data)
    return current


@st.cache_resource(show_spinner=False, max_entries=8)
def _design_inputs(key: str, _current: Active) -> design.DesignInputs:
    assert _current.units is not None and _current.data.scored is not None and _current.data.reps is not None
    return design.prepare_inputs(_current.data.scored.accounts, _current.data.reps.data, _current.units)


@st.cache_resource(show_spinner=False, max_entries=32)
def _design(key: str, scenario: str, tolerance: float | None, pin_top_n: int, seed: int, thorough: bool,
            cross: bool, _current: Active) -> design.TerritoryDesigner:
    inputs = _design_inputs(key, _current)
    return design.TerritoryDesigner(scenario, tolerance=tolerance, seed=seed, pin_top_n=pin_top_n,
                                    thorough=thorough, allow_cross_region=cross).fit(inputs)


def design_scenario(current: Active, scenario: str, tolerance: float | None = None, pin_top_n: int = 0,
                    seed: int = 0, thorough: bool = False, allow_cross_region: bool = False) -> design.TerritoryDesigner:
    """A scenario designed for the active dataset: the Territories page's design with these settings when this
    session has one, else designed and cached per dataset and settings (treat as read-only)."""
    request = DesignRequest((scenario,), tolerance, pin_top_n, seed, thorough, allow_cross_region)
    kept = _designs().get(request.design_key(current.key, scenario))
    if kept is not None:
        return kept.designer
    return _design(current.key, scenario, tolerance, pin_top_n, seed, thorough, allow_cross_region, current)


# --- the Territories page: designs on request, kept for the session --------------------------------------------------


@dataclass(frozen=True)
class DesignRequest:
    """The Territories page's settings, as submitted with its Design button."""

    scenarios: tuple[str, ...]
    tolerance: float | None = None
    pin_top_n: int = 0
    seed: int = 0
    thorough: bool = False
    allow_cross_region: bool = False

    def design_key(self, dataset_key: str, scenario: str) -> tuple:
        """What a designed scenario is kept under: the dataset and every setting that changes its plan."""
        return (dataset_key, scenario, self.tolerance, self.pin_top_n, self.seed, self.thorough,
                self.allow_cross_region)

    def sweep_key(self, dataset_key: str) -> tuple:
        """What a sweep is kept under (the scenarios compared do not change it)."""
        return (dataset_key, self.tolerance, self.pin_top_n, self.seed, self.thorough, self.allow_cross_region)

    def describe(self) -> str:
        """The settings in a line, for the page."""
        tolerance = "each scenario's tolerance" if self.tolerance is None else f"tolerance ±{self.tolerance:.1%}"
        extras = [f"top {self.pin_top_n} accounts protected"] if self.pin_top_n else []
        extras += ["thorough"] if self.thorough else []
        extras += ["across water allowed"] if self.allow_cross_region else []
        return ", ".join([f"{len(self.scenarios)} scenario(s)", tolerance, f"seed {self.seed}", *extras])


@dataclass(frozen=True)
class Designed:
    """A scenario designed on the Territories page: the designer (read-only), its reps' field months and the wall
    time of both."""

    name: str
    designer: design.TerritoryDesigner
    field: pd.DataFrame
    seconds: float


#: Designs and sweeps kept per session (the oldest go first).
KEPT_DESIGNS = 24
KEPT_SWEEPS = 4


def _designs() -> dict[tuple, Designed]:
    return st.session_state.setdefault("terr_designs", {})


def _keep(store_: dict, key: tuple, value: object, limit: int) -> None:
    store_.pop(key, None)
    store_[key] = value
    while len(store_) > limit:
        store_.pop(next(iter(store_)))


def designed(current: Active, request: DesignRequest, scenario: str) -> Designed | None:
    """The scenario designed with ``request``'s settings in this session, or None."""
    return _designs().get(request.design_key(current.key, scenario))


def design_now(current: Active, request: DesignRequest, scenario: str) -> Designed:
    """Design ``scenario`` with ``request``'s settings (and its reps' drive hours) and keep it for the session."""
    import time

    start = time.perf_counter()
    designer = design.TerritoryDesigner(scenario, tolerance=request.tolerance, seed=request.seed,
                                        pin_top_n=request.pin_top_n, thorough=request.thorough,
                                        allow_cross_region=request.allow_cross_region)
    designer.fit(_design_inputs(current.key, current))
    field = getattr(designer, "field_", None)  # the designer's own drive-hours figures when it has them
    if not (isinstance(field, pd.DataFrame) and {"drive_hours_month", "travel_share"} <= set(field.columns)):
        matrix, calibration = zip_matrix(current)
        field = field_table(current, designer.rep_assignment(), matrix, calibration)
    result = Designed(scenario, designer, field, time.perf_counter() - start)
    _keep(_designs(), request.design_key(current.key, scenario), result, KEPT_DESIGNS)
    return result


def last_request(current: Active) -> DesignRequest | None:
    """The settings last designed with on the Territories page for the active dataset (None: nothing yet)."""
    return st.session_state.setdefault("terr_requests", {}).get(current.key)


def set_last_request(current: Active, request: DesignRequest) -> None:
    st.session_state.setdefault("terr_requests", {})[current.key] = request


@st.cache_data(show_spinner=False, max_entries=8)
def _current_field(key: str, graph_key: str, _current: Active) -> pd.DataFrame | None:
    assert _current.units is not None and _current.data.scored is not None
    owners = units.ownership_by_zip(_current.units, _current.data.scored.accounts)
    if owners.empty:
        return None
    matrix, calibration = zip_matrix(_current)
    return field_table(_current, owners, matrix, calibration)


def current_field(current: Active) -> pd.DataFrame | None:
    """Each rep's field month under today's ownership (None without owners; once per dataset and road graph)."""
    choice = graph_choice()
    return _current_field(current.key, choice.digest if choice else "-", current)


def sweep_result(current: Active, request: DesignRequest) -> design.Sweep | None:
    """The trade-off sweep run with ``request``'s settings in this session, or None."""
    return st.session_state.setdefault("terr_sweeps", {}).get(request.sweep_key(current.key))


def run_sweep(current: Active, request: DesignRequest,
              progress: Callable[[design.sweep.Run, int, int], None] | None = None) -> design.Sweep:
    """Both frontiers (:func:`territory_geo.design.run_sweep`) with ``request``'s settings, on Dask, kept for the
    session; the drive hours use the dataset's drive-time matrix (road graph or estimate). A tolerance override is
    the disruption frontier's (the travel frontier sweeps the tolerance)."""
    scenarios = {}
    if request.tolerance is not None:
        scenarios["disruption"] = replace(design.SCENARIOS["disruption"], tolerance=request.tolerance)
    inputs = _design_inputs(current.key, current)
    kinds = tuple(design.sweep.SWEEPS) if inputs.baseline is not None and not inputs.baseline.empty else ("travel",)
    matrix, _ = zip_matrix(current)
    address = dask_scheduler()
    result = design.run_sweep(inputs, kinds, seed=request.seed, scenarios=scenarios, matrix=matrix,
                              client=None if address else _local_cluster().client, address=address,
                              progress=progress, pin_top_n=request.pin_top_n, thorough=request.thorough,
                              allow_cross_region=request.allow_cross_region)
    _keep(st.session_state.setdefault("terr_sweeps", {}), request.sweep_key(current.key), result, KEPT_SWEEPS)
    return result


@dataclass(frozen=True)
class _DaskClient:
    """A Dask client in a holder (Streamlit's cache refuses awaitable objects, and a client is one)."""

    client: object


@st.cache_resource(show_spinner=False)
def _local_cluster() -> _DaskClient:
    """A client of this app's LocalCluster (one worker process per CPU), started on the first sweep and kept.

    Worker processes start by re-running the parent's ``__main__`` (multiprocessing's spawn), which in the app is
    app.py: while they start, ``__main__`` is an empty module, so a worker never runs the app."""
    import os
    import sys
    import types

    from distributed import Client, LocalCluster

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    app_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        cluster = LocalCluster(n_workers=cpus, threads_per_worker=1, processes=True, dashboard_address=None)
    finally:
        sys.modules["__main__"] = app_main
    return _DaskClient(Client(cluster))


@dataclass(frozen=True)
class PlanView:
    """A plan the Territories page can show, save and (for designed scenarios) export.

    Attributes
    ----------
    key, label
        Its id among the page's plans (``scenario:<name>``, ``<kind>:<value>`` for a sweep run, ``current``) and
        its display name.
    status, message
        The verdict (``current`` for today's ownership).
    summary
        The scenario metrics.
    assignment, rep_of
        ZIP -> territory id, and territory id -> rep id.
    table
        Per-territory figures.
    designer
        The designer of a designed scenario (its exports need it), else None.
    scenario
        The scenario's name (``current`` for today's ownership).
    """

    key: str
    label: str
    status: str
    message: str
    summary: dict
    assignment: pd.Series
    rep_of: dict[str, str]
    table: pd.DataFrame
    designer: design.TerritoryDesigner | None = None
    scenario: str = "current"

    def rep_assignment(self) -> pd.Series:
        """The plan as ZIP -> rep id."""
        return self.assignment.map(self.rep_of)

    @classmethod
    def of_designer(cls, name: str, designer: design.TerritoryDesigner) -> PlanView:
        problem = designer.problem_
        return cls(f"scenario:{name}", designer.scenario.label, designer.status_, designer.message_,
                   dict(designer.summary_), designer.plan_.to_series(),
                   dict(zip(problem.tids, problem.rep_ids, strict=True)), designer.table_, designer, name)

    @classmethod
    def of_run(cls, run: design.sweep.Run) -> PlanView:
        return cls(run.key, run.label, run.status, run.message, dict(run.summary), run.assignment, run.rep_of,
                   run.table, scenario=design.sweep.SWEEPS[run.kind].scenario)

    @classmethod
    def of_current(cls, designer: design.TerritoryDesigner) -> PlanView | None:
        """Today's ownership as the designer measured it (None without owners)."""
        if designer.baseline_plan_ is None or designer.baseline_summary_ is None:
            return None
        problem = designer.problem_
        rep_of = dict(zip(problem.tids, problem.rep_ids, strict=True))
        table = metrics.territory_table(designer.baseline_plan_, problem.shares, problem.homes, rep_of)
        return cls("current", "Current ownership", "current", "Today's ownership: each ZIP area's majority owner.",
                   dict(designer.baseline_summary_), designer.baseline_plan_.to_series(), rep_of, table)


def save_plan(current: Active, view: PlanView) -> int:
    """Save a plan (ZIP -> rep) with its rationale; the dataset is saved first if needed."""
    saved = st.session_state.setdefault("saved_dataset_ids", {})
    if current.inputs.origin == "saved" and current.inputs.dataset_id is not None:
        saved.setdefault(current.key, current.inputs.dataset_id)
    if current.key not in saved:
        saved[current.key] = save_active(current, current.inputs.label)
    summary = {k: float(v) for k, v in view.summary.items() if isinstance(v, (int, float))}
    return workbench.save_plan(store(), saved[current.key], view.rep_assignment(), view.label,
                               rationale=f"{view.label}: {view.message}",
                               meta={"scenario": view.scenario, "plan": view.key, "summary": summary})


# --- drive time ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphChoice:
    """The road graph chosen on the Drive time page: an uploaded file, or a download cached as GraphML."""

    name: str
    data: bytes | None = None
    path: str | None = None

    @property
    def digest(self) -> str:
        raw = self.data if self.data is not None else (self.path or "").encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def graph_choice() -> GraphChoice | None:
    """The session's road graph, or None (drive times are then the estimate)."""
    return st.session_state.get("drive_graph")


def set_graph_choice(choice: GraphChoice | None) -> None:
    """Use ``choice`` for drive times (None: back to the estimate)."""
    st.session_state["drive_graph"] = choice


@st.cache_resource(show_spinner=False, max_entries=4)
def _road_graph(digest: str, _choice: GraphChoice) -> dt.RoadGraph:
    if _choice.path is not None:  # a cached download: the path is the library's own, never the client's
        return dt.read_graph(_choice.path)
    return dt.read_graph_bytes(_choice.data or b"", _choice.name)


def road_graph() -> dt.RoadGraph | None:
    """The session's road graph, read once per file and shared (read-only)."""
    choice = graph_choice()
    return None if choice is None else _road_graph(choice.digest, choice)


@st.cache_data(show_spinner=False, max_entries=8)
def _zip_matrix(key: str, graph_key: str, _current: Active) -> tuple[pd.DataFrame, dict]:
    assert _current.units is not None and _current.data.reps is not None
    graph = road_graph() if graph_key != "-" else None
    return workbench.zip_matrix(store(), f"zip-matrix:{key}:{graph_key}", _current.data.reps.data, _current.units,
                                graph)


def zip_matrix(current: Active) -> tuple[pd.DataFrame, dict]:
    """Rep home -> ZIP unit drive minutes (``rep_id, target_id, minutes, source``) and the calibration report;
    computed once per dataset and road graph, and kept in the store."""
    choice = graph_choice()
    return _zip_matrix(current.key, choice.digest if choice else "-", current)


@st.cache_resource(show_spinner=False, max_entries=4)
def _stops(key: str, graph_key: str, _current: Active) -> trips.Stops:
    assert _current.units is not None
    return trips.Stops.of_units(_current.units, road_graph() if graph_key != "-" else None)


def field_table(current: Active, owner_of_zip: pd.Series, matrix: pd.DataFrame, calibration: dict) -> pd.DataFrame:
    """Each rep's field month under a plan (ZIP -> rep id): drive hours, field days, nights away, whether it fits
    (:func:`territory_geo.trips.plan_field`, road hops measured once per dataset and graph)."""
    assert current.data.scored is not None and current.data.reps is not None and current.units is not None
    choice = graph_choice()
    stops = _stops(current.key, choice.digest if choice else "-", current)
    table, _ = trips.plan_field(current.data.scored.accounts, current.units, owner_of_zip, matrix,
                                current.data.reps.data, stops, estimate=dt.calibration_from_json(calibration).estimate)
    return table


def account_matrix(current: Active, graph: dt.RoadGraph | None, calibration: dict) -> pd.DataFrame:
    """Rep home -> account drive minutes with the ZIP matrix's calibration (on demand: a download builds it, outside
    the page run, so the graph is passed in rather than read from the session)."""
    assert current.data.scored is not None and current.data.reps is not None
    targets = dt.account_targets(current.data.scored.accounts, current.units)
    frame, _ = dt.rep_matrix(current.data.reps.data, targets, graph, dt.calibration_from_json(calibration))
    return frame


def homes_frame(current: Active) -> pd.DataFrame:
    """Reps with a home base for the map: ``rep_id``, ``name``, ``lat``, ``lon``."""
    assert current.data.reps is not None
    reps = current.data.reps.data.dropna(subset=["home_lat", "home_lon"])
    return pd.DataFrame({"rep_id": reps["rep_id"].astype(str), "name": reps["name"].astype(str),
                         "lat": reps["home_lat"].astype(float), "lon": reps["home_lon"].astype(float)})


@st.cache_data(show_spinner=False, max_entries=8)
def _isochrones(key: str, graph_key: str, minutes: tuple[float, ...], _current: Active,
                _calibration: dict) -> list[dict]:
    assert _current.data.reps is not None
    homes = dt.rep_targets(_current.data.reps.data, _current.units)
    graph = road_graph() if graph_key != "-" else None
    return dt.isochrones(homes.lonlat, minutes, graph=graph, estimate=dt.calibration_from_json(_calibration).estimate,
                         home_classes=homes.classes)


def isochrones(current: Active, minutes: tuple[float, ...] = (30.0, 60.0, 90.0)) -> list[dict]:
    """Reachable areas around every rep's home (cached per dataset and road graph)."""
    choice = graph_choice()
    _, calibration = zip_matrix(current)
    return _isochrones(current.key, choice.digest if choice else "-", minutes, current, calibration)
