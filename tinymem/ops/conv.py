"""Convolutions: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import Channels, OpRule, Window
from .shapes import dim, elements, inp, out


def same_pad_before(in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> int:
    """Leading padding TFLite uses for SAME (the smaller half goes first)."""
    eff = dilation * (kernel - 1) + 1
    total = max((out_size - 1) * stride + eff - in_size, 0)
    return total // 2


def conv_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    x, w, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    if x is None or w is None or y is None or len(x.shape) != 4 or len(y.shape) != 4:
        return None
    o = op.options
    wins = []
    for axis, k_axis, s_key, d_key in ((1, 1, "stride_h", "dilation_h_factor"),
                                       (2, 2, "stride_w", "dilation_w_factor")):
        k = dim(w, k_axis)
        s = o.get(s_key, 1) or 1
        d = o.get(d_key, 1) or 1
        pad = 0
        if o.get("padding") == "SAME":
            pad = same_pad_before(dim(x, axis), dim(y, axis), k, s, d)
        wins.append(Window(kernel=k, stride=s, dilation=d, pad_before=pad))
    return wins[0], wins[1]


def conv2d_macs(op: Operator, sg: Subgraph) -> int | None:
    w, y = inp(sg, op, 1), out(sg, op, 0)
    if w is None or y is None or len(w.shape) != 4:
        return None
    # Filter [Cout, kh, kw, Cin/groups]: each output element sums kh*kw*Cin/groups products.
    return elements(y) * dim(w, 1) * dim(w, 2) * dim(w, 3)


def depthwise_macs(op: Operator, sg: Subgraph) -> int | None:
    w, y = inp(sg, op, 1), out(sg, op, 0)
    if w is None or y is None or len(w.shape) != 4:
        return None
    return elements(y) * dim(w, 1) * dim(w, 2)


def transpose_conv_macs(op: Operator, sg: Subgraph) -> int | None:
    # Inputs: output_shape, weights [Cout, kh, kw, Cin], input.
    w, x = inp(sg, op, 1), inp(sg, op, 2)
    if w is None or x is None or len(w.shape) != 4:
        return None
    return elements(x) * dim(w, 0) * dim(w, 1) * dim(w, 2)


def int4_filter_scratch(op: Operator, sg: Subgraph) -> list[int]:
    # TFLM unpacks an int4 filter into an int8 scratch copy before running.
    w = inp(sg, op, 1)
    return [elements(w)] if w is not None and w.dtype == "int4" else []


def transpose_conv_scratch(op: Operator, sg: Subgraph) -> list[int]:
    # int8: an int32 accumulator per output element; int16: int64 accumulators
    # (and an int64 copy of an int16 bias).
    x, y = inp(sg, op, 2), out(sg, op, 0)
    if x is None or y is None:
        return []
    if x.dtype == "int8":
        return [elements(y) * 4]
    if x.dtype == "int16":
        sizes = [elements(y) * 8]
        bias = inp(sg, op, 3)
        if bias is not None and bias.dtype == "int16":
            sizes.append(elements(bias) * 8)
        return sizes
    return []


RULES = [
    OpRule("CONV_2D", macs=conv2d_macs, scratch=int4_filter_scratch, window=conv_window,
           channels=Channels.SPLIT_OUT),
    OpRule("DEPTHWISE_CONV_2D", macs=depthwise_macs, scratch=int4_filter_scratch,
           window=conv_window, channels=Channels.CHANNELWISE),
    OpRule("TRANSPOSE_CONV", macs=transpose_conv_macs, scratch=transpose_conv_scratch),
]
