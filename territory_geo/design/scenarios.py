"""Scenarios: design objectives as data (balance weights, tolerance, start, disruption budget, proximity)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from territory_geo.errors import TerritoryError
from territory_geo.plan import METRICS

#: Balance components: the four additive unit figures plus travel (hours a year from the rep's home).
COMPONENTS: tuple[str, ...] = (*METRICS, "travel")


@dataclass(frozen=True)
class Scenario:
    """A design objective as data.

    Attributes
    ----------
    name, label
        Short key (CLI) and display name.
    weights
        Weights of the balance measure over :data:`COMPONENTS` (normalised to sum to 1).
    tolerance
        Allowed deviation of each territory's balance measure from its target (0.05 = ±5 %).
    start
        ``"optimize"`` (k-means + LP) or ``"current"`` (today's ownership; move only what the tolerance demands:
        the search starts from the balanced transport LP with the least ARR changing owner).
    disruption_budget
        Max share of ARR allowed to change owner (``start="current"`` only); None = no limit.
    proximity_weight, compactness_weight
        Weights of travel distance and of border length in the local search.
    """

    name: str
    label: str
    weights: dict[str, float]
    tolerance: float
    start: str = "optimize"
    disruption_budget: float | None = None
    proximity_weight: float = 1.0
    compactness_weight: float = 1.0

    @property
    def keeps_owners(self) -> bool:
        """Whether the search keeps today's owners where it can (the min-disruption scenario, ``start="current"``):
        it prices ARR changing owner and leaves customers' ZIPs with their owner while it reshapes borders."""
        return self.start == "current"

    def normalised_weights(self) -> dict[str, float]:
        """Weights over :data:`COMPONENTS`, summing to 1."""
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            msg = f"Unknown balance component(s) {unknown}; allowed: {list(COMPONENTS)}."
            raise TerritoryError(msg)
        total = sum(max(v, 0.0) for v in self.weights.values())
        if total <= 0:
            msg = "Balance weights must have a positive sum."
            raise TerritoryError(msg)
        return {c: max(self.weights.get(c, 0.0), 0.0) / total for c in COMPONENTS}


_BLEND = {"potential": 0.4, "workload_units": 0.3, "travel": 0.3}  # the domain's published example
SCENARIOS: dict[str, Scenario] = {
    "evenness": Scenario("evenness", "A · Max revenue evenness", {"potential": 1.0}, 0.025),
    "disruption": Scenario("disruption", "B · Min disruption", dict(_BLEND), 0.05, start="current"),
    "proximity": Scenario("proximity", "C · Max rep proximity", dict(_BLEND), 0.15, proximity_weight=4.0),
    "blend": Scenario("blend", "D · Balanced blend (40/30/30)", dict(_BLEND), 0.05),
}


def scenario_from_mapping(base: Scenario, values: dict[str, Any]) -> Scenario:
    """A scenario with fields overridden from a mapping (a TOML table), unknown keys rejected by name."""
    allowed = {"weights", "tolerance", "disruption_budget", "proximity_weight", "compactness_weight", "label"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        msg = f"Unknown scenario setting(s) {unknown} for {base.name!r}; allowed: {sorted(allowed)}."
        raise TerritoryError(msg)
    return replace(base, **values)


def scenario_record(scenario: Scenario) -> dict[str, Any]:
    """A scenario as plain data (for metrics.json)."""
    return {"name": scenario.name, "label": scenario.label, "weights": scenario.normalised_weights(),
            "tolerance": scenario.tolerance, "start": scenario.start, "disruption_budget": scenario.disruption_budget,
            "proximity_weight": scenario.proximity_weight, "compactness_weight": scenario.compactness_weight}
