"""The search for schedules that lower the peak, and what each one costs.

Every candidate is a transformed Model measured by `plan_model`, the planner
`profile` uses. The search:
  1. baseline, and a better layout of it (an offline plan, zero overhead;
     ops may run in place over inputs they read last);
  2. a memory-aware reordering where the graph branches;
  3. exact rewrites: explicit PADs folded into SAME convolutions;
  4. chains of tiling steps (patch-based stage at the input, fused tiling of
     deeper segments, channel splits) around the peak: a beam search per
     objective (the arena to set, the head) and overhead cap keeps the
     `beam` best states at each depth and extends each, so the options span
     the whole range from cheap to aggressive;
  5. a better layout on top of every tiled schedule whose layouts could
     reach a Pareto front.
Then the Pareto fronts (arena to set, and head, vs MAC overhead) are marked
and one option is recommended by the arena to set: the lowest overhead that
fits the budget.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable, NamedTuple

import numpy as np

from ..errors import TinymemError
from ..graph.ir import Model, Subgraph
from ..memory.aliases import in_place_floor
from ..memory.layout import Layout, aliased_plan, best_layout, settle_live
from ..memory.greedy import arena_size, greedy_offsets
from ..memory.liveness import live_bytes_per_scope
from ..memory.planner import HOST_TARGET, ArenaPlan, PlannedFigures, plan_model, with_tail_of
from ..memory.requests import Requests, build_requests
from ..memory.tail import required_floor, tail_floor
from ..ops import total_macs
from ..ops.support import check_ops, check_support
from ..targets import Target
from .diagnose import Diagnosis, LowerHead, diagnose
from .edit import lazy_indices, settle_indices, shared_renumbering
from .fold_pad import fold_pads
from .reorder import reorder
from .fdt import fdt_steps
from .steps import Step, StepKind
from .tiling_steps import joined_steps, spatial_steps
from .row_cache import cached_steps
from .scratch_free import scratch_free_steps
from . import parallel
from .collector import collector_off
from ..ops.memo import shared_answers

OVERHEAD_CAPS = (0.0, 0.02, 0.05, 0.10, 0.15, 0.25, 0.5)
MAX_CHAIN = 5
# States kept per depth of each cap's chain search. 1 is the old greedy chain;
# MobileNetV2-0.35 @144 within 10% MACs: 115,536 B at 1, 101,200 at 4, 95,024 at 6.
DEFAULT_BEAM = 6

class Objective(Enum):
    """A figure of a planned candidate that the search minimises and options are judged by."""

    # The arena the target must set (head + tail + the allocator's temporary
    # section): what the board sets, so fits and the recommendation use it. A
    # rewrite's new ops each keep OpData and per-channel arrays in the tail.
    TO_SET = "to_set"
    # The planned activation arena (tensors and kernel scratch): the figure
    # Vela's SRAM count and most papers give, and what tiling lowers directly.
    HEAD = "head"


def figure(plan: ArenaPlan, objective: Objective = Objective.TO_SET) -> int:
    """The bytes `objective` counts for a plan."""
    return plan.required_bytes if objective is Objective.TO_SET else plan.head_bytes


# The search runs one beam per objective (sharing every measured candidate): a
# schedule with the lowest head often has a larger tail, so a beam by the arena
# to set alone prunes it, and one by the head alone misses what the board sets.
SEARCH_OBJECTIVES = (Objective.TO_SET, Objective.HEAD)


# (current model, op at its peak, its current arena, the explorer's target) ->
# candidate steps. A source that sizes anything the target decides (kernel
# scratch) must use the target given; the others may ignore it.
StepSource = Callable[[Model, int, int, Target], Iterable[Step]]
# Sources of candidate steps; the FDT splitter registers here too.
# Cached row strips come first: a recomputing grid over the cap must not rule
# their (zero-overhead) segment out.
# A kernel with no scratch comes last: it only answers a peak op's scratch buffer.
STEP_SOURCES: list[StepSource] = [cached_steps, spatial_steps, joined_steps, fdt_steps,
                                  scratch_free_steps]


def model_macs(model: Model) -> int:
    return sum(total_macs(sg.operators, sg) for sg in model.subgraphs)


@dataclass
class Option(PlannedFigures):
    id: str
    kind: str
    description: str
    model: Model
    plan: ArenaPlan
    macs: int
    base_macs: int
    base_ops: int
    steps: tuple[Step, ...] = ()
    offline: list[int] | None = None  # an OfflineMemoryAllocation plan to embed
    pareto: bool = False  # on the front of the arena to set vs MAC overhead
    pareto_head: bool = False  # on the front of the head vs MAC overhead
    fits: bool | None = None
    recommended: bool = False
    # The source model's main subgraph, to price the tiled ops' own work.
    base_subgraph: Subgraph | None = field(default=None, repr=False)

    @property
    def mac_overhead(self) -> float:
        return self.macs / self.base_macs - 1 if self.base_macs else 0.0

    @property
    def ops_added(self) -> int:
        return sum(len(sg.operators) for sg in self.model.subgraphs) - self.base_ops

    def stage_overhead(self) -> float | None:
        """MAC overhead of the tiled ops alone (recomputed halos over their own work)."""
        tiled = [op for op in self.model.main.operators if op.tag is not None]
        if not tiled:
            return None
        sg = self.model.main
        new = total_macs(tiled, sg)
        origins = {op.origin for op in tiled if op.origin is not None}
        base_sg = self.base_subgraph or self.model.main
        old = total_macs((base_sg.operators[i] for i in origins if i < len(base_sg.operators)),
                         base_sg)
        return new / old - 1 if old else None


@dataclass
class Exploration:
    model: Model
    baseline: Option
    options: list[Option]
    budget: int | None
    max_overhead: float | None
    seconds: float = 0.0
    evaluated: int = 0
    objectives: tuple[Objective, ...] = SEARCH_OBJECTIVES  # the figures the search kept the best of
    notes: list[str] = field(default_factory=list)
    # Set when no option is below the baseline: why, and what would help.
    diagnosis: Diagnosis | None = None

    @property
    def recommended(self) -> Option | None:
        return next((o for o in self.options if o.recommended), None)

    @property
    def target(self) -> Target:
        return self.baseline.plan.target

    def best_within(self, overhead: float, objective: Objective = Objective.TO_SET) -> Option:
        """The lowest `objective` figure within `overhead` extra MACs (then the cheapest)."""
        ok = [o for o in self.options if o.mac_overhead <= overhead + 1e-12]
        return min(ok, key=lambda o: (figure(o.plan, objective), o.mac_overhead))

    def get(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


class _Evaluator:
    """Builds and measures candidates once each (keyed by the steps applied).

    The live-set bound is computed for every candidate; the greedy arena
    only when the bound says the candidate could still win; the arena with
    its ops in place (`aliased`) only when the search asks. A forked child's
    beams come back through `export` and `adopt`.

    A candidate's figures and buffer requests are kept for the whole search,
    its model only while it is among the most recently used, HELD_OPS ops in
    all (the kept states' models are held by the search itself): a search
    measures thousands of candidates of up to ~2,000 ops, and keeping every
    model took 7.1 GB on MobileNetV2-1.0. One needed again is rebuilt from
    its recipe (building is deterministic).
    """

    HELD_OPS = 400_000

    def __init__(self, base: Model, progress: Callable[[int, int], None] | None,
                 target: Target | None = None, overwrite_inputs: bool = False):
        self.base = base
        self.target = target or HOST_TARGET
        self.overwrite_inputs = overwrite_inputs
        # Candidates planned with their ops in place: key -> the layout, or None.
        self.in_place: dict[tuple, Layout | None] = {}
        # Candidates the search would have planned in place but for their floor
        # (`in_place_floor`): a kept one is planned so at the end, as if it had been.
        self.in_place_skipped: set[tuple] = set()
        self.in_place_head: dict[tuple, int] = {}  # key -> `aliases.in_place_floor`
        self.tail_floor: dict[tuple, int] = {}  # key -> `tail.tail_floor`
        # Candidates whose new ops the target's kernels cannot run: key -> why.
        self.unsupported: dict[tuple, str] = {}
        self.base_macs = model_macs(base)
        self.cache: dict[tuple, _Candidate | None] = {}  # None: dropped or unsupported
        self._held: OrderedDict[tuple, Model] = OrderedDict()
        self._held_ops = 0
        self.kept: dict[tuple, Model] = {}  # the states a beam kept: the search holds them anyway
        self.rebuilt = 0  # candidates built again after their model was let go
        self.plans: dict[tuple, ArenaPlan] = {}
        self.live: dict[tuple, np.ndarray] = {}  # each measured candidate's live bytes
        self.start = base  # the model the chains start from (the explorer sets it)
        self.layouts: dict[tuple, Layout | None] = {}  # kept states' best layouts (`layout`)
        self.progress = progress
        self.count = 0
        self.state_macs: dict[tuple, int] = {}  # MACs of states not measured here (the start)
        # State -> (each main op's first scope, running max of live bytes from
        # the start, from the end): `outside_bound`'s tables.
        self._outside: dict[tuple, tuple[list[int], list[int], list[int]]] = {}

    def measure(self, key: tuple, parent: Model) -> tuple[int, int, int] | None:
        """(live-set bound, MACs, main-subgraph ops) of the candidate `key` (its
        last step applied to `parent`, the state `key[:-1]`), or None when the
        step cannot apply.

        A model's own inconsistencies (weights whose size contradicts their
        shape, say) can make one candidate impossible to build; that
        candidate is dropped, not the whole search.
        """
        if key not in self.cache:
            def build(step=key[-1]) -> Model:
                return step.apply(parent)

            got = self._evaluate(build, parent, self._macs_of(key[:-1], parent))
            if got.dropped or got.unsupported:
                self.cache[key] = None
                if got.unsupported:
                    self.unsupported[key] = got.unsupported
                return None
            m = got.model
            self.cache[key] = _Candidate(got.bound, got.macs, len(m.main.operators), build,
                                         got.requests)
            self._hold(key, m)
            self.live[key] = got.live
            self.count += 1
            if self.progress:
                self.progress(self.count, 0)
        got = self.cache[key]
        return None if got is None else (got.bound, got.macs, got.ops)

    def model(self, key: tuple) -> Model:
        """A measured candidate's model."""
        m = self.kept.get(key)
        if m is not None:
            return m
        m = self._held.get(key)
        if m is not None:
            self._held.move_to_end(key)
            return settle_indices(m)  # (measured with its ops' indices left stale)
        m = self.cache[key].build()
        self.rebuilt += 1
        self._hold(key, m)
        return m

    def _hold(self, key: tuple, m: Model) -> None:
        self._held[key] = m
        self._held_ops += len(m.main.operators)
        while self._held_ops > self.HELD_OPS and len(self._held) > 1:
            _, old = self._held.popitem(last=False)
            self._held_ops -= len(old.main.operators)

    def release(self) -> None:
        """Let go of every candidate at once. Plans whose tail was never asked
        for name this evaluator (their recipe rebuilds the model): the cycle
        would otherwise leave the whole search to the cyclic collector."""
        for store in (self.cache, self.plans, self._held, self.kept, self.live, self.in_place,
                      self._outside, self.layouts):
            store.clear()

    def plan(self, key: tuple) -> ArenaPlan:
        if key not in self.plans:
            req = self.cache[key].requests
            self.plans[key] = self._plan(lambda: self.model(key), req, self.live[key])
        return self.plans[key]

    def floor(self, key: tuple, goal: Objective, head_floor: int | None = None) -> int:
        """A lower bound of a measured candidate's `goal` figure, before planning it,
        from a lower bound of its head (default: the live-set bound): for the
        arena to set, that plus the least its tail can take."""
        bound = self.cache[key].bound
        head = bound if head_floor is None else head_floor
        if goal is Objective.HEAD:
            return head
        if key not in self.tail_floor:
            self.tail_floor[key] = tail_floor(self.model(key), self.target,
                                              self.cache[key].requests.scratch_count)
        return required_floor(head, self.tail_floor[key])

    def in_place_floor(self, key: tuple, goal: Objective) -> int:
        """A lower bound of the `goal` figure of the candidate with its ops in place."""
        if key not in self.in_place_head:
            self.in_place_head[key] = in_place_floor(self.model(key), self.cache[key].requests,
                                                     self.live[key], self.overwrite_inputs)
        return self.floor(key, goal, self.in_place_head[key])

    def aliased(self, key: tuple) -> Layout | None:
        """A planned candidate with its ops in place (`aliased_plan`: the
        blocks placed by TFLM's greedy rule), or None when that is no lower.
        Its live bytes are those the blocks reserve until `settle_live`."""
        if key not in self.in_place:
            plan = self.plan(key)
            self.in_place[key] = aliased_plan(self.model(key), plan, self.overwrite_inputs,
                                              exact_live=False)
        return self.in_place[key]

    def settled_in_place(self, key: tuple, plan: ArenaPlan) -> Layout | None:
        """A kept state's plan with its ops in place, as its option is offered: the
        one the search made, or, for a state kept without one, one made now
        unless its floor says it cannot beat `plan`."""
        if key in self.in_place_skipped \
                and self.in_place_floor(key, Objective.HEAD) < plan.arena_bytes:
            return self.aliased(key)
        return self.in_place.get(key)

    def layout(self, key: tuple, model: Model, base: ArenaPlan) -> Layout | None:
        """`best_layout` of a kept state's model from `base` (kept when `base` is
        the state's own plan: a child's beams search theirs while this process
        still runs its own)."""
        own = base is self.plans.get(key)
        if own and key in self.layouts:
            return self.layouts[key]
        lay = best_layout(model, base, iterations=100, overwrite_inputs=self.overwrite_inputs)
        if own:
            self.layouts[key] = lay
        return lay

    def _plan(self, model_of: Callable[[], Model], req: Requests, live: np.ndarray) -> ArenaPlan:
        offsets = greedy_offsets(req.buffers)
        return with_tail_of(model_of, ArenaPlan(requests=req, offsets=offsets,
                                                arena_bytes=arena_size(req.buffers, offsets),
                                                live=live), self.target)

    def outside_bound(self, key: tuple, model: Model, step: Step) -> int:
        """The most live bytes of the state `key` (whose model is `model`) at any
        scope outside the ops `step` rewrites: a bound of the candidate's live
        set, known before it is built (a rewrite keeps every other op's buffers)."""
        if key not in self._outside:
            if key:
                req, live = self.cache[key].requests, self.live[key]
            else:  # (the start is planned as every candidate is: without an offline plan)
                req = build_requests(model, None, self.target)
                live = live_bytes_per_scope(req.buffers, req.last_scope)
            starts = [s.scope for s in req.steps if s.subgraph == 0] + [req.last_scope + 1]
            before = np.maximum.accumulate(np.concatenate(([0], live)))  # [i]: max of live[:i]
            after = np.maximum.accumulate(np.concatenate((live, [0]))[::-1])[::-1]
            self._outside[key] = (starts, before.tolist(), after.tolist())
        starts, before, after = self._outside[key]
        seg = step.segment
        return max(before[starts[seg.first]], after[starts[seg.last + 1]])

    def _macs_of(self, key: tuple, model: Model) -> int:
        """The MACs of the state `key` (whose model is `model`)."""
        got = self.cache.get(key) if key else None
        if got is not None:
            return got.macs
        if key not in self.state_macs:
            self.state_macs[key] = model_macs(model)
        return self.state_macs[key]

    def _evaluate(self, build: Callable[[], Model], parent: Model, parent_macs: int) -> "_Measured":
        """Build and measure one candidate (its step applied to `parent`, of
        `parent_macs`)."""
        try:
            with lazy_indices():  # (settled when the model is asked for: `model`)
                m = build()
        except (ValueError, IndexError, KeyError, ZeroDivisionError, TinymemError):
            return _Measured(dropped=True)
        # Only the ops the step created can be new to the target (the parent's
        # were checked when it was measured): checking them is cheap, and a
        # schedule TFLM cannot run is never offered. Its MACs are the parent's
        # with the ops it left out replaced by those it made.
        rw, sg = m.main.rewrite, m.main
        if rw is not None and rw.source == id(parent.main):
            new_ops = rw.created
            macs = (parent_macs - total_macs(rw.dropped, parent.main)
                    + total_macs(rw.created, sg))
        else:  # (a step made otherwise: every op it may have made, every MAC)
            new_ops = [op for op in sg.operators if op.tag is not None]
            macs = model_macs(m)
        problems = check_ops(new_ops, sg, self.target)
        if problems:
            return _Measured(unsupported=problems[0].text())
        req = build_requests(m, None, self.target)
        live = live_bytes_per_scope(req.buffers, req.last_scope)
        return _Measured(model=m, requests=req, live=live,
                         bound=int(live.max()) if live.size else 0, macs=macs)

    def export(self, found: dict[int, dict[tuple, tuple]]) -> "_Found":
        """What a forked child's beams found (beam number -> kept states), to send
        to the parent: each state's key, MACs and whether its plan runs ops in
        place, and what this evaluator knows of it and its prefixes. Models stay
        here (the parent rebuilds them from their steps: building is
        deterministic); plans are given their tails here, whose recipes name them."""
        # What the explorer asks of kept states once every beam has run (their
        # plans in place, floors, best layouts) is worked out here meanwhile.
        for kept in found.values():
            for key, (_, plan, _) in kept.items():
                self.settled_in_place(key, plan)
                for goal in Objective:
                    self.in_place_floor(key, goal)
                if key in self.plans:
                    self.layout(key, self.model(key), self.plans[key])
        keys = {key[:n] for kept in found.values() for key in kept for n in range(1, len(key) + 1)}
        facts = {}
        for key in keys:
            got, plan, lay = self.cache[key], self.plans.get(key), self.in_place.get(key)
            best = self.layouts.get(key)
            for p in (plan, lay.plan if lay is not None else None,
                      best.plan if best is not None else None):
                if p is not None:
                    p.tail
            facts[key] = _Facts(got.bound, got.macs, got.ops, got.requests, self.live[key], plan,
                                key in self.in_place, lay, key in self.in_place_skipped,
                                self.in_place_head.get(key), self.tail_floor.get(key),
                                key in self.layouts, best)
        beams = {i: [(key, macs, plan is not self.plans.get(key))
                     for key, (_, plan, macs) in kept.items()] for i, kept in found.items()}
        return _Found(beams, facts, [k for k, got in self.cache.items() if got is not None],
                      self.unsupported)

    def adopt(self, found: "_Found") -> dict[int, dict[tuple, tuple]]:
        """The beams a forked child ran, as `_beam` returns them here, its
        figures taken into this evaluator (a fact known here already stays)."""
        mine = {k for k, got in self.cache.items() if got is not None}
        self.count += len(set(found.measured) - mine)
        for key, why in found.unsupported.items():
            self.unsupported.setdefault(key, why)
        arrived: dict[tuple, list[ArenaPlan]] = {}  # the child's plans taken, by state
        for key, f in found.facts.items():
            if key not in self.cache or self.cache[key] is None:
                self.cache[key] = _Candidate(f.bound, f.macs, f.ops, self._recipe(key), f.requests)
                self.live[key] = f.live
            if f.plan is not None and key not in self.plans:
                self.plans[key] = f.plan
                arrived.setdefault(key, []).append(f.plan)
            if f.planned_in_place and key not in self.in_place:
                if f.layout is not None:
                    arrived.setdefault(key, []).append(f.layout.plan)
                self.in_place[key] = f.layout
            if f.laid_out and key not in self.layouts:
                if f.layout_found is not None:
                    arrived.setdefault(key, []).append(f.layout_found.plan)
                self.layouts[key] = f.layout_found
            if f.in_place_skipped:
                self.in_place_skipped.add(key)
            if f.in_place_head is not None:
                self.in_place_head.setdefault(key, f.in_place_head)
            if f.tail_floor is not None:
                self.tail_floor.setdefault(key, f.tail_floor)
        out: dict[int, dict[tuple, tuple]] = {}
        for i, kept in found.beams.items():
            out[i] = {}
            for key, macs, in_place in kept:  # (prefixes first: each is rebuilt from the one before)
                m = self.kept[key] = self.model(key)
                for plan in arrived.pop(key, ()):  # (a tail's breakdown reads its model)
                    plan.target = self.target
                    if plan.tail is not None:
                        plan.tail.steps.reattach(lambda m=m: m, self.target)
                out[i][key] = (m, self.in_place[key].plan if in_place else self.plans[key], macs)
        return out

    def _recipe(self, key: tuple) -> Callable[[], Model]:
        def build() -> Model:
            return key[-1].apply(self.model(key[:-1]) if len(key) > 1 else self.start)
        return build


