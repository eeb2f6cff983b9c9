"""Potential, explainable propensity score, A/B/C tiers, the tier x growth matrix, workload and coverage.

potential = current ARR + expansion potential x win probability (domain: "Potential quota attainment"). The win
probability comes from the account, else from its segment's won/lost history when there is enough of it, else a
documented default. Every derived number carries its source in a ``*_source`` column so the app can say where it came
from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory_geo.settings import FACTOR_LABELS, SCORE_FACTORS, ScoringSettings

SEGMENTS: tuple[str, ...] = ("Enterprise", "Mid-Market", "SMB")
GROWTH_LEVELS: tuple[str, ...] = ("High", "Medium", "Low")

#: Recommended rep type and strategy for each (value tier, growth) cell (domain tiering matrix).
REP_TYPE: dict[tuple[str, str], tuple[str, str]] = {
    ("Enterprise", "High"): ("Senior AE", "Deep relationships, expansion focus"),
    ("Enterprise", "Medium"): ("Mid-level AE", "Account health, upsell"),
    ("Enterprise", "Low"): ("Customer Success", "Retention and renewal"),
    ("Mid-Market", "High"): ("Growth AE", "Development and rapid scaling"),
    ("Mid-Market", "Medium"): ("Mid-level AE", "Relationship maintenance"),
    ("Mid-Market", "Low"): ("Customer Success", "Renewal focus"),
    ("SMB", "High"): ("SDR / Inside Sales", "Volume model, digital engagement"),
    ("SMB", "Medium"): ("Inside Sales", "Transactional renewals"),
    ("SMB", "Low"): ("Renewal automation", "Self-serve churn prevention"),
}

_WON = r"won|win|customer|closed.?won"
_LOST = r"lost|loss|closed.?lost|disqualified"


@dataclass
class ScoreResult:
    """Scored accounts and what the scoring had to assume.

    Attributes
    ----------
    accounts
        Input columns plus ``segment``, ``win_prob`` (+ ``win_source``), ``expansion`` (+ ``expansion_source``),
        ``potential`` (+ ``potential_source``), ``score``, ``score_<factor>``, ``tier``, ``value_tier``,
        ``growth``, ``rep_type``, ``workload_units``, ``touchpoints``, ``is_customer``.
    notes
        Plain-English notes (e.g. "potential used as-is from the file", "default win rate for 3,100 accounts").
    settings
        The settings used, so the run can be reproduced and explained.
    """

    accounts: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    settings: ScoringSettings = field(default_factory=ScoringSettings)


def _num(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=frame.index, dtype=float)


def _map(values: pd.Series, mapping: dict | pd.Series) -> pd.Series:
    """``values.map(mapping)``, looking each distinct value up once (performance: same result, and much faster on
    a large column of a few distinct strings)."""
    codes, _ = pd.factorize(values, use_na_sentinel=False)
    first = np.unique(codes, return_index=True)[1]
    return values.iloc[first].map(mapping).take(codes).set_axis(values.index)


def segment_of(annual_revenue: pd.Series, employees: pd.Series, settings: ScoringSettings) -> pd.Series:
    """Enterprise / Mid-Market / SMB by company revenue (employees when revenue is missing), else Unknown."""
    by_rev = np.select([annual_revenue > settings.enterprise_revenue, annual_revenue >= settings.midmarket_revenue,
                        annual_revenue.notna()], ["Enterprise", "Mid-Market", "SMB"], default="")
    by_emp = np.select([employees >= settings.enterprise_employees, employees >= settings.midmarket_employees,
                        employees.notna()], ["Enterprise", "Mid-Market", "SMB"], default="Unknown")
    return pd.Series(np.where(by_rev != "", by_rev, by_emp), index=annual_revenue.index)


def _win_probability(df: pd.DataFrame, segment: pd.Series, settings: ScoringSettings,
                     notes: list[str]) -> tuple[pd.Series, pd.Series]:
    own = _num(df, "win_rate")
    prob = own.copy()
    source = pd.Series(np.where(own.notna(), "account", ""), index=df.index, dtype=object)
    if "outcome" in df.columns:
        outcome = df["outcome"].astype("string").str.lower()
        won = outcome.str.contains(_WON, regex=True, na=False) & ~outcome.str.contains(_LOST, na=False)
        lost = outcome.str.contains(_LOST, regex=True, na=False)
        hist = pd.DataFrame({"segment": segment, "won": won, "decided": won | lost}).groupby("segment").sum()
        enough = hist[hist["decided"] >= settings.min_history]
        rates = (enough["won"] / enough["decided"]).to_dict()
        seg_rate = _map(segment, rates)
        use = prob.isna() & seg_rate.notna()
        prob = prob.where(~use, seg_rate)
        source = source.where(~use, "segment history")
        for seg, rate in sorted(rates.items()):
            notes.append(f"{seg}: historical win rate {rate:.0%} from {int(enough.loc[seg, 'decided'])} "
                         "won/lost outcomes in the file.")
    default = prob.isna()
    if default.any():
        notes.append(f"{int(default.sum()):,} account(s) have no win rate and no segment history; the default "
                     f"{settings.default_win_rate:.0%} is used (a setting).")
    prob = prob.fillna(settings.default_win_rate)
    source = source.where(~default, "default")
    return prob.clip(0, 1), source


def _expansion(df: pd.DataFrame, arr: pd.Series, segment: pd.Series,
               notes: list[str]) -> tuple[pd.Series, pd.Series]:
    given = _num(df, "expansion_potential")
    customers = arr > 0
    seg_acv = arr[customers].groupby(segment[customers]).mean()
    overall = float(arr[customers].mean()) if customers.any() else 0.0
    estimate = _map(segment, seg_acv).fillna(overall).fillna(0.0)
    prospect_gap = given.isna() & ~customers
    expansion = given.where(~prospect_gap, estimate).fillna(0.0)
    source = np.select([given.notna(), prospect_gap], ["file", "segment average deal size (estimated)"], "none given")
    if prospect_gap.any():
        notes.append(f"{int(prospect_gap.sum()):,} prospect(s) have no expansion figure; their first-year deal size "
                     "is estimated as their segment's average customer ARR.")
    return expansion, pd.Series(source, index=df.index)


def _pct_rank(values: pd.Series) -> pd.Series:
    """Percentile rank 0-100 (NaN stays NaN)."""
    return values.rank(pct=True, method="average") * 100.0


def _factors(df: pd.DataFrame, arr: pd.Series, expansion: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    size = np.log1p(_num(df, "annual_revenue")).fillna(np.log1p(_num(df, "employees")) * 3.0)
    size_pct = _pct_rank(size)
    customers = arr > 0
    if "industry" in df.columns and df["industry"].notna().any():
        industry = df["industry"].astype("string").fillna("(none)")
        penetration = customers.groupby(industry).mean()
        ind_fit = _map(industry, penetration / max(float(penetration.max()), 1e-9) * 100.0).astype(float)
    else:
        ind_fit = pd.Series(np.nan, index=df.index)
    fit = pd.concat([size_pct, ind_fit], axis=1).mean(axis=1).fillna(50.0)

    ratio = expansion / (arr + expansion).replace(0, np.nan)
    growth = (0.5 * _pct_rank(np.log1p(expansion)) + 0.5 * ratio.fillna(0) * 100.0).fillna(0.0)

    intent = _num(df, "intent_score").fillna(50.0)

    if "last_contact_date" in df.columns:
        days = (as_of - pd.to_datetime(df["last_contact_date"], errors="coerce")).dt.days
        recency = (1 - days.clip(lower=0) / 365.0).clip(0, 1).fillna(0.0)
    else:
        recency = pd.Series(0.0, index=df.index)
    retention = (1 - _num(df, "churn_risk").fillna(0.5)).where(customers, 0.0)
    relationship = 100.0 * (0.4 * customers + 0.4 * recency + 0.2 * retention)

    strategic = df["strategic"].fillna(False).astype(bool) if "strategic" in df.columns else False
    strategic_score = pd.Series(np.where(strategic, 100.0, 0.0), index=df.index)
    return pd.DataFrame({"fit": fit, "growth": growth.clip(0, 100), "intent": intent,
                         "relationship": relationship, "strategic": strategic_score})


def tiers_by_potential(potential: pd.Series, ids: pd.Series, shares: tuple[float, float]) -> pd.Series:
    """A/B/C by potential rank: the top ``shares[0]`` are A, the next ``shares[1]`` B, the rest C.

    Ties are broken by id so the split is deterministic.
    """
    n = len(potential)
    order = pd.DataFrame({"p": potential.to_numpy(), "id": ids.astype(str).to_numpy()}).sort_values(
        ["p", "id"], ascending=[False, True], kind="stable").index
    rank = np.empty(n, dtype=np.int64)
    rank[order.to_numpy()] = np.arange(1, n + 1)
    n_a = math.ceil(shares[0] * n - 1e-9)
    n_b = math.ceil((shares[0] + shares[1]) * n - 1e-9)
    return pd.Series(np.select([rank <= n_a, rank <= n_b], ["A", "B"], "C"), index=potential.index)


def as_of_date(accounts: pd.DataFrame) -> pd.Timestamp:
    """The data's as-of date: the most recent contact in the export, else today (UTC, date only)."""
    if "last_contact_date" in accounts.columns:
        latest = pd.to_datetime(accounts["last_contact_date"], errors="coerce").max()
        if pd.notna(latest):
            return pd.Timestamp(latest).normalize()
    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()


