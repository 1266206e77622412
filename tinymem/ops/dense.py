"""Matrix products: FULLY_CONNECTED, BATCH_MATMUL."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import Channels, OpRule
from .conv import int4_filter_scratch
from .shapes import dim, elements, inp, out


def fc_macs(op: Operator, sg: Subgraph) -> int | None:
    w, y = inp(sg, op, 1), out(sg, op, 0)
    if w is None or y is None or not w.shape:
        return None
    return elements(y) * dim(w, -1)


def batch_matmul_macs(op: Operator, sg: Subgraph) -> int | None:
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or not x.shape:
        return None
    k = dim(x, -2) if op.options.get("adj_x") else dim(x, -1)
    return elements(y) * k


RULES = [
    OpRule("FULLY_CONNECTED", macs=fc_macs, scratch=int4_filter_scratch,
           channels=Channels.SPLIT_OUT),
    OpRule("BATCH_MATMUL", macs=batch_matmul_macs),
]
