"""The op registry: one `OpRule` per op type, looked up by opcode name."""

from __future__ import annotations

from ..ir import Operator
from . import conv, custom, dense, elementwise, movement, pool, recurrent, reduce
from .base import Channels, OpRule, Window

REGISTRY: dict[str, OpRule] = {}
for _family in (conv, pool, dense, elementwise, reduce, movement, recurrent, custom):
    for _rule in _family.RULES:
        REGISTRY[_rule.name] = _rule


def rule_for(op: Operator) -> OpRule:
    """The rule for an op; unknown and custom ops get a rule with unknown MACs."""
    return REGISTRY.get(op.opcode) or OpRule(op.opcode)


def is_known(op: Operator) -> bool:
    return op.opcode in REGISTRY


__all__ = ["Channels", "OpRule", "Window", "REGISTRY", "rule_for", "is_known"]
