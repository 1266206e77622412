"""The buffers a model asks of the arena head, with TFLite Micro's lifetimes.

One `BufferRequest` per planned tensor and per kernel scratch buffer, with
the scopes during which it must stay intact. These rules follow TFLM's
allocation-info builder; they are the single definition every planner in
tinymem (greedy replica, better layouts, schedule evaluation) works from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..graph.ir import Model, Operator, Subgraph, TensorKind
from ..ops import op_scratch, rule_for
from ..targets import Target

ALIGNMENT = 16


def align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


class _BufferFields(NamedTuple):
    size: int  # bytes asked for (before alignment)
    first: int  # first scope it must be intact in (inclusive)
    last: int  # last scope (inclusive)
    subgraph: int
    tensor: int | None  # tensor index, or None for a scratch buffer
    op: int | None  # for scratch: the operator that asked for it
    offline_offset: int | None
    aligned: int  # size rounded up to the arena's alignment (planners' inner loops read it)


class BufferRequest(_BufferFields):
    """One buffer the arena head must hold, and when.

    A tuple (a search builds millions, each kept with its candidate: a tuple
    takes a third of the memory of a dataclass with its __dict__ and is built
    twice as fast); `aligned` is derived from `size` when it is made."""

    __slots__ = ()

    def __new__(cls, size: int, first: int, last: int, subgraph: int, tensor: int | None = None,
                op: int | None = None, offline_offset: int | None = None) -> "BufferRequest":
        return _tuple_new(cls, (size, first, last, subgraph, tensor, op, offline_offset,
                                align(size)))

    def __getnewargs__(self) -> tuple:
        return tuple(self[:7])  # (`aligned` is derived again when unpickled)


class ExecutionStep(NamedTuple):
    """One operator execution and the scope it runs at."""

    scope: int
    subgraph: int
    op: int


@dataclass
class Requests:
    buffers: list[BufferRequest]
    steps: list[ExecutionStep]  # in execution order (nested subgraphs inlined)
    last_scope: int
    # Buffers TFLM hands its planner (zero-byte ones included, which take a
    # planner slot but no room).
    planned_count: int = 0

    @property
    def scratch_count(self) -> int:
        """The kernels' scratch buffer requests (each keeps a handle in the tail)."""
        return sum(1 for b in self.buffers if b.tensor is None and b.op is not None)


