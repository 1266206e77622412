"""Ops moved to a kernel path that needs no scratch buffer (exact, no extra MACs).

Some optimised kernels ask for a scratch buffer on their fast path only, and
the path is chosen by an option that, for some filters, does not change what
the op computes (a depthwise filter with one tap on an axis reads the same
inputs for any dilation on that axis; see each rule's `scratch_free`). Where
such a scratch buffer is alive at the peak, giving the op that option removes
it from the arena at no cost in MACs or tensors; the price is the slower
kernel. One step moves every op that has such a variant (a tiled graph has
many copies of the same layer); the explorer's planner, which sizes scratch
for the target, judges whether it lowers anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..graph.ir import Model, Subgraph
from ..ops import rule_for
from ..targets import Target
from .edit import GraphEditor, clone
from .steps import StepKind, step_label


def scratch_free_ops(sg: Subgraph) -> dict[int, dict]:
    """Op index -> the option changes that move it to its buffer-free kernel."""
    out = {}
    for op in sg.operators:
        fn = rule_for(op).scratch_free
        changes = fn(op, sg) if fn is not None else None
        if changes:
            out[op.index] = changes
    return out


@dataclass(frozen=True)
class MovedOps:
    """The ops a kernel step moves (current-graph numbers), spanning [first, last]."""

    ops: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.ops[0]

    @property
    def last(self) -> int:
        return self.ops[-1]


@dataclass(frozen=True)
class ScratchFreeStep:
    """An explorer step: every op with a buffer-free variant runs it."""

    ops: tuple[int, ...]  # the ops moved, in the current graph
    source_ops: tuple[int, int] | None = None
    kind: StepKind = StepKind.KERNEL
    grid: None = None
    parts: int = 0
    names: tuple[str, ...] = ()

    @property
    def segment(self) -> MovedOps:
        return MovedOps(self.ops)

    @property
    def label(self) -> str:
        n = len(self.ops)
        return step_label(self, f"{n} {'/'.join(self.names)} op{'s' if n != 1 else ''} on "
                                f"the kernel with no scratch (same results, slower)")

    def apply(self, model: Model) -> Model:
        return run_scratch_free(model)


def run_scratch_free(model: Model) -> Model:
    """The model with every main-subgraph op that has a buffer-free variant moved to it."""
    sg = model.main
    moves = scratch_free_ops(sg)
    if not moves:
        raise ValueError("no op has a kernel variant without scratch")
    ed = GraphEditor(model, 0)
    for op in sg.operators:
        if op.index in moves:
            ed.keep(clone(op, options=dict(op.options, **moves[op.index])))
        else:
            ed.keep(op)
    return ed.finish()


def scratch_free_steps(model: Model, peak_op: int, arena: int,
                       target: Target | None = None) -> Iterator[ScratchFreeStep]:
    """The one step, when the op at the peak has a buffer-free variant (`target`
    unused: the planner judges on it whether the buffer was there to remove)."""
    sg = model.main
    moves = scratch_free_ops(sg)
    if peak_op not in moves:
        return
    origins = [sg.operators[i].origin if sg.operators[i].origin is not None else i for i in moves]
    yield ScratchFreeStep(ops=tuple(sorted(moves)), source_ops=(min(origins), max(origins)),
                          names=tuple(sorted({sg.operators[i].opcode for i in moves})))
