"""Small int8 models with random weights whose peak an in-place op would lower.

Built with the tiny-model builder, so nothing binary is committed. The
weights are random (seeded) so that a wrong alias shows in the outputs.
"""

from __future__ import annotations

import numpy as np

from .tiny_models import BO, I8, I32, ModelBuilder, S, _opts


def _conv(g: ModelBuilder, rng, x: int, cin: int, cout: int, hw: int, in_scale: float,
          out_scale: float, out_zp: int, relu: bool = False, h: int | None = None) -> int:
    w = rng.integers(-127, 128, size=(cout, 3, 3, cin))
    w_scale = rng.uniform(0.002, 0.01, size=cout)
    wt = g.tensor([cout, 3, 3, cin], I8, data=w, scale=w_scale, zp=np.zeros(cout, int), qdim=0)
    bias = rng.integers(-2000, 2000, size=cout)
    bt = g.tensor([cout], I32, data=bias, scale=in_scale * w_scale, zp=np.zeros(cout, int))
    y = g.tensor([1, h or hw, hw, cout], I8, scale=out_scale, zp=out_zp)
    act = S.ActivationFunctionType.RELU if relu else S.ActivationFunctionType.NONE
    g.op(BO.CONV_2D, [x, wt, bt], [y],
         _opts("Conv2D", padding=S.Padding.SAME, strideH=1, strideW=1,
               dilationHFactor=1, dilationWFactor=1, fusedActivationFunction=act))
    return y


def residual_int8(seed: int = 0, hw: int = 16, c: int = 8) -> ModelBuilder:
    """conv -> a; conv(a) -> b; ADD(a, b) -> s; RELU; RESHAPE; EXPAND_DIMS; MEAN.

    At the ADD, a, b and s are alive (3 tensors); run in place it needs 2.
    The RESHAPE and EXPAND_DIMS copies vanish in place too.
    """
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, c], I8, scale=0.05, zp=-3, name="input")
    a = _conv(g, rng, x, c, c, hw, 0.05, 0.08, 2, relu=True)
    b = _conv(g, rng, a, c, c, hw, 0.08, 0.11, -5)
    s = g.tensor([1, hw, hw, c], I8, scale=0.13, zp=1)
    g.op(BO.ADD, [a, b], [s], _opts("Add"))
    r = g.tensor([1, hw, hw, c], I8, scale=0.13, zp=1)
    g.op(BO.RELU, [s], [r])
    shape = g.tensor([3], I32, data=[1, hw * hw, c])
    flat = g.tensor([1, hw * hw, c], I8, scale=0.13, zp=1)
    g.op(BO.RESHAPE, [r, shape], [flat], _opts("Reshape", newShape=[1, hw * hw, c]))
    axis = g.tensor([], I32, data=2)
    e = g.tensor([1, hw * hw, 1, c], I8, scale=0.13, zp=1)
    g.op(BO.EXPAND_DIMS, [flat, axis], [e])
    axes = g.tensor([2], I32, data=[1, 2])
    m = g.tensor([1, c], I8, scale=0.1, zp=0)
    g.op(BO.MEAN, [e, axes], [m], _opts("Reducer", keepDims=False))
    g.io([x], [m])
    return g


def add_over_input(shape=(1, 8, 8, 4), broadcast: bool = False) -> ModelBuilder:
    """input -> ADD(input, other) -> RELU: the ADD could only run over the model input
    (or, unbroadcast, over the second operand, which is a model input too)."""
    g = ModelBuilder()
    x = g.tensor(list(shape), I8, scale=0.1, zp=0, name="x")
    oshape = [1, 1, 1, shape[-1]] if broadcast else list(shape)
    y = g.tensor(oshape, I8, scale=0.1, zp=0, name="y")
    s = g.tensor(list(shape), I8, scale=0.2, zp=0)
    g.op(BO.ADD, [y, x], [s], _opts("Add"))
    r = g.tensor(list(shape), I8, scale=0.2, zp=0)
    g.op(BO.RELU, [s], [r])
    g.io([x, y], [r])
    return g


