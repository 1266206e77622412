"""The search for schedules that lower the peak, and what each one costs.

Every candidate is a transformed Model measured by `plan_model`, the planner
`profile` uses. The search:
  1. baseline, and a better layout of it (an offline plan, zero overhead);
  2. a memory-aware reordering where the graph branches;
  3. single tiling steps (patch-based stage at the input, fused tiling of
     deeper segments) around the peak, over many grids;
  4. greedy chains of steps: apply the best step within an overhead cap,
     find the new peak, repeat - once per cap, so the options span the
     whole range from cheap to aggressive.
Then the Pareto front (arena vs MAC overhead) is marked and one option is
recommended: the lowest overhead that fits the budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..errors import TinymemError
from ..ir import Model, Subgraph
from ..memory.layout import best_layout
from ..memory.greedy import arena_size, greedy_offsets
from ..memory.liveness import live_bytes_per_scope
from ..memory.planner import ArenaPlan, PlannedFigures, plan_model
from ..memory.requests import Requests, build_requests
from ..ops import total_macs
from .reorder import reorder
from .fdt import fdt_steps
from .tiling_steps import Step, spatial_steps

OVERHEAD_CAPS = (0.0, 0.02, 0.05, 0.10, 0.15, 0.25, 0.5)
MAX_CHAIN = 5

# (current model, op at its peak, its current arena) -> candidate steps.
StepSource = Callable[[Model, int, int], Iterable[Step]]
# Sources of candidate steps; the FDT splitter registers here too.
STEP_SOURCES: list[StepSource] = [spatial_steps, fdt_steps]


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
    pareto: bool = False
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
    notes: list[str] = field(default_factory=list)

    @property
    def recommended(self) -> Option | None:
        return next((o for o in self.options if o.recommended), None)

    def best_within(self, overhead: float) -> Option:
        ok = [o for o in self.options if o.mac_overhead <= overhead + 1e-12]
        return min(ok, key=lambda o: (o.arena_bytes, o.mac_overhead))

    def get(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


class _Evaluator:
    """Builds and measures candidates once each (keyed by the steps applied).

    The live-set bound is computed for every candidate; the greedy arena
    only when the bound says the candidate could still win.
    """

    def __init__(self, base: Model, progress: Callable[[int, int], None] | None):
        self.base = base
        self.base_macs = model_macs(base)
        self.cache: dict[tuple, tuple[Model, Requests, int, int]] = {}
        self.plans: dict[tuple, ArenaPlan] = {}
        self.progress = progress
        self.count = 0

    def measure(self, key: tuple, build: Callable[[], Model]) -> tuple[Model, int, int] | None:
        """(model, live-set bound, MACs), or None when the step cannot apply.

        A model's own inconsistencies (weights whose size contradicts their
        shape, say) can make one candidate impossible to build; that
        candidate is dropped, not the whole search.
        """
        if key not in self.cache:
            try:
                m = build()
            except (ValueError, IndexError, KeyError, ZeroDivisionError, TinymemError):
                self.cache[key] = None
                return None
            req = build_requests(m)
            live = live_bytes_per_scope(req.buffers, req.last_scope)
            self.cache[key] = (m, req, int(live.max()) if live.size else 0, model_macs(m))
            self.count += 1
            if self.progress:
                self.progress(self.count, 0)
        if self.cache[key] is None:
            return None
        m, _, bound, macs = self.cache[key]
        return m, bound, macs

    def plan(self, key: tuple) -> ArenaPlan:
        if key not in self.plans:
            m, req, _, _ = self.cache[key]
            offsets = greedy_offsets(req.buffers)
            self.plans[key] = ArenaPlan(requests=req, offsets=offsets,
                                        arena_bytes=arena_size(req.buffers, offsets),
                                        live=live_bytes_per_scope(req.buffers, req.last_scope))
        return self.plans[key]


def explore(model: Model, budget: int | None = None, max_overhead: float | None = None,
            progress: Callable[[int, int], None] | None = None,
            sources: list[StepSource] | None = None) -> Exploration:
    """All schedules found for `model`, measured as TFLite Micro would plan them."""
    t0 = time.perf_counter()
    sources = sources if sources is not None else STEP_SOURCES
    ev = _Evaluator(model, progress)
    base_ops = sum(len(sg.operators) for sg in model.subgraphs)
    base_plan = plan_model(model)

    def option(kind, desc, m, plan, macs, steps=(), offline=None) -> Option:
        return Option(id="", kind=kind, description=desc, model=m, plan=plan, macs=macs,
                      base_macs=ev.base_macs, base_ops=base_ops, steps=tuple(steps),
                      offline=offline, base_subgraph=model.main)

    baseline = option("baseline", "layer by layer, in file order (TFLM greedy layout)",
                      model, base_plan, ev.base_macs)
    options = [baseline]

    lay = best_layout(model, base_plan)
    if lay is not None:
        options.append(option("layout", "same ops, tensors placed by tinymem's layout "
                              "(OfflineMemoryAllocation)", model, lay.plan, ev.base_macs,
                              offline=lay.offline))
    ro = reorder(model)
    if ro is not None:
        options.append(option("reorder", "ops in a lower-peak topological order", ro,
                              plan_model(ro), ev.base_macs))

    # Greedy chains of tiling steps, one per overhead cap; results are cached
    # so the caps share their common prefixes.
    chains: dict[tuple[Step, ...], tuple[Model, ArenaPlan, int]] = {}
    for cap in OVERHEAD_CAPS:
        steps: tuple[Step, ...] = ()
        cur, cur_plan, cur_macs = model, base_plan, ev.base_macs
        for _ in range(MAX_CHAIN):
            peak_op = _peak_op(cur_plan)
            if peak_op is None:
                break
            best = None
            too_costly: set = set()
            for src in sources:
                for step in src(cur, peak_op, cur_plan.arena_bytes):
                    if step.segment in too_costly:
                        continue  # grids come fewest tiles first: the rest cost more
                    key = steps + (step,)
                    measured = ev.measure(key, lambda s=step, c=cur: s.apply(c))
                    if measured is None:
                        continue
                    m, bound, macs = measured
                    over = macs / ev.base_macs - 1 if ev.base_macs else 0.0
                    if over > cap + 1e-12:
                        too_costly.add(step.segment)
                        continue
                    # A step must lower the arena, or keep it and lower the live-set
                    # peak: greedy placement sometimes hides a real gain until the
                    # next step (or a better layout) cashes it in.
                    target = best[0][0] if best else cur_plan.arena_bytes
                    if bound > target or bound >= cur_plan.peak_bytes:
                        continue
                    plan = ev.plan(key)
                    if plan.arena_bytes > cur_plan.arena_bytes:
                        continue
                    score = (plan.arena_bytes, plan.peak_bytes, macs, len(m.main.operators))
                    if best is None or score < best[0]:
                        best = (score, key, m, plan, macs)
            if best is None:
                break
            _, steps, cur, cur_plan, cur_macs = best
            chains[steps] = (cur, cur_plan, cur_macs)
    for steps, (m, plan, macs) in chains.items():
        kinds = sorted({s.kind for s in steps}, key=["patch", "spatial", "fdt"].index)
        options.append(option("+".join(kinds), "; then ".join(s.label for s in steps),
                              m, plan, macs, steps))
    # A better layout on top of the best tiled schedules, at no extra MACs.
    for o in list(options):
        if o.steps and o.plan.arena_bytes > o.plan.peak_bytes:
            lay = best_layout(o.model, o.plan, iterations=100)
            if lay is not None:
                options.append(option(o.kind + "+layout", o.description + "; tinymem layout",
                                      o.model, lay.plan, o.macs, o.steps, lay.offline))
    options = _dedupe(options)
    _number(options)
    _mark(options, budget, max_overhead)
    return Exploration(model=model, baseline=baseline, options=options, budget=budget,
                       max_overhead=max_overhead, seconds=time.perf_counter() - t0,
                       evaluated=ev.count)


def _peak_op(plan: ArenaPlan) -> int | None:
    """The main-subgraph op running when the most memory is alive."""
    best, best_live = None, -1
    for step in plan.requests.steps:
        if step.subgraph == 0 and plan.live[step.scope] > best_live:
            best, best_live = step.op, int(plan.live[step.scope])
    return best


def _dedupe(options: list[Option]) -> list[Option]:
    seen: dict[tuple, Option] = {}
    out = []
    for o in options:
        key = (o.arena_bytes, o.macs, o.kind)
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


def _mark(options: list[Option], budget: int | None, max_overhead: float | None) -> None:
    for o in options:
        o.pareto = not any(
            (p.arena_bytes <= o.arena_bytes and p.mac_overhead <= o.mac_overhead + 1e-12)
            and (p.arena_bytes < o.arena_bytes or p.mac_overhead < o.mac_overhead - 1e-12)
            for p in options)
        o.fits = None if budget is None else o.arena_bytes <= budget
    allowed = [o for o in options
               if max_overhead is None or o.mac_overhead <= max_overhead + 1e-12]
    if budget is not None:
        fitting = [o for o in allowed if o.fits]
        if fitting:
            min(fitting, key=lambda o: (round(o.mac_overhead, 9), o.arena_bytes,
                                        o.ops_added)).recommended = True
    elif allowed:
        min(allowed, key=lambda o: (o.arena_bytes, o.mac_overhead)).recommended = True
