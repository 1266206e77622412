"""Element-wise ops: activations, casts and binary arithmetic.

They compute each element on its own, so they tile spatially with a 1x1
window and split along channels for free.
"""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..targets import Target
from .base import Channels, NO_MACS, InPlace, OpData, OpRule, Window
from .shapes import elements, inp, out
from .tflm import Tflm, kernel, resolver_method, same_input_types, same_types, tflm


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


def add_n_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # add_n.cc: int8 keeps its requantisation parameters (OpData, 40 B) from Prepare.
    y = out(sg, op, 0)
    return [40] if y is not None and y.dtype == "int8" else []


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

# The kernels' OpData in the tail (bytes), measured per node on the Cortex-M
# firmware or read off the struct (HardSwishParams: 20 B); ops not listed keep none.
_OPDATA = {
    "ADD": OpData(60), "SUB": OpData(52), "MUL": OpData(36), "DIV": OpData(28),
    "LEAKY_RELU": OpData(24), "LOGISTIC": OpData(16), "TANH": OpData(16),
    "QUANTIZE": OpData(32), "DEQUANTIZE": OpData(32), "HARD_SWISH": OpData(20),
    "PRELU": OpData(28), "SQUARED_DIFFERENCE": OpData(112),
    # ReluOpData, Relu6OpData, elementwise.cc's OpDataAbsRsqrt, ELU's int8 table (256 B,
    # kept for float too), comparisons.cc's OpData: in float kernels as well.
    "RELU": OpData(28), "RELU6": OpData(8), "ABS": OpData(28), "RSQRT": OpData(28),
    "ELU": OpData(256),
    **{op: OpData(32) for op in ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL",
                                 "NOT_EQUAL")},
}

_F, _Q = ("float32",), ("float32", "int8", "int16")  # float only; float and quantized
_MINMAX = ("float32", "int8", "int16", "int32", "int64")
_COMPARED = ("float32", "int8", "int32", "int64")  # comparisons.cc: only GREATER adds int16
_CAST_TYPES = ("int8", "int16", "int32", "uint32", "float32")


def _same(dtypes: tuple[str, ...], *ops: str, checks=()) -> dict[str, Tflm]:
    """Ops whose kernels keep the input dtype, for each of `dtypes`."""
    return {op: same_types(resolver_method(op), *dtypes, checks=checks) for op in ops}


def _binary(dtypes: tuple[str, ...], *ops: str) -> dict[str, Tflm]:
    return _same(dtypes, *ops, checks=(same_input_types,))


def _compare(dtypes: tuple[str, ...], *ops: str) -> dict[str, Tflm]:
    return {op: tflm(resolver_method(op), kernel(*(f"{d}->bool" for d in dtypes),
                                                 checks=(same_input_types,)))
            for op in ops}


# What TFLM registers for each op and the input types its kernel switches on
# (activations.cc, elementwise.cc, quantize_common.cc, cast.cc, comparisons.cc, ...).
# Ops absent here (RELU_N1_TO_1, RELU_0_TO_1, GELU, SIGN, POW, BITWISE_XOR,
# RIGHT_SHIFT, ATAN2, SELECT) have no TFLM kernel.
TFLM = {
    **_same(_Q, "RELU", "RELU6", "LOGISTIC", "TANH", "LEAKY_RELU", "PRELU", "ABS"),
    **_same(("float32", "int8"), "HARD_SWISH", "ELU", "RSQRT", "ADD_N"),
    **_same(_F, "NEG", "EXP", "LOG", "SQRT", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND"),
    **_same(("bool",), "LOGICAL_NOT"),
    **_same(("float32", "int32", "int64", "int8"), "ZEROS_LIKE"),
    # quantize_common.cc Prepare: the (input, output) pairs it requantizes.
    "QUANTIZE": tflm("AddQuantize", kernel(
        "float32->int8", "float32->int16", "int32->int8", "int32->int16", "int16->int8",
        "int16->int16", "int16->int32", "int8->int8", "int8->uint8", "int8->int16",
        "int8->int32", "uint8->int8")),
    "DEQUANTIZE": tflm("AddDequantize", kernel("int8->float32", "int16->float32",
                                               "uint8->float32")),
    "CAST": tflm("AddCast", kernel(*(f"{a}->{b}" for a in _CAST_TYPES + ("bool",)
                                     for b in _CAST_TYPES))),
    **_binary(("float32", "int32", "int8", "int16"), "ADD", "SUB", "MUL", "SQUARED_DIFFERENCE"),
    **_binary(("float32", "int32", "int8"), "DIV"),
    **_binary(_MINMAX, "MAXIMUM", "MINIMUM"),
    **_binary(_F, "FLOOR_DIV", "FLOOR_MOD"),
    **_binary(("bool",), "LOGICAL_AND", "LOGICAL_OR"),
    **_compare(_COMPARED, "LESS", "LESS_EQUAL", "GREATER_EQUAL"),
    **_compare(_COMPARED + ("int16",), "GREATER"),
    **_compare(_COMPARED + ("bool",), "EQUAL", "NOT_EQUAL"),
    # select.cc: the condition is input 0; the values (1, 2) pick the kernel.
    "SELECT_V2": tflm("AddSelectV2", kernel("float32->float32", "int8->int8", "int16->int16",
                                            data=1)),
}


def _elementwise(name: str, window, in_place: tuple[int, ...], in_place_ops: set[str]) -> OpRule:
    """The rule of an element-wise op: one MAC per output element (none for a
    conversion), channel-wise, in place over `in_place` where its kernel allows."""
    return OpRule(name, macs=NO_MACS if name in _MOVES else per_output_element,
                  window=window, channels=Channels.CHANNELWISE,
                  opdata=_OPDATA.get(name, OpData()),
                  tflm=TFLM.get(name),
                  in_place=InPlace(in_place) if name in in_place_ops else None)


RULES = [
    *(_elementwise(name, pointwise_window, (0,), _UNARY_IN_PLACE) for name in UNARY),
    *(_elementwise(name, binary_window, (0, 1), _BINARY_IN_PLACE) for name in BINARY),
    OpRule("ADD_N", macs=per_output_element, window=binary_window, channels=Channels.CHANNELWISE,
           scratch=add_n_scratch, persistent=add_n_persistent,
           tflm=TFLM["ADD_N"],
           ),
    OpRule("SELECT", macs=NO_MACS),
    OpRule("SELECT_V2", macs=NO_MACS, opdata=OpData(1),  # OpData: one bool (broadcast)
           tflm=TFLM["SELECT_V2"],
           ),
]
