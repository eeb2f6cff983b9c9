"""Design engine: seeded k-means -> exact-balance transport LP (HiGHS) -> contiguity repair -> local search.

The modules follow the pipeline:

1. **Set-up** (:mod:`.problem`, :mod:`.measure`): the inputs become arrays built once per run (homes, capacity
   shares, distances, each unit's balance components for each rep), and the balance measure: each component
   normalised by its total and blended by the scenario's weights (:mod:`.scenarios`).
2. **Start** (:mod:`.start`). The seeded k-means reference (``KMeans(init=homes, n_init=1)``: cluster i -> rep i),
   kept as the reference the engine must beat; then the transport LP: units assigned fractionally to reps so that
   every territory holds its capacity share of the balance measure (a band of half the tolerance) at the least
   potential-weighted distance to home. A basic solution splits at most K-1 units; each goes to its largest share.
   The min-disruption scenario starts from the balanced LP with the least ARR changing owner instead.
3. **Contiguity repair and balance** (:mod:`.balance`). Pieces cut off from a territory's main piece join the
   neighbour they share most border with. Then boundary moves that keep the losing territory in one piece: planned
   flows of surplus along the territory graph, diffusion balancing (surplus flows to any less-loaded neighbour, so
   it travels along chains of full territories), ejection chains for lumpy units diffusion cannot place (each
   territory on a chain trades a unit, or a unit for a unit, so that it lands within the tolerance itself, until one
   with room absorbs the rest), and last chains of re-splits (:mod:`.resplit`), in which a territory and a
   neighbour are merged and cut in two again along a spanning tree.
4. **Distance re-splits** (:mod:`.resplit`): when balancing left the plan well above the distance that re-splitting
   neighbouring pairs along their homes reaches, pairs are re-split until it is close to that. Where balance is on
   potential alone, the yardstick is instead a lower bound on the distance of any exactly balanced plan
   (:func:`dual_lower_bound`, :mod:`.bounds`).
5. **Compactness polish** (:mod:`.polish`): annealed flips and balance-neutral swaps that raise Polsby-Popper
   compactness within the balance goal and a distance budget, then compactness re-splits (pairs re-cut between
   their centroids at no extra distance) and greedy flips.
6. **Region re-draw** (:mod:`.repartition`, ``thorough`` only): territories still beyond the tolerance are re-drawn
   with their neighbours as one set-partitioning problem.
7. **Verdict** (:mod:`.verdict`): ``ok`` or ``infeasible`` with the reasons and numbers.

Steps 3-6 move units on one working state (:mod:`.state`: assignment, members, sizes, areas, perimeters,
connectivity, and the tallies of :mod:`.measure` that follow every move); the ejection chains, re-splits, polish and
re-draw run on it as a border search (:mod:`.border`) with a linear view of the balance.

:class:`TerritoryDesigner` (:mod:`.designer`) runs the pipeline; :mod:`.team` adds and removes reps with minimal
disruption. Scenarios are data (:class:`Scenario`): balance weights, tolerance, start (optimised or current
ownership), disruption budget, proximity weight; only the scenario that keeps owners (``start="current"``) designs
around today's owners, which otherwise only measure the disruption. Tuning constants are
:class:`~territory_geo.settings.DesignSettings` (``[design.engine]``). Locked ZIPs never move; named accounts count
for their rep wherever they sit.

**Road regions** (:mod:`.regions`; :attr:`territory_geo.units.Units.region`: the lower 48 and DC, and each state
outside them): no road joins two, so unless ``allow_cross_region`` a unit only goes to a rep whose home is in its
region. Each region is designed on its own (its reps share its total by capacity, the targets it can reach), and
the plan is reported against the global targets; the verdict names any region whose reps' capacity share differs
from its share of the measure by more than the tolerance. Units of a region with no rep home are left out of the
plan and reported (:attr:`TerritoryDesigner.uncovered_`). With one region the engine runs exactly as without
regions.
"""

from territory_geo.design.bounds import dual_lower_bound, lp_lower_bound
from territory_geo.design.designer import TerritoryDesigner, design
from territory_geo.design.problem import DesignInputs, pinned_accounts, prepare_inputs, territory_id
from territory_geo.design.scenarios import COMPONENTS, SCENARIOS, Scenario, scenario_from_mapping, scenario_record
from territory_geo.design.sweep import Sweep as Sweep, frontier as frontier, run_sweep as run_sweep
from territory_geo.design.team import add_rep, remove_rep

__all__ = ["COMPONENTS", "SCENARIOS", "DesignInputs", "Scenario", "TerritoryDesigner", "add_rep", "design",
           "dual_lower_bound", "lp_lower_bound", "pinned_accounts", "prepare_inputs", "remove_rep",
           "scenario_from_mapping", "scenario_record", "territory_id"]
