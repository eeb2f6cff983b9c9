"""The Plan: every ZIP unit assigned to exactly one territory, with per-territory tallies kept incrementally.

One type serves the optimizer, the rebalancer, the impact report and the exports. ``plan.move(zips, territory)``
returns a new plan whose ``parent`` is the old one; tallies (potential, workload units, accounts, ARR), areas and
perimeters are updated from the moved units only (``new = old - outflow + inflow``), and only the touched
territories are re-checked for contiguity. The shared :class:`Geography` is frozen (read-only arrays), so no plan can
change what another plan stands on.

Named accounts (account-level overrides) stay with their territory wherever they sit: their figures are taken out of
their ZIP's values and carried by the territory as a fixed tally (:func:`split_named_accounts`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory_geo.errors import TerritoryError
from territory_geo.units import Units

#: Additive per-unit figures a plan tallies, in column order.
METRICS: tuple[str, ...] = ("potential", "workload_units", "accounts", "arr")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Geography:
    """The read-only structure plans stand on: units, adjacency (CSR), borders, areas, values and centroids.

    Attributes
    ----------
    zips
        Unit ZIPs; position ``i`` is unit ``i`` everywhere.
    indptr, indices
        CSR adjacency: the neighbours of unit ``i`` are ``indices[indptr[i]:indptr[i + 1]]``.
    border
        Shared border length (m) for each CSR entry; 0 for the links that join islands.
    perimeter, area
        Each unit's perimeter (m) and area (m²).
    values
        ``len(zips) x len(METRICS)`` additive figures (named accounts already taken out).
    xy
        Projected centroids (EPSG:5070, m).
    """

    zips: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    border: np.ndarray
    perimeter: np.ndarray
    area: np.ndarray
    values: np.ndarray
    xy: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {z: i for i, z in enumerate(self.zips.tolist())})

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.zips)

    def position(self, zip5: str) -> int:
        """Position of a ZIP; a clear error for an unknown one."""
        try:
            return self._index[str(zip5)]  # type: ignore[attr-defined]
        except KeyError:
            msg = f"ZIP {zip5!r} is not a unit of this plan's geography."
            raise TerritoryError(msg) from None

    def neighbors(self, i: int) -> np.ndarray:
        """Neighbour positions of unit ``i``."""
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    @classmethod
    def from_units(cls, units: Units, values: pd.DataFrame | None = None) -> Geography:
        """Build from a units table; ``values`` (indexed by ZIP, columns :data:`METRICS`) defaults to the table's."""
        table = units.table
        zips = table.index.to_numpy(dtype=object)
        pos = {z: i for i, z in enumerate(zips.tolist())}
        indptr = np.zeros(len(zips) + 1, dtype=np.int64)
        indices: list[int] = []
        border: list[float] = []
        for i, z in enumerate(zips.tolist()):
            for nb in units.neighbors.get(z, ()):
                indices.append(pos[nb])
                border.append(units.borders.get((z, nb), 0.0))
            indptr[i + 1] = len(indices)
        vals = (values if values is not None else table)[list(METRICS)].reindex(table.index).fillna(0.0)
        centroids = table.geometry.representative_point()
        return cls(zips=_frozen(zips), indptr=_frozen(indptr), indices=_frozen(np.array(indices, dtype=np.int64)),
                   border=_frozen(np.array(border, dtype=float)), perimeter=_frozen(table.geometry.length.to_numpy()),
                   area=_frozen(table.geometry.area.to_numpy()), values=_frozen(vals.to_numpy(dtype=float)),
                   xy=_frozen(np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()])))


def split_named_accounts(units: Units, scored: pd.DataFrame, named: Mapping[str, str]) -> tuple[pd.DataFrame,
                                                                                               pd.DataFrame]:
    """Take named accounts out of their ZIP's figures and total them by the territory that keeps them.

    Parameters
    ----------
    units
        The units (their ``account_zip`` maps each scored account to a ZIP).
    scored
        Scored accounts (``account_id``, ``potential``, ``workload_units``, ``arr``).
    named
        Account id -> territory id.

    Returns
    -------
    (unit_values, fixed): figures per ZIP without the named accounts, and figures per territory of the named ones.
    """
    ids = scored["account_id"].astype(str)
    keep = ids.map(lambda a: a in named).to_numpy()
    unknown = sorted(set(named) - set(ids))
    if unknown:
        msg = f"Named account(s) {unknown[:5]} are not in the accounts file."
        raise TerritoryError(msg)
    frame = scored.assign(accounts=1.0, _zip=units.account_zip)[["_zip", *METRICS]]
    unit_values = frame[~keep].groupby("_zip")[list(METRICS)].sum().reindex(units.table.index).fillna(0.0)
    named_rows = frame[keep].assign(territory=ids[keep].map(named).to_numpy())
    fixed = named_rows.groupby("territory")[list(METRICS)].sum()
    return unit_values, fixed


