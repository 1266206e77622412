"""Tiny hand-built .tflite models for the corners of TFLite Micro's arena planning.

Each case is one small model that stresses one rule of TFLM's head planner:
control flow (IF / WHILE / CALL_ONCE and their nested allocation scopes),
tensors that are never used, used but never produced, or only reachable from
a subgraph no op calls, variable tensors, offline memory plans, the greedy
planner's tie-breaking, and every kernel whose Prepare asks for scratch
buffers in the arena. The models are regenerated on demand (nothing binary is
committed); their weights are zeros, since only the memory plan matters.

Usage::

    paths = build_all(out_dir)               # every case, one .tflite each
    paths = build_family("offline", out_dir)  # or one family
    CASES                                     # name -> (family, maker), known without building

Building needs the TFLite schema's object API, taken from the tflite-micro
package (``tflite_micro.tensorflow.lite.micro.python.schema_py_generated``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import flatbuffers
import numpy as np
from flatbuffers import flexbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

TT = S.TensorType
BO = S.BuiltinOperator
BOpt = S.BuiltinOptions

F32, I8, I16, I32, I64, BOOL = TT.FLOAT32, TT.INT8, TT.INT16, TT.INT32, TT.INT64, TT.BOOL

_NUMPY = {F32: np.float32, I8: np.int8, I16: np.int16, I32: np.int32, I64: np.int64,
          BOOL: np.bool_, TT.UINT8: np.uint8, TT.INT4: np.uint8}  # INT4 data comes packed, 2 a byte

Q = dict(scale=0.1, zp=0)  # a generic activation quantization


# --------------------------------------------------------------------------- builder


class ModelBuilder:
    """Builds a TFLite model through the flatbuffer schema's object API.

    Tensor and operator calls return indices into the current subgraph (the
    main one unless ``sg=`` names another, from ``new_subgraph``).
    """

    def __init__(self):
        self.model = S.ModelT()
        self.model.version = 3
        self.model.operatorCodes = []
        self.model.buffers = [S.BufferT()]  # buffer 0: the conventional empty buffer
        self.model.subgraphs = []
        self.model.metadata = []
        self._codes: dict[tuple, int] = {}
        self.main = self.new_subgraph()

    def new_subgraph(self) -> S.SubGraphT:
        sg = S.SubGraphT()
        sg.tensors, sg.operators, sg.inputs, sg.outputs = [], [], [], []
        self.model.subgraphs.append(sg)
        return sg

    def tensor(self, shape, dtype=F32, data=None, variable=False, scale=None, zp=0, qdim=0,
               name=None, sg=None) -> int:
        """Add a tensor; ``data`` makes it a constant, ``scale`` quantizes it."""
        sg = sg or self.main
        t = S.TensorT()
        t.shape = [int(d) for d in shape]
        t.type = dtype
        t.name = name or f"t{len(sg.tensors)}"
        t.isVariable = variable
        t.buffer = 0
        if data is not None:
            t.buffer = self.buffer(np.asarray(data).astype(_NUMPY[dtype]).tobytes())
        if scale is not None:
            q = S.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            zps = np.atleast_1d(zp)
            q.zeroPoint = [int(z) for z in zps] if np.ndim(zp) else [int(zp)] * len(q.scale)
            q.quantizedDimension = qdim
            t.quantization = q
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def const(self, shape, dtype=F32, **kw) -> int:
        """A zero-filled constant."""
        return self.tensor(shape, dtype, data=np.zeros(shape), **kw)

    def buffer(self, data: bytes) -> int:
        b = S.BufferT()
        b.data = list(data)
        self.model.buffers.append(b)
        return len(self.model.buffers) - 1

    def code(self, builtin: int, custom: str | None = None) -> int:
        key = (builtin, custom)
        if key not in self._codes:
            oc = S.OperatorCodeT()
            oc.builtinCode = builtin
            oc.deprecatedBuiltinCode = min(builtin, 127)  # 127: "see builtin_code"
            oc.version = 1
            if custom:
                oc.customCode = custom
            self.model.operatorCodes.append(oc)
            self._codes[key] = len(self.model.operatorCodes) - 1
        return self._codes[key]

    def op(self, builtin, inputs, outputs, options=(0, None), custom=None, custom_options=None,
           sg=None):
        """Add an operator; ``options`` is a (BuiltinOptions type, options object) pair."""
        sg = sg or self.main
        o = S.OperatorT()
        o.opcodeIndex = self.code(builtin, custom)
        o.inputs, o.outputs = list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = options
        if custom_options is not None:
            o.customOptions = list(custom_options)
            o.customOptionsFormat = S.CustomOptionsFormat.FLEXBUFFERS
        sg.operators.append(o)
        return o

    def io(self, inputs, outputs, sg=None):
        sg = sg or self.main
        sg.inputs, sg.outputs = list(inputs), list(outputs)

    def offline_plan(self, offsets):
        """TFLM's OfflineMemoryAllocation metadata: one offset (or -1) per main-subgraph tensor."""
        words = [1, len(self.model.subgraphs), len(offsets), *offsets]
        md = S.MetadataT()
        md.name = "OfflineMemoryAllocation"
        md.buffer = self.buffer(np.array(words, dtype="<i4").tobytes())
        self.model.metadata.append(md)

    def to_bytes(self) -> bytes:
        b = flatbuffers.Builder(1024)
        b.Finish(self.model.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.write_bytes(self.to_bytes())
        return path

    # -- common layers

    def fc(self, x: int, n_out: int, sg=None) -> int:
        """A float FULLY_CONNECTED layer without bias; returns its [1, n_out] output."""
        sg = sg or self.main
        n_in = sg.tensors[x].shape[-1]
        w = self.const([n_out, n_in], sg=sg)
        y = self.tensor([1, n_out], sg=sg)
        self.op(BO.FULLY_CONNECTED, [x, w, -1], [y], _opts("FullyConnected"), sg=sg)
        return y

    def fc_chain(self, x: int, sizes, sg=None) -> int:
        for n in sizes:
            x = self.fc(x, n, sg=sg)
        return x

    def add(self, a: int, b: int, out: int, sg=None):
        self.op(BO.ADD, [a, b], [out], _opts("Add"), sg=sg)


def _opts(kind: str, **fields):
    """A (BuiltinOptions type, options object) pair, e.g. _opts("Reducer", keepDims=True)."""
    obj = getattr(S, f"{kind}OptionsT")()
    for k, v in fields.items():
        setattr(obj, k, v)
    return getattr(BOpt, f"{kind}Options"), obj


# --------------------------------------------------------------------------- registry

Maker = Callable[[], ModelBuilder]
CASES: dict[str, tuple[str, Maker]] = {}  # case name -> (family, maker)


def _case(family: str, name: str, make: Callable[..., ModelBuilder], *args, **kwargs):
    assert name not in CASES, name
    CASES[name] = (family, lambda: make(*args, **kwargs))


def families() -> list[str]:
    return sorted({fam for fam, _ in CASES.values()})


def build(out_dir, names=None) -> list[Path]:
    """Write the named cases (all by default) as <out_dir>/<name>.tflite."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [CASES[n][1]().save(out / f"{n}.tflite") for n in (names or CASES)]


def build_family(family: str, out_dir) -> list[Path]:
    names = [n for n, (fam, _) in CASES.items() if fam == family]
    if not names:
        raise KeyError(family)
    return build(out_dir, names)


def build_all(out_dir) -> list[Path]:
    return build(out_dir)


# --------------------------------------------------------------------------- control flow
# Subgraphs an op calls are planned in nested scopes: a branch's tensors sit
# above the caller's live ones and are gone when the call returns.


def if_model(then_sizes, else_sizes, pre=(), post=(), unreachable_subgraph=False,
             legacy_codes=False) -> ModelBuilder:
    g = ModelBuilder()
    cond, x = g.tensor([1], BOOL), g.tensor([1, 50])
    xi = g.fc_chain(x, pre)
    y = g.tensor([1, then_sizes[-1]])
    g.op(BO.IF, [cond, xi], [y], _opts("If", thenSubgraphIndex=1, elseSubgraphIndex=2))
    g.io([cond, x], [g.fc_chain(y, post)])
    n = g.main.tensors[xi].shape[-1]
    for sizes in (then_sizes, else_sizes):
        sg = g.new_subgraph()
        xin = g.tensor([1, n], sg=sg)
        g.io([xin], [g.fc_chain(xin, sizes, sg=sg)], sg=sg)
    if unreachable_subgraph:  # a subgraph no op calls: its tensors are planned but never live
        sg = g.new_subgraph()
        xin = g.tensor([1, 700], sg=sg)
        g.io([xin], [g.fc(xin, 300, sg=sg)], sg=sg)
    if legacy_codes:  # pre-2.3 files: the op is only in deprecated_builtin_code
        for oc in g.model.operatorCodes:
            if oc.deprecatedBuiltinCode < 127:
                oc.builtinCode = 0
    return g


def if_nested_model() -> ModelBuilder:
    """An IF whose then-branch holds another IF: three nested scopes."""
    g = ModelBuilder()
    c, x = g.tensor([1], BOOL), g.tensor([1, 40])
    y = g.tensor([1, 20])
    # The branches get every input but the first: the condition again, for the inner IF.
    g.op(BO.IF, [c, c, x], [y], _opts("If", thenSubgraphIndex=1, elseSubgraphIndex=2))
    g.io([c, x], [g.fc(y, 10)])
    # 1: then — fc, inner IF (3/4), fc
    sg = g.new_subgraph()
    ci, xi = g.tensor([1], BOOL, sg=sg), g.tensor([1, 40], sg=sg)
    h = g.fc(xi, 120, sg=sg)
    hi = g.tensor([1, 60], sg=sg)
    g.op(BO.IF, [ci, h], [hi], _opts("If", thenSubgraphIndex=3, elseSubgraphIndex=4), sg=sg)
    g.io([ci, xi], [g.fc(hi, 20, sg=sg)], sg=sg)
    # 2: else
    sg = g.new_subgraph()
    ci, xi = g.tensor([1], BOOL, sg=sg), g.tensor([1, 40], sg=sg)
    g.io([ci, xi], [g.fc_chain(xi, [90, 20], sg=sg)], sg=sg)
    # 3, 4: the inner branches
    for sizes in ([400, 60], [30, 60]):
        sg = g.new_subgraph()
        xi = g.tensor([1, 120], sg=sg)
        g.io([xi], [g.fc_chain(xi, sizes, sg=sg)], sg=sg)
    return g


def while_model(n=40, body_scratch=False) -> ModelBuilder:
    """WHILE (i < 3) over a counter and an [1, n] state through a wide FC body."""
    g = ModelBuilder()
    i0, x = g.tensor([1], I32), g.tensor([1, n])
    pre = g.fc(x, n)
    i_out, x_out = g.tensor([1], I32), g.tensor([1, n])
    g.op(BO.WHILE, [i0, pre], [i_out, x_out], _opts("While", condSubgraphIndex=1, bodySubgraphIndex=2))
    g.io([i0, x], [g.fc(x_out, 7)])
    # cond
    sg = g.new_subgraph()
    ci, cx = g.tensor([1], I32, sg=sg), g.tensor([1, n], sg=sg)
    limit, flag = g.tensor([1], I32, data=[3], sg=sg), g.tensor([1], BOOL, sg=sg)
    g.op(BO.LESS, [ci, limit], [flag], sg=sg)
    g.io([ci, cx], [flag], sg=sg)
    # body
    sg = g.new_subgraph()
    bi, bx = g.tensor([1], I32, sg=sg), g.tensor([1, n], sg=sg)
    one, bi_next = g.tensor([1], I32, data=[1], sg=sg), g.tensor([1], I32, sg=sg)
    g.add(bi, one, bi_next, sg=sg)
    h = g.fc(bx, 300, sg=sg)
    if body_scratch:  # a scratch-requesting kernel inside a called subgraph
        axis = g.tensor([1], I32, data=[1], sg=sg)
        m = g.tensor([1, 1], sg=sg)
        g.op(BO.MEAN, [h, axis], [m], _opts("Reducer", keepDims=True), sg=sg)
        h2 = g.tensor([1, 300], sg=sg)
        g.op(BO.MUL, [h, m], [h2], _opts("Mul"), sg=sg)
        h = h2
    g.io([bi, bx], [bi_next, g.fc(h, n, sg=sg)], sg=sg)
    return g


def call_once_model() -> ModelBuilder:
    """CALL_ONCE runs an init subgraph (a resource-variable assignment) in its own scope."""
    g = ModelBuilder()
    x = g.tensor([1, 50])
    g.op(BO.CALL_ONCE, [], [], _opts("CallOnce", initSubgraphIndex=1))
    g.io([x], [g.fc_chain(x, [80, 20])])
    sg = g.new_subgraph()
    c = g.const([1, 30], sg=sg)
    handle = g.tensor([], TT.RESOURCE, sg=sg)
    h = g.fc_chain(c, [300, 100], sg=sg)
    g.op(BO.VAR_HANDLE, [], [handle], _opts("VarHandle", sharedName="v"), sg=sg)
    g.op(BO.ASSIGN_VARIABLE, [handle, h], [], _opts("AssignVariable"), sg=sg)
    g.io([], [], sg=sg)
    return g


def unreachable_subgraph_model() -> ModelBuilder:
    """A second subgraph no op calls, with a large activation chain."""
    g = ModelBuilder()
    x = g.tensor([1, 10])
    g.io([x], [g.fc(x, 20)])
    sg = g.new_subgraph()
    a = g.tensor([1, 500], sg=sg)
    g.io([a], [g.fc_chain(a, [400, 30], sg=sg)], sg=sg)
    return g


_case("control_flow", "if_a", if_model, [200, 30], [100, 30])
_case("control_flow", "if_b", if_model, [20, 300, 30], [500, 30], pre=[80], post=[60, 10])
_case("control_flow", "if_c", if_model, [20, 300, 30], [500, 30], pre=[80], post=[60, 10],
      unreachable_subgraph=True)
_case("control_flow", "if_legacy_codes", if_model, [200, 30], [100, 30], legacy_codes=True)
_case("control_flow", "if_nested", if_nested_model)
_case("control_flow", "while_a", while_model)
_case("control_flow", "while_b", while_model, n=100)
_case("control_flow", "while_scratch_in_body", while_model, body_scratch=True)
_case("control_flow", "call_once", call_once_model)
_case("control_flow", "unreachable_subgraph", unreachable_subgraph_model)


# --------------------------------------------------------------------------- lifetimes
# Tensors outside the ordinary produce-then-consume pattern.


def _fc_then_unused(*unused_shapes, n_in=10, n_out=20) -> ModelBuilder:
    g = ModelBuilder()
    x = g.tensor([1, n_in])
    y = g.fc(x, n_out)
    for shape in unused_shapes:
        g.tensor(shape)
    g.io([x], [y])
    return g


def orphan_input_model() -> ModelBuilder:
    """z is consumed by the last op but produced by none (live from the start)."""
    g = ModelBuilder()
    x = g.tensor([1, 100])
    y0 = g.fc(x, 100)
    z, y1 = g.tensor([1, 100]), g.tensor([1, 100])
    y2 = g.fc(y0, 100)
    g.add(y2, z, y1)
    g.io([x], [y1])
    return g


def orphan_distinct_model() -> ModelBuilder:
    """An ADD of a never-produced tensor, independent of the main chain."""
    g = ModelBuilder()
    x = g.tensor([1, 1500])
    y2 = g.fc_chain(x, [10, 10])
    z, c, out = g.tensor([1, 1000]), g.const([1, 1000]), g.tensor([1, 1000])
    g.add(z, c, out)
    g.io([x], [out, y2])
    return g


def use_before_def_model() -> ModelBuilder:
    """t is consumed by op 0 and only produced by op 2."""
    g = ModelBuilder()
    x, t = g.tensor([1, 1500]), g.tensor([1, 1000])
    c, a = g.const([1, 1000]), g.tensor([1, 1000])
    g.add(t, c, a)
    y1 = g.fc(x, 10)
    w = g.const([1000, 10])
    g.op(BO.FULLY_CONNECTED, [y1, w, -1], [t], _opts("FullyConnected"))
    g.io([x], [a, t])
    return g


def unused_input_model() -> ModelBuilder:
    """A big subgraph input no op reads."""
    g = ModelBuilder()
    x, x2 = g.tensor([1, 10]), g.tensor([1, 1000])
    g.io([x, x2], [g.fc_chain(x, [20, 20])])
    return g


def input_is_output_model() -> ModelBuilder:
    g = ModelBuilder()
    x = g.tensor([1, 100])
    g.io([x], [g.fc_chain(x, [100, 100]), x])
    return g


def dead_tensor_model() -> ModelBuilder:
    """Two FCs, with an activation (and its weights) between them that no op touches."""
    g = ModelBuilder()
    x = g.tensor([1, 100])
    y = g.fc(x, 100)
    g.tensor([1, 400])
    g.const([400, 100])
    g.io([x], [g.fc(y, 100)])
    return g


_case("lifetimes", "fc_plain", _fc_then_unused)
_case("lifetimes", "dead_tensor", dead_tensor_model)
_case("lifetimes", "unused_big", _fc_then_unused, [1, 1000])
_case("lifetimes", "unused_two", _fc_then_unused, [1, 1000], [1, 500])
_case("lifetimes", "zero_size_unused", _fc_then_unused, [0, 100], n_in=100, n_out=100)
_case("lifetimes", "scalar_unused", _fc_then_unused, [], n_in=1, n_out=1)
_case("lifetimes", "unused_sg_input", unused_input_model)
_case("lifetimes", "orphan_input", orphan_input_model)
_case("lifetimes", "orphan_distinct", orphan_distinct_model)
_case("lifetimes", "use_before_def", use_before_def_model)
_case("lifetimes", "input_is_output", input_is_output_model)


# --------------------------------------------------------------------------- variables
# Variable tensors live for the whole run, in the arena's tail (or at their
# offline offset when a plan gives one).


def variable_add_model(with_data=False, offline=None) -> ModelBuilder:
    g = ModelBuilder()
    x = g.tensor([1, 100])
    v = g.tensor([1, 100], variable=True, data=np.zeros((1, 100)) if with_data else None)
    y = g.tensor([1, 100])
    g.add(x, v, y)
    g.io([x], [y])
    if offline is not None:
        g.offline_plan(offline)
    return g


def resource_variable_model() -> ModelBuilder:
    g = ModelBuilder()
    x, r, r2, y = g.tensor([1, 100]), g.tensor([], TT.RESOURCE), g.tensor([], TT.RESOURCE), g.tensor([1, 100])
    g.op(BO.VAR_HANDLE, [], [r], _opts("VarHandle", sharedName="v"))
    g.op(BO.ASSIGN_VARIABLE, [r, x], [], _opts("AssignVariable"))
    g.op(BO.VAR_HANDLE, [], [r2], _opts("VarHandle", sharedName="v"))
    g.op(BO.READ_VARIABLE, [r2], [y], _opts("ReadVariable"))
    g.io([x], [y])
    return g


_case("variables", "variable", variable_add_model)
_case("variables", "variable_with_data", variable_add_model, with_data=True)
_case("variables", "off_variable", variable_add_model, offline=[-1, 2000, -1])
_case("variables", "off_variable_online", variable_add_model, offline=[-1, -1, -1])
_case("variables", "resource_var", resource_variable_model)


# --------------------------------------------------------------------------- offline plans


def offline_chain_model(offsets=None) -> ModelBuilder:
    """Three FCs; tensors: 0 x, 1 w, 2 y, 3 w2, 4 y2, 5 w3, 6 y3."""
    g = ModelBuilder()
    x = g.tensor([1, 100])
    g.io([x], [g.fc_chain(x, [100, 100, 60])])
    if offsets is not None:
        g.offline_plan(offsets)
    return g


_OFFLINE = {
    "off_none": None,
    "off_all_online": [-1] * 7,
    "off_all_tight": [0, -1, 400, -1, 0, -1, 400],
    "off_x_at_1000": [1000, -1, -1, -1, -1, -1, -1],
    "off_conflict": [0, -1, 0, -1, -1, -1, -1],  # x and y overlap in time at one offset
    # Every activation at offset 0, as a plan (Vela's) that knows better than TFLM's
    # lifetimes may do: TFLM honours it, so the arena is below the sum of what is alive.
    "off_all_at_0": [0, -1, 0, -1, 0, -1, 0],
    "off_unaligned8": [8, -1, -1, -1, -1, -1, -1],
    "off_out_far": [0, -1, -1, -1, -1, -1, 2000],
    "off_only_out": [-1, -1, -1, -1, -1, -1, 400],
    "off_only_out0": [-1, -1, -1, -1, -1, -1, 0],
}
for _name, _offsets in _OFFLINE.items():
    _case("offline", _name, offline_chain_model, _offsets)


# --------------------------------------------------------------------------- tie-breaking
# Seeded random graphs of small equal-size buffers, picked so that the greedy
# planner's order among equal-size buffers changes the head (in both directions).


def random_fc_model(seed: int) -> ModelBuilder:
    """3-7 FC/ADD ops over [1, 4|8|12] floats."""
    rnd = random.Random(seed)
    g = ModelBuilder()
    sizes = [4, 8, 12]
    width = lambda t: g.main.tensors[t].shape[1]  # noqa: E731
    ts = [g.tensor([1, rnd.choice(sizes)])]
    for _ in range(rnd.randint(3, 7)):
        if len(ts) >= 2 and rnd.random() < 0.3:
            a, b = rnd.sample(ts[-4:], 2)
            if width(a) == width(b):
                y = g.tensor([1, width(a)])
                g.add(a, b, y)
                ts.append(y)
                continue
        a = rnd.choice(ts[-3:])
        ts.append(g.fc(a, rnd.choice(sizes)))
    g.io([ts[0]], [ts[-1]])
    return g


def random_mixed_model(seed: int) -> ModelBuilder:
    """3-9 ops mixing FC with scratch-requesting ADD_N, SUM and MIRROR_PAD."""
    rnd = random.Random(seed)
    g = ModelBuilder()
    sizes = [1, 4, 8, 12]
    width = lambda t: g.main.tensors[t].shape[1]  # noqa: E731
    ts = [g.tensor([1, rnd.choice(sizes[1:])])]
    for _ in range(rnd.randint(3, 9)):
        r = rnd.random()
        recent = ts[-4:]
        a = rnd.choice(recent)
        n = width(a)
        if r < 0.2:
            same = [t for t in recent if width(t) == n]
            ins = [rnd.choice(same) for _ in range(rnd.randint(2, 4))]
            y = g.tensor([1, n])
            g.op(BO.ADD_N, ins, [y], _opts("AddN"))
        elif r < 0.35:
            axis, y = g.tensor([1], I32, data=[1]), g.tensor([1, 1])
            g.op(BO.SUM, [a, axis], [y], _opts("Reducer", keepDims=True))
        elif r < 0.45:
            pads, y = g.tensor([2, 2], I32, data=[[0, 0], [1, 1]]), g.tensor([1, n + 2])
            g.op(BO.MIRROR_PAD, [a, pads], [y], _opts("MirrorPad", mode=S.MirrorPadMode.SYMMETRIC))
        else:
            y = g.fc(a, rnd.choice(sizes))
        ts.append(y)
    g.io([ts[0]], [ts[-1]] + ([ts[-2]] if rnd.random() < 0.3 else []))
    return g


for _seed in (0, 9, 16, 27, 43, 51):
    _case("ties", f"tie_fc_{_seed}", random_fc_model, _seed)
for _seed in (1, 14, 25, 37, 40):
    _case("ties", f"tie_mixed_{_seed}", random_mixed_model, _seed)


# --------------------------------------------------------------------------- scratch buffers
# One model per kernel (and per data-type path) that calls
# RequestScratchBufferInArena in Prepare.


def transpose_conv_model(dtype, bias_type=None, cin=3, cout=5, H=3, W=3, k=3, stride=2):
    g = ModelBuilder()
    OH, OW = H * stride, W * stride
    out_shape = g.tensor([4], I32, data=[1, OH, OW, cout])
    quant = dtype != F32
    f = g.const([cout, k, k, cin], I8 if quant else F32,
                **(dict(scale=[0.1] * cout, zp=[0] * cout) if quant else {}))
    act = Q if quant else {}
    x, y = g.tensor([1, H, W, cin], dtype, **act), g.tensor([1, OH, OW, cout], dtype, **act)
    ins = [out_shape, f, x]
    if bias_type is not None:
        ins.append(g.const([cout], bias_type, scale=[0.01] * cout, zp=[0] * cout))
    g.op(BO.TRANSPOSE_CONV, ins, [y],
         _opts("TransposeConv", padding=S.Padding.SAME, strideH=stride, strideW=stride))
    g.io([x], [y])
    return g


def svdf_model(dtype, batch=2, n_in=7, n_filters=6, rank=2, memory=5):
    g = ModelBuilder()
    units = n_filters // rank
    if dtype == F32:
        x = g.tensor([batch, n_in])
        wf, wt = g.const([n_filters, n_in]), g.const([n_filters, memory])
        b = g.const([units])
        state = g.tensor([batch, memory * n_filters], variable=True)
        y = g.tensor([batch, units])
    else:
        x = g.tensor([batch, n_in], I8, scale=0.1)
        wf = g.const([n_filters, n_in], I8, scale=0.1)
        wt = g.const([n_filters, memory], I16, scale=0.1)
        b = g.const([units], I32, scale=0.01)
        state = g.tensor([batch, memory * n_filters], I16, variable=True, scale=0.1)
        y = g.tensor([batch, units], I8, scale=0.1)
    g.op(BO.SVDF, [x, wf, wt, b, state], [y], _opts("SVDF", rank=rank))
    g.io([x], [y])
    return g


def reduce_model(op, dtype, in_shape, axes, keep_dims):
    g = ModelBuilder()
    act = {} if dtype in (F32, BOOL) else Q
    x = g.tensor(in_shape, dtype, **act)
    axis = g.tensor([len(axes)], I32, data=axes)
    if keep_dims:
        out_shape = [1 if i in axes else d for i, d in enumerate(in_shape)]
    else:
        out_shape = [d for i, d in enumerate(in_shape) if i not in axes]
    y = g.tensor(out_shape, dtype, **act)
    g.op(op, [x, axis], [y], _opts("Reducer", keepDims=keep_dims))
    g.io([x], [y])
    return g


def add_n_model(dtype, n, shape):
    g = ModelBuilder()
    act = {} if dtype == F32 else Q
    xs = [g.tensor(shape, dtype, **act) for _ in range(n)]
    y = g.tensor(shape, dtype, **act)
    g.op(BO.ADD_N, xs, [y], _opts("AddN"))
    g.io(xs, [y])
    return g


def mirror_pad_model(rank):
    g = ModelBuilder()
    in_shape = [1, 4, 4, 3][:rank]
    x = g.tensor(in_shape)
    pads = g.tensor([rank, 2], I32, data=[[0, 0]] + [[1, 1]] * (rank - 1))
    y = g.tensor([in_shape[0]] + [d + 2 for d in in_shape[1:]])
    g.op(BO.MIRROR_PAD, [x, pads], [y], _opts("MirrorPad", mode=S.MirrorPadMode.REFLECT))
    g.io([x], [y])
    return g


def conv_model(kind, filter_type, cin=3, cout=5, k=3, H=6):
    """int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED; int4 filters need an unpacking scratch."""
    g = ModelBuilder()
    x = g.tensor([1, H, H, cin], I8, **Q)
    if kind == "dw":
        cout = cin
        f_shape, y_shape = [1, k, k, cout], [1, H, H, cout]
    elif kind == "conv":
        f_shape, y_shape = [cout, k, k, cin], [1, H, H, cout]
    else:
        f_shape, y_shape = [cout, H * H * cin], [1, cout]
    n = int(np.prod(f_shape))
    data = np.zeros((n + 1) // 2 if filter_type == TT.INT4 else n)
    if kind == "fc":
        fq, bq = dict(scale=0.1), dict(scale=0.01)
    else:
        fq = dict(scale=[0.1] * cout, zp=[0] * cout, qdim=3 if kind == "dw" else 0)
        bq = dict(scale=[0.01] * cout, zp=[0] * cout)
    f = g.tensor(f_shape, filter_type, data=data, **fq)
    b = g.const([cout], I32, **bq)
    y = g.tensor(y_shape, I8, **Q)
    if kind == "conv":
        g.op(BO.CONV_2D, [x, f, b], [y], _opts("Conv2D", padding=S.Padding.SAME, strideH=1, strideW=1,
                                                dilationHFactor=1, dilationWFactor=1))
    elif kind == "dw":
        g.op(BO.DEPTHWISE_CONV_2D, [x, f, b], [y],
             _opts("DepthwiseConv2D", padding=S.Padding.SAME, strideH=1, strideW=1, depthMultiplier=1,
                   dilationHFactor=1, dilationWFactor=1))
    else:
        g.op(BO.FULLY_CONNECTED, [x, f, b], [y], _opts("FullyConnected"))
    g.io([x], [y])
    return g


def detection_postprocess_model(n_boxes=10, n_classes=3, max_detections=4, regular_nms=False):
    g = ModelBuilder()
    boxes, scores = g.tensor([1, n_boxes, 4]), g.tensor([1, n_boxes, n_classes + 1])
    anchors = g.tensor([n_boxes, 4], data=np.ones((n_boxes, 4)))
    outs = [g.tensor([1, max_detections, 4]), g.tensor([1, max_detections]),
            g.tensor([1, max_detections]), g.tensor([1])]
    opts = flexbuffers.Dumps({
        "max_detections": max_detections, "max_classes_per_detection": 1, "detections_per_class": 1,
        "use_regular_nms": regular_nms, "nms_score_threshold": 0.5, "nms_iou_threshold": 0.5,
        "num_classes": n_classes, "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0})
    g.op(BO.CUSTOM, [boxes, scores, anchors], outs, custom="TFLite_Detection_PostProcess",
         custom_options=opts)
    g.io([boxes, scores], outs)
    return g


def lstm_model(B=2, T=3, n_in=5, n_state=7, time_major=False):
    """Float UNIDIRECTIONAL_SEQUENCE_LSTM without peepholes or projection."""
    g = ModelBuilder()
    x = g.tensor([T, B, n_in] if time_major else [B, T, n_in])
    w_in = [g.const([n_state, n_in]) for _ in range(4)]
    w_rec = [g.const([n_state, n_state]) for _ in range(4)]
    bias = [g.const([n_state]) for _ in range(4)]
    h, c = g.tensor([B, n_state], variable=True), g.tensor([B, n_state], variable=True)
    y = g.tensor([T, B, n_state] if time_major else [B, T, n_state])
    ins = [x, *w_in, *w_rec, -1, -1, -1, *bias, -1, -1, h, c, -1, -1, -1, -1]
    g.op(BO.UNIDIRECTIONAL_SEQUENCE_LSTM, ins, [y],
         _opts("UnidirectionalSequenceLSTM", fusedActivationFunction=S.ActivationFunctionType.TANH,
               timeMajor=time_major))
    g.io([x], [y])
    return g


def rfft_model(dtype, fft_length, n, batch=2):
    """The signal library's SignalRfft: a work area of fft_length samples."""
    g = ModelBuilder()
    x, y = g.tensor([batch, n], dtype), g.tensor([batch, (fft_length // 2 + 1) * 2], dtype)
    g.op(BO.CUSTOM, [x], [y], custom="SignalRfft",
         custom_options=flexbuffers.Dumps({"T": dtype, "fft_length": fft_length}))
    g.io([x], [y])
    return g


_case("scratch", "tconv_f32", transpose_conv_model, F32)
_case("scratch", "tconv_i8", transpose_conv_model, I8, I32)
_case("scratch", "tconv_i16_b64", transpose_conv_model, I16, I64)
_case("scratch", "tconv_i16_b16", transpose_conv_model, I16, I16, cout=7)
_case("scratch", "svdf_f32", svdf_model, F32)
_case("scratch", "svdf_i8", svdf_model, I8)
_case("scratch", "svdf_i8_b", svdf_model, I8, batch=3, n_filters=10, rank=5)
_case("scratch", "mean_f32", reduce_model, BO.MEAN, F32, [1, 5, 5, 7], [1, 2], True)
_case("scratch", "mean_i8", reduce_model, BO.MEAN, I8, [1, 5, 5, 7], [1, 2], True)
_case("scratch", "mean_i8_b", reduce_model, BO.MEAN, I8, [1, 5, 6, 20], [1], False)
_case("scratch", "mean_i16", reduce_model, BO.MEAN, I16, [1, 5, 5, 7], [1, 2], True)
_case("scratch", "sum_i8", reduce_model, BO.SUM, I8, [1, 5, 5, 7], [1, 2], True)
_case("scratch", "sum_f32", reduce_model, BO.SUM, F32, [2, 5, 5, 7], [3], False)
_case("scratch", "rmax_i8", reduce_model, BO.REDUCE_MAX, I8, [1, 5, 5, 7], [1, 2], True)
_case("scratch", "rmin_f32", reduce_model, BO.REDUCE_MIN, F32, [1, 5, 5, 7], [1, 2, 3], True)
_case("scratch", "rall_bool", reduce_model, BO.REDUCE_ALL, BOOL, [1, 5, 5, 7], [1, 2], True)
_case("scratch", "addn_f32_3", add_n_model, F32, 3, [1, 10])
_case("scratch", "addn_i8_5", add_n_model, I8, 5, [1, 16])
_case("scratch", "mirror_pad_r4", mirror_pad_model, 4)
_case("scratch", "mirror_pad_r3", mirror_pad_model, 3)
for _kind in ("conv", "dw", "fc"):
    _case("scratch", f"{_kind}_i8", conv_model, _kind, I8)
    _case("scratch", f"{_kind}_i4", conv_model, _kind, TT.INT4)
    _case("scratch", f"{_kind}_i4_b", conv_model, _kind, TT.INT4, cin=5, cout=7)
_case("scratch", "dpp_a", detection_postprocess_model)
_case("scratch", "dpp_b", detection_postprocess_model, n_boxes=37, n_classes=5, max_detections=3)
_case("scratch", "lstm_f32", lstm_model)
_case("scratch", "lstm_f32_tm", lstm_model, B=3, T=2, time_major=True)
_case("scratch", "rfft_f32", rfft_model, F32, 64, 50)
_case("scratch", "rfft_i16", rfft_model, I16, 32, 32)
_case("scratch", "rfft_i32", rfft_model, I32, 128, 100)


# --------------------------------------------------------------------------- kernels without scratch
# One-op models of common kernels that ask for no scratch: the head is just
# their tensors (guards against over-counting).


def one_op_model(op, inputs, outputs, options=(0, None)):
    """inputs: (shape, dtype, data-or-None); outputs: (shape, dtype[, quant dict])."""
    g = ModelBuilder()
    ins = []
    for shape, dtype, data in inputs:
        quant = dict(scale=0.1, zp=0) if dtype == I8 else dict(scale=0.001, zp=0) if dtype == I16 else {}
        ins.append(g.tensor(shape, dtype, data=data, **quant))
    outs = []
    for shape, dtype, *quant in outputs:
        if not quant:
            quant = [Q if dtype == I8 else dict(scale=1 / 32768, zp=0) if dtype == I16 else {}]
        outs.append(g.tensor(shape, dtype, **quant[0]))
    g.op(op, ins, outs, options)
    g.io([t for t, (_, _, data) in zip(ins, inputs) if data is None], outs)
    return g


def _plain(name, op, inputs, outputs, options=(0, None)):
    _case("kernels", name, one_op_model, op, inputs, outputs, options)


_V = [([1, 37], F32, None)]
_plain("softmax_f32", BO.SOFTMAX, _V, [([1, 37], F32)], _opts("Softmax", beta=1.0))
_plain("log_softmax_f32", BO.LOG_SOFTMAX, _V, [([1, 37], F32)])
_plain("concat_f32", BO.CONCATENATION, [([1, 5], F32, None), ([1, 7], F32, None)], [([1, 12], F32)],
       _opts("Concatenation", axis=1))
_plain("bmm_f32", BO.BATCH_MATMUL, [([1, 4, 5], F32, None), ([1, 5, 6], F32, None)], [([1, 4, 6], F32)],
       _opts("BatchMatMul"))
_plain("split_f32", BO.SPLIT, [([], I32, [1]), ([1, 10], F32, None)], [([1, 5], F32), ([1, 5], F32)],
       _opts("Split", numSplits=2))
_plain("gather_f32", BO.GATHER, [([5, 3], F32, None), ([2], I32, [0, 1])], [([2, 3], F32)],
       _opts("Gather", axis=0))
_plain("argmax_f32", BO.ARG_MAX, [([1, 37], F32, None), ([1], I32, [1])], [([1], I32)],
       _opts("ArgMax", outputType=I32))
_plain("l2norm_f32", BO.L2_NORMALIZATION, _V, [([1, 37], F32)], _opts("L2Norm"))
_plain("div_f32", BO.DIV, _V * 2, [([1, 37], F32)], _opts("Div"))
_plain("resize_bil_f32", BO.RESIZE_BILINEAR, [([1, 3, 3, 2], F32, None), ([2], I32, [6, 6])],
       [([1, 6, 6, 2], F32)], _opts("ResizeBilinear"))
_plain("resize_nn_i8", BO.RESIZE_NEAREST_NEIGHBOR, [([1, 3, 3, 2], I8, None), ([2], I32, [6, 6])],
       [([1, 6, 6, 2], I8)], _opts("ResizeNearestNeighbor"))
_POOL = dict(padding=S.Padding.VALID, strideH=2, strideW=2, filterHeight=2, filterWidth=2)
_plain("avgpool_i8", BO.AVERAGE_POOL_2D, [([1, 6, 6, 3], I8, None)], [([1, 3, 3, 3], I8)],
       _opts("Pool2D", **_POOL))
_plain("maxpool_f32", BO.MAX_POOL_2D, [([1, 6, 6, 3], F32, None)], [([1, 3, 3, 3], F32)],
       _opts("Pool2D", **_POOL))
_plain("add_i8_bcast", BO.ADD, [([1, 6, 6, 3], I8, None), ([1, 1, 1, 3], I8, None)], [([1, 6, 6, 3], I8)],
       _opts("Add"))
_plain("mul_i8", BO.MUL, [([1, 6, 6, 3], I8, None)] * 2, [([1, 6, 6, 3], I8)], _opts("Mul"))
_plain("transpose_f32", BO.TRANSPOSE, [([2, 3, 5], F32, None), ([3], I32, [2, 0, 1])], [([5, 2, 3], F32)],
       _opts("Transpose"))
_plain("pad_f32", BO.PAD, [([1, 3, 3, 2], F32, None), ([4, 2], I32, [[0, 0], [1, 1], [1, 1], [0, 0]])],
       [([1, 5, 5, 2], F32)], _opts("Pad"))
_plain("reshape_f32", BO.RESHAPE, [([1, 10, 3], F32, None), ([2], I32, [5, -1])], [([5, 6], F32)],
       _opts("Reshape", newShape=[5, -1]))
_plain("reshape_neg1_out", BO.RESHAPE, [([1, 10, 3], F32, None), ([2], I32, [5, -1])], [([5, -1], F32)],
       _opts("Reshape", newShape=[5, -1]))
_plain("squeeze_f32", BO.SQUEEZE, [([1, 10, 3], F32, None)], [([10, 3], F32)], _opts("Squeeze"))
_plain("expand_dims_f32", BO.EXPAND_DIMS, [([10, 3], F32, None), ([1], I32, [0])], [([1, 10, 3], F32)],
       _opts("ExpandDims"))
_plain("quantize_f2i8", BO.QUANTIZE, _V, [([1, 37], I8)])
_plain("dequantize_i82f", BO.DEQUANTIZE, [([1, 37], I8, None)], [([1, 37], F32)])
_plain("tanh_f32", BO.TANH, _V, [([1, 37], F32)])
_plain("strided_slice_f32", BO.STRIDED_SLICE,
       [([1, 10], F32, None), ([2], I32, [0, 2]), ([2], I32, [1, 8]), ([2], I32, [1, 1])],
       [([1, 6], F32)], _opts("StridedSlice"))
# Quantized activations, with the output quantization each kernel insists on.
_I8_IN, _I16_IN = [([1, 37], I8, None)], [([1, 37], I16, None)]
_plain("softmax_i8", BO.SOFTMAX, _I8_IN, [([1, 37], I8, dict(scale=1 / 256, zp=-128))],
       _opts("Softmax", beta=1.0))
_plain("softmax_i16", BO.SOFTMAX, _I16_IN, [([1, 37], I16, dict(scale=1 / 32768, zp=0))],
       _opts("Softmax", beta=1.0))
_plain("logistic_i8", BO.LOGISTIC, _I8_IN, [([1, 37], I8, dict(scale=1 / 256, zp=-128))])
_plain("logistic_i16", BO.LOGISTIC, _I16_IN, [([1, 37], I16, dict(scale=1 / 32768, zp=0))])
_plain("tanh_i8", BO.TANH, _I8_IN, [([1, 37], I8, dict(scale=1 / 128, zp=0))])
_plain("log_softmax_i8", BO.LOG_SOFTMAX, _I8_IN, [([1, 37], I8, dict(scale=16 / 256, zp=127))])
_plain("hardswish_i8", BO.HARD_SWISH, _I8_IN, [([1, 37], I8, dict(scale=0.1, zp=0))])