class _Candidate(NamedTuple):
    """What the evaluator keeps of a measured candidate for the whole search."""

    bound: int  # the live-set bound
    macs: int
    ops: int  # main-subgraph ops (a tie-breaker of the ranking)
    build: Callable[[], Model]  # its recipe: the model, rebuilt when let go
    requests: Requests


@dataclass
class _Measured:
    """One candidate's measurement."""

    dropped: bool = False  # the step cannot apply to this model
    unsupported: str | None = None  # why the target cannot run its new ops
    model: Model | None = None
    requests: Requests | None = None
    live: np.ndarray | None = None
    bound: int = 0
    macs: int = 0


class _Facts(NamedTuple):
    """What a child's evaluator knows of one state it kept (`_Evaluator.export`)."""

    bound: int
    macs: int
    ops: int
    requests: Requests
    live: np.ndarray
    plan: ArenaPlan | None  # planned as TFLM's greedy planner plans it
    planned_in_place: bool  # `aliased` was asked (`layout` is its answer)
    layout: Layout | None
    in_place_skipped: bool
    in_place_head: int | None
    tail_floor: int | None
    laid_out: bool  # `layout` was asked from its own plan (`layout_found` is its answer)
    layout_found: Layout | None


class _Found(NamedTuple):
    """What a forked child's beams found (`_Evaluator.export`)."""

    beams: dict[int, list[tuple[tuple, int, bool]]]  # beam -> (key, MACs, plan in place)
    facts: dict[tuple, _Facts]
    measured: list[tuple]  # every candidate it measured (the count of the search)
    unsupported: dict[tuple, str]


