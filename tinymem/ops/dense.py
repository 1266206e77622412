"""Matrix products: FULLY_CONNECTED, BATCH_MATMUL."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import OpRule
from .conv import int4_filter_scratch
from .shapes import dim, elements, inp, out
from .tflm import kernel, tflm


def fc_macs(op: Operator, sg: Subgraph) -> int | None:
    w, y = inp(sg, op, 1), out(sg, op, 0)
    if w is None or y is None or not w.shape:
        return None
    return elements(y) * dim(w, -1)


def batch_matmul_macs(op: Operator, sg: Subgraph) -> int | None:
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or not x.shape:
        return None
    k = dim(x, -2) if op.options.get("adj_x") else dim(x, -1)
    return elements(y) * k


# fully_connected.cc Prepare: output in the input's type; float weights for float,
# int8/int4 for int8, int8 for int16 (CMSIS-NN's Prepare says the same).
_FC = kernel("float32/float32->float32", "int8/int8->int8", "int8/int4->int8",
             "int16/int8->int16", weights=1)
# batch_matmul.cc: both operands and the output in one type (no hybrid, no int32 out).
_BATCH_MATMUL = kernel("float32/float32->float32", "int8/int8->int8", "int16/int16->int16",
                       weights=1)

RULES = [
    OpRule("FULLY_CONNECTED", macs=fc_macs, scratch=int4_filter_scratch, channels="split_out",
           tflm=tflm("AddFullyConnected", _FC),
           ),
    OpRule("BATCH_MATMUL", macs=batch_matmul_macs, data_inputs=(0, 1),
           tflm=tflm("AddBatchMatMul", _BATCH_MATMUL),
           ),
]
