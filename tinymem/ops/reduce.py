"""Reductions and normalisations: MEAN, SUM, REDUCE_*, SOFTMAX, ..."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import OpRule
from .shapes import elements, inp, out


def per_input_element(op: Operator, sg: Subgraph) -> int | None:
    return elements(inp(sg, op, 0))


RULES = [
    OpRule(name, macs=per_input_element)
    for name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY",
                 "REDUCE_ALL", "ARG_MAX", "ARG_MIN", "CUMSUM")
] + [
    OpRule(name, macs=per_input_element)
    for name in ("SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION", "LOCAL_RESPONSE_NORMALIZATION")
]
