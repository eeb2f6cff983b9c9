"""territory_geo.scoring: potential, win probability, tiers, the explainable score, workload, coverage, tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from territory_geo import scoring
from territory_geo.settings import SCORE_FACTORS, ScoringSettings

# explain() rounds each factor to 0.1 and each factor's points to 0.1; the score is rounded once.
EXPLAIN_TOLERANCE = 0.35


def _frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"account_id": [f"A{i:03d}" for i in range(1, n + 1)]}
    base.update(columns)
    return pd.DataFrame(base)


# --- potential and win probability -----------------------------------------------------------------------------


def test_potential_is_arr_plus_expansion_times_win_probability():
    accounts = _frame(arr=[10_000.0, 0.0, 5_000.0], expansion_potential=[20_000.0, 50_000.0, 10_000.0],
                      win_rate=[0.5, 0.3, np.nan], annual_revenue=[2e7, 5e5, 5e6])
    out = scoring.score_accounts(accounts).accounts
    assert out["win_prob"].tolist() == [0.5, 0.3, 0.2]
    assert out["win_source"].tolist() == ["account", "account", "default"]
    assert out["expansion"].tolist() == [20_000.0, 50_000.0, 10_000.0]
    assert out["expansion_source"].tolist() == ["file"] * 3
    assert out["potential"].tolist() == pytest.approx([20_000.0, 15_000.0, 7_000.0])
    assert out["potential_source"].tolist() == ["computed"] * 3
    assert out["is_customer"].tolist() == [True, False, True]


def test_default_win_rate_is_a_setting_and_noted():
    accounts = _frame(arr=[0.0, 0.0], expansion_potential=[1000.0, 2000.0])
    result = scoring.score_accounts(accounts, replace(ScoringSettings(), default_win_rate=0.1))
    assert result.accounts["win_prob"].tolist() == [0.1, 0.1]
    assert result.accounts["potential"].tolist() == pytest.approx([100.0, 200.0])
    assert "2 account(s) have no win rate and no segment history; the default 10% is used (a setting)." in \
        result.notes


def test_precomputed_potential_is_used_as_is_with_a_note():
    accounts = _frame(arr=[1000.0, 1000.0], expansion_potential=[1000.0, 1000.0], win_rate=[0.5, 0.5],
                      potential=[99_999.0, np.nan])
    result = scoring.score_accounts(accounts)
    assert result.accounts["potential"].tolist() == [99_999.0, 1500.0]
    assert result.accounts["potential_source"].tolist() == ["file (used as-is)", "computed"]
    assert result.notes[0].startswith("Potential is taken as-is from the file's 'potential' column for 1 account(s)")


def _history_frame(won: int, lost: int, open_: int) -> pd.DataFrame:
    outcomes = ["Closed Won"] * won + ["Closed Lost"] * lost + [""] * open_
    n = len(outcomes)
    return _frame(arr=[0.0] * n, expansion_potential=[1000.0] * n, employees=[10.0] * n, outcome=outcomes,
                  win_rate=[np.nan] * (n - 1) + [0.9])


def test_win_probability_from_segment_history_when_there_is_enough():
    accounts = _history_frame(won=4, lost=6, open_=3)
    result = scoring.score_accounts(accounts, replace(ScoringSettings(), min_history=10))
    out = result.accounts
    assert set(out["segment"]) == {"SMB"}
    assert out["win_prob"].iloc[:-1].tolist() == pytest.approx([0.4] * 12)
    assert out["win_source"].iloc[:-1].unique().tolist() == ["segment history"]
    # an account's own win rate wins over its segment's history
    assert out["win_prob"].iloc[-1] == 0.9 and out["win_source"].iloc[-1] == "account"
    assert "SMB: historical win rate 40% from 10 won/lost outcomes in the file." in result.notes


def test_segment_history_below_min_history_falls_back_to_default():
    accounts = _history_frame(won=4, lost=5, open_=3)
    out = scoring.score_accounts(accounts, replace(ScoringSettings(), min_history=10)).accounts
    assert out["win_source"].iloc[:-1].unique().tolist() == ["default"]
    assert out["win_prob"].iloc[:-1].unique().tolist() == [0.2]


def test_prospect_without_expansion_gets_segment_average_deal_size():
    accounts = _frame(arr=[10_000.0, 30_000.0, 0.0], expansion_potential=[np.nan, np.nan, np.nan],
                      employees=[10.0, 20.0, 30.0], win_rate=[np.nan, np.nan, 0.5])
    result = scoring.score_accounts(accounts)
    out = result.accounts
    assert out["expansion"].tolist() == [0.0, 0.0, 20_000.0]
    assert out["expansion_source"].tolist() == ["none given", "none given", "segment average deal size (estimated)"]
    assert out["potential"].tolist() == pytest.approx([10_000.0, 30_000.0, 10_000.0])
    assert any("1 prospect(s) have no expansion figure" in n for n in result.notes)


def test_segment_of_uses_revenue_then_employees():
    settings = ScoringSettings()
    revenue = pd.Series([2e7, 1e7, 1e6, 5e5, np.nan, np.nan, np.nan, np.nan])
    employees = pd.Series([1.0, 1.0, 1.0, 9999.0, 500.0, 50.0, 49.0, np.nan])
    assert scoring.segment_of(revenue, employees, settings).tolist() == [
        "Enterprise", "Mid-Market", "Mid-Market", "SMB", "Enterprise", "Mid-Market", "SMB", "Unknown"]


# --- tiers -----------------------------------------------------------------------------------------------------


def test_tiers_split_15_35_50_by_potential():
    rng = np.random.default_rng(7)
    potential = pd.Series(rng.permutation(np.arange(100, dtype=float)) * 1000)
    ids = pd.Series([f"A{i:03d}" for i in range(100)])
    tiers = scoring.tiers_by_potential(potential, ids, (0.15, 0.35))
    assert tiers.value_counts().to_dict() == {"C": 50, "B": 35, "A": 15}
    assert potential[tiers == "A"].min() > potential[tiers == "B"].max()
    assert potential[tiers == "B"].min() > potential[tiers == "C"].max()
    assert tiers.index.equals(potential.index)


def test_tier_counts_round_up_for_small_portfolios():
    potential = pd.Series([float(v) for v in range(20)])
    tiers = scoring.tiers_by_potential(potential, potential.astype(str), (0.15, 0.35))
    assert tiers.value_counts().to_dict() == {"C": 10, "B": 7, "A": 3}
    assert tiers.iloc[17:].tolist() == ["A", "A", "A"]


def test_tier_ties_are_broken_by_id_whatever_the_row_order():
    ids = [f"A{i:02d}" for i in range(20)]
    frame = pd.DataFrame({"id": ids, "p": 500.0})
    expected = dict(zip(ids, scoring.tiers_by_potential(frame["p"], frame["id"], (0.15, 0.35)), strict=True))
    assert [expected[i] for i in ids] == ["A"] * 3 + ["B"] * 7 + ["C"] * 10
    shuffled = frame.sample(frac=1.0, random_state=3)
    again = scoring.tiers_by_potential(shuffled["p"], shuffled["id"], (0.15, 0.35))
    assert dict(zip(shuffled["id"], again, strict=True)) == expected


def test_score_accounts_tiers_follow_potential():
    accounts = _frame(arr=[float(i * 1000) for i in range(1, 21)], expansion_potential=[0.0] * 20)
    out = scoring.score_accounts(accounts).accounts
    assert out["tier"].tolist() == ["C"] * 10 + ["B"] * 7 + ["A"] * 3
    assert out["touchpoints"].tolist() == [4] * 10 + [6] * 7 + [12] * 3


# --- score and explain -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rich_scored() -> scoring.ScoreResult:
    accounts = _frame(
        arr=[10_000.0, 0.0, 5_000.0, 0.0, 250_000.0, 0.0],
        expansion_potential=[20_000.0, 50_000.0, 10_000.0, 0.0, 400_000.0, 700_000.0],
        win_rate=[0.5, np.nan, np.nan, np.nan, 0.6, 0.9],
        annual_revenue=[2e7, 5e5, np.nan, np.nan, 5e7, 3e6],
        employees=[np.nan, np.nan, 30.0, np.nan, 800.0, 40.0],
        industry=["Tech", "Tech", "Retail", None, "Tech", "Retail"],
        last_contact_date=pd.to_datetime(["2026-09-01", "2026-01-01", None, None, "2026-08-15", "2026-09-10"]),
        churn_risk=[0.15, np.nan, np.nan, np.nan, 0.5, np.nan],
        strategic=[True, False, False, False, True, False],
        intent_score=[80.0, np.nan, np.nan, np.nan, 40.0, 95.0],
        owner_rep_id=pd.array(["R1", "R1", "R2", pd.NA, "R2", pd.NA], dtype="string"),
    )
    return scoring.score_accounts(accounts)


def test_score_is_the_weighted_sum_of_its_factors(rich_scored):
    out = rich_scored.accounts
    weights = ScoringSettings().normalised_weights()
    expected = sum(out[f"score_{f}"] * weights[f] for f in SCORE_FACTORS)
    assert np.allclose(out["score"], expected, atol=0.06)
    for f in SCORE_FACTORS:
        assert out[f"score_{f}"].between(0, 100).all()
    assert out["score"].between(0, 100).all()
    # spot values that follow from the inputs
    assert out["score_strategic"].tolist() == [100.0, 0.0, 0.0, 0.0, 100.0, 0.0]
    assert out.loc[0, "score_intent"] == 80.0
    assert out.loc[1, "score_intent"] == 50.0  # no intent data: neutral
    assert out.loc[3, "score_relationship"] == 0.0  # prospect, never contacted


def test_only_the_strategic_weight_makes_the_score_the_strategic_flag():
    accounts = _frame(arr=[1.0, 1.0], strategic=[True, False])
    settings = ScoringSettings(weights={"strategic": 2.0})
    assert scoring.score_accounts(accounts, settings).accounts["score"].tolist() == [100.0, 0.0]


def test_explain_points_sum_to_the_score(rich_scored):
    for _, account in rich_scored.accounts.iterrows():
        table = scoring.explain(account)
        assert table["factor"].tolist() == list(SCORE_FACTORS)
        assert table["weight"].sum() == pytest.approx(1.0)
        assert table["points"].sum() == pytest.approx(account["score"], abs=EXPLAIN_TOLERANCE)
        assert table["value"].tolist() == [account[f"score_{f}"] for f in SCORE_FACTORS]


def test_explain_says_why_from_the_accounts_fields(rich_scored):
    why = scoring.explain(rich_scored.accounts.iloc[0]).set_index("factor")["why"]
    assert why["fit"] == "Enterprise segment (company revenue $20,000,000, industry Tech)."
    assert why["growth"] == "Expansion potential $20,000 (file) on ARR $10,000."
    assert why["intent"] == "Intent score 80/100."
    assert why["relationship"] == "Existing customer; last contacted 2026-09-01, churn risk 15%."
    assert why["strategic"] == "Flagged strategic."
    why_prospect = scoring.explain(rich_scored.accounts.iloc[3]).set_index("factor")["why"]
    assert why_prospect["intent"] == "No intent data; neutral 50 assumed."
    assert why_prospect["relationship"] == "Prospect; no contact on record."


def test_explain_on_the_demo_sums_to_the_score(demo_dataset):
    scored = demo_dataset.scored.accounts
    for _, account in scored.sample(200, random_state=1).iterrows():
        assert scoring.explain(account)["points"].sum() == pytest.approx(account["score"], abs=EXPLAIN_TOLERANCE)


def test_weights_must_have_a_positive_sum():
    with pytest.raises(ValueError, match="Scoring weights must have a positive sum"):
        ScoringSettings(weights={"fit": 0.0}).normalised_weights()


# --- workload, matrix, coverage, segmentation ---------------------------------------------------------------------


def test_workload_units_by_tier_plus_renewal_burden_for_customers():
    # 20 accounts: potential rank decides the tier; odd ones are customers (ARR > 0)
    arr = [float(i * 1000) if i % 2 else 0.0 for i in range(1, 21)]
    accounts = _frame(arr=arr, potential=[float(i) for i in range(1, 21)])
    out = scoring.score_accounts(accounts).accounts
    base = out["tier"].map({"A": 3.0, "B": 2.0, "C": 1.0})
    expected = base + np.where(out["arr"] > 0, 0.5, 0.0)
    assert out["workload_units"].tolist() == expected.tolist()
    assert out.loc[19, "tier"] == "A" and out.loc[19, "workload_units"] == 3.0  # prospect
    assert out.loc[18, "tier"] == "A" and out.loc[18, "workload_units"] == 3.5  # customer
    assert out.loc[0, "tier"] == "C" and out.loc[0, "workload_units"] == 1.5  # customer


def test_tier_growth_matrix_has_nine_cells_and_adds_up(rich_scored):
    scored = rich_scored.accounts
    matrix = scoring.tier_growth_matrix(scored)
    assert len(matrix) == 9
    assert set(zip(matrix["value_tier"], matrix["growth"], strict=True)) == set(scoring.REP_TYPE)
    assert matrix["accounts"].sum() == len(scored)
    assert matrix["potential"].sum() == pytest.approx(scored["potential"].sum())
    row = matrix[(matrix["value_tier"] == "Enterprise") & (matrix["growth"] == "High")].iloc[0]
    assert (row["rep_type"], row["strategy"]) == ("Senior AE", "Deep relationships, expansion focus")


def test_value_tier_and_growth_bands():
    accounts = _frame(potential=[600_000.0, 500_000.0, 100_000.0, 99_999.0], arr=[0.0] * 4)
    out = scoring.score_accounts(accounts).accounts
    assert out["value_tier"].tolist() == ["Enterprise", "Mid-Market", "Mid-Market", "SMB"]
    growth = out["score_growth"]
    expected = np.select([growth >= 60, growth >= 30], ["High", "Medium"], "Low")
    assert out["growth"].tolist() == expected.tolist()
    assert out["rep_type"].tolist() == [scoring.REP_TYPE[(v, g)][0] for v, g in
                                        zip(out["value_tier"], out["growth"], strict=True)]


def test_coverage_scores_per_owner():
    accounts = _frame(
        potential=[float(v) for v in range(20, 0, -1)],  # A001-A003 tier A, A004-A010 tier B
        arr=[0.0] * 20,
        owner_rep_id=pd.array(["R1"] * 4 + ["R2"] * 4 + [pd.NA] * 2 + ["R1"] * 10, dtype="string"),
        last_contact_date=pd.to_datetime(
            ["2026-09-30", "2026-07-15", "2026-01-01", None,  # R1 A/B: 2 of 4 within 90 days
             "2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04",  # R2: 4 of 4
             "2025-01-01", "2026-09-29"]  # unassigned: 1 of 2
            + ["2026-09-30"] * 10),  # tier C: not counted
    )
    scored = scoring.score_accounts(accounts).accounts
    assert scored["tier"].tolist() == ["A"] * 3 + ["B"] * 7 + ["C"] * 10
    cov = scoring.coverage_scores(scored, as_of=pd.Timestamp("2026-09-30")).set_index("owner_rep_id")
    assert cov.loc["R1", "ab_accounts"] == 4 and cov.loc["R1", "contacted"] == 2
    assert cov.loc["R1", "coverage_score"] == 0.5
    assert cov.loc["R2", "coverage_score"] == 1.0
    assert cov.loc["(unassigned)", "coverage_score"] == 0.5
    assert cov["coverage_score"].is_monotonic_increasing  # worst-covered first


def test_coverage_window_is_a_setting():
    accounts = _frame(potential=[2.0, 1.0], arr=[0.0, 0.0], owner_rep_id=["R1", "R1"],
                      last_contact_date=pd.to_datetime(["2026-09-30", "2026-06-01"]))
    scored = scoring.score_accounts(accounts, replace(ScoringSettings(), tier_shares=(0.5, 0.5))).accounts
    short = scoring.coverage_scores(scored, as_of=pd.Timestamp("2026-09-30"))
    long = scoring.coverage_scores(scored, replace(ScoringSettings(), coverage_days=200),
                                   as_of=pd.Timestamp("2026-09-30"))
    assert short["coverage_score"].tolist() == [0.5]
    assert long["coverage_score"].tolist() == [1.0]


def test_segmentation_table(rich_scored):
    table = scoring.segmentation_table(rich_scored.accounts)
    assert table["segment"].tolist() == ["Enterprise", "Mid-Market", "SMB", "Unknown"]
    assert table["accounts"].tolist() == [2, 1, 2, 1]
    assert table["customers"].tolist() == [2, 0, 1, 0]
    scored = rich_scored.accounts
    ent = scored[scored["segment"] == "Enterprise"]
    assert table.loc[0, "total_potential"] == pytest.approx(ent["potential"].sum())
    assert table.loc[0, "avg_acv"] == pytest.approx((10_000.0 + 250_000.0) / 2)
    assert table.loc[1, "avg_acv"] == 0.0  # no customers


def test_demo_tiers_and_potential(demo_dataset):
    scored = demo_dataset.scored.accounts
    assert scored["tier"].value_counts().to_dict() == {"C": 3000, "B": 2100, "A": 900}
    expected = scored["arr"] + scored["expansion"] * scored["win_prob"]
    assert np.allclose(scored["potential"], expected)
    assert set(scored["win_source"]) == {"account", "segment history"}


def test_as_of_date_is_the_latest_contact():
    frame = pd.DataFrame({"last_contact_date": pd.to_datetime(["2026-01-02 13:00", "2026-03-04 08:00", None])})
    assert scoring.as_of_date(frame) == pd.Timestamp("2026-03-04")
