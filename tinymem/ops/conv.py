"""Convolutions: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph, Tensor
from ..targets import Target
from . import cmsis_nn as cm
from .base import Channels, ChannelWise, OpData, OpRule, OutSplit, SamePadding, Window
from .tflm import input_rank, kernel, tflm
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


def int4_filter_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # TFLM unpacks an int4 filter into an int8 scratch copy before running.
    w = inp(sg, op, 1)
    return [elements(w)] if w is not None and w.dtype == "int4" else []


def conv_shape(op: Operator, sg: Subgraph, x: Tensor, w: Tensor, y: Tensor,
               depthwise: bool = False) -> cm.ConvShape | None:
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        return None
    o = op.options
    sh, sw = o.get("stride_h", 1) or 1, o.get("stride_w", 1) or 1
    dh, dw = o.get("dilation_h_factor", 1) or 1, o.get("dilation_w_factor", 1) or 1
    kh, kw = dim(w, 1), dim(w, 2)
    ph = pw = 0
    if o.get("padding") == "SAME":
        ph = cm.same_padding(dim(x, 1), dim(y, 1), kh, sh, dh)
        pw = cm.same_padding(dim(x, 2), dim(y, 2), kw, sw, dw)
    c_out = dim(y, 3)
    c_f = dim(x, 3) if depthwise else dim(w, 3)
    return cm.ConvShape(batch=dim(x, 0), h_in=dim(x, 1), w_in=dim(x, 2), c_in=dim(x, 3),
                        k_h=kh, k_w=kw, c_f=c_f, c_out=c_out, h_out=dim(y, 1), w_out=dim(y, 2),
                        stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw, pad_h=ph, pad_w=pw)


def conv2d_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x, w, y, b = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0), inp(sg, op, 2)
    if not cm.uses_cmsis(target) or x is None or w is None or y is None:
        return int4_filter_scratch(op, sg, target)
    s = conv_shape(op, sg, x, w, y)
    if s is None:
        return []
    if x.dtype == "int8" and w.dtype in ("int8", "int4"):
        n = cm.conv_wrapper_s8(target.isa, s)
    elif x.dtype == "int16" and (b is None or b.dtype == "int64"):
        n = cm.conv_s16(target.isa, s)
    else:
        return int4_filter_scratch(op, sg, target)  # the reference kernel runs
    return [n] if n > 0 else []


def depthwise_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x, w, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    if not cm.uses_cmsis(target) or x is None or w is None or y is None:
        return int4_filter_scratch(op, sg, target)
    if x.dtype != "int8":
        # int16 runs arm_depthwise_conv_s16 with no buffer; float the reference kernel.
        return [] if x.dtype == "int16" else int4_filter_scratch(op, sg, target)
    s = conv_shape(op, sg, x, w, y, depthwise=True)
    if s is None:
        return []
    mult = max(s.c_out // max(s.c_in, 1), 1)  # TFLM derives it from the shapes
    n = cm.depthwise_s8(target.isa, s, mult)
    return [n] if n > 0 else []


def per_channel_arrays(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # An int32 multiplier and shift per output channel: the reference kernels
    # allocate them for every type, CMSIS-NN's only for the quantized ones.
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or not y.shape:
        return []
    if cm.uses_cmsis(target) and x.dtype not in ("int8", "int16"):
        return []
    c = dim(y, -1)
    return [4 * c, 4 * c]


def transpose_conv_arrays(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # transpose_conv.cc (and CMSIS-NN's) allocate the per-channel multiplier and shift,
    # one int32 per filter output channel, before looking at the type: float too.
    w = inp(sg, op, 1)
    if w is None or not w.shape:
        return []
    return [4 * dim(w, 0)] * 2


def transpose_conv_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # int8: an int32 accumulator per output element; int16: int64 accumulators
    # (and an int64 copy of an int16 bias).
    x, y = inp(sg, op, 2), out(sg, op, 0)
    if x is None or y is None:
        return []
    if x.dtype == "int8" and cm.uses_cmsis(target):
        return _cmsis_transpose_conv_int8(op, sg, target)
    if x.dtype == "int8":
        return [elements(y) * 4]
    if x.dtype == "int16":
        sizes = [elements(y) * 8]
        bias = inp(sg, op, 3)
        if bias is not None and bias.dtype == "int16":
            sizes.append(elements(bias) * 8)
        return sizes
    return []


def _cmsis_transpose_conv_int8(op: Operator, sg: Subgraph, target: Target) -> list[int]:
    # Two requests, always made (even of 0 bytes).
    w, x = inp(sg, op, 1), inp(sg, op, 2)
    if w is None or len(w.shape) != 4 or len(x.shape) != 4:
        return [0, 0]
    o = op.options
    sh, sw = o.get("stride_h", 1) or 1, o.get("stride_w", 1) or 1
    c_out, kh, kw, c_in = dim(w, 0), dim(w, 1), dim(w, 2), dim(w, 3)
    if sw <= 2 and sh <= 2 and c_in > 16:  # "reverse conv"
        return [cm.conv_im2col(target.isa, kh, kw, c_in), c_in * kw * kh * c_out]
    # (sic: CMSIS-NN uses stride_h in the x term)
    return [((dim(x, 2) - 1) * sw + max(kw, sh)) * c_out * max(kh, sh) * 4, 0]


# conv_common.cc / depthwise_conv_common.cc Prepare: output in the input's type, and
# float weights for float input, int8 for int16, int8 or int4 for int8 ("Hybrid models
# are not supported"). CMSIS-NN's Prepare also requires 4-D tensors.
_CONV_TYPES = ("float32/float32->float32", "int16/int8->int16", "int8/int8->int8",
               "int8/int4->int8")
_CONV = kernel(*_CONV_TYPES, weights=1)
_CONV_CMSIS = kernel(*_CONV_TYPES, weights=1, checks=(input_rank("4-D", 4, 4),))
# transpose_conv.cc: weights in the input's type, or int8 weights for int16 input.
_TRANSPOSE_CONV = kernel("float32/float32->float32", "int8/int8->int8", "int16/int8->int16",
                         data=2, weights=1)

def depthwise_scratch_free(op: Operator, sg: Subgraph) -> dict | None:
    """A dilation of 2 on a kernel axis of size 1, which changes no input it reads.

    CMSIS-NN's depthwise wrapper (arm_depthwise_conv_wrapper_s8, CMSIS-NN
    4ab83cc3) runs arm_depthwise_conv_s8_opt, whose buffer is C x K_h x K_w
    int16 (M4/M7) or 4 x 124 x K_h x K_w (M55), only when both dilations are
    1; any other dilation takes the generic arm_depthwise_conv_s8, which
    needs none (and is slower). With one tap on an axis, input position
    o*stride - pad + dilation*0 is the same for every dilation, and SAME's
    padding depends on the effective size dilation*(k-1) + 1 = 1 alone, so
    TFLM's reference and CMSIS-NN kernels, and LiteRT, give the same output.
    A 3x3 filter with padding <= 1 already runs the buffer-free 3x3 kernel
    on M4; the rule is offered anyway and the planner judges it.
    """
    w = inp(sg, op, 1)
    if w is None or len(w.shape) != 4:
        return None
    o = op.options
    for k_axis, key in ((2, "dilation_w_factor"), (1, "dilation_h_factor")):
        if dim(w, k_axis) == 1 and (o.get(key, 1) or 1) == 1:
            other = "dilation_h_factor" if key == "dilation_w_factor" else "dilation_w_factor"
            if (o.get(other, 1) or 1) == 1:
                return {key: 2}
    return None


def depthwise_channels(op: Operator, sg: Subgraph, flat: bool) -> bool:
    # Multiplier 1: output channel c is filter c on input channel c.
    x, w, y = inp(sg, op, 0), inp(sg, op, 1), out(sg, op, 0)
    return not flat and x is not None and w is not None and y is not None \
        and len(w.shape) == 4 and x.shape[-1:] == y.shape[-1:] == (w.shape[3],)


RULES = [
    OpRule("CONV_2D", macs=conv2d_macs, scratch=conv2d_scratch, window=conv_window,
           same_padding=SamePadding.ZERO_POINT,
           channels=Channels.SPLIT_OUT, out_split=OutSplit(),
           opdata=OpData(56, cmsis_nn=60, host=80),
           persistent=per_channel_arrays,
           tflm=tflm("AddConv2D", _CONV, _CONV_CMSIS),
           ),
    OpRule("DEPTHWISE_CONV_2D", macs=depthwise_macs, scratch=depthwise_scratch,
           window=conv_window, same_padding=SamePadding.ZERO_POINT,
           channels=Channels.CHANNELWISE,
           # LiteRT's optimised int8 kernel requantizes 8 channels at a time.
           channelwise=ChannelWise(check=depthwise_channels, group=8),
           # On a one-channel input it splits by output channels (filters on axis 3).
           out_split=OutSplit(weights_axis=3),
           scratch_free=depthwise_scratch_free,
           opdata=OpData(56, cmsis_nn=60, host=80),
           persistent=per_channel_arrays,
           tflm=tflm("AddDepthwiseConv2D", _CONV, _CONV_CMSIS),
           ),
    # Output channel j needs filter j (weights OHWI) and bias j only; its int32
    # (int64) accumulator scratch grows with the output, so parts ask for a share.
    # LiteRT's optimised int8 kernel requantizes 8 output channels at a time:
    # checked on a UNet decoder, parts of 8 channels keep its outputs, parts of
    # 4 or 11 change some by a few steps (TFLite Micro is exact either way).
    OpRule("TRANSPOSE_CONV", macs=transpose_conv_macs, scratch=transpose_conv_scratch,
           channels=Channels.SPLIT_OUT,
           out_split=OutSplit(data=2, weights=1, weights_axis=0, bias=3, out_shape=0, group=8),
           # OpData: ConvParams (56 B), buffer indices and the two array pointers; the
           # wheel's build adds two compression scratch indices.
           opdata=OpData(72, cmsis_nn=76, host=88),
           persistent=transpose_conv_arrays,
           tflm=tflm("AddTransposeConv", _TRANSPOSE_CONV),
           ),
]
