"""Single-entry single-exit segments of a subgraph: the units schedules split.

A segment is a run of consecutive ops [first, last] that reads exactly one
activation produced outside it (the entry) and leaves exactly one tensor for
the rest of the graph (the exit, written by its last op). Whatever a
schedule does inside such a segment, the rest of the graph cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Subgraph


@dataclass(frozen=True)
class Segment:
    subgraph: int
    first: int
    last: int
    entry: int
    exit: int

    @property
    def ops(self) -> range:
        return range(self.first, self.last + 1)


class SegmentFinder:
    """Answers "is [first, last] a segment?" quickly for one subgraph."""

    def __init__(self, sg: Subgraph):
        self.sg = sg
        self.producer = sg.producers()
        self.last_reader: dict[int, int] = {}
        for op in sg.operators:
            for t in op.real_inputs():
                self.last_reader[t] = op.index
        self.first_reader: dict[int, int] = {}
        for op in reversed(sg.operators):
            for t in op.real_inputs():
                self.first_reader[t] = op.index
        self.outputs = set(sg.outputs)

    def segment(self, first: int, last: int) -> Segment | None:
        sg = self.sg
        entries: set[int] = set()
        for i in range(first, last + 1):
            op = sg.operators[i]
            for t in op.real_inputs():
                if not sg.is_activation(t):
                    continue
                p = self.producer.get(t)
                if p is None or p < first:
                    entries.add(t)
        if len(entries) != 1:
            return None
        exits: set[int] = set()
        for i in range(first, last + 1):
            for t in sg.operators[i].outputs:
                if t < 0:
                    continue
                if self.last_reader.get(t, -1) > last or t in self.outputs:
                    exits.add(t)
        if len(exits) != 1:
            return None
        (y,) = exits
        if y not in sg.operators[last].outputs:
            return None
        (x,) = entries
        # The entry must not be needed after the segment either, or the
        # segment would not be the only reader to care about.
        return Segment(subgraph=sg.index, first=first, last=last, entry=x, exit=y)


def narrow_points(sg: Subgraph) -> dict[int, int]:
    """Op index -> bytes of the single activation crossing after it, kept only
    where that tensor is no larger than its neighbouring crossings.

    These are the natural places to cut a network (block ends): a schedule's
    segment starts after one and ends at another.
    """
    last_use: dict[int, int] = {}
    for op in sg.operators:
        for t in op.real_inputs():
            last_use[t] = op.index
    for t in sg.outputs:
        last_use[t] = len(sg.operators)
    crossing: dict[int, int] = {}
    live: set[int] = {t for t in sg.inputs if sg.is_activation(t)}
    for op in sg.operators:
        live |= {t for t in op.outputs if t >= 0 and sg.is_activation(t)}
        live = {t for t in live if last_use.get(t, -1) > op.index}
        if len(live) == 1:
            crossing[op.index] = sg.tensors[next(iter(live))].nbytes
    pos = sorted(crossing)
    keep: dict[int, int] = {}
    for k, p in enumerate(pos):
        prev = crossing[pos[k - 1]] if k > 0 else None
        nxt = crossing[pos[k + 1]] if k + 1 < len(pos) else None
        if (prev is None or crossing[p] <= prev) and (nxt is None or crossing[p] <= nxt):
            keep[p] = crossing[p]
    return keep