def build_requests(model: Model, offline: list[int] | None = None,
                   target: Target | None = None) -> Requests:
    """All head buffers of a model in TFLM's order: tensors by (subgraph, index), then scratch.

    `offline` is an OfflineMemoryAllocation offset list (one per tensor over
    all subgraphs, -1 for online); when given, those tensors keep their offsets.
    Lifetime rules (TFLM's allocation-info builder):
    - one scope counter; subgraph inputs are created at the current scope,
      each op takes the next scope, and a control-flow op advances it once
      more per subgraph it calls before marking that subgraph's ops;
    - outputs are created at their op's scope; inputs and outputs are last
      used at the scope reached after any nested subgraphs (reads never
      create a tensor);
    - subgraph outputs stay alive to the subgraph's final scope;
    - a tensor read but never created starts "before everything" (-1); a
      tensor never referenced, or in a subgraph nothing calls, lives at -1
      only: all such tensors overlap one another and still take room.
    """
    # Per subgraph: tensor index -> its first / last scope.
    first: list[dict[int, int]] = [{} for _ in model.subgraphs]
    last: list[dict[int, int]] = [{} for _ in model.subgraphs]
    steps: list[ExecutionStep] = []
    scratch: list[BufferRequest] = []
    scope = [0]
    # Per subgraph walked: what Prepare does to its ops' outputs (`_note_prepare`),
    # gathered on the walk, which looks each op's rule up anyway.
    unplanned: dict[int, set[int]] = {}
    resized: dict[int, dict[int, int]] = {}

    # `mark` is a generator that yields the walk of each subgraph it calls, and
    # `walk` runs them from an explicit stack: nesting depth costs no Python
    # recursion (the reader bounds it anyway, see limits.MAX_CALL_DEPTH).
    def mark(sg: Subgraph, visiting: tuple[int, ...]):
        g = sg.index
        fg, lg = first[g], last[g]
        not_planned = unplanned.setdefault(g, set())
        sizes = resized.setdefault(g, {})
        for t in sg.inputs:
            fg.setdefault(t, scope[0])
            lg[t] = scope[0]
        # (The scope is kept in a local while no subgraph is called, and an
        # omitted input's -1 gets a last scope too, never read: this loop runs
        # for every op of every candidate a search measures.)
        here = scope[0]
        # (An op is named by its position: a search's candidates may leave the
        # `index` of ops after a rewrite stale until kept, see edit.lazy_indices.)
        for index, op in enumerate(sg.operators):
            here += 1
            start = here
            steps.append(_tuple_new(ExecutionStep, (start, g, index)))
            outputs = op.outputs
            for t in outputs:
                if t not in fg and t >= 0:
                    fg[t] = start
            rule = rule_for(op)
            _note_prepare(op, rule, sg, not_planned, sizes)
            if rule.calls:
                scope[0] = here
                for callee in _callees(op, rule.calls):
                    scope[0] += 1
                    if callee not in visiting and 0 <= callee < len(model.subgraphs):
                        yield mark(model.subgraphs[callee], visiting + (callee,))
                here = scope[0]
            for t in op.inputs:
                lg[t] = here
            for t in outputs:
                lg[t] = here
            for size in op_scratch(op, sg, target):
                scratch.append(_request(size, start, here, g, None, index, None))
        scope[0] = here
        for t in sg.outputs:
            fg.setdefault(t, scope[0])
            lg[t] = scope[0]

    walk(mark(model.subgraphs[0], (0,)))
    # `mark` names itself (it recurses), so its closure is a cycle holding the
    # model: unbroken, every model planned waits for the cyclic collector.
    mark = None  # noqa: F841
    buffers: list[BufferRequest] = []
    flat = 0
    activation, variable = TensorKind.ACTIVATION, TensorKind.VARIABLE
    n_offline = len(offline) if offline is not None else 0
    for sg in model.subgraphs:
        g = sg.index
        if g not in unplanned:  # (a subgraph nothing calls)
            unplanned[g], resized[g] = set(), {}
            for op in sg.operators:
                _note_prepare(op, rule_for(op), sg, unplanned[g], resized[g])
        not_planned, sizes = unplanned[g], resized[g]
        fg, lg = first[g], last[g]
        for t in sg.tensors:
            off = offline[flat] if flat < n_offline and offline[flat] >= 0 else None
            flat += 1
            kind = t.kind
            # (A variable is planned only at an offline offset.)
            if kind is not activation and (kind is not variable or off is None):
                continue
            i = t.index
            if i in not_planned:
                continue
            size = sizes.get(i, t.nbytes)
            if size > 0:
                buffers.append(_request(size, fg.get(i, -1), lg.get(i, -1), g, i, None, off))
    buffers.extend(scratch)
    return Requests(buffers=buffers, steps=steps, last_scope=scope[0],
                    planned_count=len(buffers))


_tuple_new = tuple.__new__


def _request(size: int, first: int, last: int, subgraph: int, tensor: int | None,
             op: int | None, offline_offset: int | None) -> BufferRequest:
    """A BufferRequest, built without the keyword handling of its constructor."""
    return _tuple_new(BufferRequest, (size, first, last, subgraph, tensor, op, offline_offset,
                                      align(size)))


def walk(root) -> None:
    """Run a generator that yields the sub-generators to run before it resumes, depth first."""
    stack = [root]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        else:
            stack.append(child)


def _note_prepare(op: Operator, rule, sg: Subgraph, not_planned: set[int],
                  sizes: dict[int, int]) -> None:
    """What TFLM's Prepare does to the op's outputs: a resource-making op points
    them at its own (tail) data, so they are never planned; and the op's rule
    may give the size Prepare sets its first output to, against the file's shape."""
    if rule.makes_resource:
        not_planned.update(op.outputs)
    resolve = rule.output_bytes
    if resolve is not None and op.outputs and op.outputs[0] >= 0:
        n = resolve(op, sg)
        if n is not None:
            sizes[op.outputs[0]] = n


def _callees(op: Operator, keys: tuple[str, ...]) -> list[int]:
    return [op.options[k] for k in keys if isinstance(op.options.get(k), int)]
