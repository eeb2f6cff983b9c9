"""Road regions (the lower 48 and DC, and each state outside them): no road joins two, so unless
``allow_cross_region`` each region is designed on its own for the reps based there, and the regions' designs are
merged into one plan reported against the global targets."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from territory_geo.design.problem import DesignInputs, Problem
from territory_geo.errors import TerritoryError
from territory_geo.units import point_regions

if TYPE_CHECKING:
    from territory_geo.design.designer import TerritoryDesigner

CROSS_REGION_FIX = "allow territories across regions (allow_cross_region)"


@dataclass(frozen=True)
class RegionSplit:
    """The road regions of a design: each unit's (:attr:`territory_geo.units.Units.region`) and each homed rep's
    (the region of the home's nearest ZIP, :func:`territory_geo.units.point_regions`).

    Attributes
    ----------
    unit
        ZIP -> region of every unit.
    rep
        Rep id -> region of the rep's home, for the reps that have one.
    """

    unit: pd.Series
    rep: pd.Series

    @classmethod
    def of(cls, inputs: DesignInputs) -> RegionSplit:
        """The regions of a design's units and reps."""
        homed = inputs.reps.dropna(subset=["home_lat", "home_lon"])
        rep = pd.Series(point_regions(homed["home_lon"].to_numpy(float), homed["home_lat"].to_numpy(float)),
                        index=homed["rep_id"].astype(str).to_numpy(), dtype=object)
        return cls(unit=inputs.units.region.astype(object), rep=rep)

    @property
    def single(self) -> bool:
        """Whether every unit and every home lies in one region (the engine then runs as without regions)."""
        return len(set(self.unit) | set(self.rep)) <= 1

    @property
    def covered(self) -> list[str]:
        """Regions with units and at least one rep based there."""
        return sorted(set(self.unit) & set(self.rep))

    @property
    def uncovered(self) -> list[str]:
        """Regions with units but no rep based there."""
        return sorted(set(self.unit) - set(self.rep))

    @property
    def idle_reps(self) -> list[str]:
        """Reps based in a region with no unit of the design."""
        return [r for r, region in self.rep.items() if region not in set(self.unit)]

    def check(self, inputs: DesignInputs, allow_cross_region: bool) -> None:
        """Refuse, before anything runs, a design no plan can satisfy: no rep with a home, fewer ZIP areas than reps
        (in all, or in a region for the reps based there), a ZIP locked to a rep based in another region."""
        n, k = len(self.unit), len(self.rep)
        if k == 0:
            msg = "No rep has a home base; add home ZIPs or coordinates to the reps file."
            raise TerritoryError(msg)
        if n < k:
            msg = (f"{n:,} ZIP areas for {k:,} reps: every rep needs at least one ZIP area. Remove reps from the "
                   "roster, or load finer ZIP polygons (--zip-areas on the command line, the ZIP/ZCTA polygons "
                   "upload in the app) so that there are at least as many ZIP areas as reps.")
            raise TerritoryError(msg)
        if allow_cross_region or self.single:
            return
        problems = []
        for region in self.covered:
            reps = [r for r, g in self.rep.items() if g == region]
            zips = int((self.unit == region).sum())
            if zips < len(reps):
                problems.append(f"{region}: {zips:,} ZIP area(s) for {len(reps)} reps based there "
                                f"({names(reps)}): every rep needs at least one ZIP area of their own region. "
                                "Remove reps or move their home bases, or load finer ZIP polygons (--zip-areas).")
        for zip5, rep in inputs.locks.items():
            zone, home = self.unit.get(zip5), self.rep.get(rep)
            if zone is not None and home is not None and zone != home:
                problems.append(f"ZIP {zip5} ({zone}) is locked to rep {rep}, whose home is in {home}: unlock it "
                                f"or lock it to a rep based in {zone}.")
        if problems:
            problems.append("No road joins one region to another, so territories stay inside their region unless "
                            f"you {CROSS_REGION_FIX}.")
            msg = " ".join(problems)
            raise TerritoryError(msg)

    def region_inputs(self, inputs: DesignInputs, region: str, named: dict[str, str]) -> DesignInputs:
        """The design inputs of one region: its units, the reps based there, their named accounts and locks (the
        accounts named to other reps are taken out, as they count for those reps)."""
        reps = {r for r, g in self.rep.items() if g == region}
        elsewhere = {a for a, r in named.items() if r not in reps}
        scored = inputs.scored[~inputs.scored["account_id"].astype(str).isin(elsewhere)]
        units = inputs.units.within_regions([region])
        units = replace(units, account_zip=units.account_zip.reindex(scored.index))
        baseline = None if inputs.baseline is None else inputs.baseline[inputs.baseline.index.isin(
            units.table.index)]
        return DesignInputs(units=units, scored=scored, reps=inputs.reps[inputs.reps["rep_id"].astype(str).isin(reps)],
                            baseline=baseline, locks={z: r for z, r in inputs.locks.items() if r in reps},
                            named={a: r for a, r in named.items() if r in reps}, cost=inputs.cost)

    def uncovered_record(self, inputs: DesignInputs, named: dict[str, str]) -> dict[str, Any]:
        """What no territory covers: the regions without a rep, their ZIP count, and their accounts and potential
        (named accounts excluded: they count for their rep)."""
        zips = set(self.unit.index[self.unit.isin(self.uncovered)])
        inside = inputs.units.account_zip.reindex(inputs.scored.index).isin(zips)
        mask = inside & ~inputs.scored["account_id"].astype(str).isin(set(named))
        return {"regions": self.uncovered, "zips": len(zips), "accounts": int(mask.sum()),
                "potential": float(inputs.scored.loc[mask, "potential"].sum())}

    def uncovered_note(self, record: dict[str, Any]) -> str:
        """The sentence naming what the plan leaves out (:meth:`uncovered_record`)."""
        regions = record["regions"]
        names = regions[0] if len(regions) == 1 else ", ".join(regions[:-1]) + f" and {regions[-1]}"
        one = len(regions) == 1
        return (f"{names} {'has' if one else 'have'} no rep based there: {'its' if one else 'their'} "
                f"{record['zips']:,} ZIP areas ({record['accounts']:,} accounts, ${record['potential']:,.0f} "
                f"potential) are left out of the plan. Add a rep based there, or {CROSS_REGION_FIX} to give them to "
                "the nearest territory.")

    def records(self, inputs: DesignInputs, designer: TerritoryDesigner) -> list[dict[str, Any]]:
        """One record per region: its ZIP areas, its share of their potential, the reps based there and their
        share of the capacity."""
        shares = dict(zip(designer.problem_.rep_ids, designer.problem_.shares.tolist(), strict=True))
        potential = inputs.units.table["potential"].groupby(self.unit).sum()
        total = max(float(potential.sum()), 1e-12)
        out = []
        for region in sorted(set(self.unit) | set(self.rep)):
            reps = sorted(r for r, g in self.rep.items() if g == region)
            out.append({"region": region, "zips": int((self.unit == region).sum()),
                        "potential_share": float(potential.get(region, 0.0)) / total, "reps": reps,
                        "capacity_share": float(sum(shares.get(r, 0.0) for r in reps))})
        return out


def names(ids: list[str], limit: int = 5) -> str:
    """The first ``limit`` ids, and how many more."""
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def merged(problem: Problem, subs: Iterable[TerritoryDesigner],
           labels_of: Callable[[TerritoryDesigner], np.ndarray]) -> np.ndarray:
    """Rep positions of ``problem`` for every unit, from the regions' designs (``labels_of(design)``: their own
    positions, -1 for none)."""
    pos = {z: i for i, z in enumerate(problem.geo.zips.tolist())}
    rep_pos = {r: i for i, r in enumerate(problem.rep_ids)}
    out = np.full(problem.geo.n, -1, dtype=np.int64)
    for sub in subs:
        idx = np.array([pos[z] for z in sub.problem_.geo.zips.tolist()], dtype=np.int64)
        to_global = np.array([rep_pos[r] for r in sub.problem_.rep_ids], dtype=np.int64)
        labels = np.asarray(labels_of(sub), dtype=np.int64)
        out[idx] = np.where(labels >= 0, to_global[np.maximum(labels, 0)], -1)
    return out


def merged_problem(problem: Problem, subs: Iterable[TerritoryDesigner]) -> Problem:
    """The whole design's problem with the locks the regions' designs used."""
    return replace(problem, locked=merged(problem, subs, lambda d: d.problem_.locked))


def merged_bound(subs: Iterable[TerritoryDesigner]) -> float | None:
    """The regions' LP bounds combined, weighted by their potential (None if any region has none)."""
    parts = [(sub.lp_bound_km_, float(sub.problem_.geo.values[:, 0].sum())) for sub in subs]
    if any(bound is None for bound, _ in parts):
        return None
    total = sum(weight for _, weight in parts)
    return float(sum(bound * weight for bound, weight in parts) / total) if total > 0 else float("nan")
