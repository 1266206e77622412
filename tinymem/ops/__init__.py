"""The op registry: one `OpRule` per op type, looked up by opcode name."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ..graph.ir import Operator, Subgraph
from . import conv, custom, dense, elementwise, movement, pool, recurrent, reduce
from .base import (Channels, ChannelWise, InPlace, InPlaceMode, OpRule, OutSplit, Pad, Placement,
                   SamePadding, Window)
from .memo import memoised
from .params import BUILTIN_PARAMS

REGISTRY: dict[str, OpRule] = {}
for _family in (conv, pool, dense, elementwise, reduce, movement, recurrent, custom):
    for _rule in _family.RULES:
        REGISTRY[_rule.name] = replace(_rule, params=BUILTIN_PARAMS.get(_rule.name))


def rule_for(op: Operator) -> OpRule:
    """The rule for an op; unknown and custom ops get a rule with unknown MACs."""
    return REGISTRY.get(op.opcode) or OpRule(op.opcode, params=BUILTIN_PARAMS.get(op.opcode))


def pad_value(op: Operator) -> int | None:
    """The tensor an explicit pad op pads with (PADV2's constant); None when it
    pads with the zero point, as SAME padding does, or is no pad at all."""
    pad = rule_for(op).pad
    return pad.value(op) if pad is not None else None


def is_known(op: Operator) -> bool:
    return op.opcode in REGISTRY


def op_macs(op: Operator, sg: Subgraph) -> int | None:
    """An op's multiply-accumulates, None when unknown (an unknown op, or shapes
    its rule cannot read)."""
    return memoised(op, "macs", lambda: _macs(op, sg), None, sg)


def _macs(op: Operator, sg: Subgraph) -> int | None:
    try:
        return rule_for(op).macs(op, sg)
    except (IndexError, ValueError, ZeroDivisionError):
        return None


def op_scratch(op: Operator, sg: Subgraph, target) -> list[int]:
    """Bytes of each scratch buffer the target's kernel requests for the op."""
    return memoised(op, "scratch", lambda: rule_for(op).scratch(op, sg, target), target, sg)


def total_macs(ops: Iterable[Operator], sg: Subgraph) -> int:
    """The MACs of some ops of `sg`, unknown ones counting 0."""
    return sum(op_macs(op, sg) or 0 for op in ops)


__all__ = ["Channels", "ChannelWise", "InPlace", "InPlaceMode", "OpRule", "Pad", "Placement", "OutSplit",
           "SamePadding", "Window",
           "REGISTRY", "rule_for", "pad_value", "is_known", "op_macs", "op_scratch", "total_macs"]
