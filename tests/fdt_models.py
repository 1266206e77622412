"""Small int8 models, random (seeded) weights, whose peak only a channel split lowers.

Built with the tiny-model builder, so nothing binary is committed. Random
weights so that a wrong slice or a misplaced part shows in the outputs.
"""

from __future__ import annotations

import numpy as np

from .tiny_models import BO, I8, I32, ModelBuilder, S, _opts

SAME = S.Padding.SAME


def _weights(g: ModelBuilder, rng, shape, in_scale: float, axis: int = 0):
    """int8 weights quantized per output channel (`axis`) and their int32 bias."""
    n = shape[axis]
    w_scale = rng.uniform(0.002, 0.01, size=n)
    w = g.tensor(shape, I8, data=rng.integers(-127, 128, size=shape), scale=w_scale,
                 zp=np.zeros(n, int), qdim=axis)
    b = g.tensor([n], I32, data=rng.integers(-3000, 3000, size=n), scale=in_scale * w_scale,
                 zp=np.zeros(n, int))
    return w, b


def _conv(g, rng, x, shape_in, cout, k=3, stride=1, scale_in=0.05, scale_out=0.08, zp=0):
    _, h, w, cin = shape_in
    wt, bt = _weights(g, rng, [cout, k, k, cin], scale_in)
    oh, ow = -(-h // stride), -(-w // stride)
    y = g.tensor([1, oh, ow, cout], I8, scale=scale_out, zp=zp)
    g.op(BO.CONV_2D, [x, wt, bt], [y],
         _opts("Conv2D", padding=SAME, strideH=stride, strideW=stride, dilationHFactor=1,
               dilationWFactor=1, fusedActivationFunction=S.ActivationFunctionType.RELU))
    return y, (1, oh, ow, cout)


def unet_int8(seed: int = 0, hw: int = 16, c: int = 8, up: int = 32) -> ModelBuilder:
    """encoder conv (stride 2) -> TRANSPOSE_CONV (stride 2, `up` channels) ->
    CONCATENATION with the encoder's skip -> conv.

    The peak is the TRANSPOSE_CONV's int32 accumulator (4 bytes per output
    element in the reference kernel), four times its output.
    """
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, c], I8, scale=0.05, zp=-3, name="input")
    skip, s_shape = _conv(g, rng, x, (1, hw, hw, c), c, scale_in=0.05, scale_out=0.08, zp=1)
    enc, e_shape = _conv(g, rng, skip, s_shape, 2 * c, stride=2, scale_in=0.08, scale_out=0.1)
    wt, bt = _weights(g, rng, [up, 3, 3, 2 * c], 0.1)
    shape = g.tensor([4], I32, data=[1, hw, hw, up])
    t = g.tensor([1, hw, hw, up], I8, scale=0.08, zp=1)  # the skip's quantization: concat copies
    g.op(BO.TRANSPOSE_CONV, [shape, wt, enc, bt], [t],
         _opts("TransposeConv", padding=SAME, strideH=2, strideW=2))
    cat = g.tensor([1, hw, hw, up + c], I8, scale=0.08, zp=1)
    g.op(BO.CONCATENATION, [t, skip], [cat], _opts("Concatenation", axis=3))
    y, _ = _conv(g, rng, cat, (1, hw, hw, up + c), 4, k=1, scale_in=0.08, scale_out=0.2)
    g.io([x], [y])
    return g


