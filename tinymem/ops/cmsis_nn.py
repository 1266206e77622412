"""CMSIS-NN's buffer-size functions, as the CMSIS-NN kernels of TFLM call them in Prepare.

Read from CMSIS-NN 4ab83cc3 (`Source/*/arm_*_get_buffer_size*.c`) and the
TFLM kernels that call them (`kernels/cmsis_nn/*.cc`, TFLM 90b983c2), for
firmware built with GCC (two armclang-only variants differ: see TARGETS.md).
The code path family comes from the CPU (`Isa`): MVE wins over DSP, DSP over
none. These are formulas of shapes only; the op rules decide when a kernel
calls which.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..targets import Isa, Target


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def ceil4(x: int) -> int:
    return (x + 3) // 4 * 4


@dataclass(frozen=True)
class ConvShape:
    """A convolution as the wrapper sees it: NHWC input, [C_out, K_h, K_w, C_f] filter."""

    batch: int
    h_in: int
    w_in: int
    c_in: int  # the input tensor's channels
    k_h: int
    k_w: int
    c_f: int  # the filter's input depth (per group)
    c_out: int
    h_out: int
    w_out: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    pad_h: int
    pad_w: int


def same_padding(in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> int:
    """TFLM's leading padding (ComputePaddingHeightWidth): half the total, rounded down."""
    eff = (kernel - 1) * dilation + 1
    return max((out_size - 1) * stride + eff - in_size, 0) // 2


def conv_im2col(isa: Isa, k_h: int, k_w: int, c_f: int) -> int:
    """`arm_convolve_s8` (general im2col path)."""
    rhs_cols = k_h * k_w * c_f
    if isa is Isa.MVE:
        return 64 * ceil_div(rhs_cols, 16)
    return 4 * ceil4(rhs_cols)  # 2 columns of int16, with or without DSP


def conv_1xn_mve(s: ConvShape) -> int:
    total_pad = (s.w_out - 1) * s.stride_w + s.k_w - s.w_in
    asym = total_pad % 2
    right = max(1, ceil_div(s.pad_w + asym, s.stride_w)) if s.pad_w + asym != 0 else 0
    left = max(1, ceil_div(s.pad_w, s.stride_w)) if s.pad_w != 0 else 0
    mid = max(s.w_out - (left + right), 0)
    if left + mid + right != s.w_out:
        return conv_im2col(Isa.MVE, s.k_h, s.k_w, s.c_f)
    return max(s.k_w * s.c_f + s.pad_w * s.c_f,
               (s.k_w - 1) * s.c_f + (right * s.c_f if asym else s.pad_w * s.c_f))


def conv_wrapper_s8(isa: Isa, s: ConvShape) -> int:
    """`arm_convolve_wrapper_s8_get_buffer_size`: the dispatch of arm_convolve_wrapper_s8."""
    grouped = s.c_in != s.c_f
    if (s.pad_h == 0 and s.pad_w == 0 and s.k_h == 1 and s.k_w == 1 and s.dil_h == 1
            and s.dil_w == 1 and not grouped):
        return 0  # 1x1 (fast or strided): no buffer with GCC
    if (s.h_in == 1 and s.k_h == 1 and s.dil_w == 1 and (s.stride_w * s.c_in) % 4 == 0
            and not grouped):
        if isa is Isa.MVE:
            return conv_1xn_mve(s)
        return conv_im2col(isa, s.k_h, s.k_w, s.c_f)
    return conv_im2col(isa, s.k_h, s.k_w, s.c_f)


def conv_s16(isa: Isa, s: ConvShape) -> int:
    n = s.c_f * s.k_h * s.k_w
    if isa is Isa.MVE:
        return 4 * ceil_div(n, 8) * 8 * 2
    return 2 * n * 2


def depthwise_s8(isa: Isa, s: ConvShape, mult: int) -> int:
    """`arm_depthwise_conv_wrapper_s8_get_buffer_size`."""
    if isa is Isa.MVE and s.c_in == 1 and s.c_out > 1:
        # One input channel runs as a convolution with a C_out x K_h x K_w x 1 filter.
        conv = ConvShape(s.batch, s.h_in, s.w_in, 1, s.k_h, s.k_w, 1, s.c_out, s.h_out,
                         s.w_out, s.stride_h, s.stride_w, s.dil_h, s.dil_w, s.pad_h, s.pad_w)
        return conv_wrapper_s8(isa, conv) + s.k_h * s.k_w * s.c_out
    if mult != 1 or s.batch != 1 or s.dil_h != 1 or s.dil_w != 1:
        return 0  # generic arm_depthwise_conv_s8
    if (isa is not Isa.MVE and s.k_h == 3 and s.k_w == 3 and s.pad_h <= 1
            and s.pad_w <= 1):
        return 0  # arm_depthwise_conv_3x3_s8
    if isa is Isa.MVE:
        return 4 * 124 * s.k_h * s.k_w  # CH_IN_BLOCK_MVE = 124
    if isa is Isa.DSP:
        return s.c_in * s.k_h * s.k_w * 2
    return 0


def fully_connected_s8(isa: Isa, c_out: int) -> int:
    """`arm_fully_connected_s8_get_buffer_size`: MVE keeps int32 kernel sums per output."""
    return c_out * 4 if isa is Isa.MVE else 0


def avgpool(isa: Isa, channels: int) -> int:
    return channels * 4 if isa is Isa.DSP else 0


def uses_cmsis(target: Target | None) -> bool:
    return target is not None and target.cmsis_nn
