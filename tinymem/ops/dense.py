"""Matrix products: FULLY_CONNECTED, BATCH_MATMUL."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..targets import Kernels, Target
from . import cmsis_nn as cm
from .base import Channels, OpData, OpRule, OutSplit
from .conv import int4_filter_scratch
from .shapes import dim, elements, inp, int_array_bytes, out
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


def _fc_kernel_sums_persistent(op: Operator, sg: Subgraph, target: Target) -> bool:
    # KERNELS_OPTIMIZED_FOR_SPEED keeps the sums in the tail when the weights
    # (and bias, if any) are constants; FOR_SIZE recomputes them into scratch.
    w, b = inp(sg, op, 1), inp(sg, op, 2)
    return (target.kernels is not Kernels.CMSIS_NN_SIZE and w is not None and w.has_data
            and (b is None or b.has_data))


def _fc_cmsis_case(op: Operator, sg: Subgraph, target: Target) -> str:
    """Which CMSIS-NN path an FC takes: 'conv1x1', 'fc' (int8 x int8), or 'other'."""
    x, w, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    if x is None or w is None or y is None or x.dtype != "int8" or w.dtype != "int8":
        return "other"
    if len(y.shape) > 2 and dim(w, -1) % 4 == 0:
        return "conv1x1"
    return "fc"


def fc_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    if not cm.uses_cmsis(target):
        return int4_filter_scratch(op, sg, target)
    x, w = inp(sg, op, 0), inp(sg, op, 1)
    case = _fc_cmsis_case(op, sg, target)
    if case == "conv1x1":
        per_tensor = w.quantization is None or not w.quantization.per_channel
        return [dim(w, 0) * 8] if per_tensor else []
    if case == "fc":
        n = cm.fully_connected_s8(target.isa, dim(w, 0))
        if n and not _fc_kernel_sums_persistent(op, sg, target):
            return [n]
        return []
    if x is not None and x.dtype == "int16":
        return []
    return int4_filter_scratch(op, sg, target)


def fc_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    w, y = inp(sg, op, 1), out(sg, op, 0)
    if w is None or y is None:
        return []
    out_bufs = []
    if w.quantization is not None and w.quantization.per_channel:
        out_bufs += [4 * dim(w, 0)] * 2  # per-channel multiplier and shift
    if cm.uses_cmsis(target) and _fc_cmsis_case(op, sg, target) == "fc":
        n = cm.fully_connected_s8(target.isa, dim(w, 0))
        if n and _fc_kernel_sums_persistent(op, sg, target):
            out_bufs.append(n)
    return out_bufs


def batch_matmul_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if cm.uses_cmsis(target) and x is not None and x.dtype == "int8" and y is not None:
        n = cm.fully_connected_s8(target.isa, dim(y, -1))
        return [n] if n else []
    return []


def _transposed_copy(t, pointer: int) -> list[int]:
    """An operand BATCH_MATMUL keeps transposed in the tail: a TfLiteEvalTensor (data
    and dims pointers, a type), its dims and its data."""
    eval_tensor = -(-(2 * pointer + 4) // pointer) * pointer
    return [eval_tensor, int_array_bytes(len(t.shape)), t.nbytes]


def batch_matmul_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # batch_matmul.cc (and CMSIS-NN's, in another order of the same buffers): quantized
    # parameters (seven int32), the transposed operands it needs (the LHS when adj_x,
    # the RHS unless adj_y) and the output's dims, moved to the tail to be rewritten.
    x, w, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    if x is None or w is None or y is None:
        return []
    pointer = target.pointer_bytes if target is not None else 8
    bufs = [7 * 4] if x.dtype in ("int8", "int16") else []
    if op.options.get("adj_x"):
        bufs += _transposed_copy(x, pointer)
    if not op.options.get("adj_y"):
        bufs += _transposed_copy(w, pointer)
    return bufs + [int_array_bytes(len(y.shape))]


# fully_connected.cc Prepare: output in the input's type; float weights for float,
# int8/int4 for int8, int8 for int16 (CMSIS-NN's Prepare says the same).
_FC = kernel("float32/float32->float32", "int8/int8->int8", "int8/int4->int8",
             "int16/int8->int16", weights=1)
# batch_matmul.cc: both operands and the output in one type (no hybrid, no int32 out).
_BATCH_MATMUL = kernel("float32/float32->float32", "int8/int8->int8", "int16/int16->int16",
                       weights=1)

RULES = [
    OpRule("FULLY_CONNECTED", macs=fc_macs, scratch=fc_scratch, channels=Channels.SPLIT_OUT, out_split=OutSplit(),
           opdata=OpData(48, cmsis_nn=72, host=72),
           persistent=fc_persistent,
           tflm=tflm("AddFullyConnected", _FC),
           ),
    # OpData: OpDataBatchMatmul (three pointers, three bools); CMSIS-NN's adds
    # cmsis_nn_dims and a buffer index.
    OpRule("BATCH_MATMUL", macs=batch_matmul_macs,
           scratch=batch_matmul_scratch,
           opdata=OpData(16, cmsis_nn=36, host=32),
           persistent=batch_matmul_persistent,
           tflm=tflm("AddBatchMatMul", _BATCH_MATMUL),
           ),
]
