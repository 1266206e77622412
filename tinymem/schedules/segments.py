"""Single-exit segments of a subgraph: the units schedules split.

A segment is a run of consecutive ops [first, last] that leaves exactly one
tensor for the rest of the graph (the exit, written by its last op) and
reads one activation produced outside it (the entry) or, where the caller
allows, several (a residual join's skip, a decoder's encoder skip: the
others). Inside, it may branch and join as it likes. Tensors alive across it
that it does not read pass it by. Whatever a schedule does inside such a
segment, the rest of the graph cannot tell.
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
    # Further activations read from outside, besides `entry` (the largest).
    others: tuple[int, ...] = ()

    @property
    def ops(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def entries(self) -> tuple[int, ...]:
        return (self.entry,) + self.others


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

    def segment(self, first: int, last: int, max_entries: int = 1) -> Segment | None:
        """The segment [first, last], or None; with `max_entries` > 1 it may read
        that many activations from outside."""
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
        if not 1 <= len(entries) <= max_entries:
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
        # The largest entry first (the one a patch stage slices from the input),
        # then by tensor number, so a segment has one spelling.
        x, *others = sorted(entries, key=lambda t: (-sg.tensors[t].nbytes, t))
        return Segment(subgraph=sg.index, first=first, last=last, entry=x, exit=y,
                       others=tuple(others))

    def passing(self, seg: Segment) -> list[int]:
        """Activations alive across the whole segment that it does not read
        (produced before it, read after it, or a graph output)."""
        read = {t for i in seg.ops for t in self.sg.operators[i].real_inputs()}
        out = []
        for t in sorted(set(self.last_reader) | self.outputs):
            if t in read or not self.sg.is_activation(t):
                continue
            reader = self.last_reader.get(t, -1)
            p = self.producer.get(t, -1)
            if p < seg.first and (reader > seg.last or t in self.outputs):
                out.append(t)
        return out

