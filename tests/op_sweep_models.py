"""One-op models for every op type tinymem's rules know, per data type TFLM runs it in.

`SWEEP` maps "OP/dtype" to a maker returning a `ModelBuilder`; the arena
sweep (bench/tail_sweep.py) and the tail tests build them and compare
tinymem's head, tail and smallest arena with the tflite-micro wheel and the
Cortex-M firmware. Shapes are small and weights zero: only the allocations
matter. Each quantized tensor gets the quantization its kernel insists on.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .tiny_models import (BO, BOOL, F32, I8, I16, I32, I64, S, ModelBuilder, _opts,
                          add_n_model, detection_postprocess_model, lstm_model, mirror_pad_model,
                          reduce_model, rfft_model, svdf_model, transpose_conv_model)

DTYPES = {"float32": F32, "int8": I8, "int16": I16}
X = [1, 4, 4, 3]  # the usual activation shape

# Output quantization some kernels require (int8, int16).
_OUT_Q = {
    "LOGISTIC": (dict(scale=1 / 256, zp=-128), dict(scale=1 / 32768, zp=0)),
    "TANH": (dict(scale=1 / 128, zp=0), dict(scale=1 / 32768, zp=0)),
    "SOFTMAX": (dict(scale=1 / 256, zp=-128), dict(scale=1 / 32768, zp=0)),
    "LOG_SOFTMAX": (dict(scale=16 / 256, zp=127), None),
    "L2_NORMALIZATION": (dict(scale=1 / 128, zp=0), None),
}


def _q(dtype: int, op: str | None = None) -> dict:
    """Quantization of an activation of `dtype` (none for float, bool, int32...)."""
    if dtype == I8:
        return (_OUT_Q.get(op) or (None,))[0] or dict(scale=0.1, zp=0)
    if dtype == I16:
        q = _OUT_Q.get(op)
        return (q[1] if q and q[1] else None) or dict(scale=1 / 32768, zp=0)
    return {}


class _G(ModelBuilder):
    def act(self, shape, dtype, op=None) -> int:
        return self.tensor(shape, dtype, **_q(dtype, op))

    def ints(self, values, dtype=I32) -> int:
        a = np.asarray(values)
        return self.tensor(list(a.shape), dtype, data=a)


def _one(op: str, ins, outs, options=(0, None), custom=None, custom_options=None) -> _G:
    """ins/outs: lists of (shape, dtype) for activations or ints (constant int32 data)."""
    g = _G()
    tin, free = [], []
    for x in ins:
        if isinstance(x, tuple):
            shape, dtype = x[0], x[1]
            t = g.act(shape, dtype)
            free.append(t)
        elif isinstance(x, dict):  # a constant of any dtype: {"shape", "dtype", "data"}
            t = g.tensor(x["shape"], x["dtype"], data=x["data"], **_q(x["dtype"]))
        else:
            t = g.ints(x)
        tin.append(t)
    tout = [g.act(shape, dtype, op) for shape, dtype in outs]
    g.op(getattr(BO, op) if custom is None else BO.CUSTOM, tin, tout, options,
         custom=custom, custom_options=custom_options)
    g.io(free, tout)
    return g


def _const(shape, dtype, value=0):
    return {"shape": list(shape), "dtype": dtype, "data": np.full(shape, value)}


def _unary(op, options=(0, None)):
    return lambda d: _one(op, [(X, d)], [(X, d)], options)


def _binary(op, options=(0, None), out=None):
    return lambda d: _one(op, [(X, d), (X, d)], [(X, out if out is not None else d)], options)


def _divide(op, options=(0, None)):
    # A constant divisor that is not zero: the firmware zeroes the inputs, and int8
    # division by zero never returns there.
    return lambda d: _one(op, [(X, d), _const(X, d, 1 if d == F32 else 10)], [(X, d)], options)


def _conv(kind):
    def make(d):
        g = _G()
        w_type = F32 if d == F32 else I8
        b_type = F32 if d == F32 else I64 if d == I16 else I32
        cin, cout = 3, 4
        x = g.act([1, 5, 5, cin], d)
        wq = {} if d == F32 else dict(scale=[0.1] * cout, zp=[0] * cout,
                                      qdim=3 if kind == "dw" else 0)
        bq = {} if d == F32 else dict(scale=[0.01] * cout, zp=[0] * cout)
        if kind == "dw":
            cout = cin * 2
            wq = {} if d == F32 else dict(scale=[0.1] * cout, zp=[0] * cout, qdim=3)
            bq = {} if d == F32 else dict(scale=[0.01] * cout, zp=[0] * cout)
            w = g.const([1, 3, 3, cout], w_type, **wq)
        elif kind == "conv":
            w = g.const([cout, 3, 3, cin], w_type, **wq)
        else:
            w = g.const([cout, 5 * 5 * cin], w_type,
                        **({} if d == F32 else dict(scale=0.1, zp=0)))
            bq = {} if d == F32 else dict(scale=0.01, zp=0)
        b = g.const([cout], b_type, **bq)
        if kind == "fc":
            y = g.act([1, cout], d)
            g.op(BO.FULLY_CONNECTED, [x, w, b], [y], _opts("FullyConnected"))
        elif kind == "conv":
            y = g.act([1, 5, 5, cout], d)
            g.op(BO.CONV_2D, [x, w, b], [y], _opts("Conv2D", padding=S.Padding.SAME, strideH=1,
                                                    strideW=1, dilationHFactor=1,
                                                    dilationWFactor=1))
        else:
            y = g.act([1, 5, 5, cout], d)
            g.op(BO.DEPTHWISE_CONV_2D, [x, w, b], [y],
                 _opts("DepthwiseConv2D", padding=S.Padding.SAME, strideH=1, strideW=1,
                       depthMultiplier=2, dilationHFactor=1, dilationWFactor=1))
        g.io([x], [y])
        return g
    return make


def _batch_matmul(adj_x=False, adj_y=False, lhs=(1, 4, 5), rhs=(1, 5, 6)):
    def make(d):
        a = list(lhs) if not adj_x else list(lhs[:-2]) + [lhs[-1], lhs[-2]]
        b = list(rhs) if not adj_y else list(rhs[:-2]) + [rhs[-1], rhs[-2]]
        out = list(lhs[:-1]) + [rhs[-1]]
        g = _one("BATCH_MATMUL", [(a, d), (b, d)], [(out, d)],
                 _opts("BatchMatMul", adjX=adj_x, adjY=adj_y))
        return g
    return make


_POOL = dict(padding=S.Padding.VALID, strideH=2, strideW=2, filterHeight=2, filterWidth=2)


def _pool(op):
    return lambda d: _one(op, [(X, d)], [([1, 2, 2, 3], d)], _opts("Pool2D", **_POOL))


def _quantize(d):
    out = I8 if d == F32 else d
    g = _G()
    x = g.act(X, d)
    y = g.tensor(X, out, scale=0.05 if out == I8 else 1 / 16384, zp=0)
    g.op(BO.QUANTIZE, [x], [y])
    g.io([x], [y])
    return g


def _select_v2(d):
    g = _G()
    c = g.tensor(X, BOOL)
    a, b, y = g.act(X, d), g.act(X, d), g.act(X, d)
    g.op(BO.SELECT_V2, [c, a, b], [y])
    g.io([c, a, b], [y])
    return g


def _embedding_lookup(d):
    g = _G()
    ids = g.tensor([2], I32)
    value = g.tensor([5, 3], d, data=np.zeros((5, 3)), **_q(d))
    y = g.act([2, 3], d)
    g.op(BO.EMBEDDING_LOOKUP, [ids, value], [y])
    g.io([ids], [y])
    return g


def _fill(d):
    g = _G()
    dims = g.ints([4, 3])
    v = g.act([], d)
    y = g.act([4, 3], d)
    g.op(BO.FILL, [dims, v], [y])
    g.io([v], [y])
    return g


Maker = Callable[[int], ModelBuilder]

# op -> (maker taking the data dtype, dtypes to sweep); None: the kernel's own dtypes
# among float32/int8/int16.
_RECIPES: dict[str, tuple[Maker, tuple[int, ...] | None]] = {
    **{op: (_unary(op), None) for op in (
        "RELU", "RELU6", "LOGISTIC", "TANH", "HARD_SWISH", "ELU", "RSQRT", "ABS", "NEG", "EXP",
        "LOG", "SQRT", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "ZEROS_LIKE")},
    "LEAKY_RELU": (_unary("LEAKY_RELU", _opts("LeakyRelu", alpha=0.2)), None),
    "LOGICAL_NOT": (_unary("LOGICAL_NOT"), (BOOL,)),
    "PRELU": (lambda d: _one("PRELU", [(X, d), _const([3], d, 0.25 if d == F32 else 2)],
                             [(X, d)]), None),
    **{op: (_binary(op, _opts(op.capitalize())), None) for op in ("ADD", "SUB", "MUL")},
    "DIV": (_divide("DIV", _opts("Div")), None),
    **{op: (_divide(op), None) for op in ("FLOOR_DIV", "FLOOR_MOD")},
    **{op: (_binary(op), None) for op in ("MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")},
    **{op: (_binary(op, out=BOOL), None) for op in ("LESS", "LESS_EQUAL", "GREATER",
                                                   "GREATER_EQUAL", "EQUAL", "NOT_EQUAL")},
    **{op: (_binary(op), (BOOL,)) for op in ("LOGICAL_AND", "LOGICAL_OR")},
    "ADD_N": (lambda d: add_n_model(d, 3, [1, 10]), None),
    "SELECT_V2": (_select_v2, None),
    "QUANTIZE": (_quantize, None),
    "DEQUANTIZE": (lambda d: _one("DEQUANTIZE", [(X, d)], [(X, F32)]), (I8, I16)),
    "CAST": (lambda d: _one("CAST", [(X, d)], [(X, I32)]), None),
    "CONV_2D": (_conv("conv"), None),
    "DEPTHWISE_CONV_2D": (_conv("dw"), None),
    "FULLY_CONNECTED": (_conv("fc"), None),
    "TRANSPOSE_CONV": (lambda d: transpose_conv_model(d, None if d == F32 else
                                                       I64 if d == I16 else I32), None),
    "SVDF": (svdf_model, None),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (lambda d: lstm_model(), (F32,)),
    "BATCH_MATMUL": (_batch_matmul(), None),
    "AVERAGE_POOL_2D": (_pool("AVERAGE_POOL_2D"), None),
    "MAX_POOL_2D": (_pool("MAX_POOL_2D"), None),
    "L2_POOL_2D": (_pool("L2_POOL_2D"), None),
    **{op: (lambda d, op=op: reduce_model(getattr(BO, op), d, [1, 5, 5, 7], [1, 2], True), None)
       for op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN")},
    "REDUCE_ALL": (lambda d: reduce_model(BO.REDUCE_ALL, BOOL, [1, 5, 5, 7], [1, 2], True),
                   (BOOL,)),
    **{op: (lambda d, op=op: _one(op, [(X, d), [3]], [([1, 4, 4], I32)],
                                  _opts("ArgMax" if op == "ARG_MAX" else "ArgMin",
                                        outputType=I32)), None)
       for op in ("ARG_MAX", "ARG_MIN")},
    "CUMSUM": (lambda d: _one("CUMSUM", [(X, d), {"shape": [], "dtype": I32, "data": 1}],
                              [(X, d)], _opts("Cumsum")), None),
    "SOFTMAX": (lambda d: _one("SOFTMAX", [([1, 37], d)], [([1, 37], d)],
                               _opts("Softmax", beta=1.0)), None),
    "LOG_SOFTMAX": (lambda d: _one("LOG_SOFTMAX", [([1, 37], d)], [([1, 37], d)]), None),
    "L2_NORMALIZATION": (lambda d: _one("L2_NORMALIZATION", [(X, d)], [(X, d)],
                                        _opts("L2Norm")), None),
    "CONCATENATION": (lambda d: _one("CONCATENATION", [(X, d), (X, d)], [([1, 4, 4, 6], d)],
                                     _opts("Concatenation", axis=3)), None),
    "PAD": (lambda d: _one("PAD", [(X, d), [[0, 0], [1, 1], [1, 1], [0, 0]]],
                           [([1, 6, 6, 3], d)], _opts("Pad")), None),
    "PADV2": (lambda d: _one("PADV2", [(X, d), [[0, 0], [1, 1], [1, 1], [0, 0]],
                                       _const([1], d)], [([1, 6, 6, 3], d)],
                             _opts("PadV2")), None),
    "MIRROR_PAD": (lambda d: mirror_pad_model(4), (F32,)),
    "RESHAPE": (lambda d: _one("RESHAPE", [(X, d), [16, 3]], [([16, 3], d)],
                               _opts("Reshape", newShape=[16, 3])), None),
    "SQUEEZE": (lambda d: _one("SQUEEZE", [([1, 12, 1], d)], [([12], d)],
                               _opts("Squeeze", squeezeDims=[0, 2])), None),
    "EXPAND_DIMS": (lambda d: _one("EXPAND_DIMS", [([4, 3], d), [0]], [([1, 4, 3], d)],
                                   _opts("ExpandDims")), None),
    "SPLIT": (lambda d: _one("SPLIT", [{"shape": [], "dtype": I32, "data": 3}, (X, d)],
                             [([1, 4, 4, 1], d)] * 3, _opts("Split", numSplits=3)), None),
    "SPLIT_V": (lambda d: _one("SPLIT_V", [(X, d), [1, 2], {"shape": [], "dtype": I32,
                                                             "data": 3}],
                               [([1, 4, 4, 1], d), ([1, 4, 4, 2], d)],
                               _opts("SplitV", numSplits=2)), None),
    "SLICE": (lambda d: _one("SLICE", [(X, d), [0, 1, 1, 0], [1, 2, 2, 3]],
                             [([1, 2, 2, 3], d)], _opts("Slice")), None),
    "STRIDED_SLICE": (lambda d: _one("STRIDED_SLICE", [(X, d), [0, 1, 1, 0], [1, 3, 3, 3],
                                                       [1, 1, 1, 1]],
                                     [([1, 2, 2, 3], d)], _opts("StridedSlice")), None),
    "TRANSPOSE": (lambda d: _one("TRANSPOSE", [(X, d), [0, 3, 1, 2]], [([1, 3, 4, 4], d)],
                                 _opts("Transpose")), None),
    "GATHER": (lambda d: _one("GATHER", [([5, 3], d), [0, 1]], [([2, 3], d)],
                              _opts("Gather", axis=0)), None),
    "GATHER_ND": (lambda d: _one("GATHER_ND", [([3, 4], d), [[0], [2]]], [([2, 4], d)],
                                 _opts("GatherNd")), None),
    "PACK": (lambda d: _one("PACK", [([4, 3], d), ([4, 3], d)], [([2, 4, 3], d)],
                            _opts("Pack", valuesCount=2, axis=0)), None),
    "UNPACK": (lambda d: _one("UNPACK", [([2, 4, 3], d)], [([4, 3], d)] * 2,
                              _opts("Unpack", num=2, axis=0)), None),
    "BROADCAST_TO": (lambda d: _one("BROADCAST_TO", [([1, 3], d), [4, 3]], [([4, 3], d)]),
                     None),
    "SPACE_TO_DEPTH": (lambda d: _one("SPACE_TO_DEPTH", [(X, d)], [([1, 2, 2, 12], d)],
                                      _opts("SpaceToDepth", blockSize=2)), None),
    "DEPTH_TO_SPACE": (lambda d: _one("DEPTH_TO_SPACE", [([1, 2, 2, 12], d)], [(X, d)],
                                      _opts("DepthToSpace", blockSize=2)), None),
    "SPACE_TO_BATCH_ND": (lambda d: _one("SPACE_TO_BATCH_ND", [(X, d), [2, 2],
                                                               [[0, 0], [0, 0]]],
                                         [([4, 2, 2, 3], d)]), None),
    "BATCH_TO_SPACE_ND": (lambda d: _one("BATCH_TO_SPACE_ND", [([4, 2, 2, 3], d), [2, 2],
                                                               [[0, 0], [0, 0]]],
                                         [(X, d)]), None),
    "RESIZE_BILINEAR": (lambda d: _one("RESIZE_BILINEAR", [(X, d), [8, 8]],
                                       [([1, 8, 8, 3], d)], _opts("ResizeBilinear")), None),
    "RESIZE_NEAREST_NEIGHBOR": (lambda d: _one("RESIZE_NEAREST_NEIGHBOR", [(X, d), [8, 8]],
                                               [([1, 8, 8, 3], d)],
                                               _opts("ResizeNearestNeighbor")), None),
    "FILL": (_fill, None),
    "SHAPE": (lambda d: _one("SHAPE", [(X, d)], [([4], I32)], _opts("Shape", outType=I32)),
              None),
    "REVERSE_V2": (lambda d: _one("REVERSE_V2", [(X, d), [1]], [(X, d)], _opts("ReverseV2")),
                   None),
    "DYNAMIC_UPDATE_SLICE": (lambda d: _one("DYNAMIC_UPDATE_SLICE",
                                            [([4, 3], d), ([2, 3], d), [1, 0]],
                                            [([4, 3], d)]), None),
    "BROADCAST_ARGS": (lambda d: _one("BROADCAST_ARGS", [([2], I32), ([2], I32)],
                                      [([2], I32)]), (I32,)),
    "EMBEDDING_LOOKUP": (_embedding_lookup, None),
    "CUSTOM:TFLite_Detection_PostProcess": (lambda d: detection_postprocess_model(), (F32,)),
    "CUSTOM:SignalRfft": (lambda d: rfft_model(d, 64, 50), (F32, I16, I32)),
}

_NAMES = {F32: "float32", I8: "int8", I16: "int16", I32: "int32", BOOL: "bool"}


def _kernel_dtypes(op: str) -> tuple[int, ...]:
    """float32/int8/int16 where the op's reference kernel takes that input dtype."""
    from tinymem.ops import REGISTRY
    from tinymem.targets import Kernels

    rule = REGISTRY.get(op)
    k = rule.tflm.kernel(Kernels.REFERENCE) if rule is not None and rule.tflm else None
    if k is None:
        return ()
    return tuple(t for name, t in DTYPES.items()
                 if any(s.data in ("*", name) for s in k.signatures))


def sweep() -> dict[str, Callable[[], ModelBuilder]]:
    """'OP/dtype' -> maker, for every recipe and dtype its kernel runs."""
    out = {}
    for op, (make, dtypes) in _RECIPES.items():
        for d in dtypes if dtypes is not None else _kernel_dtypes(op):
            out[f"{op}/{_NAMES[d]}"] = (lambda make=make, d=d: make(d))
    return out


SWEEP = sweep()


def not_swept() -> list[str]:
    """Op types with a TFLM kernel that the sweep has no recipe for."""
    from tinymem.ops import REGISTRY

    return sorted(op for op, r in REGISTRY.items()
                  if r.tflm is not None and r.tflm.needs is None and op not in _RECIPES)
