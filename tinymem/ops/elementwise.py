"""Element-wise ops: activations, casts and binary arithmetic.

They compute each element on its own, so they tile spatially with a 1x1
window and split along channels for free.
"""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..targets import Target
from .base import Channels, NO_MACS, InPlace, OpData, OpRule, Window
from .shapes import elements, inp, out
from .tflm import Tflm, kernel, same_input_types, same_types, tflm


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

# Kernels that read element i before writing element i, so the output may
# overwrite an input it has the shape of. Checked in TFLite Micro's sources:
# the reference element-wise loops (output[i] = f(input[i])) of the
# activations and of QUANTIZE's requantize; ADD, SUB and MUL's reference
# loops and BroadcastBinaryOpSimple (a full-shape operand is read at the
# output's own offset); CMSIS-NN's arm_elementwise_add/mul_s8 (each group of
# four is loaded before it is stored). CMSIS-NN builds use the reference
# kernels for the others.
_UNARY_IN_PLACE = {"RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "LEAKY_RELU",
                   "HARD_SWISH", "QUANTIZE"}
_BINARY_IN_PLACE = {"ADD", "SUB", "MUL"}

# Data movement with no arithmetic counts no MACs; arithmetic counts one per output.
_MOVES = {"QUANTIZE", "DEQUANTIZE", "CAST", "ZEROS_LIKE"}

# The kernels' OpData in the tail (bytes, 16-aligned), measured per node on
# the Cortex-M firmware; ops not listed keep none or were not measured.
_OPDATA = {
    "ADD": OpData(60), "SUB": OpData(60), "MUL": OpData(36), "DIV": OpData(28),
    "LEAKY_RELU": OpData(32), "LOGISTIC": OpData(16), "TANH": OpData(16),
    "QUANTIZE": OpData(32), "DEQUANTIZE": OpData(32), "HARD_SWISH": OpData(48),
    "PRELU": OpData(48), "SQUARED_DIFFERENCE": OpData(64),
}

_F, _Q = ("float32",), ("float32", "int8", "int16")  # float only; float and quantized
_MINMAX = ("float32", "int8", "int16", "int32", "int64")
_COMPARED = ("float32", "int8", "int32", "int64")  # comparisons.cc: only GREATER adds int16
_CAST_TYPES = ("int8", "int16", "int32", "uint32", "float32")


def _binary(resolver: str, *dtypes: str) -> Tflm:
    return same_types(resolver, *dtypes, checks=(same_input_types,))


def _compare(resolver: str, *dtypes: str) -> Tflm:
    return tflm(resolver, kernel(*(f"{d}->bool" for d in dtypes), checks=(same_input_types,)))


