"""Reductions and normalisations: MEAN, SUM, REDUCE_*, SOFTMAX, ..."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..targets import Target
import numpy as np

from .base import Channels, ChannelWise, OpData, OpRule, rules
from .movement import constant_values
from .shapes import elements, inp, out  # noqa: F401
from .tflm import kernel, same_types, tflm


def per_input_element(op: Operator, sg: Subgraph) -> int | None:
    return elements(inp(sg, op, 0))


def reduce_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # Index bookkeeping: an int per input dimension and per reduced axis;
    # quantized MEAN/SUM also keep an int32 accumulator per output element.
    x, axis, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    if x is None:
        return []
    sizes = [len(x.shape) * 4, elements(axis) * 4]
    if op.opcode in ("MEAN", "SUM") and x.dtype in ("int8", "int16"):
        sizes.insert(0, elements(y) * 4)
    return sizes


# softmax_common.cc: an int16 input gets two 513-entry int16 lookup tables (exp and
# 1/(1+x)) in the tail, in the reference and CMSIS-NN kernels alike.
_INT16_LUT_BYTES = 2 * 513


def softmax_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x = inp(sg, op, 0)
    return [_INT16_LUT_BYTES] * 2 if x is not None and x.dtype == "int16" else []


def log_softmax_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # log_softmax.cc: int8 keeps LogSoftmaxOpData (five int32, two size_t) from Prepare.
    x = inp(sg, op, 0)
    if x is None or x.dtype != "int8":
        return []
    size_t = target.pointer_bytes if target is not None else 8
    return [_align(5 * 4, size_t) + 2 * size_t]


def cumsum_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # cumsum.cc: int8 keeps its requantisation parameters (36 B) from Prepare.
    x = inp(sg, op, 0)
    return [36] if x is not None and x.dtype == "int8" else []


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


# reduce_common.cc: MEAN and SUM take float32/int8/int16, REDUCE_MAX/MIN float32/int8,
# REDUCE_ALL bool; arg_min_max.cc float32/int8 to an int32 or int64 index; softmax.cc
# (and CMSIS-NN's) int8 may widen to int16. REDUCE_PROD, REDUCE_ANY and
# LOCAL_RESPONSE_NORMALIZATION have no TFLM kernel.
_ARG = kernel("float32->int32", "int8->int32", "float32->int64", "int8->int64")
TFLM = {
    "MEAN": same_types("AddMean", "float32", "int8", "int16"),
    "SUM": same_types("AddSum", "float32", "int8", "int16"),
    "REDUCE_MAX": same_types("AddReduceMax", "float32", "int8"),
    "REDUCE_MIN": same_types("AddReduceMin", "float32", "int8"),
    "REDUCE_ALL": same_types("AddReduceAll", "bool"),
    "ARG_MAX": tflm("AddArgMax", _ARG),
    "ARG_MIN": tflm("AddArgMin", _ARG),
    "CUMSUM": same_types("AddCumSum", "float32", "int8"),
    "SOFTMAX": tflm("AddSoftmax", kernel("float32->float32", "int8->int8", "int8->int16",
                                         "int16->int16")),
    "LOG_SOFTMAX": same_types("AddLogSoftmax", "float32", "int8"),
    "L2_NORMALIZATION": same_types("AddL2Normalization", "float32", "int8"),
}

def reduce_channels(op: Operator, sg: Subgraph, flat: bool) -> bool:
    # Reduces other axes only: each channel is reduced on its own (and its
    # int32 accumulators, one per output element, split with it).
    x, y = inp(sg, op, 0), out(sg, op, 0)
    axes = constant_values(sg, op.inputs[1]) if len(op.inputs) > 1 else None
    if flat or x is None or y is None or axes is None or not x.shape or not y.shape:
        return False
    rank = len(x.shape)
    return (rank - 1) not in {int(a) % rank for a in np.ravel(axes)} \
        and y.shape[-1] == x.shape[-1]


# Reductions over axes other than the channel (last) axis compute each
# channel on its own. LiteRT's quantized MEAN and SUM run 16 channels at a time.
RULES = [
    OpRule(name, macs=per_input_element, scratch=reduce_scratch, channels=Channels.CHANNELWISE,
           channelwise=ChannelWise(check=reduce_channels, params=(1,),
                                   group=16 if name in ("MEAN", "SUM") else 1),
           opdata=OpData(44),
           tflm=TFLM.get(name),
           )
    for name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN")
] + [
    *rules(("REDUCE_ALL",), TFLM, macs=per_input_element, scratch=reduce_scratch,
           opdata=OpData(44)),
    *rules(("REDUCE_PROD", "REDUCE_ANY", "ARG_MAX", "ARG_MIN"), TFLM,
           macs=per_input_element),
    OpRule("CUMSUM", macs=per_input_element, persistent=cumsum_persistent,
           tflm=TFLM.get("CUMSUM")),
    OpRule("SOFTMAX", macs=per_input_element,
           opdata=OpData(56, cmsis_nn=64, host=80),
           persistent=softmax_persistent,
           tflm=TFLM.get("SOFTMAX"),
           ),
    OpRule("LOG_SOFTMAX", macs=per_input_element, persistent=log_softmax_persistent,
           tflm=TFLM.get("LOG_SOFTMAX")),
    # L2NormalizationParams: the input zero point.
    OpRule("L2_NORMALIZATION", macs=per_input_element, opdata=OpData(4),
           tflm=TFLM.get("L2_NORMALIZATION")),
    *rules(("LOCAL_RESPONSE_NORMALIZATION",), TFLM, macs=per_input_element),
]
