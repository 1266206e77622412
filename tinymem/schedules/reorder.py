"""Operator reordering: another valid topological order with a lower peak.

Only graphs with branches have a choice. A memory-aware list scheduler picks,
among the ready ops, the one that leaves the least memory alive (it prefers
ops that free their inputs); a few tie-break rules are tried and the best
order by the TFLM planner is kept.
"""

from __future__ import annotations

import dataclasses

from ..graph.ir import Model, Subgraph
from ..memory.planner import plan_model

# The list scheduler scores every ready op at every step (quadratic); real
# models have at most a few hundred ops, and a graph this wide is left as is.
MAX_OPS = 1_000


def _has_branches(sg: Subgraph) -> bool:
    cons = sg.consumers()
    return any(len(v) > 1 for t, v in cons.items() if sg.is_activation(t))


def _schedule(sg: Subgraph, prefer_late: bool) -> list[int] | None:
    n = len(sg.operators)
    producer = sg.producers()
    cons = sg.consumers()
    deps = []
    for op in sg.operators:
        d = {producer[t] for t in op.real_inputs() if t in producer}
        deps.append(d)
    remaining_readers = {t: len(v) for t, v in cons.items()}
    done: set[int] = set()
    order: list[int] = []
    while len(order) < n:
        ready = [i for i in range(n) if i not in done and deps[i] <= done]
        if not ready:
            return None  # a tensor read before it is written closes a cycle: no reorder
        def score(i: int):
            op = sg.operators[i]
            alloc = sum(sg.tensors[t].nbytes for t in op.outputs if t >= 0)
            freed = sum(sg.tensors[t].nbytes for t in set(op.real_inputs())
                        if sg.is_activation(t) and remaining_readers.get(t, 0) == 1
                        and t not in sg.outputs)
            return (alloc - freed, -i if prefer_late else i)
        best = min(ready, key=score)
        order.append(best)
        done.add(best)
        for t in set(sg.operators[best].real_inputs()):
            if t in remaining_readers:
                remaining_readers[t] -= 1
    return order


def reorder(model: Model) -> Model | None:
    """The model with its main subgraph's ops in a lower-peak order, or None."""
    sg = model.main
    if not 3 <= len(sg.operators) <= MAX_OPS or not _has_branches(sg):
        return None
    base = plan_model(model).arena_bytes
    best, best_arena = None, base
    for prefer_late in (False, True):
        order = _schedule(sg, prefer_late)
        if order is None or order == list(range(len(order))):
            continue
        ops = [dataclasses.replace(sg.operators[i], index=k) for k, i in enumerate(order)]
        new_sg = dataclasses.replace(sg, operators=ops, rewrite=None)
        m = dataclasses.replace(model, subgraphs=[new_sg] + list(model.subgraphs[1:]))
        arena = plan_model(m).arena_bytes
        if arena < best_arena:
            best, best_arena = m, arena
    return best