@collector_off()
@shared_answers()
@shared_renumbering()
def explore(model: Model, budget: int | None = None, max_overhead: float | None = None,
            progress: Callable[[int, int], None] | None = None,
            sources: list[StepSource] | None = None,
            target: Target | None = None, overwrite_inputs: bool = False,
            beam: int = DEFAULT_BEAM, caps: tuple[float, ...] = OVERHEAD_CAPS,
            objectives: tuple[Objective, ...] = SEARCH_OBJECTIVES) -> Exploration:
    """All schedules found for `model`, measured as TFLite Micro would plan them on
    `target` (None: the host wheel); options are judged by the arena to set, and
    only schedules whose ops the target's kernels run are offered.

    Layouts may run element-wise ops in place over their inputs; over the
    model's inputs only with `overwrite_inputs` (the caller's input data is
    then lost once the model has run). The tiling search keeps, for each of
    `objectives`, the schedules best by that figure; the recommendation is
    always by the arena to set. `beam` and `caps` (the MAC overheads a chain
    search runs under) trade search time for options: `bench/explore_bench.py
    --beam 2 --caps 0.02,0.1` is about 3x faster over the bench models."""
    t0 = time.perf_counter()
    sources = sources if sources is not None else STEP_SOURCES
    ev = _Evaluator(model, progress, target, overwrite_inputs)
    base_ops = sum(len(sg.operators) for sg in model.subgraphs)
    base_plan = plan_model(model, target=target)

    def option(kind, desc, m, plan, macs, steps=(), offline=None) -> Option:
        return Option(id="", kind=kind, description=desc, model=m, plan=plan, macs=macs,
                      base_macs=ev.base_macs, base_ops=base_ops, steps=tuple(steps),
                      offline=offline, base_subgraph=model.main)

    baseline = option("baseline", "layer by layer, in file order (TFLM greedy layout)",
                      model, base_plan, ev.base_macs)
    options = [baseline]

    lay = best_layout(model, base_plan, overwrite_inputs=overwrite_inputs)
    if lay is not None:
        options.append(option("layout", "same ops, tensors placed by tinymem's layout "
                              "(OfflineMemoryAllocation)" + _in_place_note(len(lay.aliases)),
                              model,
                              lay.plan, ev.base_macs, offline=lay.offline))
    ro = reorder(model)
    if ro is not None:
        options.append(option("reorder", "ops in a lower-peak topological order", ro,
                              plan_model(ro, target=target), ev.base_macs))

    # Exact rewrites first: explicit PADs folded into SAME convolutions. The
    # tiling chains start from the folded graph (it is never worse).
    start, start_plan, fold_note = model, base_plan, ""
    folded = fold_pads(model)
    if folded is not None:
        start, n = folded
        start_plan = plan_model(start, target=target)
        fold_note = f"{n} PAD{'s' if n != 1 else ''} folded into SAME convolutions"
        options.append(option("fold", fold_note, start, start_plan, ev.base_macs))
        lay = best_layout(start, start_plan, overwrite_inputs=overwrite_inputs)
        if lay is not None:
            options.append(option("fold+layout", fold_note + "; tinymem layout"
                                  + _in_place_note(len(lay.aliases)), start, lay.plan,
                                  ev.base_macs,
                                  offline=lay.offline))

    # Chains of tiling steps: one beam per objective and overhead cap.
    # Results are cached, so the caps and the objectives share their prefixes.
    # Recomputing tilings are also chained without cached strips, which would
    # crowd them out, so both show side by side.
    # The beams run on two cores when there are (`parallel.share_ends`), an
    # objective's caps together (each cap's beam reuses most of what the one
    # before it measured); each beam finds what it would alone, and their
    # states are joined in this order.
    pools = [sources] + ([[s for s in sources if s is not cached_steps]]
                         if cached_steps in sources else [])
    beams = [(p, goal, cap) for p in range(len(pools)) for goal in objectives for cap in caps]
    # The heaviest group first (the head's beams keep the most states), the
    # other process taking the groups from the end.
    groups = sorted({(p, goal) for p, goal, _ in beams},
                    key=lambda g: (g[0], g[1] is not Objective.HEAD))
    members = [[i for i, b in enumerate(beams) if b[:2] == group] for group in groups]
    listed: list[dict[tuple[Step, ...], list[Step]]] = [{} for _ in pools]  # per pool
    ev.start = start

    def run(g: int) -> dict[int, dict[tuple, tuple]]:
        # The highest cap first: its beam measures nearly every candidate the
        # lower caps' beams ask for (on the PyTorch MobileNetV2 the head's seven
        # beams take 13.8 s so, 16.1 s lowest first).
        return {i: _beam(ev, pools[beams[i][0]], listed[beams[i][0]], start, start_plan,
                         beams[i][2], beam, beams[i][1], budget)
                for i in sorted(members[g], key=lambda i: -beams[i][2])}

    def pack(done: dict[int, dict]) -> _Found:
        return ev.export({i: kept for by_beam in done.values() for i, kept in by_beam.items()})

    def unpack(found: _Found) -> dict[int, dict]:
        by_beam = ev.adopt(found)
        return {g: {i: by_beam[i] for i in mine} for g, mine in enumerate(members)
                if all(i in by_beam for i in mine)}

    def quiet() -> None:
        ev.progress = None  # (the child's count would be drawn over this process's)

    by_beam: dict[int, dict] = {}
    for done in parallel.share_ends(len(groups), run, pack, unpack, quiet):
        by_beam.update(done)
    chains: dict[tuple[Step, ...], tuple[Model, ArenaPlan, int]] = {}
    for i in range(len(beams)):
        chains.update(by_beam[i])
    for steps, (m, plan, macs) in chains.items():
        kinds = sorted({s.kind for s in steps}, key=list(StepKind).index)
        kinds = (["fold"] if fold_note else []) + kinds
        labels = ([fold_note] if fold_note else []) + [s.label for s in steps]
        # (A state kept without being placed in place is placed so now, unless
        # its floor says that cannot beat its plan.)
        lay = ev.settled_in_place(steps, plan)
        note = ""
        if lay is not None and lay.plan.arena_bytes < plan.arena_bytes or \
                lay is not None and lay.plan is plan:  # (a state kept with its ops in place)
            plan = lay.plan
            settle_live(plan)
            note = _in_place_note(len(lay.aliases))
        options.append(option("+".join(kinds), "; then ".join(labels) + note, m, plan, macs,
                              steps, plan.offline))
    # A better layout on top of the tiled schedules, at no extra MACs. (It is
    # tried on every schedule whose layouts could show: running ops in place
    # lowers the bound itself, so a schedule's own figures do not rule it out.)
    for o in list(options):
        if o.steps and not _layout_cannot_show(ev, o, options):
            # From the schedule as planned without ops in place: the search
            # places the in-place groups itself, and must beat the plan found.
            lay = ev.layout(o.steps, o.model, ev.plans.get(o.steps, o.plan))
            if lay is not None and lay.plan.arena_bytes < o.plan.arena_bytes:
                options.append(option(o.kind + "+layout", o.description + "; tinymem layout"
                                      + _in_place_note(len(lay.aliases)), o.model, lay.plan,
                                      o.macs,
                                      o.steps, lay.offline))
    options = _dedupe(options)
    _number(options)
    _mark(options, budget, max_overhead)
    for o in options:
        o.plan.tail  # (planned now: a plan's tail recipe may need the evaluator)
    ev.release()
    ex = Exploration(model=model, baseline=baseline, options=options, budget=budget,
                     max_overhead=max_overhead, evaluated=ev.count, objectives=tuple(objectives),
                     notes=_base_note(model, ev.target) + _skipped_notes(ev.unsupported))
    if min(o.required_bytes for o in options) >= baseline.required_bytes:
        low = min(options, key=lambda o: (o.arena_bytes, o.required_bytes))
        lower_head = LowerHead(low.kind, low.arena_bytes, low.required_bytes, low.mac_overhead) \
            if low.arena_bytes < baseline.arena_bytes else None
        ex.diagnosis = diagnose(model, base_plan, overwrite_inputs, lower_head)
        ex.notes.append(ex.diagnosis.text)
    ex.seconds = time.perf_counter() - t0
    return ex