def branch_join_int8(seed: int = 0, hw: int = 16, c: int = 4, wide: int = 48) -> ModelBuilder:
    """Two branches joined by a CONCATENATION: a wide conv -> MAX_POOL (stride 2),
    and a strided conv; then a 1x1 conv.

    The peak is the wide conv's output, alive with the block input; split by
    output channels, each part's pooled output can go straight into the
    concatenation.
    """
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, c], I8, scale=0.05, zp=-3, name="input")
    a, a_shape = _conv(g, rng, x, (1, hw, hw, c), wide, scale_in=0.05, scale_out=0.08, zp=1)
    h = hw // 2
    p = g.tensor([1, h, h, wide], I8, scale=0.08, zp=1)
    g.op(BO.MAX_POOL_2D, [a], [p],
         _opts("Pool2D", padding=S.Padding.VALID, strideH=2, strideW=2, filterHeight=2,
               filterWidth=2))
    b, _ = _conv(g, rng, x, (1, hw, hw, c), 8, stride=2, scale_in=0.05, scale_out=0.08, zp=1)
    cat = g.tensor([1, h, h, wide + 8], I8, scale=0.08, zp=1)
    g.op(BO.CONCATENATION, [p, b], [cat], _opts("Concatenation", axis=3))
    y, _ = _conv(g, rng, cat, (1, h, h, wide + 8), 4, k=1, scale_in=0.08, scale_out=0.2)
    g.io([x], [y])
    return g


def inception_int8(seed: int = 0, hw: int = 16, c: int = 4, branch: int = 16) -> ModelBuilder:
    """Two conv branches -> CONCATENATION -> MAX_POOL (stride 2) -> 1x1 conv.

    The peak is the concatenation (both branches and their join alive): run
    from the branches, each part is pooled on its own and only the small
    pooled parts are concatenated.
    """
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, c], I8, scale=0.05, zp=-3, name="input")
    a, _ = _conv(g, rng, x, (1, hw, hw, c), branch, k=1, scale_in=0.05, scale_out=0.08, zp=1)
    b, _ = _conv(g, rng, x, (1, hw, hw, c), branch, scale_in=0.05, scale_out=0.08, zp=1)
    cat = g.tensor([1, hw, hw, 2 * branch], I8, scale=0.08, zp=1)
    g.op(BO.CONCATENATION, [a, b], [cat], _opts("Concatenation", axis=3))
    h = hw // 2
    p = g.tensor([1, h, h, 2 * branch], I8, scale=0.08, zp=1)
    g.op(BO.MAX_POOL_2D, [cat], [p],
         _opts("Pool2D", padding=S.Padding.VALID, strideH=2, strideW=2, filterHeight=2,
               filterWidth=2))
    y, _ = _conv(g, rng, p, (1, h, h, 2 * branch), 4, k=1, scale_in=0.08, scale_out=0.2)
    g.io([x], [y])
    return g


def conv1d_views_int8(seed: int = 0, n: int = 64, c: int = 8, wide: int = 32) -> ModelBuilder:
    """A conv1d block as converters write it: CONV_2D on [1, 1, n, c] -> RESHAPE
    to [1, n, wide] -> EXPAND_DIMS back to [1, 1, n, wide] -> MAX_POOL (1x2) -> 1x1 conv.

    The peak is the wide conv output and its view copies; split by output
    channels, each part goes through the views and the pool on its own.
    """
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    x = g.tensor([1, 1, n, c], I8, scale=0.05, zp=-3, name="input")
    a, _ = _conv(g, rng, x, (1, 1, n, c), wide, k=1, scale_in=0.05, scale_out=0.08, zp=1)
    shape = g.tensor([3], I32, data=[1, n, wide])
    r = g.tensor([1, n, wide], I8, scale=0.08, zp=1)
    g.op(BO.RESHAPE, [a, shape], [r], _opts("Reshape", newShape=[1, n, wide]))
    axis = g.tensor([], I32, data=1)
    e = g.tensor([1, 1, n, wide], I8, scale=0.08, zp=1)
    g.op(BO.EXPAND_DIMS, [r, axis], [e])
    p = g.tensor([1, 1, n // 2, wide], I8, scale=0.08, zp=1)
    g.op(BO.MAX_POOL_2D, [e], [p],
         _opts("Pool2D", padding=S.Padding.VALID, strideH=1, strideW=2, filterHeight=1,
               filterWidth=2))
    y, _ = _conv(g, rng, p, (1, 1, n // 2, wide), 4, k=1, scale_in=0.08, scale_out=0.2)
    g.io([x], [y])
    return g
