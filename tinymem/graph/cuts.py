"""Where a graph can be cut: points after which a single tensor carries everything.

Both the profile's blocks and the schedules' segments are bounded by these
points, so they are defined once, here.
"""

from __future__ import annotations

from .ir import Subgraph


def single_crossings(sg: Subgraph) -> dict[int, int]:
    """Op index -> bytes of the one activation alive across the gap after it
    (only where exactly one is)."""
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
    return crossing


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