def score_accounts(accounts: pd.DataFrame, settings: ScoringSettings | None = None,
                   as_of: pd.Timestamp | None = None) -> ScoreResult:
    """Value, score and tier every account.

    Parameters
    ----------
    accounts
        Validated accounts (:func:`territory_geo.validate.validate_accounts`).
    settings
        Weights, tier shares, workload units, bands.
    as_of
        Date that "last contacted N days ago" is measured from; defaults to :func:`as_of_date`.
    """
    settings = settings or ScoringSettings()
    weights = settings.normalised_weights()
    df = accounts.copy()
    notes: list[str] = []
    as_of = as_of if as_of is not None else as_of_date(df)
    arr = _num(df, "arr").fillna(0.0)
    df["arr"] = arr
    df["is_customer"] = arr > 0
    df["segment"] = segment_of(_num(df, "annual_revenue"), _num(df, "employees"), settings)
    df["win_prob"], df["win_source"] = _win_probability(df, df["segment"], settings, notes)
    df["expansion"], df["expansion_source"] = _expansion(df, arr, df["segment"], notes)
    computed = arr + df["expansion"] * df["win_prob"]
    given = _num(df, "potential")
    if given.notna().any():
        df["potential"] = given.fillna(computed)
        df["potential_source"] = np.where(given.notna(), "file (used as-is)", "computed")
        notes.insert(0, f"Potential is taken as-is from the file's 'potential' column for {int(given.notna().sum()):,}"
                        " account(s); the rest are computed as ARR + expansion × win probability.")
    else:
        df["potential"] = computed
        df["potential_source"] = "computed"

    factors = _factors(df, arr, df["expansion"], as_of)
    for name in SCORE_FACTORS:
        df[f"score_{name}"] = factors[name].round(1)
    df["score"] = sum(factors[f] * weights[f] for f in SCORE_FACTORS).round(1)

    ids = df["account_id"] if "account_id" in df.columns else pd.Series(df.index.astype(str), index=df.index)
    df["tier"] = tiers_by_potential(df["potential"], ids, settings.tier_shares)
    value = df["potential"]
    df["value_tier"] = np.select([value > settings.matrix_enterprise_value, value >= settings.matrix_midmarket_value],
                                 ["Enterprise", "Mid-Market"], "SMB")
    g = df["score_growth"]
    df["growth"] = np.select([g >= settings.growth_high, g >= settings.growth_medium], ["High", "Medium"], "Low")
    # Performance: one vectorised pass per matrix cell instead of a Python loop over the rows (same values).
    rep_type = np.empty(len(df), dtype=object)
    for (tier, growth), (rep, _strategy) in REP_TYPE.items():
        rep_type[(df["value_tier"] == tier).to_numpy() & (df["growth"] == growth).to_numpy()] = rep
    df["rep_type"] = rep_type.tolist()
    units = _map(df["tier"], settings.workload_units).astype(float)
    df["workload_units"] = units + np.where(df["is_customer"], settings.renewal_burden_units, 0.0)
    df["touchpoints"] = _map(df["tier"], settings.touchpoints).astype(int)
    return ScoreResult(accounts=df, notes=notes, settings=settings)


