"""The problem set-up (territory_geo.design.problem): relationship protection by pinned top accounts."""

from __future__ import annotations

import pandas as pd

from territory_geo import design


def test_pinned_accounts_are_each_owners_top_by_arr() -> None:
    scored = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "owner_rep_id": ["R1", "R1", "R1", "R2"],
                           "arr": [5.0, 9.0, 1.0, 0.0]})
    assert design.pinned_accounts(scored, 2) == {"b": "R1", "a": "R1"}
    assert design.pinned_accounts(scored, 0) == {}
