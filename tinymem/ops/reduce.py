"""Reductions and normalisations: MEAN, SUM, REDUCE_*, SOFTMAX, ..."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import Channels, OpRule
from .shapes import elements, inp, out  # noqa: F401


def per_input_element(op: Operator, sg: Subgraph) -> int | None:
    return elements(inp(sg, op, 0))


def reduce_scratch(op: Operator, sg: Subgraph) -> list[int]:
    # Index bookkeeping: an int per input dimension and per reduced axis;
    # quantized MEAN/SUM also keep an int32 accumulator per output element.
    x, axis, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    if x is None:
        return []
    sizes = [len(x.shape) * 4, elements(axis) * 4]
    if op.opcode in ("MEAN", "SUM") and x.dtype in ("int8", "int16"):
        sizes.insert(0, elements(y) * 4)
    return sizes


# Reductions over axes other than the channel (last) axis compute each
# channel on its own; the channel splitter checks the axes.
RULES = [
    OpRule(name, macs=per_input_element, scratch=reduce_scratch, channels=Channels.CHANNELWISE)
    for name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN")
] + [
    OpRule("REDUCE_ALL", macs=per_input_element, scratch=reduce_scratch)
] + [
    OpRule(name, macs=per_input_element)
    for name in ("REDUCE_PROD", "REDUCE_ANY", "ARG_MAX", "ARG_MIN", "CUMSUM")
] + [
    OpRule(name, macs=per_input_element)
    for name in ("SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION", "LOCAL_RESPONSE_NORMALIZATION")
]
