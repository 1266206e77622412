"""Spatial pooling: AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import Channels, OpRule, Window
from .conv import same_pad_before
from .shapes import dim, elements, inp, out


def pool_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or len(x.shape) != 4:
        return None
    o = op.options
    wins = []
    for axis, k_key, s_key in ((1, "filter_height", "stride_h"), (2, "filter_width", "stride_w")):
        k = o.get(k_key, 1) or 1
        s = o.get(s_key, 1) or 1
        pad = same_pad_before(dim(x, axis), dim(y, axis), k, s, 1) if o.get("padding") == "SAME" else 0
        wins.append(Window(kernel=k, stride=s, pad_before=pad))
    return wins[0], wins[1]


def pool_macs(op: Operator, sg: Subgraph) -> int | None:
    # One accumulate (or compare) per window element per output.
    o = op.options
    return elements(out(sg, op, 0)) * (o.get("filter_height", 1) or 1) * (o.get("filter_width", 1) or 1)


RULES = [
    OpRule(name, macs=pool_macs, window=pool_window, channels=Channels.CHANNELWISE)
    for name in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")
]
