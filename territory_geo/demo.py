"""The embedded demo: a synthetic CRM export for the US Southeast (GA, FL, AL, SC).

Everything here is synthetic and deterministic (fixed seed): about 6,000 accounts placed on real STANDARD ZIP codes,
concentrated in the region's metros, with lognormal ARR, an Enterprise / Mid-Market / SMB mix, industries,
prospects and customers, contact and renewal dates; 15 reps with home bases in real cities and a tenure mix; and a
current ownership drawn as a legacy geography-only design (state lines, then the nearest rep within the state), which
is visibly unbalanced. The files use Salesforce-style column names, so loading the demo exercises the same column
mapping and validation as a real upload.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from territory_geo import geocode
from territory_geo.settings import DEMO_SEED

STATES: tuple[str, ...] = ("AL", "FL", "GA", "SC")
AS_OF = pd.Timestamp("2026-09-30")

#: (name, lat, lon, weight): metros of the region; weight ~ business activity.
METROS: tuple[tuple[str, float, float, float], ...] = (
    ("Atlanta", 33.749, -84.388, 10.0), ("Miami", 25.762, -80.192, 6.0), ("Fort Lauderdale", 26.122, -80.137, 4.0),
    ("West Palm Beach", 26.715, -80.053, 2.5), ("Tampa", 27.951, -82.457, 6.0), ("Orlando", 28.538, -81.379, 5.5),
    ("Jacksonville", 30.332, -81.656, 4.0), ("Birmingham", 33.519, -86.810, 3.0), ("Charleston", 32.777, -79.931, 2.2),
    ("Columbia", 34.000, -81.035, 2.0), ("Greenville", 34.853, -82.394, 2.0), ("Savannah", 32.081, -81.091, 1.4),
    ("Huntsville", 34.730, -86.586, 1.8), ("Mobile", 30.695, -88.040, 1.2), ("Tallahassee", 30.438, -84.281, 1.1),
    ("Montgomery", 32.367, -86.300, 1.0), ("Augusta", 33.474, -82.010, 1.0), ("Fort Myers", 26.640, -81.872, 1.4),
    ("Pensacola", 30.421, -87.217, 0.9), ("Macon", 32.841, -83.632, 0.7), ("Sarasota", 27.336, -82.531, 1.2),
    ("Gainesville", 29.652, -82.325, 0.7),
)

#: (rep id, name, home ZIP, state, tenure years, role)
REPS: tuple[tuple[str, str, str, str, float, str], ...] = (
    ("R01", "Dana Whitfield", "30303", "GA", 9.0, "Senior AE"),
    ("R02", "Marcus Oyelaran", "30009", "GA", 4.5, "AE"),
    ("R03", "Priya Raman", "31401", "GA", 1.5, "AE"),
    ("R04", "Caleb Brooks", "31201", "GA", 0.5, "Associate AE"),
    ("R05", "Sofia Alvarez", "33131", "FL", 7.0, "Senior AE"),
    ("R06", "Trevor Nguyen", "33602", "FL", 3.0, "AE"),
    ("R07", "Imani Carter", "32801", "FL", 2.5, "AE"),
    ("R08", "Owen Gallagher", "32202", "FL", 6.0, "Senior AE"),
    ("R09", "Hannah Steinberg", "32301", "FL", 0.8, "Associate AE"),
    ("R10", "Luis Ortega", "33901", "FL", 1.2, "AE"),
    ("R11", "Grace Okafor", "35203", "AL", 5.0, "Senior AE"),
    ("R12", "Wyatt Lindqvist", "35801", "AL", 2.0, "AE"),
    ("R13", "Ava Delacroix", "36602", "AL", 0.6, "Associate AE"),
    ("R14", "Jamal Pritchett", "29201", "SC", 3.5, "AE"),
    ("R15", "Emily Harrington", "29401", "SC", 8.0, "Senior AE"),
)

#: Sales regions of the demo's reps, by home state.
REGIONS: dict[str, str] = {"GA": "Atlantic", "SC": "Atlantic", "FL": "Florida", "AL": "Gulf"}

INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("Healthcare", 0.16), ("Manufacturing", 0.14), ("Professional Services", 0.14), ("Retail", 0.11),
    ("Technology", 0.10), ("Financial Services", 0.09), ("Logistics", 0.08), ("Construction", 0.08),
    ("Hospitality", 0.06), ("Education", 0.04),
)

_PREFIX = ("Peach", "Gulf", "Magnolia", "Palmetto", "Coastal", "Summit", "Harbor", "Oak", "River", "Pine", "Blue",
           "Sun", "Lakeside", "Heritage", "Crescent", "Liberty", "Keystone", "Cypress", "Bayou", "Ridge", "Atlantic",
           "Southern", "Granite", "Silver", "Evergreen", "Pioneer", "Horizon", "Tidewater", "Red Clay", "Live Oak")
_CORE = ("Medical", "Logistics", "Foods", "Systems", "Capital", "Builders", "Health", "Analytics", "Supply",
         "Manufacturing", "Partners", "Labs", "Freight", "Hospitality", "Learning", "Retail", "Energy", "Dental",
         "Motors", "Software", "Marine", "Textiles", "Clinics", "Construction", "Insurance", "Printing")
_SUFFIX = ("Inc.", "LLC", "Group", "Co.", "Holdings", "Corp.", "Partners", "& Sons", "Associates", "Ltd.")

_SEGMENTS = ("Enterprise", "Mid-Market", "SMB")
_SEGMENT_SHARE = (0.06, 0.26, 0.68)
_EMPLOYEES = {"Enterprise": (6.3, 0.7), "Mid-Market": (3.7, 0.5), "SMB": (1.4, 0.6)}  # lognormal mu, sigma
_ARR = {"Enterprise": (12.0, 0.8), "Mid-Market": (10.4, 0.7), "SMB": (8.9, 0.8)}
_CUSTOMER_SHARE = {"Enterprise": 0.55, "Mid-Market": 0.42, "SMB": 0.33}


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: float | np.ndarray,
                  lon2: float | np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


def _zip_weights(zips: pd.DataFrame) -> np.ndarray:
    weight = np.full(len(zips), 0.015)
    lat, lon = zips["lat"].to_numpy(), zips["lon"].to_numpy()
    for _, mlat, mlon, w in METROS:
        d = _haversine_km(lat, lon, mlat, mlon)
        weight += w * np.exp(-d / 22.0)
    return weight / weight.sum()


def generate_reps() -> pd.DataFrame:
    """The demo's 15 reps, as a roster export."""
    table = geocode.zip_table()
    rows = []
    for rep_id, name, zip5, _state, tenure, role in REPS:
        quota = 900_000 if role == "Senior AE" else 650_000 if role == "AE" else 400_000
        rows.append({"Rep ID": rep_id, "Name": name, "Home ZIP": zip5, "Home City": table.loc[zip5, "city"],
                     "Region": REGIONS[_state],
                     "Tenure (years)": tenure, "Role": role, "Capacity": "", "Current Quota": quota})
    return pd.DataFrame(rows)