def _beam(ev: "_Evaluator", pool, candidates: dict, start: Model, start_plan: ArenaPlan,
          cap: float, beam: int, goal: Objective, budget: int | None) -> dict[tuple, tuple]:
    """The states one beam keeps: at each depth the `beam` best (by `goal`, then
    live-set peak, then MACs) are extended. Returns steps -> (model, plan, MACs)."""
    kept: dict[tuple, tuple] = {}
    frontier = [((), start, start_plan)]
    greedy: tuple | None = ()  # the one-state chain's current key: always kept,
    # so a beam never ends above what the greedy chain reaches
    for _ in range(MAX_CHAIN):
        found: dict[tuple, tuple] = {}
        greedy_next = None
        for steps, cur, cur_plan in frontier:
            exts = _extensions(ev, pool, candidates, steps, cur, cur_plan, cap, beam, goal)
            if steps == greedy and exts:
                greedy_next = exts[0]
            for ext in exts:
                found.setdefault(ext[1], ext)
        if not found:
            break
        ranked = sorted(found.values(), key=lambda f: f[0])[:beam]
        if greedy_next is not None and greedy_next[1] not in {r[1] for r in ranked}:
            ranked.append(greedy_next)
        greedy = greedy_next[1] if greedy_next is not None else None
        for _, key, plan, macs in ranked:
            m = ev.kept[key] = ev.model(key)
            kept[key] = (m, plan, macs)
        # With a budget, a state that fits is not extended: more steps only
        # add MACs, and the cheapest schedule that fits is the answer.
        frontier = [(key, kept[key][0], plan) for _, key, plan, _ in ranked
                    if budget is None or plan.required_bytes > budget]
        if not frontier:
            break
    return kept


