"""One call that plans a model's arena head the way TFLite Micro does.

Everything in tinymem that needs "how much SRAM" goes through `plan_model`:
the profiler, every schedule the explorer evaluates, and the check of a
rewritten file, so their figures cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..graph.ir import Model
from ..targets import HOST, Target, resolve_target
from ..read.file import offline_plan
from .greedy import arena_size, greedy_offsets
from .liveness import live_bytes_per_scope
from .requests import BufferRequest, ExecutionStep, Requests, build_requests
from .tail import TailPlan, plan_tail

# Library calls that name no target plan for the tflite-micro wheel (TFLM's
# reference kernels on the 64-bit host); the CLI always names one.
HOST_TARGET = resolve_target(HOST)


@dataclass
class ArenaPlan:
    requests: Requests
    offsets: list[int]
    arena_bytes: int  # the head TFLM would allocate
    live: np.ndarray  # aligned live bytes per scope
    target: Target = HOST_TARGET
    # The OfflineMemoryAllocation plan tinymem chose for it (ops in place), to
    # be written with the model; None: the model's own plan, if any, or none.
    offline: list[int] | None = None
    # The tail is planned when first asked for (`with_tail` leaves the recipe):
    # the explorer ranks most candidates by their head alone, and a tail costs
    # a pass over every op of the candidate.
    _tail: TailPlan | None = field(default=None, repr=False)
    _tail_recipe: Callable[[], TailPlan] | None = field(default=None, repr=False)

    @property
    def tail(self) -> TailPlan | None:
        if self._tail_recipe is not None:
            self._tail, self._tail_recipe = self._tail_recipe(), None
        return self._tail

    @property
    def head_bytes(self) -> int:
        return self.arena_bytes

    @property
    def tail_bytes(self) -> int:
        return self.tail.tail_bytes if self.tail is not None else 0

    @property
    def required_bytes(self) -> int:
        """The arena the board must set: the smallest with which AllocateTensors succeeds."""
        return self.tail.required_bytes if self.tail is not None else self.arena_bytes

    def scratch_bytes_by_op(self) -> dict[tuple[int, int], int]:
        """Aligned scratch bytes each operator's kernel requests in the head."""
        return _per_scratch_op(self.requests, lambda b: b.aligned)

    def persistent_bytes_by_op(self) -> dict[tuple[int, int], int]:
        """Tail bytes of each operator: parsed options and kernel data (padding included)."""
        return dict(self.tail.op_bytes) if self.tail is not None else {}

    def arena_json(self) -> dict:
        return {"head_bytes": self.head_bytes, "tail_bytes": self.tail_bytes,
                "required_bytes": self.required_bytes}

    @property
    def buffers(self) -> list[BufferRequest]:
        return self.requests.buffers

    @property
    def peak_bytes(self) -> int:
        """The live-set lower bound: no layout of this schedule needs less.

        With an offline plan, the bytes its buffers cover count (see
        liveness): no placement of the online buffers needs less.
        """
        return int(self.live.max()) if self.live.size else 0

    @property
    def has_offline_plan(self) -> bool:
        return any(b.offline_offset is not None for b in self.buffers)

    def peak_step(self) -> ExecutionStep | None:
        """The op at the peak: the first, in execution order, of those running
        when the most memory is alive (any subgraph). The one definition of
        "the peak op" the profile, its views and the search all use."""
        best, best_live = None, -1
        for step in self.requests.steps:
            if self.live[step.scope] > best_live:
                best, best_live = step, int(self.live[step.scope])
        return best

    def main_op_at(self, step: ExecutionStep) -> int:
        """The main-subgraph op running at `step`: itself, or the control-flow op
        whose call it is part of (a called subgraph's steps follow their caller's)."""
        op = step.op
        for s in self.requests.steps:
            if s.subgraph == 0:
                op = s.op
            if s is step:
                break
        return op


def _plan_figure(name: str, doc: str) -> property:
    """A figure read from `self.plan`: the plan is its one home."""
    return property(lambda self: getattr(self.plan, name), doc=doc)


class PlannedFigures:
    """The figures of anything measured by a plan (a profile, an explored option)."""

    plan: ArenaPlan

    arena_bytes = _plan_figure("arena_bytes", "The arena head TFLM allocates.")
    peak_bytes = _plan_figure("peak_bytes", "The live-set lower bound.")
    target = _plan_figure("target", "The target the plan was made for.")
    head_bytes = _plan_figure("head_bytes", "The arena head TFLM allocates.")
    tail_bytes = _plan_figure("tail_bytes", "The tail: what TFLM keeps from the arena's end.")
    required_bytes = _plan_figure(
        "required_bytes", "The arena to set (kTensorArenaSize): the smallest that works on the target.")


def plan_model(model: Model, offline: list[int] | None = None,
               target: Target | None = None) -> ArenaPlan:
    """Plan the arena with TFLM's rules for a target: the head (greedy planner,
    with the target's kernels' scratch), the tail and the smallest arena.

    When the model carries an OfflineMemoryAllocation plan, TFLM honours it;
    so do we, unless `offline` overrides it. `target` None: the host wheel.
    """
    target = target or HOST_TARGET
    if offline is None:
        offline = offline_plan(model)
    req = build_requests(model, offline, target)
    offsets = greedy_offsets(req.buffers)
    plan = ArenaPlan(requests=req, offsets=offsets, arena_bytes=arena_size(req.buffers, offsets),
                     live=live_bytes_per_scope(req.buffers, req.last_scope))
    return with_tail(model, plan, target, offline)


def with_tail(model: Model, plan: ArenaPlan, target: Target | None,
              offline: list[int] | None = None) -> ArenaPlan:
    """`plan` (a head plan of `model`) with the target's tail and smallest arena."""
    return with_tail_of(lambda: model, plan, target, offline)


def with_tail_of(model_of: Callable[[], Model], plan: ArenaPlan, target: Target | None,
                 offline: list[int] | None = None) -> ArenaPlan:
    """`with_tail` for the model `model_of()` gives, asked for only when the tail is
    (the explorer lets go of the models of candidates it may never ask again)."""
    target = target or HOST_TARGET
    plan.target = target
    requests, head = plan.requests, plan.arena_bytes  # (as planned now)

    def recipe() -> TailPlan:
        return plan_tail(model_of(), target, head, _per_scratch_op(requests, lambda b: 1),
                         requests.planned_count, offline if offline else None)

    plan._tail, plan._tail_recipe = None, recipe
    return plan


def _per_scratch_op(requests: Requests, weigh: Callable[[BufferRequest], int]
                    ) -> dict[tuple[int, int], int]:
    """(subgraph, op) -> the sum of `weigh` over the scratch buffers the op's kernel requests."""
    out: dict[tuple[int, int], int] = {}
    for b in requests.buffers:
        if b.tensor is None and b.op is not None:
            out[(b.subgraph, b.op)] = out.get((b.subgraph, b.op), 0) + weigh(b)
    return out

