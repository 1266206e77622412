"""Recurrent and stateful layers: SVDF, LSTM."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..targets import Kernels, Target
from . import cmsis_nn as cm
from .base import OpData, OpRule
from .shapes import dim, elements, inp, out
from .tflm import input_rank, kernel, tflm


def svdf_macs(op: Operator, sg: Subgraph) -> int | None:
    # Feature filter [features, input], time filter [features, memory].
    x, wf, wt = inp(sg, op, 0), inp(sg, op, 1), inp(sg, op, 2)
    if x is None or wf is None or wt is None:
        return None
    batch = dim(x, 0)
    return batch * dim(wf, 0) * (dim(wf, 1) + dim(wt, 1))


def lstm_macs(op: Operator, sg: Subgraph) -> int | None:
    # Four gates, each an input and a recurrent matrix product per time step.
    x, y = inp(sg, op, 0), out(sg, op, 0)
    w_in, w_rec = inp(sg, op, 2), inp(sg, op, 6)  # input-to-forget, recurrent-to-forget
    if x is None or y is None or w_in is None or w_rec is None:
        return None
    steps = elements(x) // max(dim(x, -1), 1)
    n_cell = dim(w_in, 0)
    return 4 * steps * n_cell * (dim(w_in, 1) + dim(w_rec, 1))


def svdf_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # Per batch: an int32 result per filter, and (int8) an int32 per unit.
    x, wf = inp(sg, op, 0), inp(sg, op, 1)
    if x is None or wf is None:
        return []
    batch, filters = dim(x, 0), dim(wf, 0)
    rank = op.options.get("rank", 1) or 1
    if x.dtype == "int8":
        sizes = [batch * filters * 4, batch * (filters // rank) * 4]
        if cm.uses_cmsis(target) and not _svdf_sums_persistent(op, sg, target):
            n = cm.fully_connected_s8(target.isa, filters)  # kernel sums, MVE only
            if n:
                sizes.append(n)
        return sizes
    return [batch * filters * 4]


def _svdf_sums_persistent(op: Operator, sg: Subgraph, target: Target) -> bool:
    wf = inp(sg, op, 1)
    return target.kernels is not Kernels.CMSIS_NN_SIZE and wf is not None and wf.has_data


def svdf_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x, wf = inp(sg, op, 0), inp(sg, op, 1)
    if (x is None or wf is None or x.dtype != "int8" or not cm.uses_cmsis(target)
            or not _svdf_sums_persistent(op, sg, target)):
        return []
    n = cm.fully_connected_s8(target.isa, dim(wf, 0))
    return [n] if n else []


def lstm_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # Four gate buffers of batch x state size in the cell state's type.
    x, state, cell = inp(sg, op, 0), inp(sg, op, 18), inp(sg, op, 19)
    if x is None or state is None or cell is None:
        return []
    batch = dim(x, 1) if op.options.get("time_major") else dim(x, 0)
    size = batch * dim(state, 1) * (2 if cell.dtype == "int16" else 4)
    if cm.uses_cmsis(target) and x.dtype in ("int8", "int16"):
        return [size] * 3  # CMSIS-NN's LSTM needs one gate buffer fewer
    return [size] * 4


def lstm_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # CMSIS-NN precomputes 8 kernel-sum vectors (input and recurrent weights of
    # the four gates), one bias-typed entry per state unit.
    x, state = inp(sg, op, 0), inp(sg, op, 18)
    if not cm.uses_cmsis(target) or x is None or state is None or x.dtype not in ("int8", "int16"):
        return []
    return [dim(state, -1) * (8 if x.dtype == "int16" else 4)] * 8


# svdf.cc: float32, or int8 input with int8 feature weights (int16/int8 time weights,
# 2-D input); unidirectional_sequence_lstm.cc: float32, int8 or int16 input with int8
# weights (weights are input 2, input-to-forget).
_SVDF = kernel("float32/float32->float32", "int8/int8->int8", weights=1,
               checks=(input_rank("2-D", 2, 2),))
_LSTM = kernel("float32/float32->float32", "int8/int8->int8", "int16/int8->int16", weights=2)

RULES = [
    OpRule("SVDF", macs=svdf_macs, scratch=svdf_scratch,
           opdata=OpData(36, cmsis_nn=40),
           persistent=svdf_persistent,
           tflm=tflm("AddSvdf", _SVDF),
           ),
    OpRule("UNIDIRECTIONAL_SEQUENCE_LSTM", macs=lstm_macs, scratch=lstm_scratch,
           opdata=OpData(688, cmsis_nn=912),
           persistent=lstm_persistent,
           tflm=tflm("AddUnidirectionalSequenceLSTM", _LSTM),
           ),
]