def _extensions(ev: "_Evaluator", sources, candidates: dict, steps: tuple, cur: Model,
                cur_plan: ArenaPlan, cap: float, keep: int,
                goal: Objective = Objective.TO_SET) -> list[tuple]:
    """The `keep` best single steps from `cur` within the MAC cap by `goal`, best
    first: (score, steps key, plan, MACs).

    Candidates are judged as TFLM's greedy planner plans them; one that does
    not pay so may still pay with its ops in place (a stage whose peak is
    its own join, say): it is judged with them, but only takes a place no
    plainly judged candidate claims, so the search never loses a chain for it.
    """
    peak_op = _peak_op(cur_plan)
    if peak_op is None:
        return []
    # The caps and objectives share chain prefixes: each prefix's candidates are listed once.
    if steps not in candidates:
        candidates[steps] = [step for src in sources
                             for step in src(cur, peak_op, cur_plan.arena_bytes, ev.target)]
    best: list[tuple] = []
    too_costly: set = set()
    cur_figure = figure(cur_plan, goal)
    for step in candidates[steps]:
        if step.segment in too_costly:
            continue  # grids come fewest tiles first: the rest cost more
        key = steps + (step,)
        # A step must lower the figure, or keep it and lower the live-set
        # peak: greedy placement sometimes hides a real gain until the
        # next step (or a better layout) cashes it in. The bound is below
        # the head, and the floor below the figure: a candidate above either
        # cannot take a kept place, so it is not planned.
        full = len(best) >= keep and best[-1][0][0] == _PLAIN
        to_beat = best[-1][0][1] if full else cur_figure
        if full and key not in ev.cache:
            # Its bound is at least the parent's live bytes outside the span it
            # rewrites (those steps keep their buffers): over that, it cannot take
            # a place, and once the kept places are full it is not even built.
            # (All grids of a segment share the span, so the MAC cap's sweep
            # stops at the same grids as if they were measured.)
            outside = ev.outside_bound(steps, cur, step)
            if outside >= cur_plan.peak_bytes or outside > to_beat:
                continue
        measured = ev.measure(key, cur)
        if measured is None:
            continue
        bound, macs, n_ops = measured
        over = macs / ev.base_macs - 1 if ev.base_macs else 0.0
        if over > cap + 1e-12:
            too_costly.add(step.segment)
            continue
        score = None
        if bound < cur_plan.peak_bytes and bound <= to_beat and ev.floor(key, goal) <= to_beat:
            plan = ev.plan(key)
            if figure(plan, goal) <= cur_figure:
                score = (_PLAIN, figure(plan, goal), plan.peak_bytes, macs, n_ops)
        if score is None and not full and key not in ev.in_place \
                and ev.in_place_floor(key, goal) >= cur_figure:
            ev.in_place_skipped.add(key)  # it cannot pay in place: not planned so
        elif score is None and not full:
            lay = ev.aliased(key)
            if lay is not None and figure(lay.plan, goal) < cur_figure:
                plan = lay.plan
                score = (_IN_PLACE, figure(plan, goal), plan.peak_bytes, macs, n_ops)
        if score is not None and (len(best) < keep or score < best[-1][0]):
            best.append((score, key, plan, macs))
            best.sort(key=lambda b: b[0])
            del best[keep:]
    return best


