"""Defaults for scoring, tiering, workload, the design engine and the store.

The numbers come from the domain notes in ``shared/domain`` (tier shares, workload units, touchpoints, coverage
window, quota ramp). Each is a documented field of a frozen dataclass so a run can be reproduced from its settings,
and any field can be overridden with ``dataclasses.replace`` or from a TOML table of the same name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from territory_geo.errors import TerritoryError

#: Factor names of the propensity score, in display order. Column ``score_<name>`` holds each factor (0-100).
SCORE_FACTORS: tuple[str, ...] = ("fit", "growth", "intent", "relationship", "strategic")

#: Plain-English labels of the factors.
FACTOR_LABELS: dict[str, str] = {
    "fit": "Firmographic fit",
    "growth": "Growth potential",
    "intent": "Buying intent",
    "relationship": "Relationship depth",
    "strategic": "Strategic value",
}


@dataclass(frozen=True)
class ScoringSettings:
    """How accounts are valued, scored, tiered and weighted as workload.

    Attributes
    ----------
    weights
        Weight of each propensity factor in the 0-100 score. They are normalised to sum to 1.
    tier_shares
        Share of accounts, ranked by potential, in tier A and tier B; the rest are C (domain: top 15 % A, next 35 % B).
    default_win_rate
        Win probability used when neither the account nor its segment's history gives one (typical B2B: 20 %).
    min_history
        Won + lost outcomes a segment needs before its historical win rate is trusted.
    workload_units
        Workload units per account by tier (domain: A = 3, B = 2, C = 1).
    renewal_burden_units
        Extra workload units for an existing customer (renewals eat selling time).
    touchpoints
        Touchpoints a year per tier (domain: A 12, B 6, C 4).
    coverage_days
        Window of the Coverage Score: an A/B account counts as covered when contacted within this many days.
    enterprise_revenue, midmarket_revenue
        Company annual-revenue bands of the market segmentation (domain: > $10M Enterprise, $1-10M Mid-Market).
    enterprise_employees, midmarket_employees
        Employee bands used for the segment when annual revenue is missing.
    matrix_enterprise_value, matrix_midmarket_value
        Account-value bands of the tier x growth matrix (domain: > $500K Enterprise, $100K-500K Mid-Market).
    growth_high, growth_medium
        Growth-factor score (0-100) at or above which growth is High / Medium.
    """

    weights: dict[str, float] = field(
        default_factory=lambda: {"fit": 0.30, "growth": 0.25, "intent": 0.20, "relationship": 0.15, "strategic": 0.10}
    )
    tier_shares: tuple[float, float] = (0.15, 0.35)
    default_win_rate: float = 0.20
    min_history: int = 30
    workload_units: dict[str, float] = field(default_factory=lambda: {"A": 3.0, "B": 2.0, "C": 1.0})
    renewal_burden_units: float = 0.5
    touchpoints: dict[str, int] = field(default_factory=lambda: {"A": 12, "B": 6, "C": 4})
    coverage_days: int = 90
    enterprise_revenue: float = 10_000_000.0
    midmarket_revenue: float = 1_000_000.0
    enterprise_employees: int = 500
    midmarket_employees: int = 50
    matrix_enterprise_value: float = 500_000.0
    matrix_midmarket_value: float = 100_000.0
    growth_high: float = 60.0
    growth_medium: float = 30.0

    def normalised_weights(self) -> dict[str, float]:
        """Return the factor weights scaled to sum to 1 (missing factors weigh 0)."""
        raw = {f: max(float(self.weights.get(f, 0.0)), 0.0) for f in SCORE_FACTORS}
        total = sum(raw.values())
        if total <= 0:
            msg = f"Scoring weights must have a positive sum; got {self.weights}."
            raise ValueError(msg)
        return {f: w / total for f, w in raw.items()}


@dataclass(frozen=True)
class CapacitySettings:
    """Default rep capacity in workload units when the reps file has none.

    Domain: 100-150 account units per rep, and a ramp of 60 % (year 1), 80 % (year 2), 100 % (year 3+).
    """

    full_capacity_units: float = 150.0
    ramp: tuple[tuple[float, float], ...] = ((1.0, 0.6), (2.0, 0.8))

    def capacity_for_tenure(self, tenure_years: float) -> float:
        """Capacity of a rep with the given tenure (years)."""
        for below, factor in self.ramp:
            if tenure_years < below:
                return self.full_capacity_units * factor
        return self.full_capacity_units

    def stage_for_tenure(self, tenure_years: float) -> str:
        """``new hire`` (< 1 year), ``ramping`` (< 2 years) or ``ramped``."""
        if tenure_years < self.ramp[0][0]:
            return "new hire"
        if tenure_years < self.ramp[-1][0]:
            return "ramping"
        return "ramped"


#: US default speeds (km/h) per OSM highway class, used where an edge has no usable ``maxspeed`` tag: typical
#: posted limits (mph) converted - motorway 65, trunk 55, primary 45, secondary 40, tertiary 35, unclassified 30,
#: residential 25, living street / service 15; links 10-20 mph below their road.
US_HIGHWAY_SPEEDS_KMH: dict[str, float] = {
    "motorway": 105.0, "motorway_link": 72.0, "trunk": 89.0, "trunk_link": 64.0, "primary": 72.0,
    "primary_link": 56.0, "secondary": 64.0, "secondary_link": 48.0, "tertiary": 56.0, "tertiary_link": 40.0,
    "unclassified": 48.0, "residential": 40.0, "living_street": 24.0, "service": 24.0, "road": 48.0,
}

#: Overpass filter for state-scale downloads: drivable roads down to tertiary (local streets left out; the
#: off-network access leg covers the last kilometre).
STATE_HIGHWAY_FILTER: str = ('["highway"~"motorway|motorway_link|trunk|trunk_link|primary|primary_link|secondary|'
                             'secondary_link|tertiary|tertiary_link"]["access"!~"private|no"]')


@dataclass(frozen=True)
class DriveTimeSettings:
    """Road speeds and the crow-fly estimate (the drive-hours model's visits and month are :class:`FieldSettings`).

    Attributes
    ----------
    highway_speeds_kmh, fallback_speed_kmh
        Speed per OSM highway class where ``maxspeed`` is missing, and for unknown classes.
    access_speed_kmh
        Speed of the off-network leg from a point (home, ZIP centroid, account) to its nearest road node.
    max_snap_km
        A point farther than this from the road graph is outside its coverage: its figures come from the estimate.
    circuity, speed_kmh
        The crow-fly estimate per urban / suburban / rural class: minutes = km x circuity / speed x 60. Defaults
        are typical US values until a road graph calibrates them.
    in_person_share
        Share of touchpoints the design engine counts as visits in its travel measure (being replaced by the
        drive-hours model, :class:`FieldSettings`).
    """

    highway_speeds_kmh: dict[str, float] = field(default_factory=lambda: dict(US_HIGHWAY_SPEEDS_KMH))
    fallback_speed_kmh: float = 48.0
    access_speed_kmh: float = 20.0
    max_snap_km: float = 10.0
    circuity: dict[str, float] = field(default_factory=lambda: {"urban": 1.35, "suburban": 1.3, "rural": 1.25})
    speed_kmh: dict[str, float] = field(default_factory=lambda: {"urban": 35.0, "suburban": 55.0, "rural": 75.0})
    in_person_share: float = 0.5


@dataclass(frozen=True)
class FieldSettings:
    """How reps meet accounts in person, and how their month is measured: the drive-hours model
    (:mod:`territory_geo.trips`).

    Domain: A accounts get 4 in-person meetings of their 24 touchpoints a year; B accounts alternate in-person and
    video for their 6 meetings (about 3 in person); C accounts are virtual. Routing: at least 3 customer meetings
    per travel day and at most 90 minutes between meetings; travel under 25 % of the month; more than 30 hours a
    month of driving is the red flag.

    Attributes
    ----------
    in_person_visits
        In-person visits a year per tier.
    meeting_hours
        Hours on site per meeting.
    workday_hours
        A field day, home to home, time on site included.
    min_meetings_per_day, max_meetings_per_day
        The routing target (days below it are reported as sparse), and the most meetings a day holds.
    max_hop_minutes
        The longest drive between two meetings of one trip.
    overnight_one_way_hours
        Stops farther than this from home are reached on overnight trips.
    max_trip_days
        The longest overnight trip (working days away).
    working_hours_month
        Working hours in a month (40 h x 52 / 12 = 173).
    travel_share_target, red_flag_hours_month
        Drive hours as a share of the working month to stay under, and monthly driving that raises the red flag.
    """

    in_person_visits: dict[str, float] = field(default_factory=lambda: {"A": 4.0, "B": 3.0, "C": 0.0})
    meeting_hours: float = 1.0
    workday_hours: float = 8.0
    min_meetings_per_day: int = 3
    max_meetings_per_day: int = 5
    max_hop_minutes: float = 90.0
    overnight_one_way_hours: float = 2.5
    max_trip_days: int = 4
    working_hours_month: float = 40.0 * 52 / 12
    travel_share_target: float = 0.25
    red_flag_hours_month: float = 30.0


@dataclass(frozen=True)
class DesignSettings:
    """Tuning constants of the design engine (:mod:`territory_geo.design`), settable under ``[design.engine]``.

    The defaults were chosen by measurement (``docs/BENCHMARKS.md``). Every step of the search ends on a count of
    work; its share of the time budget is only a safety net.

    Attributes
    ----------
    default_seconds, large_seconds
        Time budget of a design without ``max_seconds``, below and from ``large_problem_units`` ZIP units on.
    large_problem_units
        From this many ZIP units on, a design gets ``large_seconds``.
    thorough_budget
        ``thorough`` designs get this many times the default budget; the usual steps keep the usual share of it.
    lp_max_pairs
        Above this many unit x candidate pairs the transport LP is solved in two levels (clusters first).
    coarse_clusters
        Clusters of the two-level LP's coarse level.
    centre_blend, centre_iterations
        After the first transport solve, re-solve ``centre_iterations`` times with each territory's centre at
        ``centre_blend`` x home + (1 - ``centre_blend``) x its area centroid (more compact territories).
    full_bound_variables
        Above this many unit x rep pairs no distance bound is solved (the exact LP, or its dual inside the design).
    bound_trigger, bound_stop, bound_cap
        With balance on potential alone the design steers by the distance bound: distance re-splits run above
        ``bound_trigger`` x the bound and stop at ``bound_stop`` x it; the polish may not pass ``bound_cap`` x it.
    goal_factor
        The search aims each territory at this share of the tolerance (the margin absorbs later travel drift).
    diffuse_stall_rounds
        Diffusion stops after this many rounds without a 1 % fall of the balance energy.
    eject_depth, eject_budget
        Territories an ejection chain may pass through, and trades tried from each start.
    recombine_share, recombine_budget
        Share of the time budget the chains of re-splits may take (and the settling walk after them), and re-splits
        tried from each start.
    chain_slack, carry_growth
        A guided chain of re-splits may run this many territories longer than the shortest path to room, and pass on
        at most this multiple of the surplus it started with.
    local_tries
        Re-splits the free chain search may try before the guided one takes over.
    settle_tries, settle_bad_bias, settle_rings
        The settling walk: re-splits it may try, how often it starts from a territory beyond the goal rather than
        any territory of its region, and the rings of neighbours its region spans.
    shorten_share
        Share of the time budget the distance re-splits may take.
    shorten_trigger, shorten_stop
        Without a distance bound, distance re-splits run when the distance is above ``shorten_trigger`` x what the
        re-splits reach, and stop at ``shorten_stop`` x that reach.
    polish_steps
        Annealing temperatures of the flip polish at compactness weight 1 (scaled by the scenario's weight).
    compact_share, compact_rounds, compact_tries
        Compactness re-splits: share of the time budget, sweeps over every pair, grown cuts per side.
    redraw_share
        Share of the time left that a ``thorough`` region re-draw may take.
    repartition_trees, repartition_node_limit, repartition_rings, repartition_max_units
        Region re-draw: random spanning trees per region, branch-and-bound nodes of the MILP, the rings of
        neighbours tried in turn, and the largest region (ZIP units) re-drawn.
    """

    default_seconds: float = 30.0
    large_seconds: float = 60.0
    large_problem_units: int = 10_000
    thorough_budget: int = 4
    lp_max_pairs: int = 250_000
    coarse_clusters: int = 1_000
    centre_blend: float = 0.5
    centre_iterations: int = 1
    full_bound_variables: int = 2_000_000
    bound_trigger: float = 1.045
    bound_stop: float = 1.035
    bound_cap: float = 1.045
    goal_factor: float = 0.8
    diffuse_stall_rounds: int = 40
    eject_depth: int = 8
    eject_budget: int = 4000
    recombine_share: float = 0.15
    recombine_budget: int = 500
    chain_slack: int = 4
    carry_growth: float = 3.0
    local_tries: int = 60
    settle_tries: int = 10_000
    settle_bad_bias: float = 0.8
    settle_rings: int = 2
    shorten_share: float = 0.1
    shorten_trigger: float = 1.035
    shorten_stop: float = 1.02
    polish_steps: int = 20
    compact_share: float = 0.1
    compact_rounds: int = 3
    compact_tries: int = 3
    redraw_share: float = 0.8
    repartition_trees: int = 800
    repartition_node_limit: int = 100
    repartition_rings: tuple[int, ...] = (1, 2)
    repartition_max_units: int = 400


def design_settings_from_mapping(values: dict[str, Any], base: DesignSettings | None = None) -> DesignSettings:
    """Build :class:`DesignSettings` from a mapping (e.g. the ``[design.engine]`` table), rejecting unknown keys by
    name; lists become tuples."""
    base = base or DesignSettings()
    known = {f.name for f in fields(DesignSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        msg = f"Unknown design engine setting(s) {unknown}; allowed: {sorted(known)}."
        raise ValueError(msg)
    cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return replace(base, **cleaned)


def graph_cache_dir() -> Path:
    """Folder of downloaded road graphs (GraphML): ``$TERRITORY_GEO_GRAPH_CACHE`` or ``.territory_geo/graphs``."""
    return Path(os.environ.get("TERRITORY_GEO_GRAPH_CACHE", ".territory_geo/graphs"))


def cache_dir() -> Path | None:
    """Folder of derived data kept between runs (the ZIP table, default ZIP areas and their adjacency, state
    outlines; :mod:`territory_geo.cache`): ``$TERRITORY_GEO_CACHE`` or ``.territory_geo/cache``. Set the variable
    to an empty string to keep nothing (every run builds them again)."""
    folder = os.environ.get("TERRITORY_GEO_CACHE", ".territory_geo/cache")
    return Path(folder) if folder else None


def dask_scheduler() -> str | None:
    """Address of a Dask scheduler for drive-time matrices (``$TERRITORY_GEO_DASK_SCHEDULER``, e.g.
    ``tcp://10.0.0.5:8786``); None means a LocalCluster on this machine."""
    return os.environ.get("TERRITORY_GEO_DASK_SCHEDULER") or None


# --- geography hardening: accounts far outside the ZIP areas, uploaded file names ---------------------------------

#: An account placed by its point more than this many km outside every ZIP area is reported
#: (:attr:`territory_geo.units.Units.far_accounts`): it was given the nearest ZIP area, perhaps across an ocean.
FAR_ACCOUNT_KM: float = 25.0

#: Longest client-supplied file name shown in a message (longer names are cut and end in "…").
UPLOAD_NAME_MAX_CHARS: int = 80


#: Urban / suburban / rural class of a ZIP area by its land area (km^2). ZIP areas are drawn around roughly equal
#: delivery populations, so a small area means a dense place.
URBAN_MAX_KM2: float = 60.0
SUBURBAN_MAX_KM2: float = 300.0

#: Equal-area CRS for areas, densities and k-means (CONUS Albers, metres).
EQUAL_AREA_CRS: str = "EPSG:5070"
#: CRS of everything exported and drawn (RFC 7946 GeoJSON is WGS 84 lon/lat).
DISPLAY_CRS: str = "EPSG:4326"

#: Upload size limit in MB (mirrors .streamlit/config.toml).
MAX_UPLOAD_MB: int = 200


@dataclass(frozen=True)
class InputLimits:
    """Bounds on an input file, checked before the file is parsed, so a huge or hostile file is refused quickly.

    Each field can be set with the environment variable named in :data:`INPUT_LIMIT_ENV` (see
    :func:`input_limits`); refusals name the limit and that variable.

    Attributes
    ----------
    max_upload_mb
        Largest file, in MB (2**20 bytes); mirrors ``server.maxUploadSize`` in ``.streamlit/config.toml``.
    max_columns
        Most columns a table may have (a CRM export needs a few dozen).
    max_rows
        Most data rows a table may have (the ingest benchmark runs 1,000,000).
    max_xlsx_uncompressed_mb
        Most MB a workbook may hold once unpacked (the sum of its parts' uncompressed sizes).
    max_xlsx_ratio
        Highest compression ratio (unpacked / packed size) of a workbook part; far above what real sheets reach, typical
        of a "zip bomb".
    """

    max_upload_mb: float = float(MAX_UPLOAD_MB)
    max_columns: int = 500
    max_rows: int = 2_000_000
    max_xlsx_uncompressed_mb: float = 512.0
    max_xlsx_ratio: float = 100.0


#: Environment variable of each :class:`InputLimits` field.
INPUT_LIMIT_ENV: dict[str, str] = {
    "max_upload_mb": "TERRITORY_GEO_MAX_UPLOAD_MB",
    "max_columns": "TERRITORY_GEO_MAX_COLUMNS",
    "max_rows": "TERRITORY_GEO_MAX_ROWS",
    "max_xlsx_uncompressed_mb": "TERRITORY_GEO_MAX_XLSX_MB",
    "max_xlsx_ratio": "TERRITORY_GEO_MAX_XLSX_RATIO",
}


def input_limits() -> InputLimits:
    """The :class:`InputLimits` defaults, overridden by the environment variables of :data:`INPUT_LIMIT_ENV`.

    Raises
    ------
    TerritoryError
        When a variable is set to something other than a positive number (a whole number for columns and rows).
    """
    base = InputLimits()
    values: dict[str, Any] = {}
    for f in fields(InputLimits):
        text = os.environ.get(INPUT_LIMIT_ENV[f.name], "").strip()
        if text:
            values[f.name] = _positive(text, INPUT_LIMIT_ENV[f.name], whole=isinstance(getattr(base, f.name), int))
    return replace(base, **values)


def _positive(text: str, variable: str, whole: bool) -> float | int:
    kind = "a positive whole number" if whole else "a positive number"
    try:
        value: float | int = int(text.replace("_", "")) if whole else float(text)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        msg = f"{variable} must be {kind}; it is {text!r}. Fix or unset the environment variable."
        raise TerritoryError(msg)
    return value

#: Seed of the embedded demo.
DEMO_SEED: int = 20261122


def store_path() -> Path:
    """Path of the SQLite store: ``$TERRITORY_GEO_STORE`` or ``.territory_geo/workbench.sqlite``."""
    return Path(os.environ.get("TERRITORY_GEO_STORE", ".territory_geo/workbench.sqlite"))


def basemap_enabled() -> bool:
    """Whether maps request street basemap tiles (needs internet). Off with ``TERRITORY_GEO_OFFLINE=1``."""
    return os.environ.get("TERRITORY_GEO_OFFLINE", "0") not in {"1", "true", "yes"}


def scoring_from_mapping(values: dict[str, Any], base: ScoringSettings | None = None) -> ScoringSettings:
    """Build :class:`ScoringSettings` from a mapping (e.g. a TOML table), rejecting unknown keys by name."""
    base = base or ScoringSettings()
    known = {f.name for f in fields(ScoringSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        msg = f"Unknown scoring setting(s) {unknown}; allowed: {sorted(known)}."
        raise ValueError(msg)
    cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return replace(base, **cleaned)