def _slice_rows(g: ModelBuilder, x: int, lo: int, hi: int, w: int, c: int) -> int:
    begin = g.tensor([4], I32, data=[0, lo, 0, 0])
    end = g.tensor([4], I32, data=[1, hi, w, c])
    strides = g.tensor([4], I32, data=[1, 1, 1, 1])
    q = g.main.tensors[x].quantization
    y = g.tensor([1, hi - lo, w, c], I8, scale=q.scale[0], zp=q.zeroPoint[0])
    g.op(BO.STRIDED_SLICE, [x, begin, end, strides], [y], _opts("StridedSlice"))
    return y


def concat_rows_int8(seed: int = 0, hw: int = 16, c_in: int = 2, c: int = 8,
                     tiles: int = 2) -> ModelBuilder:
    """A tiled stage's end: row strips of the input, a conv per strip, the strips
    joined along H (CONCATENATION), a small conv after.

    At the join every strip and the joined tensor are alive (twice the stage's
    exit); with the strips placed as the chunks of the join's output, once.
    """
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, c_in], I8, scale=0.05, zp=-3, name="input")
    bounds = [hw * k // tiles for k in range(tiles + 1)]
    strips = []
    for lo, hi in zip(bounds, bounds[1:]):
        s = _slice_rows(g, x, lo, hi, hw, c_in)
        strips.append(_conv(g, rng, s, c_in, c, hw, 0.05, 0.08, 2, relu=True, h=hi - lo))
    cat = g.tensor([1, hw, hw, c], I8, scale=0.08, zp=2)
    g.op(BO.CONCATENATION, strips, [cat], _opts("Concatenation", axis=1))
    y = _conv(g, rng, cat, c, 2, hw, 0.08, 0.1, 0)
    g.io([x], [y])
    return g


def pad_int8(seed: int = 0, hw: int = 16, c: int = 8, pads=((1, 1), (1, 1)),
             pad_input: bool = False) -> ModelBuilder:
    """conv -> PAD -> VALID 3x3 conv with stride 2 (or PAD right on the model
    input, `pad_input`): at the PAD both its input and its larger output are
    alive; with the input at the output's end, the output alone."""
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, 2 if not pad_input else c], I8, scale=0.05, zp=-3, name="input")
    a = x if pad_input else _conv(g, rng, x, 2, c, hw, 0.05, 0.08, 2, relu=True)
    q = g.main.tensors[a].quantization
    (t, b), (l, r) = pads
    paddings = g.tensor([4, 2], I32, data=[[0, 0], [t, b], [l, r], [0, 0]])
    h2, w2 = hw + t + b, hw + l + r
    p = g.tensor([1, h2, w2, c], I8, scale=q.scale[0], zp=q.zeroPoint[0])
    g.op(BO.PAD, [a, paddings], [p])
    w = rng.integers(-127, 128, size=(c, 3, 3, c))
    w_scale = rng.uniform(0.002, 0.01, size=c)
    wt = g.tensor([c, 3, 3, c], I8, data=w, scale=w_scale, zp=np.zeros(c, int), qdim=0)
    bt = g.tensor([c], I32, data=rng.integers(-2000, 2000, size=c),
                  scale=q.scale[0] * w_scale, zp=np.zeros(c, int))
    ho, wo = (h2 - 3) // 2 + 1, (w2 - 3) // 2 + 1
    y = g.tensor([1, ho, wo, c], I8, scale=0.11, zp=-5)
    g.op(BO.CONV_2D, [p, wt, bt], [y],
         _opts("Conv2D", padding=S.Padding.VALID, strideH=2, strideW=2,
               dilationHFactor=1, dilationWFactor=1))
    g.io([x], [y])
    return g


def concat_channels_int8(seed: int = 0, hw: int = 8, c: int = 4) -> ModelBuilder:
    """Two convs of the input joined along channels: each output row holds a
    piece of every input, so no input is a contiguous chunk of the output."""
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, 2], I8, scale=0.05, zp=-3, name="input")
    a = _conv(g, rng, x, 2, c, hw, 0.05, 0.08, 2, relu=True)
    b = _conv(g, rng, x, 2, c, hw, 0.05, 0.08, 2)
    cat = g.tensor([1, hw, hw, 2 * c], I8, scale=0.08, zp=2)
    g.op(BO.CONCATENATION, [a, b], [cat], _opts("Concatenation", axis=3))
    g.io([x], [_conv(g, rng, cat, 2 * c, 2, hw, 0.08, 0.1, 0)])
    return g