def _layout_cannot_show(ev: "_Evaluator", o: Option, options: list[Option]) -> bool:
    """Whether no layout of `o`'s schedule can show anywhere: by each objective,
    an option at no more MACs is at or below the least any layout of it takes
    (`aliases.in_place_floor`: the live bytes less the inputs its ops may
    write over), and strictly below in one of the two. Such a layout would be
    off both Pareto fronts and never the best within an overhead, so the
    search for it (a quarter of MobileNetV2-0.35's explore) is skipped. Only
    options of its own family count (cached strips or recomputing only): the
    two are shown side by side."""
    family = _caches(o)
    for goal in (Objective.TO_SET, Objective.HEAD):
        floor = ev.in_place_floor(o.steps, goal)
        if not any(q is not o and _caches(q) == family
                   and q.mac_overhead <= o.mac_overhead + 1e-12
                   and figure(q.plan, goal) <= floor
                   and (figure(q.plan, goal) < floor or q.mac_overhead < o.mac_overhead - 1e-12)
                   for q in options):
            return False
    return True


def _caches(o: Option) -> bool:
    return any(s.kind is StepKind.CACHED for s in o.steps)


# How a kept step was judged (the first entry of its score, so plainly judged ones rank first).
_PLAIN, _IN_PLACE = 0, 1


