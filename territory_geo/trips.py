"""Drive hours a rep could drive: a year of in-person visits grouped into day trips and overnight trips from home.

Each account gets its tier's in-person visits a year (:attr:`FieldSettings.in_person_visits`). Visits are places to
be on a given round: round ``k`` holds every account with at least ``k`` visits (an A account with 4 visits is in
rounds 1-4, a B account with 3 in rounds 1-3), so one trip can meet several accounts of a round, as reps plan them.
A round's stops (ZIP areas or accounts, each with its meetings of that round) are grouped into trips:

* a **day trip** starts at the farthest stop not yet visited and adds the nearest stop (at most
  :attr:`~FieldSettings.max_hop_minutes` from the previous one) while the day, home to home, fits the working day
  (:attr:`~FieldSettings.workday_hours`, time on site included) and :attr:`~FieldSettings.max_meetings_per_day`;
  its route is then ordered by an exact search (up to :data:`EXACT_TOUR_STOPS` stops) or nearest neighbour + 2-opt;
* a stop more than :attr:`~FieldSettings.overnight_one_way_hours` from home starts an **overnight trip**: the drive
  out and back once, and as many working days in the area as its nearby stops need; nights away = days - 1.

Drive time is the tour: the legs from home come from the caller's one-way minutes (road graph or estimate), the hops
between stops from ``hop_minutes`` (crow-fly km x the estimate's minutes per km, or road times). A year's trips give
the month (÷ 12): drive hours, field days, nights away, and the travel share of a working month; a rep whose
visits cannot fit the month's working days is told so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory_geo.settings import FieldSettings

#: Routes of up to this many stops are ordered exactly (all orders); longer ones by nearest neighbour + 2-opt.
EXACT_TOUR_STOPS = 7

#: ``hop_minutes(a, b)``: an ``len(a) x len(b)`` matrix of drive minutes between stops (positions into the stops).
HopMinutes = Callable[[np.ndarray, np.ndarray], np.ndarray]


# --- tours -------------------------------------------------------------------------------------------------------


def tour_minutes(order: Sequence[int], home_out: np.ndarray, home_back: np.ndarray, hops: np.ndarray) -> float:
    """Minutes of the tour home -> ``order`` -> home (``home_out[i]``: home to stop i; ``home_back[i]``: stop i
    to home; ``hops[i, j]``: stop i to stop j)."""
    if not len(order):
        return 0.0
    inner = sum(float(hops[a, b]) for a, b in itertools.pairwise(order))
    return float(home_out[order[0]]) + inner + float(home_back[order[-1]])


def exact_tour(home_out: np.ndarray, home_back: np.ndarray, hops: np.ndarray) -> tuple[list[int], float]:
    """The shortest home -> every stop -> home order by trying every order (small routes only)."""
    n = len(home_out)
    best: tuple[float, list[int]] = (math.inf, [])
    for perm in itertools.permutations(range(n)):
        minutes = tour_minutes(perm, home_out, home_back, hops)
        if minutes < best[0] - 1e-12:
            best = (minutes, list(perm))
    return best[1], best[0] if n else 0.0


def heuristic_tour(home_out: np.ndarray, home_back: np.ndarray, hops: np.ndarray) -> tuple[list[int], float]:
    """Nearest neighbour from home, then 2-opt (reverse a stretch of the route while that shortens the tour)."""
    n = len(home_out)
    if n == 0:
        return [], 0.0
    left = set(range(n))
    current = int(np.argmin(home_out))
    order = [current]
    left.discard(current)
    while left:
        current = min(left, key=lambda j: (float(hops[current, j]), j))
        order.append(current)
        left.discard(current)
    best = tour_minutes(order, home_out, home_back, hops)
    improved = True
    while improved:
        improved = False
        for i in range(n - 1):
            for j in range(i + 1, n):
                candidate = order[:i] + order[i:j + 1][::-1] + order[j + 1:]
                minutes = tour_minutes(candidate, home_out, home_back, hops)
                if minutes < best - 1e-9:
                    order, best, improved = candidate, minutes, True
    return order, best


def best_tour(home_out: np.ndarray, home_back: np.ndarray, hops: np.ndarray) -> tuple[list[int], float]:
    """Exact for up to :data:`EXACT_TOUR_STOPS` stops, else nearest neighbour + 2-opt."""
    if len(home_out) <= EXACT_TOUR_STOPS:
        return exact_tour(home_out, home_back, hops)
    return heuristic_tour(home_out, home_back, hops)


# --- trips -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trip:
    """One trip of a round: the stops in route order, and what it costs.

    Attributes
    ----------
    stops
        Stop positions in the order driven.
    meetings
        Meetings held (an account's visit is one meeting).
    drive_minutes
        The tour, home to home.
    days, nights
        Field days and nights away (0 for a day trip).
    """

    stops: tuple[int, ...]
    meetings: float
    drive_minutes: float
    days: int
    nights: int


def _day_fits(minutes: float, meetings: float, settings: FieldSettings) -> bool:
    hours = minutes / 60.0 + meetings * settings.meeting_hours
    return hours <= settings.workday_hours + 1e-9 and meetings <= settings.max_meetings_per_day + 1e-9


def _grow(seed: int, pending: dict[int, float], home_out: np.ndarray, home_back: np.ndarray, hops: HopMinutes,
          room: Callable[[list[int], float, float], bool], settings: FieldSettings) -> tuple[list[int], float, float]:
    """Stops taken into a trip from ``seed``: the nearest pending stop (within the hop limit of the last one) while
    ``room(route, minutes, meetings)`` still holds. Returns (route in the order taken, tour minutes, meetings)."""
    route, meetings = [seed], pending.pop(seed)
    minutes = float(home_out[seed]) + float(home_back[seed])
    while pending:
        candidates = np.fromiter(pending, dtype=np.int64)
        step = hops(np.array([route[-1]]), candidates)[0]
        near = np.flatnonzero(step <= settings.max_hop_minutes)
        taken = False
        for i in near[np.argsort(step[near], kind="stable")].tolist():
            j = int(candidates[i])
            extra = float(step[i]) + float(home_back[j]) - float(home_back[route[-1]])
            if room(route, minutes + extra, meetings + pending[j]):
                route.append(j)
                minutes += extra
                meetings += pending.pop(j)
                taken = True
                break
        if not taken:
            break
    return route, minutes, meetings


def plan_round(meetings: np.ndarray, home_out: np.ndarray, home_back: np.ndarray, hops: HopMinutes,
               settings: FieldSettings | None = None) -> list[Trip]:
    """Trips that meet every stop's ``meetings`` once, from home and back.

    Parameters
    ----------
    meetings
        Meetings at each stop this round (0: the stop is not visited this round).
    home_out, home_back
        One-way drive minutes from home to each stop and back.
    hops
        Drive minutes between stops.
    """
    settings = settings or FieldSettings()
    per_day = max(settings.max_meetings_per_day, 1e-9)
    pending: dict[int, float] = {}
    chunks: list[tuple[int, float]] = []  # a stop with more meetings than a day holds is met over several days
    for i in np.flatnonzero(np.asarray(meetings) > 1e-12).tolist():
        left = float(meetings[i])
        while left > per_day + 1e-9:
            chunks.append((i, per_day))
            left -= per_day
        pending[i] = left
    trips = [_single_stop_trip(i, m, home_out, home_back, settings) for i, m in chunks]
    overnight_minutes = settings.overnight_one_way_hours * 60.0
    while pending:
        seed = max(pending, key=lambda i: (float(home_out[i]), -i))
        if float(home_out[seed]) > overnight_minutes:
            trips.append(_overnight_trip(seed, pending, home_out, home_back, hops, settings))
            continue
        route, _, count = _grow(seed, pending, home_out, home_back, hops,
                                lambda r, minutes, m: _day_fits(minutes, m, settings), settings)
        trips.append(_ordered(route, count, home_out, home_back, hops, days=1, nights=0))
    return trips


def _single_stop_trip(i: int, meetings: float, home_out: np.ndarray, home_back: np.ndarray,
                      settings: FieldSettings) -> Trip:
    minutes = float(home_out[i]) + float(home_back[i])
    overnight = float(home_out[i]) > settings.overnight_one_way_hours * 60.0
    days = _days(minutes, meetings, settings) if overnight else 1
    return Trip((i,), meetings, minutes, days, max(days - 1, 1) if overnight else 0)


def _days(minutes: float, meetings: float, settings: FieldSettings) -> int:
    """Working days a trip of ``minutes`` driving and ``meetings`` on site takes (at least 2 for an overnight)."""
    return max(2, math.ceil((minutes / 60.0 + meetings * settings.meeting_hours) / settings.workday_hours - 1e-9))


def _overnight_trip(seed: int, pending: dict[int, float], home_out: np.ndarray, home_back: np.ndarray,
                    hops: HopMinutes, settings: FieldSettings) -> Trip:
    """Out once, the area's nearby stops over several working days (at most :attr:`FieldSettings.max_trip_days`),
    back once."""
    limit_hours = settings.max_trip_days * settings.workday_hours

    def room(route: list[int], minutes: float, meetings: float) -> bool:
        return minutes / 60.0 + meetings * settings.meeting_hours <= limit_hours + 1e-9

    route, _, count = _grow(seed, pending, home_out, home_back, hops, room, settings)
    trip = _ordered(route, count, home_out, home_back, hops, days=0, nights=0)
    days = _days(trip.drive_minutes, count, settings)
    return Trip(trip.stops, count, trip.drive_minutes, days, days - 1)


def _ordered(route: list[int], meetings: float, home_out: np.ndarray, home_back: np.ndarray, hops: HopMinutes,
             days: int, nights: int) -> Trip:
    stops = np.array(route, dtype=np.int64)
    order, minutes = best_tour(home_out[stops], home_back[stops], hops(stops, stops))
    return Trip(tuple(int(stops[k]) for k in order), meetings, minutes, days, nights)


# --- a rep's year and month ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMonth:
    """A rep's average month in the field.

    Attributes
    ----------
    drive_hours, meeting_hours
        Hours driving and on site.
    field_days, nights_away, trips, meetings
        Working days away from the desk, nights away, trips and meetings.
    travel_share
        Drive hours as a share of the working month.
    fits
        Whether the field days and hours fit the working month.
    sparse_days
        Field days with fewer than :attr:`FieldSettings.min_meetings_per_day` meetings (the accounts are too far
        apart to fill them).
    """

    drive_hours: float
    meeting_hours: float
    field_days: float
    nights_away: float
    trips: float
    meetings: float
    travel_share: float
    fits: bool
    sparse_days: float
    year: list[Trip] = field(default_factory=list, repr=False, compare=False)


def round_meetings(stop_of_account: np.ndarray, account_visits: np.ndarray, n_stops: int) -> list[np.ndarray]:
    """Meetings at each stop for every round: an account with ``v`` in-person visits a year is met once in each of
    rounds 1 .. ceil(v) (the last one counting ``v - floor(v)`` when ``v`` is fractional)."""
    visits = np.asarray(account_visits, dtype=float)
    stops = np.asarray(stop_of_account, dtype=np.int64)
    out = []
    for k in range(int(math.ceil(visits.max() - 1e-9)) if len(visits) else 0):
        share = np.clip(visits - k, 0.0, 1.0)
        out.append(np.bincount(stops, weights=share, minlength=n_stops))
    return out


def field_month(stop_of_account: np.ndarray, account_visits: np.ndarray, home_out: np.ndarray,
                home_back: np.ndarray, hops: HopMinutes, settings: FieldSettings | None = None) -> FieldMonth:
    """A rep's average month: the year's rounds planned as trips (:func:`plan_round`), divided by 12.

    Parameters
    ----------
    stop_of_account
        The stop (position into ``home_out``) of each account the rep visits.
    account_visits
        In-person visits a year of each account.
    home_out, home_back
        One-way minutes from the rep's home to each stop and back.
    hops
        Drive minutes between stops.
    """
    settings = settings or FieldSettings()
    year: list[Trip] = []
    planned: dict[bytes, list[Trip]] = {}  # rounds with the same meetings have the same trips
    for meetings in round_meetings(stop_of_account, account_visits, len(home_out)):
        key = np.round(meetings, 9).tobytes()
        if key not in planned:
            planned[key] = plan_round(meetings, home_out, home_back, hops, settings)
        year.extend(planned[key])
    drive = sum(t.drive_minutes for t in year) / 60.0 / 12.0
    meeting_hours = sum(t.meetings for t in year) * settings.meeting_hours / 12.0
    days = sum(t.days for t in year) / 12.0
    sparse = sum(1 for t in year if t.nights == 0 and t.meetings < settings.min_meetings_per_day - 1e-9) / 12.0
    working_days = settings.working_hours_month / settings.workday_hours
    fits = days <= working_days + 1e-9 and drive + meeting_hours <= settings.working_hours_month + 1e-9
    return FieldMonth(drive_hours=drive, meeting_hours=meeting_hours, field_days=days,
                      nights_away=sum(t.nights for t in year) / 12.0, trips=len(year) / 12.0,
                      meetings=sum(t.meetings for t in year) / 12.0,
                      travel_share=drive / settings.working_hours_month, fits=fits, sparse_days=sparse, year=year)


# --- the design's additive share of it -----------------------------------------------------------------------------


def visit_drive_hours(one_way_minutes: np.ndarray, hop_minutes: np.ndarray,
                      settings: FieldSettings | None = None) -> np.ndarray:
    """Drive hours one visit costs in the trip model, as an additive figure the design engine can tally per ZIP.

    A visit ``d`` minutes from home shares its trip's drive out and back with the other meetings of the trip:
    a day trip holds as many meetings as the working day leaves room for (at most
    :attr:`FieldSettings.max_meetings_per_day`), an overnight trip those of :attr:`FieldSettings.max_trip_days`
    days; each meeting adds a hop (``hop_minutes``, the typical distance to the next stop) on top."""
    settings = settings or FieldSettings()
    d = np.asarray(one_way_minutes, dtype=float) / 60.0
    hop = np.minimum(np.asarray(hop_minutes, dtype=float), settings.max_hop_minutes) / 60.0
    per_meeting = settings.meeting_hours + hop
    day = np.floor((settings.workday_hours - 2 * d + hop) / per_meeting + 1e-9)
    day = np.clip(day, 1.0, settings.max_meetings_per_day)
    overnight = d > settings.overnight_one_way_hours
    trip_hours = settings.max_trip_days * settings.workday_hours - 2 * d
    away = np.clip(np.floor((trip_hours + hop) / per_meeting + 1e-9), 1.0, None)
    meetings = np.where(overnight, away, day)
    return 2 * d / meetings + hop


# --- a plan's reps -------------------------------------------------------------------------------------------------

#: Columns of :func:`plan_field_months` (``drive_hours.csv``).
FIELD_COLUMNS: tuple[str, ...] = (
    "rep_id", "accounts", "visits_year", "drive_hours_month", "meeting_hours_month", "field_days_month",
    "nights_away_month", "trips_month", "travel_share", "fits_month", "red_flag", "source", "note",
)


def field_frame(months: dict[str, FieldMonth], accounts: dict[str, int], visits: dict[str, float],
                sources: dict[str, str], settings: FieldSettings | None = None) -> pd.DataFrame:
    """The per-rep table of :data:`FIELD_COLUMNS` from each rep's :class:`FieldMonth`."""
    settings = settings or FieldSettings()
    working_days = settings.working_hours_month / settings.workday_hours
    rows = []
    for rep, month in months.items():
        note = ""
        if not month.fits:
            note = (f"{rep} needs {month.field_days:.0f} field days a month ({working_days:.0f} working days) and "
                    f"{month.drive_hours + month.meeting_hours:.0f} h on the road and on site "
                    f"({settings.working_hours_month:.0f} h): the visits cannot fit one rep's month.")
        rows.append({
            "rep_id": rep, "accounts": int(accounts.get(rep, 0)), "visits_year": round(visits.get(rep, 0.0), 2),
            "drive_hours_month": round(month.drive_hours, 2), "meeting_hours_month": round(month.meeting_hours, 2),
            "field_days_month": round(month.field_days, 2), "nights_away_month": round(month.nights_away, 2),
            "trips_month": round(month.trips, 2), "travel_share": round(month.travel_share, 4),
            "fits_month": bool(month.fits),
            "red_flag": bool(month.drive_hours > settings.red_flag_hours_month
                             or month.travel_share > settings.travel_share_target or not month.fits),
            "source": sources.get(rep, "estimated"), "note": note,
        })
    return pd.DataFrame(rows, columns=list(FIELD_COLUMNS))


# --- a plan's field months -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stops:
    """The places a plan's reps visit, ZIP areas, with how to drive between them.

    Attributes
    ----------
    ids
        ZIP of each stop.
    lonlat, classes
        A point inside each ZIP area (WGS 84) and its urban / suburban / rural class.
    graph_hops
        Road minutes between nearby stops measured on a road graph, ``{(i, j): minutes}`` (empty without a graph);
        every other hop is the estimate.
    """

    ids: np.ndarray
    lonlat: np.ndarray
    classes: np.ndarray
    graph_hops: dict[tuple[int, int], float] = field(default_factory=dict)

    @classmethod
    def of_units(cls, units_obj: object, graph: object | None = None, settings: FieldSettings | None = None) -> Stops:
        """Every ZIP unit as a stop; with a road graph, the road minutes to each unit's nearest units."""
        from territory_geo import drivetime as dt

        targets = dt.zip_targets(units_obj.table)  # type: ignore[attr-defined]
        limit = (settings or FieldSettings()).max_hop_minutes
        hops = {} if graph is None else dt.near_hops(graph, targets.lonlat, limit)
        return cls(ids=targets.ids, lonlat=targets.lonlat, classes=targets.classes, graph_hops=hops)

    def hop_function(self, positions: np.ndarray, estimate: object) -> HopMinutes:
        """Drive minutes between the given stops (positions into this table), road minutes where measured."""
        from territory_geo import drivetime as dt

        lonlat, classes = self.lonlat[positions], self.classes[positions]
        per_km = estimate.minutes_per_km(classes)  # type: ignore[attr-defined]
        graph = self.graph_hops

        def hops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            minutes = dt.crow_km(lonlat[a], lonlat[b]) * per_km[b][None, :]
            if graph:
                for i, u in enumerate(positions[a].tolist()):
                    for j, v in enumerate(positions[b].tolist()):
                        road = graph.get((u, v))
                        if road is not None:
                            minutes[i, j] = road
            return minutes

        return hops


def plan_field(scored: pd.DataFrame, units_obj: object, owner_of_zip: pd.Series, matrix: pd.DataFrame,
               reps: pd.DataFrame, stops: Stops | None = None, settings: FieldSettings | None = None,
               estimate: object | None = None) -> tuple[pd.DataFrame, dict[str, FieldMonth]]:
    """Each rep's field month under a plan: every account is visited by the rep who owns its ZIP, from that rep's
    home, in its tier's in-person visits a year (:attr:`FieldSettings.in_person_visits`), as trips.

    Parameters
    ----------
    scored
        Scored accounts (``tier``), index aligned with the units' ``account_zip``.
    units_obj
        The ZIP units.
    owner_of_zip
        ZIP -> rep id (a plan mapped to reps, or the current ownership).
    matrix
        Rep home -> ZIP drive minutes (``rep_id, target_id, minutes, source``), road or estimated.
    reps
        Validated reps (homes, for which visits cross water no road joins).
    stops
        The stops with road hops (:meth:`Stops.of_units`); default: every ZIP unit, hops estimated.
    estimate
        The estimate for hops not measured on a road graph (the calibrated one when a graph is loaded).

    Returns
    -------
    The per-rep table (:data:`FIELD_COLUMNS` and ``across_water``) and each rep's :class:`FieldMonth`.
    """
    from territory_geo import drivetime as dt

    settings = settings or FieldSettings()
    estimate = estimate or dt.Estimate.default()
    stops = stops or Stops.of_units(units_obj)
    position = {z: i for i, z in enumerate(stops.ids.tolist())}
    zips = units_obj.account_zip.reindex(scored.index)  # type: ignore[attr-defined]
    visits = scored["tier"].map(settings.in_person_visits).astype(float).fillna(0.0)
    owner = zips.map(owner_of_zip)
    minutes = matrix.pivot(index="rep_id", columns="target_id", values="minutes")
    source = matrix.pivot(index="rep_id", columns="target_id", values="source")
    crossing = matrix.loc[dt.across_water(matrix, reps, units_obj).to_numpy(), ["rep_id", "target_id"]]
    across = set(map(tuple, crossing.astype(str).to_numpy().tolist()))
    months, accounts, visit_totals, sources, water = {}, {}, {}, {}, {}
    for rep in sorted(owner.dropna().astype(str).unique()):
        mine = (owner == rep).to_numpy()
        accounts[rep] = int(mine.sum())
        visited = mine & (visits.to_numpy() > 0)
        visit_totals[rep] = float(visits[visited].sum())
        rep_zips = zips[visited].astype(str)
        here = sorted(set(rep_zips))
        if rep not in minutes.index or not here:
            months[rep] = field_month(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                                      lambda a, b: np.zeros((len(a), len(b))), settings)
            sources[rep], water[rep] = dt.ESTIMATED, False
            continue
        index = {z: i for i, z in enumerate(here)}
        out = minutes.loc[rep].reindex(here).to_numpy(float)
        hops = stops.hop_function(np.array([position[z] for z in here]), estimate)
        months[rep] = field_month(rep_zips.map(index).to_numpy(np.int64), visits[visited].to_numpy(float),
                                  out, out, hops, settings)
        legs = source.loc[rep].reindex(here)
        sources[rep] = dt.GRAPH if (legs == dt.GRAPH).all() else dt.ESTIMATED
        water[rep] = any((rep, z) in across for z in here)
    table = field_frame(months, accounts, visit_totals, sources, settings)
    table["across_water"] = table["rep_id"].map(water).fillna(False).astype(bool)
    return table, months