def _legacy_owner(states: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Geography-only legacy design: the state decides the team, the nearest home in that state the rep."""
    table = geocode.zip_table()
    owner = np.empty(len(states), dtype=object)
    for state in STATES:
        team = [(rid, name, zip5) for rid, name, zip5, st, _, _ in REPS if st == state]
        mask = states == state
        dists = np.column_stack([_haversine_km(lat[mask], lon[mask], table.loc[z, "lat"], table.loc[z, "lon"])
                                 for _, _, z in team])
        owner[mask] = np.array([name for _, name, _ in team], dtype=object)[dists.argmin(axis=1)]
    return owner


def generate_accounts(n: int = 6000, seed: int = DEMO_SEED) -> pd.DataFrame:
    """``n`` synthetic accounts as a Salesforce-style export, deterministic for a seed.

    Every column is drawn as one vector, so the benchmarks' million rows take seconds.
    """
    rng = np.random.default_rng(seed)
    zips = geocode.standard_zips(STATES)
    pick = rng.choice(len(zips), size=n, p=_zip_weights(zips))
    chosen = zips.iloc[pick]
    lat, lon = chosen["lat"].to_numpy(), chosen["lon"].to_numpy()

    segments = np.array(_SEGMENTS)
    seg = rng.choice(len(segments), size=n, p=_SEGMENT_SHARE)
    segment = segments[seg]
    industry = np.array([i for i, _ in INDUSTRIES])[
        rng.choice(len(INDUSTRIES), size=n, p=[w for _, w in INDUSTRIES])]

    def per_segment(table: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
        mu = np.array([table[s][0] for s in segments])[seg]
        sigma = np.array([table[s][1] for s in segments])[seg]
        return mu, sigma

    employees = np.maximum(1, rng.lognormal(*per_segment(_EMPLOYEES)).astype(np.int64))
    revenue = np.round(employees * rng.lognormal(np.log(120_000), 0.3, size=n), -3)
    is_customer = rng.random(n) < np.array([_CUSTOMER_SHARE[s] for s in segments])[seg]
    base_arr = rng.lognormal(*per_segment(_ARR))
    arr = np.where(is_customer, np.round(base_arr, -2), 0.0)
    expansion = np.round(np.where(is_customer, base_arr * rng.lognormal(-0.7, 0.6, size=n),
                                  base_arr * rng.lognormal(0.0, 0.4, size=n)), -2)
    has_win = ~is_customer & (rng.random(n) < 0.45)
    win_rate = np.where(has_win, np.round(rng.beta(2.2, 6.0, size=n), 2), np.nan)
    outcome = np.where(is_customer & (rng.random(n) < 0.3), "Closed Won",
                       np.where(~is_customer & (rng.random(n) < 0.3), "Closed Lost", ""))
    strategic = np.where(rng.random(n) < np.where(segment == "Enterprise", 0.25, 0.02), "Yes", "No")
    churn = np.where(is_customer, rng.choice(np.array(["Low", "Medium", "High"]), size=n, p=[0.6, 0.3, 0.1]), "")
    intent = np.where(rng.random(n) < 0.7, np.round(rng.beta(2, 3, size=n) * 100), np.nan)

    owner = _legacy_owner(chosen["state"].to_numpy(), lat, lon)
    diligence = dict(zip([r[1] for r in REPS], rng.uniform(0.6, 1.6, size=len(REPS)), strict=True))
    scale = pd.Series(owner).map(diligence).to_numpy(dtype=float) * (1 + np.log1p(arr + expansion) / 6)
    days = np.minimum(rng.exponential(120 / scale), 720).astype(int)
    last_contact = _date_strings(AS_OF, -days)
    last_contact = np.where(rng.random(n) < 0.06, "", last_contact)
    renewal = _date_strings(AS_OF, rng.integers(15, 380, size=n))
    renewal = np.where(is_customer, renewal, "")
    owner = np.where(rng.random(n) < 0.015, "", owner)

    has_coords = rng.random(n) < 0.6
    jitter_lat = lat + rng.normal(0, 0.01, size=n)
    jitter_lon = lon + rng.normal(0, 0.01, size=n)
    combos = np.array([f"{p} {c} {s}" for p in _PREFIX for c in _CORE for s in _SUFFIX], dtype=object)
    a = rng.integers(0, len(_PREFIX), n)
    b = rng.integers(0, len(_CORE), n)
    c = rng.integers(0, len(_SUFFIX), n)
    names = combos[(a * len(_CORE) + b) * len(_SUFFIX) + c]
    return pd.DataFrame({
        "Account ID": [f"ACC-{i:05d}" for i in range(1, n + 1)],
        "Account Name": names,
        "Billing Zip/Postal Code": chosen.index.to_numpy(),
        "BillingLatitude": np.where(has_coords, np.round(jitter_lat, 5), np.nan),
        "BillingLongitude": np.where(has_coords, np.round(jitter_lon, 5), np.nan),
        "Billing State/Province": chosen["state"].to_numpy(),
        "Industry": industry,
        "Employees": employees,
        "Annual Revenue": revenue,
        "ARR": arr,
        "Expansion Potential": expansion,
        "Win Rate": win_rate,
        "Last Opportunity Outcome": outcome,
        "Strategic": strategic,
        "Churn Risk": churn,
        "Intent Score": intent,
        "Last Activity": last_contact,
        "Renewal Date": renewal,
        "Account Owner": owner,
    })


def _date_strings(base: pd.Timestamp, offsets_days: np.ndarray) -> np.ndarray:
    """``base + offset`` as YYYY-MM-DD, formatting each distinct offset once."""
    uniq, inverse = np.unique(offsets_days, return_inverse=True)
    text = (base + pd.to_timedelta(uniq, unit="D")).strftime("%Y-%m-%d").to_numpy(dtype=object)
    return text[inverse]


def write_demo(out_dir: str | Path, n: int = 6000, seed: int = DEMO_SEED) -> tuple[Path, Path]:
    """Write ``accounts.csv`` and ``reps.csv`` of the demo into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    accounts, reps = out / "accounts.csv", out / "reps.csv"
    generate_accounts(n, seed).to_csv(accounts, index=False)
    generate_reps().to_csv(reps, index=False)
    return accounts, reps