def _in_place_note(n: int) -> str:
    return f", {n} op{'s' if n != 1 else ''} in place" if n else ""


def _base_note(model: Model, target: Target) -> list[str]:
    """The model itself cannot run on the target: no option of it can be written."""
    support = check_support(model, target)
    if support.runs:
        return []
    return [f"{support.headline()} ({support.brief(1)}); no option can be written for it"]


def _skipped_notes(unsupported: dict[tuple, str]) -> list[str]:
    """One note per split skipped for an op the target lacks (all its grids at once)."""
    notes: dict[str, None] = {}
    for key, why in unsupported.items():
        what = " ".join(key[-1].label.split(" ")[:3])  # "patch ops 0-6": all its grids
        notes[f"skipped {what} (not offered): {why}"] = None
    return list(notes)


def _peak_op(plan: ArenaPlan) -> int | None:
    """The main-subgraph op at the peak (the caller, when the peak is inside a call)."""
    step = plan.peak_step()
    return None if step is None else plan.main_op_at(step)


def _dedupe(options: list[Option]) -> list[Option]:
    seen: dict[tuple, Option] = {}
    out = []
    for o in options:
        key = (o.required_bytes, o.arena_bytes, o.macs, o.kind)
        if key in seen and o.kind != "baseline":
            continue
        seen[key] = o
        out.append(o)
    return out


