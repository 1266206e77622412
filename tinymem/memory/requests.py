"""The buffers a model asks of the arena head, with TFLite Micro's lifetimes.

One `BufferRequest` per planned tensor and per kernel scratch buffer, with
the scopes during which it must stay intact. These rules follow TFLM's
allocation-info builder; they are the single definition every planner in
tinymem (greedy replica, better layouts, schedule evaluation) works from.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Model, Operator, Subgraph
from ..ops import rule_for

ALIGNMENT = 16
_CONTROL_FLOW = {"IF": ("then_subgraph_index", "else_subgraph_index"),
                 "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
                 "CALL_ONCE": ("init_subgraph_index",)}


def align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass(frozen=True)
class BufferRequest:
    size: int  # bytes asked for (before alignment)
    first: int  # first scope it must be intact in (inclusive)
    last: int  # last scope (inclusive)
    subgraph: int
    tensor: int | None = None  # tensor index, or None for a scratch buffer
    op: int | None = None  # for scratch: the operator that asked for it
    offline_offset: int | None = None

    @property
    def aligned(self) -> int:
        return align(self.size)

    def overlaps(self, other: "BufferRequest") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Step:
    """One operator execution and the scope it runs at."""

    scope: int
    subgraph: int
    op: int


@dataclass
class Requests:
    buffers: list[BufferRequest]
    steps: list[Step]  # in execution order (nested subgraphs inlined)
    last_scope: int


def build_requests(model: Model, offline: list[int] | None = None) -> Requests:
    """All head buffers of a model in TFLM's order: tensors by (subgraph, index), then scratch.

    `offline` is an OfflineMemoryAllocation offset list (one per tensor over
    all subgraphs, -1 for online); when given, those tensors keep their offsets.
    """
    first: dict[tuple[int, int], int] = {}
    last: dict[tuple[int, int], int] = {}
    steps: list[Step] = []
    scratch: list[BufferRequest] = []
    scope = [0]

    def mark(sg: Subgraph, visiting: tuple[int, ...]) -> None:
        g = sg.index
        for t in sg.inputs:
            key = (g, t)
            first.setdefault(key, scope[0])
            last[key] = max(last.get(key, -1), scope[0])
        for op in sg.operators:
            scope[0] += 1
            s = scope[0]
            steps.append(Step(scope=s, subgraph=g, op=op.index))
            # An op's outputs and inputs are all intact while it runs; scopes
            # only grow, so "last used" is simply the latest scope seen.
            for t in op.outputs:
                if t >= 0:
                    key = (g, t)
                    first.setdefault(key, s)
                    last[key] = s
            for t in op.inputs:
                if t >= 0:
                    key = (g, t)
                    first.setdefault(key, s)
                    last[key] = s
            for size in rule_for(op).scratch(op, sg):
                if size > 0:
                    scratch.append(BufferRequest(size=size, first=s, last=s,
                                                 subgraph=g, op=op.index))
            if op.opcode in _CONTROL_FLOW:
                for callee in _callees(op):
                    if callee not in visiting and 0 <= callee < len(model.subgraphs):
                        mark(model.subgraphs[callee], visiting + (callee,))
        for t in sg.outputs:
            key = (g, t)
            first.setdefault(key, scope[0])
            last[key] = max(last.get(key, -1), scope[0])

    mark(model.subgraphs[0], (0,))
    buffers: list[BufferRequest] = []
    flat = 0
    for sg in model.subgraphs:
        for t in sg.tensors:
            key = (sg.index, t.index)
            off = None
            if offline is not None and flat < len(offline) and offline[flat] >= 0:
                off = offline[flat]
            flat += 1
            if t.kind != "activation" or key not in first:
                continue
            size = t.nbytes
            if size <= 0:
                continue
            buffers.append(BufferRequest(size=size, first=first[key], last=last[key],
                                         subgraph=sg.index, tensor=t.index, offline_offset=off))
    buffers.extend(scratch)
    return Requests(buffers=buffers, steps=steps, last_scope=scope[0])


def _callees(op: Operator) -> list[int]:
    keys = _CONTROL_FLOW.get(op.opcode, ())
    return [op.options[k] for k in keys if isinstance(op.options.get(k), int)]
