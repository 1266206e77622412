"""Single-entry single-exit segments of a subgraph: the units schedules split.

A segment is a run of consecutive ops [first, last] that reads exactly one
activation produced outside it (the entry) and leaves exactly one tensor for
the rest of the graph (the exit, written by its last op). Whatever a
schedule does inside such a segment, the rest of the graph cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph.ir import Subgraph


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


def source_span(sg: Subgraph, seg) -> tuple[int, int]:
    """The source model's op numbers a run of ops [seg.first, seg.last] computes
    (ops of an already-rewritten graph keep their origin), for people to read."""
    origins = [sg.operators[i].origin for i in seg.ops if sg.operators[i].origin is not None]
    return (min(origins), max(origins)) if origins else (seg.first, seg.last)


class SegmentFinder:
    """Answers "is [first, last] a segment?" quickly for one subgraph."""

    def __init__(self, sg: Subgraph):
        self.sg = sg
        self.producer = sg.producers()
        self.last_reader: dict[int, int] = {}
        for op in sg.operators:
            for t in op.real_inputs():
                self.last_reader[t] = op.index
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

