"""Element-wise ops: activations, casts and binary arithmetic.

They compute each element on its own, so they tile spatially with a 1x1
window and split along channels for free.
"""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import NO_MACS, Channels, OpRule, Window
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


# Host pointer size: TFLM's ADD_N keeps a pointer per input in scratch. The
# tflite-micro wheel is 64-bit; on a 32-bit Cortex-M the figure is 4.
POINTER_BYTES = 8


def add_n_scratch(op: Operator, sg: Subgraph) -> list[int]:
    y = out(sg, op, 0)
    if y is not None and y.dtype in ("float32", "int8"):
        return [POINTER_BYTES * len(op.real_inputs())]
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

RULES = [
    OpRule(name, macs=NO_MACS if name in _MOVES else per_output_element,
           window=pointwise_window, channels=Channels.CHANNELWISE)
    for name in UNARY
] + [
    OpRule(name, macs=per_output_element, window=binary_window, channels=Channels.CHANNELWISE)
    for name in BINARY
] + [
    OpRule("ADD_N", macs=per_output_element, window=binary_window,
           channels=Channels.CHANNELWISE, scratch=add_n_scratch),
    OpRule("SELECT", macs=NO_MACS),
    OpRule("SELECT_V2", macs=NO_MACS),
]
