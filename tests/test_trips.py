"""territory_geo.trips: visits grouped into day and overnight trips, tours against hand-computed and exact ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from territory_geo import trips
from territory_geo.settings import FieldSettings


def _line(positions: list[float], speed_km_per_min: float = 1.0):
    """Stops on a straight road east of home at ``positions`` km, driven at ``speed`` km a minute: one-way
    minutes from home, and a hop function (|a - b| minutes)."""
    x = np.asarray(positions, dtype=float)
    minutes = x / speed_km_per_min

    def hops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.abs(x[a][:, None] - x[b][None, :]) / speed_km_per_min

    return minutes, hops


def test_a_day_trip_is_the_tour_home_to_home() -> None:
    """Two stops 30 and 40 minutes out on one road: one day trip, out to the far one and back via the near one:
    40 + 10 + 30 = 80 minutes."""
    out, hops = _line([30.0, 40.0])
    plan = trips.plan_round(np.array([1.0, 1.0]), out, out, hops)
    assert len(plan) == 1
    assert plan[0].drive_minutes == pytest.approx(80.0)
    assert plan[0].meetings == 2 and plan[0].days == 1 and plan[0].nights == 0
    assert set(plan[0].stops) == {0, 1}


def test_stops_farther_apart_than_the_hop_limit_are_separate_trips() -> None:
    out, hops = _line([10.0, 120.0])  # 110 minutes apart: more than 90 between meetings
    plan = trips.plan_round(np.array([1.0, 1.0]), out, out, hops)
    assert sorted(t.drive_minutes for t in plan) == pytest.approx([20.0, 240.0])


def test_the_working_day_bounds_a_trip() -> None:
    """Five stops two hours out: 4 h of driving leaves room for 4 one-hour meetings in an 8-hour day."""
    out, hops = _line([120.0, 120.0, 120.0, 120.0, 120.0])
    plan = trips.plan_round(np.ones(5), out, out, hops)
    assert sorted(t.meetings for t in plan) == [1.0, 4.0]
    for trip in plan:
        assert trip.drive_minutes / 60 + trip.meetings * 1.0 <= 8.0 + 1e-9


def test_a_stop_with_more_meetings_than_a_day_holds_is_met_over_several_days() -> None:
    out, hops = _line([15.0])
    plan = trips.plan_round(np.array([12.0]), out, out, hops, FieldSettings(max_meetings_per_day=5))
    assert sorted(t.meetings for t in plan) == [2.0, 5.0, 5.0]
    assert all(t.drive_minutes == pytest.approx(30.0) for t in plan)


def test_far_stops_are_overnight_trips_with_nights_counted() -> None:
    """Three stops 3.5 hours out, 20 minutes apart: one trip out and back (7 h 40 min of driving), two working
    days, one night away."""
    out, hops = _line([210.0, 230.0, 250.0])
    plan = trips.plan_round(np.ones(3), out, out, hops)
    assert len(plan) == 1
    trip = plan[0]
    assert trip.drive_minutes == pytest.approx(210 + 20 + 20 + 250)
    assert trip.days == 2 and trip.nights == 1


def _random_case(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xy = rng.uniform(-40, 40, size=(n, 2))
    out = np.hypot(*xy.T)
    hops = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return out, out, hops


def test_exact_tour_is_the_shortest_of_all_orders() -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 6):
        out, back, hops = _random_case(rng, n)
        order, minutes = trips.exact_tour(out, back, hops)
        brute = min(trips.tour_minutes(p, out, back, hops) for p in itertools.permutations(range(n)))
        assert minutes == pytest.approx(brute)
        assert sorted(order) == list(range(n))


def test_nearest_neighbour_with_2_opt_is_close_to_exact_on_small_cases() -> None:
    rng = np.random.default_rng(1)
    gaps = []
    for _ in range(60):
        out, back, hops = _random_case(rng, int(rng.integers(3, 8)))
        _, exact = trips.exact_tour(out, back, hops)
        order, heuristic = trips.heuristic_tour(out, back, hops)
        assert heuristic >= exact - 1e-9  # never better than the optimum
        assert heuristic == pytest.approx(trips.tour_minutes(order, out, back, hops))
        gaps.append(heuristic / exact - 1)
    assert max(gaps) < 0.10 and float(np.mean(gaps)) < 0.02


def test_round_meetings_follow_the_tier_cadence() -> None:
    """An A account (4 visits) and a B account (3) at stop 0, a second A at stop 1: rounds 1-3 meet all three,
    round 4 the two A accounts."""
    meetings = trips.round_meetings(np.array([0, 0, 1]), np.array([4.0, 3.0, 4.0]), 2)
    assert [m.tolist() for m in meetings] == [[2, 1], [2, 1], [2, 1], [1, 1]]
    half = trips.round_meetings(np.array([0]), np.array([1.5]), 1)
    assert [m.tolist() for m in half] == [[1.0], [0.5]]


def test_field_month_totals_a_year_of_rounds_divided_by_twelve() -> None:
    """Two A accounts 30 and 40 minutes out on one road: four rounds of one 80-minute day trip a year."""
    out, hops = _line([30.0, 40.0])
    month = trips.field_month(np.array([0, 1]), np.array([4.0, 4.0]), out, out, hops)
    assert month.drive_hours == pytest.approx(4 * 80 / 60 / 12)
    assert month.meetings == pytest.approx(8 / 12) and month.field_days == pytest.approx(4 / 12)
    assert month.nights_away == 0 and month.fits
    assert month.sparse_days == pytest.approx(4 / 12)  # 2 meetings a day: fewer than the routing target of 3
    assert month.travel_share == pytest.approx(month.drive_hours / FieldSettings().working_hours_month)


def test_a_month_that_cannot_fit_is_flagged() -> None:
    out, hops = _line([100.0] * 300)  # 300 A accounts 100 minutes out: 100 meetings a month, 4 a day at most
    month = trips.field_month(np.arange(300), np.full(300, 4.0), out, out, hops)
    assert not month.fits and month.field_days > 173.3 / 8
    table = trips.field_frame({"R07": month}, {"R07": 60}, {"R07": 240.0}, {"R07": "estimated"})
    assert table.loc[0, "note"].startswith("R07 needs ")
    assert "field days a month" in table.loc[0, "note"]
    assert bool(table.loc[0, "red_flag"]) and not bool(table.loc[0, "fits_month"])
    assert list(table.columns) == list(trips.FIELD_COLUMNS)


def test_visit_drive_hours_is_the_trip_model_shared_per_meeting() -> None:
    """Nearby, a visit costs its share of a full day's drive plus a hop; farther out a day holds fewer meetings;
    overnight trips spread the long drive over several days."""
    s = FieldSettings()
    near, mid, far = trips.visit_drive_hours(np.array([0.0, 120.0, 200.0]), np.array([15.0, 15.0, 15.0]), s)
    assert near == pytest.approx(0.25)  # no drive out: the hop
    # 2 h out: (8 - 4 + 0.25) / 1.25 -> 3 meetings; 4 h / 3 + 0.25
    assert mid == pytest.approx(4 / 3 + 0.25)
    # 3 h 20 min out is overnight: 4 days hold floor((32 - 6.67 + 0.25) / 1.25) = 20 meetings for one drive
    assert far == pytest.approx(2 * 200 / 60 / 20 + 0.25)
    assert trips.visit_drive_hours(np.array([150.0]), np.array([15.0]), s)[0] == pytest.approx(5 / 2 + 0.25)


def test_a_plans_field_months_follow_the_trip_model_per_rep() -> None:
    """Two Providence reps: each account is visited by its ZIP's owner with its tier's visits (A 4, B 3, C 0), and
    each rep's month equals :func:`field_month` on the same stops, legs and hops."""
    import pandas as pd

    from territory_geo import drivetime as dt
    from territory_geo.dataset import ingest
    from territory_geo.units import build_units

    accounts = ("Account ID,Account Name,Billing Zip/Postal Code,ARR\n"
                "A1,One,02903,90000\nA2,Two,02904,80000\nA3,Three,02905,100\nA4,Four,02906,70000\n"
                "A5,Five,02908,60000\nA6,Six,02909,50\n").encode()
    reps = b"Rep ID,Name,Home ZIP\nR1,Ana,02903\nR2,Ben,02909\n"
    data = ingest(accounts, reps)
    scored = data.scored.accounts.assign(tier=["A", "B", "C", "A", "B", "C"])
    built = build_units(scored)
    matrix, _ = dt.rep_matrix(data.reps.data, dt.zip_targets(built.table))
    owners = pd.Series("R1", index=built.table.index).where(~built.table.index.isin(["02908", "02909", "02906"]),
                                                             "R2")
    table, months = trips.plan_field(scored, built, owners, matrix, data.reps.data)
    rows = table.set_index("rep_id")
    assert rows.loc["R1", "visits_year"] == 4 + 3 and rows.loc["R2", "visits_year"] == 4 + 3
    assert rows.loc["R1", "accounts"] == 3 and rows["source"].eq("estimated").all()

    stops = trips.Stops.of_units(built)
    position = {z: i for i, z in enumerate(stops.ids.tolist())}
    here = ["02903", "02904"]  # R1's visited ZIPs (A1 is A, A2 is B; A3 is C: virtual)
    out = matrix[matrix["rep_id"] == "R1"].set_index("target_id")["minutes"].reindex(here).to_numpy()
    expected = trips.field_month(np.array([0, 1]), np.array([4.0, 3.0]), out, out,
                                 stops.hop_function(np.array([position[z] for z in here]), dt.Estimate.default()))
    assert months["R1"].drive_hours == pytest.approx(expected.drive_hours)
    assert rows.loc["R1", "drive_hours_month"] == pytest.approx(expected.drive_hours, abs=0.005)
    assert rows.loc["R1", "field_days_month"] == pytest.approx(4 / 12, abs=0.005)  # 4 rounds, one day trip each
    assert not rows["red_flag"].any() and rows["fits_month"].all() and not rows["across_water"].any()
