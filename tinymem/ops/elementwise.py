"""Element-wise ops: activations, casts and binary arithmetic.

They compute each element on its own, so they tile spatially with a 1x1
window and split along channels for free.
"""

from __future__ import annotations

from ..ir import Operator, Subgraph
from ..targets import Target
from .base import NO_MACS, OpData, OpRule, Window
from .shapes import elements, inp, out


def pointwise_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or len(y.shape) != 4 or x.shape != y.shape:
        return None
    return Window(), Window()


def binary_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    # Both operands must match the output spatially, or be constants that
    # broadcast over space (per-channel or scalar).
    y = out(sg, op, 0)
    if y is None or len(y.shape) != 4:
        return None
    for i in op.real_inputs():
        t = sg.tensors[i]
        if t.shape == y.shape:
            continue
        if t.has_data and (len(t.shape) < 3 or all(d == 1 for d in t.shape[-3:-1])):
            continue
        return None
    return Window(), Window()


def per_output_element(op: Operator, sg: Subgraph) -> int | None:
    return elements(out(sg, op, 0))


# TFLM's ADD_N keeps a pointer per input in scratch: the target's pointer width.
POINTER_BYTES = 8  # the host wheel's, when no target is given


def add_n_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    y = out(sg, op, 0)
    if y is not None and y.dtype in ("float32", "int8"):
        ptr = target.pointer_bytes if target is not None else POINTER_BYTES
        return [ptr * len(op.real_inputs())]
    return []


UNARY = (
    "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "LEAKY_RELU",
    "HARD_SWISH", "ELU", "GELU", "PRELU", "QUANTIZE", "DEQUANTIZE", "CAST", "ABS", "NEG",
    "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND",
    "SIGN", "LOGICAL_NOT", "ZEROS_LIKE",
)
BINARY = (
    "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW",
    "FLOOR_DIV", "FLOOR_MOD", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL",
    "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "BITWISE_XOR", "RIGHT_SHIFT", "ATAN2",
)

# Data movement with no arithmetic counts no MACs; arithmetic counts one per output.
_MOVES = {"QUANTIZE", "DEQUANTIZE", "CAST", "ZEROS_LIKE"}

# The kernels' OpData in the tail (bytes, 16-aligned), measured per node on
# the Cortex-M firmware; ops not listed keep none or were not measured.
_OPDATA = {
    "ADD": OpData(60), "SUB": OpData(60), "MUL": OpData(36), "DIV": OpData(32),
    "LEAKY_RELU": OpData(32), "LOGISTIC": OpData(16), "TANH": OpData(16),
    "QUANTIZE": OpData(32), "DEQUANTIZE": OpData(32), "HARD_SWISH": OpData(48),
    "PRELU": OpData(48), "SQUARED_DIFFERENCE": OpData(64),
}

RULES = [
    OpRule(name, macs=NO_MACS if name in _MOVES else per_output_element,
           window=pointwise_window, channels="channelwise",
           opdata=_OPDATA.get(name, OpData()))
    for name in UNARY
] + [
    OpRule(name, macs=per_output_element, window=binary_window, channels="channelwise",
           data_inputs=(0, 1),
           opdata=_OPDATA.get(name, OpData()))
    for name in BINARY
] + [
    OpRule("ADD_N", macs=per_output_element, window=binary_window, channels="channelwise",
           scratch=add_n_scratch, data_inputs=tuple(range(8))),
    OpRule("SELECT", macs=NO_MACS, data_inputs=(0, 1, 2)),
    OpRule("SELECT_V2", macs=NO_MACS, data_inputs=(0, 1, 2)),
]