def explain(account: pd.Series, settings: ScoringSettings | None = None) -> pd.DataFrame:
    """Factor-by-factor breakdown of one scored account's score.

    Returns a frame with ``factor``, ``label``, ``value`` (0-100), ``weight``, ``points`` (value x weight, summing to
    the score) and ``why`` (a plain-English reason built from the account's own fields).
    """
    settings = settings or ScoringSettings()
    weights = settings.normalised_weights()
    why = {
        "fit": _why_fit(account),
        "growth": (f"Expansion potential ${account.get('expansion', 0):,.0f} "
                   f"({account.get('expansion_source', 'file')}) on ARR ${account.get('arr', 0):,.0f}."),
        "intent": (f"Intent score {account['intent_score']:.0f}/100." if pd.notna(account.get("intent_score"))
                   else "No intent data; neutral 50 assumed."),
        "relationship": _why_relationship(account),
        "strategic": "Flagged strategic." if bool(account.get("strategic", False)) else "Not flagged strategic.",
    }
    rows = []
    for f in SCORE_FACTORS:
        value = float(account.get(f"score_{f}", 0.0))
        rows.append({"factor": f, "label": FACTOR_LABELS[f], "value": value, "weight": weights[f],
                     "points": round(value * weights[f], 1), "why": why[f]})
    return pd.DataFrame(rows)


