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
    """Road speeds, the crow-fly estimate, and the drive-hours model.

    Domain: travel should stay under 25 % of a rep's time; more than 30 hours a month of driving is the red flag
    that says split the territory or move it inside; touchpoints a year by tier come from :class:`ScoringSettings`.

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
        Share of touchpoints that are in-person visits (the rest are calls and email).
    meeting_hours
        Hours on site per visit.
    working_hours_month
        Working hours in a month (40 h x 52 / 12 = 173).
    travel_share_target, red_flag_hours_month
        Travel share of the working month to stay under, and monthly driving hours that raise the red flag.
    """

    highway_speeds_kmh: dict[str, float] = field(default_factory=lambda: dict(US_HIGHWAY_SPEEDS_KMH))
    fallback_speed_kmh: float = 48.0
    access_speed_kmh: float = 20.0
    max_snap_km: float = 10.0
    circuity: dict[str, float] = field(default_factory=lambda: {"urban": 1.35, "suburban": 1.3, "rural": 1.25})
    speed_kmh: dict[str, float] = field(default_factory=lambda: {"urban": 35.0, "suburban": 55.0, "rural": 75.0})
    in_person_share: float = 0.5
    meeting_hours: float = 1.0
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