# What TFLM registers for each op and the input types its kernel switches on
# (activations.cc, elementwise.cc, quantize_common.cc, cast.cc, comparisons.cc, ...).
# Ops absent here (RELU_N1_TO_1, RELU_0_TO_1, GELU, SIGN, POW, BITWISE_XOR,
# RIGHT_SHIFT, ATAN2, SELECT) have no TFLM kernel.
TFLM = {
    "RELU": same_types("AddRelu", *_Q),
    "RELU6": same_types("AddRelu6", *_Q),
    "LOGISTIC": same_types("AddLogistic", *_Q),
    "TANH": same_types("AddTanh", *_Q),
    "LEAKY_RELU": same_types("AddLeakyRelu", *_Q),
    "HARD_SWISH": same_types("AddHardSwish", "float32", "int8"),
    "ELU": same_types("AddElu", "float32", "int8"),
    "PRELU": same_types("AddPrelu", *_Q),
    # quantize_common.cc Prepare: the (input, output) pairs it requantizes.
    "QUANTIZE": tflm("AddQuantize", kernel(
        "float32->int8", "float32->int16", "int32->int8", "int32->int16", "int16->int8",
        "int16->int16", "int16->int32", "int8->int8", "int8->uint8", "int8->int16",
        "int8->int32", "uint8->int8")),
    "DEQUANTIZE": tflm("AddDequantize", kernel("int8->float32", "int16->float32",
                                               "uint8->float32")),
    "CAST": tflm("AddCast", kernel(*(f"{a}->{b}" for a in _CAST_TYPES + ("bool",)
                                     for b in _CAST_TYPES))),
    "ABS": same_types("AddAbs", *_Q),
    "NEG": same_types("AddNeg", *_F),
    "EXP": same_types("AddExp", *_F),
    "LOG": same_types("AddLog", *_F),
    "SQRT": same_types("AddSqrt", *_F),
    "RSQRT": same_types("AddRsqrt", "float32", "int8"),
    "SQUARE": same_types("AddSquare", *_F),
    "SIN": same_types("AddSin", *_F),
    "COS": same_types("AddCos", *_F),
    "FLOOR": same_types("AddFloor", *_F),
    "CEIL": same_types("AddCeil", *_F),
    "ROUND": same_types("AddRound", *_F),
    "LOGICAL_NOT": same_types("AddLogicalNot", "bool"),
    "ZEROS_LIKE": same_types("AddZerosLike", "float32", "int32", "int64", "int8"),
    "ADD": _binary("AddAdd", "float32", "int32", "int8", "int16"),
    "SUB": _binary("AddSub", "float32", "int32", "int8", "int16"),
    "MUL": _binary("AddMul", "float32", "int32", "int8", "int16"),
    "DIV": _binary("AddDiv", "float32", "int32", "int8"),
    "MAXIMUM": _binary("AddMaximum", *_MINMAX),
    "MINIMUM": _binary("AddMinimum", *_MINMAX),
    "SQUARED_DIFFERENCE": _binary("AddSquaredDifference", "float32", "int32", "int8", "int16"),
    "FLOOR_DIV": _binary("AddFloorDiv", *_F),
    "FLOOR_MOD": _binary("AddFloorMod", *_F),
    "LESS": _compare("AddLess", *_COMPARED),
    "LESS_EQUAL": _compare("AddLessEqual", *_COMPARED),
    "GREATER": _compare("AddGreater", *_COMPARED, "int16"),
    "GREATER_EQUAL": _compare("AddGreaterEqual", *_COMPARED),
    "EQUAL": _compare("AddEqual", *_COMPARED, "bool"),
    "NOT_EQUAL": _compare("AddNotEqual", *_COMPARED, "bool"),
    "LOGICAL_AND": _binary("AddLogicalAnd", "bool"),
    "LOGICAL_OR": _binary("AddLogicalOr", "bool"),
    "ADD_N": same_types("AddAddN", "float32", "int8"),
    # select.cc: the condition is input 0; the values (1, 2) pick the kernel.
    "SELECT_V2": tflm("AddSelectV2", kernel("float32->float32", "int8->int8", "int16->int16",
                                            data=1)),
}

RULES = [
    OpRule(name, macs=NO_MACS if name in _MOVES else per_output_element,
           window=pointwise_window, channels=Channels.CHANNELWISE,
           opdata=_OPDATA.get(name, OpData()),
           tflm=TFLM.get(name),
           in_place=InPlace((0,)) if name in _UNARY_IN_PLACE else None,
           )
    for name in UNARY
] + [
    OpRule(name, macs=per_output_element, window=binary_window, channels=Channels.CHANNELWISE,
           opdata=_OPDATA.get(name, OpData()),
           tflm=TFLM.get(name),
           in_place=InPlace((0, 1)) if name in _BINARY_IN_PLACE else None,
           )
    for name in BINARY
] + [
    OpRule("ADD_N", macs=per_output_element, window=binary_window, channels=Channels.CHANNELWISE,
           scratch=add_n_scratch,
           tflm=TFLM["ADD_N"],
           ),
    OpRule("SELECT", macs=NO_MACS),
    OpRule("SELECT_V2", macs=NO_MACS,
           tflm=TFLM["SELECT_V2"],
           ),
]