class Plan:
    """ZIP units -> territories, with incremental tallies, areas, perimeters and contiguity.

    Parameters
    ----------
    geography
        The shared, read-only :class:`Geography`.
    assignment
        Territory id of every unit: a mapping or Series ZIP -> territory, or an array of territory positions.
    territories
        Territory ids in order (one per rep). Defaults to the sorted ids found in ``assignment``.
    fixed
        Figures carried by territories regardless of geography (named accounts): a frame indexed by territory id
        with columns :data:`METRICS`.
    """

    def __init__(self, geography: Geography, assignment: Mapping[str, str] | pd.Series | np.ndarray,
                 territories: Sequence[str] | None = None, fixed: pd.DataFrame | None = None) -> None:
        self.geography = geography
        self.parent: Plan | None = None
        self.moved: tuple[str, ...] = ()
        if isinstance(assignment, np.ndarray):
            if territories is None:
                msg = "`territories` is required when `assignment` is an array of positions."
                raise TerritoryError(msg)
            self.territories = tuple(str(t) for t in territories)
            assign = assignment.astype(np.int64)
        else:
            series = pd.Series(assignment, dtype=object)
            missing = [z for z in geography.zips.tolist() if z not in series.index]
            if missing:
                msg = (f"The assignment leaves {len(missing)} unit(s) without a territory (e.g. {missing[:5]}); every "
                       "ZIP must belong to exactly one territory.")
                raise TerritoryError(msg)
            self.territories = tuple(str(t) for t in (territories or sorted(set(series.astype(str)))))
            tpos = {t: k for k, t in enumerate(self.territories)}
            unknown = sorted(set(series.astype(str)) - set(tpos))
            if unknown:
                msg = f"The assignment names territories {unknown[:5]} that are not in `territories`."
                raise TerritoryError(msg)
            assign = np.array([tpos[str(series[z])] for z in geography.zips.tolist()], dtype=np.int64)
        if len(assign) != geography.n or (len(assign) and (assign.min() < 0 or assign.max() >= len(self.territories))):
            msg = "The assignment must give every unit one of the plan's territories."
            raise TerritoryError(msg)
        self._tpos = {t: k for k, t in enumerate(self.territories)}
        self._fixed = self._fixed_array(fixed)
        self._assign = _frozen(assign)
        self._tallies, self._area, self._perimeter = self._count(assign)
        self._noncontiguous = frozenset(k for k in range(len(self.territories)) if not self._connected(assign, k))

    # --- construction helpers ----------------------------------------------------------------------------------

    def _fixed_array(self, fixed: pd.DataFrame | None) -> np.ndarray:
        out = np.zeros((len(self.territories), len(METRICS)))
        if fixed is not None and len(fixed):
            unknown = sorted(set(map(str, fixed.index)) - set(self.territories))
            if unknown:
                msg = f"Named accounts are held by territories {unknown} that are not in the plan."
                raise TerritoryError(msg)
            for t, row in fixed[list(METRICS)].iterrows():
                out[self._tpos[str(t)]] = row.to_numpy(dtype=float)
        return _frozen(out)

    def _count(self, assign: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tallies, areas and perimeters from scratch."""
        geo, k = self.geography, len(self.territories)
        tallies = self._fixed.copy()
        np.add.at(tallies, assign, geo.values)
        area = np.bincount(assign, weights=geo.area, minlength=k)
        perimeter = np.bincount(assign, weights=geo.perimeter, minlength=k)
        rows = np.repeat(np.arange(geo.n), np.diff(geo.indptr))
        internal = assign[rows] == assign[geo.indices]
        perimeter -= np.bincount(assign[rows[internal]], weights=geo.border[internal], minlength=k)
        return tallies, area, perimeter

    def _connected(self, assign: np.ndarray, k: int) -> bool:
        members = np.flatnonzero(assign == k)
        if len(members) <= 1:
            return True
        geo = self.geography
        seen = {int(members[0])}
        queue = deque(seen)
        while queue:
            u = queue.popleft()
            for v in geo.neighbors(u).tolist():
                if v not in seen and assign[v] == k:
                    seen.add(v)
                    queue.append(v)
        return len(seen) == len(members)

    # --- the API -------------------------------------------------------------------------------------------------

    def move(self, zips: Iterable[str] | str, territory: str) -> Plan:
        """A new plan with ``zips`` moved to ``territory``; this plan is its parent and is left unchanged."""
        if territory not in self._tpos:
            msg = f"`territory` was {territory!r} but is expected to be one of {list(self.territories)}."
            raise TerritoryError(msg)
        geo, k = self.geography, self._tpos[territory]
        units = [geo.position(z) for z in ([zips] if isinstance(zips, str) else zips)]
        assign = self._assign.copy()
        tallies, area, perimeter = self._tallies.copy(), self._area.copy(), self._perimeter.copy()
        touched, moved = {k}, []
        for u in units:
            a = int(assign[u])
            if a == k:
                continue
            nbrs = geo.neighbors(u)
            lengths = geo.border[geo.indptr[u]:geo.indptr[u + 1]]
            owners = assign[nbrs]
            tallies[a] -= geo.values[u]
            tallies[k] += geo.values[u]
            area[a] -= geo.area[u]
            area[k] += geo.area[u]
            perimeter[a] -= geo.perimeter[u] - 2.0 * lengths[owners == a].sum()
            perimeter[k] += geo.perimeter[u] - 2.0 * lengths[owners == k].sum()
            assign[u] = k
            touched.add(a)
            moved.append(str(geo.zips[u]))
        child = object.__new__(Plan)
        child.geography, child.territories, child._tpos, child._fixed = geo, self.territories, self._tpos, self._fixed
        child.parent, child.moved = self, tuple(moved)
        child._assign, child._tallies, child._area, child._perimeter = _frozen(assign), tallies, area, perimeter
        noncontiguous = set(self._noncontiguous)
        for t in touched:
            (noncontiguous.discard if child._connected(assign, t) else noncontiguous.add)(t)
        child._noncontiguous = frozenset(noncontiguous)
        return child

    @property
    def assignment(self) -> np.ndarray:
        """Territory position of every unit (read-only)."""
        return self._assign

    def to_series(self) -> pd.Series:
        """ZIP -> territory id."""
        labels = np.array(self.territories, dtype=object)[self._assign]
        return pd.Series(labels, index=pd.Index(self.geography.zips, name="zip"), name="territory_id")

    def territory_of(self, zip5: str) -> str:
        """Territory id of a ZIP."""
        return self.territories[int(self._assign[self.geography.position(zip5)])]

    def tallies(self) -> pd.DataFrame:
        """Per-territory figures (named accounts included), indexed by territory id, columns :data:`METRICS`."""
        return pd.DataFrame(self._tallies, index=pd.Index(self.territories, name="territory_id"),
                            columns=list(METRICS))

    def recount(self) -> pd.DataFrame:
        """The same figures counted from scratch (to check the incremental ones)."""
        tallies, _, _ = self._count(self._assign)
        return pd.DataFrame(tallies, index=pd.Index(self.territories, name="territory_id"), columns=list(METRICS))

    def shape(self) -> pd.DataFrame:
        """Area (km²), perimeter (km) and Polsby-Popper compactness (4πA/P²) of each territory."""
        area, perimeter = self._area, self._perimeter
        pp = np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, 1e-9) ** 2, 0.0)
        return pd.DataFrame({"area_km2": area / 1e6, "perimeter_km": perimeter / 1e3, "polsby_popper": pp},
                            index=pd.Index(self.territories, name="territory_id"))

    def noncontiguous(self) -> list[str]:
        """Territories that are not one connected piece."""
        return [self.territories[k] for k in sorted(self._noncontiguous)]

    def history(self) -> list[Plan]:
        """This plan and its ancestors, newest first."""
        out, node = [], self
        while node is not None:
            out.append(node)
            node = node.parent
        return out