def _number(options: list[Option]) -> None:
    counts: dict[str, int] = {}
    for o in options:
        if o.kind == "baseline":
            o.id = "baseline"
            continue
        counts[o.kind] = counts.get(o.kind, 0) + 1
        o.id = f"{o.kind}-{counts[o.kind]}"


def _on_front(o: Option, options: list[Option], objective: Objective) -> bool:
    """No other option is at or below `o` in both the figure and the MAC overhead
    and strictly below in one."""
    mine = figure(o.plan, objective)
    for p in options:
        theirs = figure(p.plan, objective)
        if (theirs <= mine and p.mac_overhead <= o.mac_overhead + 1e-12
                and (theirs < mine or p.mac_overhead < o.mac_overhead - 1e-12)):
            return False
    return True


def _mark(options: list[Option], budget: int | None, max_overhead: float | None) -> None:
    for o in options:
        o.recommended = False  # marks are recomputed whole, never left from an earlier call
        o.pareto = _on_front(o, options, Objective.TO_SET)
        o.pareto_head = _on_front(o, options, Objective.HEAD)
        o.fits = None if budget is None else o.required_bytes <= budget
    # The recommendation is by the arena to set: it is what the board sets.
    allowed = [o for o in options
               if max_overhead is None or o.mac_overhead <= max_overhead + 1e-12]
    if budget is not None:
        fitting = [o for o in allowed if o.fits]
        if fitting:
            min(fitting, key=lambda o: (round(o.mac_overhead, 9), o.required_bytes,
                                        o.ops_added)).recommended = True
    elif allowed:
        min(allowed, key=lambda o: (o.required_bytes, o.mac_overhead)).recommended = True
