"""The verdict of a design: ``"ok"`` when every territory is within the tolerance of its target, else
``"infeasible"`` with the reasons and numbers (the worst territory, a ZIP too lumpy to balance, the disruption
budget, a road region whose reps' capacity does not match what it holds)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from territory_geo.design.measure import norms
from territory_geo.design.problem import Problem, territory_id
from territory_geo.design.regions import CROSS_REGION_FIX, RegionSplit, names
from territory_geo.design.scenarios import Scenario

if TYPE_CHECKING:
    from territory_geo.design.designer import TerritoryDesigner


class Tallies(Protocol):
    """What a verdict reads of a plan's balance: each territory's component tallies and deviation."""

    comp_tally: np.ndarray

    def deviations(self) -> np.ndarray:
        """Deviation of each territory's balance measure from its target."""
        ...


def search_verdict(problem: Problem, scenario: Scenario, assign: np.ndarray, tally: Tallies, budget_hit: bool,
                   thorough: bool) -> tuple[str, str]:
    """Status and message of one design: the worst territory's deviation, whether the disruption budget stopped
    the search, a ZIP that alone holds more than the tolerance of its target, and whether a thorough run may help."""
    tol, k = scenario.tolerance, len(problem.tids)
    dev = tally.deviations()
    worst = int(np.argmax(np.abs(dev)))
    if k == 1:
        return "ok", f"One rep: every ZIP area is in {problem.tids[0]}, and it is on target."
    if abs(dev[worst]) <= tol + 1e-9:
        return "ok", f"All {k} territories are within ±{tol:.1%} of their targets."
    reasons = [f"Territory {problem.tids[worst]} is {dev[worst]:+.1%} from its target (tolerance ±{tol:.1%})."]
    if budget_hit:
        reasons.append(f"The disruption budget ({scenario.disruption_budget:.0%} of ARR) stopped further "
                       "moves; raise it or accept a wider tolerance.")
    members = np.flatnonzero(assign == worst)
    share = 0.0
    if len(members):
        norm = norms(problem)
        measure = (problem.comp[members, worst] / norm) @ problem.weights
        target = problem.shares[worst] * ((tally.comp_tally / norm) @ problem.weights).sum()
        big = members[np.argmax(measure)]
        share = float(measure.max() / max(target, 1e-12))
        if share > tol:
            reasons.append(f"ZIP {problem.geo.zips[big]} alone holds {share:.0%} of that target: split its largest "
                           "accounts out as named accounts so they can be balanced individually.")
    if not thorough and not budget_hit and share <= 1 + tol:  # no re-draw places a ZIP > target
        reasons.append("A thorough run (CLI --thorough; \"Thorough\" on the Territories page) re-draws the region "
                       "around such territories as a whole and may balance them, in more time.")
    return "infeasible", " ".join(reasons)


def regions_verdict(split: RegionSplit, problem: Problem, tally: Tallies, subs: dict[str, TerritoryDesigner],
                    scenario: Scenario) -> tuple[str, str]:
    """Status and message of a plan designed region by region, against the global targets: regions whose reps'
    capacity share differs from the share of the measure they hold by more than the tolerance, the regions'
    own verdicts, and reps based where the design has no unit."""
    tol, weights = scenario.tolerance, problem.weights
    dev = tally.deviations()
    totals = tally.comp_tally.sum(axis=0)
    held = (tally.comp_tally / np.where(totals > 0, totals, 1.0)) @ weights
    what = "the potential" if np.count_nonzero(weights) == 1 and weights[0] > 0 else "the balance measure"
    home = split.rep.reindex(problem.rep_ids).to_numpy(dtype=object)
    reasons = []
    worst_first = sorted(split.covered, key=lambda g: -float(np.abs(dev[home == g]).max()))
    for region in worst_first:
        members = np.flatnonzero(home == region)
        capacity, got = float(problem.shares[members].sum()), float(held[members].sum())
        if abs(got / capacity - 1.0) > tol + 1e-9:
            tids = [problem.tids[i] for i in members]
            one = len(members) == 1
            low, high = f"{dev[members].min():+.0%}", f"{dev[members].max():+.0%}"
            span = low if low == high else f"{high} to {low}"
            reasons.append(f"{region} holds {got:.1%} of {what} but its {len(members)} rep{'' if one else 's'} "
                           f"{'is' if one else 'are'} {capacity:.1%} of capacity: {names(tids)} cannot come within "
                           f"±{tol:.1%} of {'its target' if one else 'their targets'} ({span}).")
    reasons += [f"Within {region}: {sub._balance_message}" for region, sub in subs.items() if sub.status_ != "ok"]
    for rep in split.idle_reps:
        reasons.append(f"Rep {rep}'s home is in {split.rep[rep]}, where the design has no ZIP area: "
                       f"{territory_id(rep)} gets no territory. Move the home base, or {CROSS_REGION_FIX}.")
    if np.abs(dev).max() <= tol + 1e-9 and not reasons:
        return "ok", (f"All {len(dev)} territories are within ±{tol:.1%} of their targets, each inside its road "
                      f"region ({', '.join(split.covered)}).")
    if not reasons:
        worst = int(np.argmax(np.abs(dev)))
        reasons.append(f"Territory {problem.tids[worst]} is {dev[worst]:+.1%} from its target (tolerance "
                       f"±{tol:.1%}).")
    return "infeasible", " ".join(reasons)
