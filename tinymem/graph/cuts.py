"""Where a graph can be cut: points after which a single tensor carries everything.

Both the profile's blocks and the schedules' segments are bounded by these
points, so they are defined once, here.
"""

from __future__ import annotations

from .ir import Subgraph


def _live_after(sg: Subgraph):
    """(op index, the activations alive across the gap after that op), in order."""
    last_use: dict[int, int] = {}
    for op in sg.operators:
        for t in op.real_inputs():
            last_use[t] = op.index
    for t in sg.outputs:
        last_use[t] = len(sg.operators)
    live: set[int] = {t for t in sg.inputs if sg.is_activation(t)}
    for op in sg.operators:
        live |= {t for t in op.outputs if t >= 0 and sg.is_activation(t)}
        live = {t for t in live if last_use.get(t, -1) > op.index}
        yield op.index, live


def single_crossings(sg: Subgraph) -> dict[int, int]:
    """Op index -> bytes of the one activation alive across the gap after it
    (only where exactly one is)."""
    return {i: sg.tensors[next(iter(live))].nbytes
            for i, live in _live_after(sg) if len(live) == 1}


def narrow_points(sg: Subgraph) -> dict[int, int]:
    """The single crossings whose tensor is no larger than its neighbouring
    crossings (the model input counts as the first): the natural places to
    cut a network, such as the end of an inverted-residual block."""
    crossing = single_crossings(sg)
    inputs = [sg.tensors[t].nbytes for t in sg.inputs if sg.is_activation(t)]
    pos = sorted(crossing)
    keep: dict[int, int] = {}
    for k, p in enumerate(pos):
        prev = crossing[pos[k - 1]] if k > 0 else max(inputs, default=None)
        nxt = crossing[pos[k + 1]] if k + 1 < len(pos) else None
        if (prev is None or crossing[p] <= prev) and (nxt is None or crossing[p] <= nxt):
            keep[p] = crossing[p]
    return keep


def crossing_bytes(sg: Subgraph) -> list[int]:
    """For each op, the bytes of all activations alive across the gap after it
    (however many tensors cross: a residual's skip counts beside the main path)."""
    return [sum(sg.tensors[t].nbytes for t in live) for _, live in _live_after(sg)]


def light_points(sg: Subgraph) -> set[int]:
    """Ops after which the crossing bytes are no more than at the gaps beside
    (the model input counts before the first): where a segment whose entries
    and exit may be several tensors is cheapest to cut, such as inside a
    residual block right after its narrow projection."""
    cross = crossing_bytes(sg)
    before = sum(sg.tensors[t].nbytes for t in sg.inputs if sg.is_activation(t))
    keep = set()
    for i, c in enumerate(cross):
        prev = cross[i - 1] if i > 0 else before
        nxt = cross[i + 1] if i + 1 < len(cross) else None
        if c <= prev and (nxt is None or c <= nxt):
            keep.add(i)
    return keep
