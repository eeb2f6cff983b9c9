"""Shared pytest fixtures.

The file is shared by several kinds of tests; keep each kind's fixtures in its own labelled section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

# =================================================================================================================
# Unit-test fixtures (territory_geo library)
#
# Small, real inputs; no network. Fixtures that cost more than a few milliseconds (demo files, the scored demo) are
# session-scoped: treat what they return as read-only.
# =================================================================================================================

_REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (holds ``data/demo``)."""
    return _REPO_ROOT


@pytest.fixture(scope="session")
def real_zips() -> dict[str, str]:
    """Real ZIP codes from the bundled ``zipcodes`` package, by role."""
    return {
        "atlanta": "30303",  # Atlanta, GA, STANDARD
        "boston_allston": "02134",  # Allston (Boston), MA: leading zero
        "miami": "33131",  # Miami, FL
        "birmingham": "35203",  # Birmingham, AL
        "po_box": "30301",  # Atlanta, GA, a PO BOX ZIP
    }


@pytest.fixture
def salesforce_accounts_csv() -> bytes:
    """A small Salesforce-style accounts export: aliases, an unknown column, a ZIP that lost its leading zero,
    ZIP+4, an account with coordinates and an owner that is not in :func:`reps_csv`."""
    return (
        "Account ID,Account Name,Billing Zip/Postal Code,BillingLatitude,BillingLongitude,Annual Revenue,"
        "Account Owner,ARR,Expansion Potential,Favourite Colour\n"
        "A1,Peach Medical Inc.,30303,,,12500000,R01,48000,20000,blue\n"
        'A2,Allston Labs LLC,2134,,,"$2,500,000",R02,0,30000,red\n'
        "A3,Gulf Foods Co.,33131-1234,,,1.2M,R01,12000,5000,\n"
        "A4,Magnolia Builders,35203,33.5207,-86.8025,800000,Zed Nobody,0,9000,green\n"
    ).encode("utf-8")


@pytest.fixture
def reps_csv() -> bytes:
    """A small reps roster: R01 (Atlanta) and R02 (Miami, reports to R01)."""
    return (
        "Rep ID,Name,Home ZIP,Tenure (years),Manager ID\n"
        "R01,Dana Whitfield,30303,9,\n"
        "R02,Sofia Alvarez,33131,1.5,R01\n"
    ).encode("utf-8")


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(accounts.csv, reps.csv) as :func:`territory_geo.demo.write_demo` writes them; generated once a session."""
    from territory_geo import demo

    return demo.write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo_dataset():
    """The committed demo files ingested and scored (:class:`territory_geo.dataset.Dataset`), once a session."""
    from territory_geo.dataset import ingest

    data = ingest(_REPO_ROOT / "data" / "demo" / "accounts.csv", _REPO_ROOT / "data" / "demo" / "reps.csv")
    assert data.scored is not None, data.report.to_json_dict()["errors"][:3]
    return data


@pytest.fixture(scope="session")
def read_csv_as_text():
    """Read a CSV with every cell as text and empty cells as "" (for exact file comparisons)."""

    def read(path: Path) -> pd.DataFrame:
        return pd.read_csv(path, dtype=str, keep_default_na=False)

    return read


# =================================================================================================================
# End of unit-test fixtures.
# =================================================================================================================