def _why_fit(account: pd.Series) -> str:
    parts = []
    if pd.notna(account.get("annual_revenue")):
        parts.append(f"company revenue ${account['annual_revenue']:,.0f}")
    if pd.notna(account.get("employees")):
        parts.append(f"{account['employees']:,.0f} employees")
    if isinstance(account.get("industry"), str):
        parts.append(f"industry {account['industry']}")
    segment = account.get("segment", "Unknown")
    return f"{segment} segment" + (f" ({', '.join(parts)})." if parts else "; no firmographics given.")


def _why_relationship(account: pd.Series) -> str:
    status = "Existing customer" if bool(account.get("is_customer", False)) else "Prospect"
    contact = account.get("last_contact_date")
    when = f"last contacted {pd.Timestamp(contact).date()}" if pd.notna(contact) else "no contact on record"
    risk = account.get("churn_risk")
    risk_text = f", churn risk {risk:.0%}" if pd.notna(risk) and bool(account.get("is_customer", False)) else ""
    return f"{status}; {when}{risk_text}."


def segmentation_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Market segmentation in the plan format: segment, account count, customers, total potential, average ACV."""
    g = scored.groupby("segment", sort=False)
    out = pd.DataFrame({
        "accounts": g.size(),
        "customers": g["is_customer"].sum(),
        "total_potential": g["potential"].sum(),
        "avg_acv": scored[scored["is_customer"]].groupby("segment")["arr"].mean(),
    }).fillna({"avg_acv": 0.0})
    order = [s for s in (*SEGMENTS, "Unknown") if s in out.index]
    out = out.loc[order].reset_index().rename(columns={"index": "segment"})
    out["customers"] = out["customers"].astype(int)
    return out


def tier_growth_matrix(scored: pd.DataFrame) -> pd.DataFrame:
    """The value-tier x growth matrix: accounts, potential, recommended rep type and strategy per cell."""
    counts = scored.groupby(["value_tier", "growth"]).agg(accounts=("potential", "size"),
                                                          potential=("potential", "sum"))
    rows = []
    for (tier, growth), (rep, strategy) in REP_TYPE.items():
        cell = counts.loc[(tier, growth)] if (tier, growth) in counts.index else None
        rows.append({"value_tier": tier, "growth": growth,
                     "accounts": int(cell["accounts"]) if cell is not None else 0,
                     "potential": float(cell["potential"]) if cell is not None else 0.0,
                     "rep_type": rep, "strategy": strategy})
    return pd.DataFrame(rows)


def coverage_scores(scored: pd.DataFrame, settings: ScoringSettings | None = None,
                    as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Coverage Score per owner: share of their A/B accounts contacted in the last ``coverage_days`` days.

    Accounts without an owner are grouped under ``(unassigned)``.
    """
    settings = settings or ScoringSettings()
    as_of = as_of if as_of is not None else as_of_date(scored)
    ab = scored[scored["tier"].isin(["A", "B"])]
    owner = ab["owner_rep_id"].astype("string").fillna("(unassigned)") if "owner_rep_id" in ab.columns else \
        pd.Series("(unassigned)", index=ab.index)
    if "last_contact_date" in ab.columns:
        days = (as_of - pd.to_datetime(ab["last_contact_date"], errors="coerce")).dt.days
        recent = days.le(settings.coverage_days).fillna(False)
    else:
        recent = pd.Series(False, index=ab.index)
    out = pd.DataFrame({"owner_rep_id": owner, "recent": recent}).groupby("owner_rep_id").agg(
        ab_accounts=("recent", "size"), contacted=("recent", "sum"))
    out["coverage_score"] = out["contacted"] / out["ab_accounts"]
    return out.reset_index().sort_values("coverage_score", kind="stable").reset_index(drop=True)


def filter_accounts(scored: pd.DataFrame, tiers: list[str] | None = None, industries: list[str] | None = None,
                    owners: list[str] | None = None, status: str = "all") -> pd.DataFrame:
    """Accounts matching the map filters; an empty or None list means "any".

    ``owners`` holds rep ids, and ``"(unassigned)"`` for accounts without an owner. ``status`` is ``all``,
    ``customers`` or ``prospects``.
    """
    mask = pd.Series(True, index=scored.index)
    if tiers:
        mask &= scored["tier"].isin(tiers)
    if industries and "industry" in scored.columns:
        mask &= scored["industry"].isin(industries)
    if owners:
        owner = scored["owner_rep_id"].astype("string").fillna("(unassigned)") if "owner_rep_id" in scored.columns \
            else pd.Series("(unassigned)", index=scored.index)
        mask &= owner.isin(owners)
    if status == "customers":
        mask &= scored["is_customer"]
    elif status == "prospects":
        mask &= ~scored["is_customer"]
    elif status != "all":
        msg = f"`status` was {status!r} but is expected to be one of ['all', 'customers', 'prospects']."
        raise ValueError(msg)
    return scored[mask]
