"""The writer: read -> write -> read is lossless, the runtimes agree, new ops run."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite

from tinymem.verify import runtimes
from tinymem.errors import TinymemError
from tinymem.graph.ir import Model, Operator, Tensor
from tinymem.memory.planner import plan_model
from tinymem.read.reader import load_model, parse_model
from tinymem.read.file import buffer_bytes, offline_plan
from tinymem.read.schema import OFFLINE_PLAN_KEY
from tinymem import writer
from tinymem.writer import serialize_model, write_model

from .conftest import SAMPLES, all_model_params, explored, shared_param


# --------------------------------------------------------------------------
# helpers


@lru_cache(maxsize=None)
def _round_trip(path: str) -> tuple[Model, bytes, Model]:
    model = load_model(path)
    data = serialize_model(model)
    return model, data, parse_model(data)


def _assert_same_ir(a: Model, b: Model, ignore_buffers: bool = False) -> None:
    assert b.version == a.version
    assert b.description == a.description
    assert list(b.metadata) == list(a.metadata)
    assert b.signature_defs == a.signature_defs
    assert len(b.subgraphs) == len(a.subgraphs)
    for sa, sb in zip(a.subgraphs, b.subgraphs):
        assert (sb.index, sb.name, sb.inputs, sb.outputs) == (sa.index, sa.name, sa.inputs, sa.outputs)
        assert len(sb.tensors) == len(sa.tensors)
        for ta, tb in zip(sa.tensors, sb.tensors):
            if ignore_buffers:  # new constants: compare the data separately
                ta, tb = copy.copy(ta), copy.copy(tb)
                tb.buffer, ta.data = ta.buffer, None
            assert tb == ta, f"tensor {ta.index} ({ta.name})"
        assert len(sb.operators) == len(sa.operators)
        for oa, ob in zip(sa.operators, sb.operators):
            assert ob == oa, f"operator {oa.index} ({oa.opcode})"
    # Weights and metadata: the same bytes behind every reference.
    for sa, sb in zip(a.subgraphs, b.subgraphs):
        for ta, tb in zip(sa.tensors, sb.tensors):
            if ta.data is not None:
                assert buffer_bytes(b, tb.buffer) == np.ascontiguousarray(ta.data).tobytes()
            elif ta.has_data:
                assert buffer_bytes(b, tb.buffer) == buffer_bytes(a, ta.buffer), ta.name
    for name, buf in a.metadata.items():
        assert buffer_bytes(b, b.metadata[name]) == buffer_bytes(a, buf), name


def _buffer_data_positions(data: bytes) -> list[tuple[int, int]]:
    fb = tflite.Model.GetRootAs(data, 0)
    out = []
    for i in range(fb.BuffersLength()):
        tab = fb.Buffers(i)._tab
        o = tab.Offset(4)
        if o and tab.VectorLen(o):
            out.append((tab.Vector(o), tab.VectorLen(o)))
    return out


# LiteRT runs in a child process: on random-weight models some reference
# kernels abort the whole process instead of raising.
_LITERT_CHILD = r"""
import os
import sys
import numpy as np
from ai_edge_litert import interpreter as lr

path, resolver, out = sys.argv[1], sys.argv[2], sys.argv[3]
seeds = [int(s) for s in sys.argv[4].split(",")]
kw = {}
if hasattr(lr, "OpResolverType"):
    kw["experimental_op_resolver_type"] = getattr(lr.OpResolverType, resolver)
it = lr.Interpreter(model_path=path, **kw)
it.allocate_tensors()
# get_output_details() crashes on some models (keyword_scrambled_8bit): read
# the output indices directly where the binding allows it.
try:
    outputs = list(it._interpreter.OutputIndices())
except AttributeError:
    outputs = [d["index"] for d in it.get_output_details()]
arrays = {}
for seed in seeds:
    rng = np.random.default_rng(seed)
    for k, d in enumerate(it.get_input_details()):
        dt = np.dtype(d["dtype"])
        shape = tuple(int(s) for s in d["shape"])
        if dt.kind == "f":
            x = rng.standard_normal(shape).astype(dt)
        elif dt.kind in "iu":
            # The type's full range, capped at 16 bits for wider integers.
            info = np.iinfo(dt)
            lo, hi = max(int(info.min), -(2 ** 15)), min(int(info.max), 2 ** 15 - 1)
            x = rng.integers(lo, hi + 1, size=shape).astype(dt)
        elif dt.kind == "b":
            x = rng.integers(0, 2, size=shape).astype(dt)
        else:
            sys.exit(f"no random inputs for dtype {dt}")
        arrays[f"in{seed}_{k}"] = x
        it.set_tensor(d["index"], x)
    it.invoke()
    for k, index in enumerate(outputs):
        arrays[f"out{seed}_{k}"] = it.get_tensor(index)
np.savez(out, **arrays)
os._exit(0)  # some models crash LiteRT when the interpreter is torn down
"""

_RESOLVERS = ("BUILTIN_REF", "BUILTIN_WITHOUT_DEFAULT_DELEGATES")


def _litert_run(model: Path, resolver: str, seeds=(0, 1, 2)) -> dict[str, np.ndarray]:
    """Inputs and outputs of LiteRT on seeded random inputs; RuntimeError if it fails."""
    out = model.with_suffix(f".{resolver}.npz")
    proc = subprocess.run([sys.executable, "-c", _LITERT_CHILD, str(model), resolver, str(out),
                           ",".join(str(s) for s in seeds)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not out.exists():
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "INFO:" not in ln]
        raise RuntimeError(lines[-1] if lines else f"exit code {proc.returncode}")
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def _assert_bit_identical(original: Path, rewritten: bytes, tmp_path: Path) -> dict:
    """LiteRT gives the same bytes for both models; returns the rewritten model's run."""
    if not runtimes.have_litert():
        pytest.skip("ai-edge-litert not installed")
    new = tmp_path / "litert_rewritten.tflite"
    new.write_bytes(rewritten)
    orig = tmp_path / "litert_original.tflite"
    orig.write_bytes(Path(original).read_bytes())
    reasons = []
    for resolver in _RESOLVERS:
        try:
            ref = _litert_run(orig, resolver)
        except RuntimeError as e:
            reasons.append(f"{resolver}: {e}")
            continue
        got = _litert_run(new, resolver)
        assert sorted(got) == sorted(ref)
        for key, val in ref.items():
            assert got[key].dtype == val.dtype and got[key].shape == val.shape, key
            assert got[key].tobytes() == val.tobytes(), f"{key} differs ({resolver})"
        return got
    pytest.skip(f"LiteRT cannot run the original model: {'; '.join(reasons)}")


def _sample(name: str) -> Path:
    p = SAMPLES / name
    if not p.exists():
        pytest.skip(f"{name} absent")
    return p


# --------------------------------------------------------------------------
# every model: lossless, same size, same behaviour


@pytest.mark.parametrize("path", all_model_params())
def test_round_trip_gives_equal_ir(path):
    model, _, back = _round_trip(str(path))
    _assert_same_ir(model, back)
    for i, buf in enumerate(model.buffers):
        if buf.size and any(t.buffer == i for sg in model.subgraphs for t in sg.tensors):
            assert back.buffers[i] == buf


@pytest.mark.parametrize("path", all_model_params())
def test_round_trip_keeps_what_the_ir_does_not_hold(path):
    model, data, _ = _round_trip(str(path))
    a = tflite.Model.GetRootAs(model.raw, 0)
    b = tflite.Model.GetRootAs(data, 0)
    for si in range(a.SubgraphsLength()):
        sa, sb = a.Subgraphs(si), b.Subgraphs(si)
        for ti in range(sa.TensorsLength()):
            ta, tb = sa.Tensors(ti), sb.Tensors(ti)
            assert tb.HasRank() == ta.HasRank()
            assert (tb.Sparsity() is None) == (ta.Sparsity() is None)
            qa, qb = ta.Quantization(), tb.Quantization()
            assert (qa.DetailsType() if qa else 0) == (qb.DetailsType() if qb else 0)
        for oi in range(sa.OperatorsLength()):
            oa, ob = sa.Operators(oi), sb.Operators(oi)
            ca, cb = a.OperatorCodes(oa.OpcodeIndex()), b.OperatorCodes(ob.OpcodeIndex())
            code_a = max(ca.BuiltinCode(), ca.DeprecatedBuiltinCode())
            assert (cb.BuiltinCode(), cb.CustomCode(), cb.Version()) == \
                   (code_a, ca.CustomCode(), ca.Version())
            assert cb.DeprecatedBuiltinCode() == min(code_a, 127)
            assert ob.CustomOptionsLength() == oa.CustomOptionsLength()
            if oa.CustomOptionsLength():
                assert ob.CustomOptionsAsNumpy().tobytes() == oa.CustomOptionsAsNumpy().tobytes()
            assert ob.CustomOptionsFormat() == oa.CustomOptionsFormat()
            assert ob.MutatingVariableInputsLength() == oa.MutatingVariableInputsLength()
            assert ob.BuiltinOptions2Type() == oa.BuiltinOptions2Type()
    # Constant data is 16-byte aligned, as TFLite Micro requires.
    for start, _ in _buffer_data_positions(data):
        assert start % 16 == 0


@pytest.mark.parametrize("path", all_model_params())
def test_round_trip_file_size_is_close(path):
    model, data, _ = _round_trip(str(path))
    assert abs(len(data) - model.file_size) <= 0.01 * model.file_size + 4096


@pytest.mark.parametrize("path", all_model_params())
def test_litert_outputs_are_bit_identical(path, tmp_path):
    _, data, _ = _round_trip(str(path))
    _assert_bit_identical(path, data, tmp_path)


@pytest.mark.skipif(not runtimes.have_tflm(), reason="tflite-micro not installed")
@pytest.mark.parametrize("path", all_model_params())
def test_tflm_arena_is_unchanged(path, tmp_path):
    try:
        orig = runtimes.tflm_arena(str(path))
    except RuntimeError as e:
        pytest.skip(f"TFLM cannot set this model up: {e}")
    _, data, _ = _round_trip(str(path))
    out = tmp_path / "rewritten.tflite"
    out.write_bytes(data)
    assert runtimes.tflm_arena(str(out)).head == orig.head


def test_a_4mb_model_is_written_with_its_weights_once():
    # Its speed is measured by bench/writer_bench.py, not asserted here.
    path = _sample("mobilenet_v2_100_224_int8.tflite")
    model = load_model(path)
    assert model.file_size > 3_500_000
    data = serialize_model(model)
    assert serialize_model(model) == data  # deterministic
    weights = sum(b.size for b in model.buffers)
    # Every weight byte once, plus tables and 16-byte alignment padding per buffer.
    assert weights <= len(data) <= weights + (model.file_size - weights) + 16 * len(model.buffers)


# --------------------------------------------------------------------------
# offline memory plan


@pytest.mark.skipif(not runtimes.have_tflm(), reason="tflite-micro not installed")
@pytest.mark.parametrize("path", [shared_param("mlperf_vww_96_int8")])
def test_offline_plan_is_honoured_by_tflm(path, tmp_path):
    from tinymem.memory.layout import best_layout

    model = load_model(path)
    layout = best_layout(model)
    assert layout is not None
    greedy = runtimes.tflm_arena(str(path)).head
    assert layout.plan.arena_bytes < greedy
    out = tmp_path / "vww_offline.tflite"
    n = write_model(model, out, offline_plan=layout.offline)
    assert n == out.stat().st_size
    back = load_model(out)
    assert list(back.metadata)[-1] == OFFLINE_PLAN_KEY
    assert offline_plan(back) == list(layout.offline)
    words = np.frombuffer(buffer_bytes(back, back.metadata[OFFLINE_PLAN_KEY]), dtype="<i4")
    assert words[:3].tolist() == [1, 1, len(layout.offline)]
    assert plan_model(back).arena_bytes == layout.plan.arena_bytes
    assert runtimes.tflm_arena(str(out)).head == layout.plan.arena_bytes
    if runtimes.have_litert():
        _assert_bit_identical(path, out.read_bytes(), tmp_path)


def test_offline_plan_replaces_an_existing_one(tmp_path):
    path = _sample("resnet_skip_int8.tflite")
    model = load_model(path)
    n_t = len(model.main.tensors)
    first = parse_model(serialize_model(model, offline_plan=[-1] * n_t))
    assert offline_plan(first) == [-1] * n_t
    plan = [-1] * n_t
    plan[model.main.inputs[0]] = 0
    second = parse_model(serialize_model(first, offline_plan=plan))
    assert list(second.metadata).count(OFFLINE_PLAN_KEY) == 1
    assert list(second.metadata) == list(model.metadata) + [OFFLINE_PLAN_KEY]
    assert offline_plan(second) == plan
    # The old plan's buffer is emptied, not carried along.
    old = first.metadata[OFFLINE_PLAN_KEY]
    assert second.metadata[OFFLINE_PLAN_KEY] != old and second.buffers[old].size == 0
    with pytest.raises(TinymemError, match="offline plan"):
        serialize_model(model, offline_plan=[0, 0])
    # A plan that no longer fits the tensors is not carried along silently.
    grown = copy.deepcopy(second)
    grown.main.tensors.append(Tensor(index=n_t, name="extra", shape=(1,), dtype="int8"))
    with pytest.raises(TinymemError, match="offline_plan"):
        serialize_model(grown)
    del grown.metadata[OFFLINE_PLAN_KEY]
    assert OFFLINE_PLAN_KEY not in parse_model(serialize_model(grown)).metadata


# --------------------------------------------------------------------------
# rewritten models: new ops, new constants, changed options


def _const(index: int, name: str, values, dtype: str) -> Tensor:
    arr = np.asarray(values, dtype=dtype)
    return Tensor(index=index, name=name, shape=arr.shape, dtype=str(arr.dtype), has_data=True,
                  data=arr)


def test_new_strided_slice_and_relu_run_in_litert(tmp_path):
    path = _sample("cnn_float32.tflite")
    model = copy.deepcopy(load_model(path))
    sg = model.main
    logits = next(op for op in sg.operators if op.opcode == "FULLY_CONNECTED").outputs[0]
    n = len(sg.tensors)
    sg.tensors += [
        _const(n, "slice/begin", [0, 2], "int32"),
        _const(n + 1, "slice/end", [1, 7], "int32"),
        _const(n + 2, "slice/strides", [1, 1], "int32"),
        Tensor(index=n + 3, name="slice/out", shape=(1, 5), dtype="float32"),
        Tensor(index=n + 4, name="relu/out", shape=(1, 5), dtype="float32"),
    ]
    k = len(sg.operators)
    sg.operators += [
        Operator(index=k, opcode="STRIDED_SLICE", inputs=(logits, n, n + 1, n + 2),
                 outputs=(n + 3,), options_type="StridedSliceOptions",
                 options={"begin_mask": 0, "end_mask": 0, "shrink_axis_mask": 0}),
        Operator(index=k + 1, opcode="RELU", inputs=(n + 3,), outputs=(n + 4,)),
    ]
    sg.outputs = tuple(sg.outputs) + (logits, n + 4)
    data = serialize_model(model)
    back = parse_model(data)
    assert back.main.operators[k].opcode == "STRIDED_SLICE"
    assert back.main.operators[k].options_type == "StridedSliceOptions"
    assert back.main.operators[k + 1].opcode == "RELU"
    assert back.main.outputs == sg.outputs
    assert buffer_bytes(back, back.main.tensors[n + 1].buffer) == np.array([1, 7], "<i4").tobytes()
    # The new constants got new buffers; all the old weights are shared, not copied.
    assert len(data) < model.file_size + 4096
    if not runtimes.have_litert():
        pytest.skip("ai-edge-litert not installed")
    orig = tmp_path / "orig.tflite"
    orig.write_bytes(path.read_bytes())
    new = tmp_path / "new.tflite"
    new.write_bytes(data)
    ref = _litert_run(orig, "BUILTIN_REF")
    got = _litert_run(new, "BUILTIN_REF")
    for seed in range(3):
        softmax, logits_v, relu = (got[f"out{seed}_{k}"] for k in range(3))
        assert relu.shape == (1, 5)
        np.testing.assert_array_equal(relu, np.maximum(logits_v[:, 2:7], 0))
        assert softmax.tobytes() == ref[f"out{seed}_0"].tobytes()


def test_pad_op_and_valid_conv_replace_same_padding_bit_exactly(tmp_path):
    """A copied int8 conv whose padding changes SAME -> VALID behind a new PAD op."""
    path = _sample("resnet_skip_int8.tflite")
    model = copy.deepcopy(load_model(path))
    sg = model.main
    conv = sg.operators[0]
    assert conv.opcode == "CONV_2D" and conv.options["padding"] == "SAME"
    src = sg.tensors[conv.inputs[0]]
    kh, kw = sg.tensors[conv.inputs[1]].shape[1:3]
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    n = len(sg.tensors)
    padded_shape = (src.shape[0], src.shape[1] + 2 * ph, src.shape[2] + 2 * pw, src.shape[3])
    sg.tensors += [
        _const(n, "pad/paddings", [[0, 0], [ph, ph], [pw, pw], [0, 0]], "int32"),
        Tensor(index=n + 1, name="pad/out", shape=padded_shape, dtype=src.dtype,
               quantization=src.quantization),
    ]
    pad = Operator(index=0, opcode="PAD", inputs=(conv.inputs[0], n), outputs=(n + 1,),
                   options_type="PadOptions", options={}, version=2)
    conv.options = dict(conv.options, padding="VALID")
    conv.inputs = (n + 1,) + tuple(conv.inputs[1:])
    sg.operators.insert(0, pad)
    for i, op in enumerate(sg.operators):
        op.index = i
    data = serialize_model(model)
    back = parse_model(data)
    assert back.main.operators[1].options["padding"] == "VALID"
    assert back.main.operators[1].version == conv.version  # the source conv's version
    assert back.main.operators[0].opcode == "PAD"
    assert abs(len(data) - model.file_size) < 4096
    _assert_bit_identical(path, data, tmp_path)


def test_new_constant_replacing_weights_drops_the_old_buffer(tmp_path):
    path = _sample("resnet_skip_int8.tflite")
    model = copy.deepcopy(load_model(path))
    sg = model.main
    conv = next(op for op in sg.operators if op.opcode == "CONV_2D"
                and sg.tensors[op.inputs[1]].nbytes > 1000)
    w = sg.tensors[conv.inputs[1]]
    old_buffer = w.buffer
    values = np.frombuffer(buffer_bytes(model, old_buffer), dtype=np.int8).reshape(w.shape)
    w.data = values.copy()
    data = serialize_model(model)
    back = parse_model(data)
    nw = back.main.tensors[w.index]
    assert nw.buffer >= len(model.buffers)  # a new buffer
    assert back.buffers[old_buffer].size == 0  # the unused one is emptied in place
    assert buffer_bytes(back, nw.buffer) == values.tobytes()
    assert abs(len(data) - model.file_size) <= 4096  # not duplicated
    _assert_same_ir(model, back, ignore_buffers=True)
    _assert_bit_identical(path, data, tmp_path)


def test_new_opcode_above_127_saturates_the_deprecated_field():
    model = copy.deepcopy(load_model(_sample("cnn_float32.tflite")))
    sg = model.main
    src = sg.outputs[0]
    n = len(sg.tensors)
    sg.tensors.append(Tensor(index=n, name="gelu/out", shape=sg.tensors[src].shape,
                             dtype="float32"))
    sg.operators.append(Operator(index=len(sg.operators), opcode="GELU", inputs=(src,),
                                 outputs=(n,), options_type="GeluOptions",
                                 options={"approximate": True}))
    sg.outputs = (n,)
    data = serialize_model(model)
    back = parse_model(data)
    op = back.main.operators[-1]
    assert (op.opcode, op.builtin_code, op.version) == ("GELU", tflite.BuiltinOperator.GELU, 1)
    assert op.options == {"approximate": True}
    fb = tflite.Model.GetRootAs(data, 0)
    codes = [fb.OperatorCodes(i) for i in range(fb.OperatorCodesLength())]
    gelu = next(c for c in codes if c.BuiltinCode() == tflite.BuiltinOperator.GELU)
    assert gelu.DeprecatedBuiltinCode() == 127
    # Only the opcodes in use are written: one per (op, version), source order first.
    assert len(codes) == len({(o.opcode, o.version) for o in back.main.operators})


def test_identical_new_constants_share_one_buffer():
    model = copy.deepcopy(load_model(_sample("cnn_float32.tflite")))
    sg = model.main
    n = len(sg.tensors)
    sg.tensors += [_const(n, "a", [1, 2, 3], "int32"), _const(n + 1, "b", [1, 2, 3], "int32")]
    back = parse_model(serialize_model(model, keep_unused=True))
    assert back.main.tensors[n].buffer == back.main.tensors[n + 1].buffer


def test_activation_pointing_at_data_gets_an_empty_buffer():
    model = copy.deepcopy(load_model(_sample("cnn_float32.tflite")))
    sg = model.main
    weights = next(t for t in sg.tensors if t.has_data)
    n = len(sg.tensors)
    sg.tensors.append(Tensor(index=n, name="act", shape=weights.shape, dtype=weights.dtype,
                             buffer=weights.buffer))
    back = parse_model(serialize_model(model, keep_unused=True))
    assert not back.main.tensors[n].has_data
    assert back.buffers[back.main.tensors[n].buffer].size == 0


def test_unused_tensors_are_left_out_and_indices_renumbered(tmp_path):
    """Schedules keep replaced tensors in the list; TFLite Micro would still plan
    unused activations (all alive at once), so the writer leaves them out."""
    path = _sample("cnn_float32.tflite")
    model = copy.deepcopy(load_model(path))
    sg = model.main
    softmax = sg.operators[-1]
    old_out = softmax.outputs[0]
    assert sg.outputs == (old_out,)
    n = len(sg.tensors)
    # The softmax now writes a new tensor; the old output tensor is unused.
    sg.tensors.append(Tensor(index=n, name="new_out", shape=sg.tensors[old_out].shape,
                             dtype="float32"))
    sg.tensors.append(Tensor(index=n + 1, name="unused_big", shape=(1, 64, 64, 32),
                             dtype="float32"))
    sg.tensors.append(_const(n + 2, "unused_const", np.arange(1000), "int32"))
    softmax.outputs = (n,)
    sg.outputs = (n,)
    model.signature_defs = [
        type(sig)(key=sig.key, subgraph=sig.subgraph, inputs=sig.inputs,
                  outputs=tuple((name, n) for name, _ in sig.outputs))
        for sig in model.signature_defs]
    plan = list(range(n + 3))
    data = serialize_model(model, offline_plan=plan)
    back = parse_model(data)
    kept = [i for i in range(n + 3) if i not in (old_out, n + 1, n + 2)]
    assert [t.name for t in back.main.tensors] == [sg.tensors[i].name for i in kept]
    new_index = kept.index(n)
    assert back.main.outputs == (new_index,)
    assert back.main.operators[-1].outputs == (new_index,)
    assert back.signature_defs[0].outputs[0][1] == new_index
    assert offline_plan(back) == kept  # the plan follows the renumbering
    assert len(data) < model.file_size + 1024  # the unused constant is not written
    # Kept, the unused activation would cost TFLite Micro arena space.
    if runtimes.have_tflm():
        lean = tmp_path / "lean.tflite"
        lean.write_bytes(serialize_model(model))
        fat = tmp_path / "fat.tflite"
        fat.write_bytes(serialize_model(model, keep_unused=True))
        assert runtimes.tflm_arena(str(lean)).head == runtimes.tflm_arena(str(path)).head
        assert runtimes.tflm_arena(str(fat)).head > runtimes.tflm_arena(str(path)).head
    _assert_bit_identical(path, serialize_model(model), tmp_path)


@pytest.mark.parametrize("change, message", [
    (lambda op: op.options.update(padding="SIDEWAYS"), "unknown value"),
    (lambda op: op.options.update(no_such_option=1), "no_such_option"),
    (lambda op: setattr(op, "options_type", "NoSuchOptions"), "unknown options type"),
    (lambda op: setattr(op, "opcode", "NO_SUCH_OP"), "unknown operator"),
    (lambda op: setattr(op, "inputs", (0, 999)), "tensor 999"),
])
def test_inconsistent_models_are_refused(change, message):
    model = copy.deepcopy(load_model(_sample("cnn_float32.tflite")))
    change(model.main.operators[0])
    with pytest.raises(TinymemError, match=message):
        serialize_model(model)


def test_constant_data_must_match_the_tensor():
    model = copy.deepcopy(load_model(_sample("cnn_float32.tflite")))
    n = len(model.main.tensors)
    t = _const(n, "c", [1, 2, 3], "int32")
    t.dtype = "float32"
    model.main.tensors.append(t)
    with pytest.raises(TinymemError, match="data is int32"):
        serialize_model(model, keep_unused=True)
    t.dtype, t.shape = "int32", (4,)
    with pytest.raises(TinymemError, match="elements"):
        serialize_model(model, keep_unused=True)


# --------------------------------------------------------------------------
# fields no sample model uses: built by hand, then carried through


def _hand_built_model() -> bytes:
    """A model using sparsity, quantization details, variant tensors, custom options,
    builtin_options_2, mutating inputs, intermediates and metadata_buffer."""
    b = flatbuffers.Builder(1024)

    def ivec(vals, dtype="<i4"):
        arr = np.asarray(vals, dtype=dtype)
        return b.CreateNumpyVector(arr)

    def string(s):
        return b.CreateString(s)

    def table(name, **fields):  # fields in the order given; None ones left out
        getattr(tflite, f"{name}Start")(b)
        for field, value in fields.items():
            if value is not None:
                getattr(tflite, f"{name}Add{field}")(b, value)
        return getattr(tflite, f"{name}End")(b)

    # buffers: 0 empty, 1 weights, 2 metadata
    w = b.CreateNumpyVector(np.arange(6, dtype=np.int8))
    md = b.CreateNumpyVector(np.frombuffer(b"hello", dtype=np.uint8))
    bufs = []
    for data in (None, w, md):
        tflite.BufferStart(b)
        if data is not None:
            tflite.BufferAddData(b, data)
        bufs.append(tflite.BufferEnd(b))
    bufs_vec = b.StartVector(4, 3, 4)
    for off in reversed(bufs):
        b.PrependUOffsetTRelative(off)
    bufs_vec = b.EndVector()

    # sparsity for tensor 1 (4x4 CSR)
    segs_v = ivec([0, 2, 3, 5, 6])
    tflite.Int32VectorStart(b)
    tflite.Int32VectorAddValues(b, segs_v)
    segs = tflite.Int32VectorEnd(b)
    idx_v = ivec([0, 3, 1, 0, 2, 3], "u1")
    tflite.Uint8VectorStart(b)
    tflite.Uint8VectorAddValues(b, idx_v)
    idx = tflite.Uint8VectorEnd(b)
    tflite.DimensionMetadataStart(b)
    tflite.DimensionMetadataAddFormat(b, tflite.DimensionType.DENSE)
    tflite.DimensionMetadataAddDenseSize(b, 4)
    dm0 = tflite.DimensionMetadataEnd(b)
    tflite.DimensionMetadataStart(b)
    tflite.DimensionMetadataAddFormat(b, tflite.DimensionType.SPARSE_CSR)
    tflite.DimensionMetadataAddArraySegmentsType(b, tflite.SparseIndexVector.Int32Vector)
    tflite.DimensionMetadataAddArraySegments(b, segs)
    tflite.DimensionMetadataAddArrayIndicesType(b, tflite.SparseIndexVector.Uint8Vector)
    tflite.DimensionMetadataAddArrayIndices(b, idx)
    dm1 = tflite.DimensionMetadataEnd(b)
    trav = ivec([0, 1])
    b.StartVector(4, 2, 4)
    b.PrependUOffsetTRelative(dm1)
    b.PrependUOffsetTRelative(dm0)
    dims = b.EndVector()
    tflite.SparsityParametersStart(b)
    tflite.SparsityParametersAddTraversalOrder(b, trav)
    tflite.SparsityParametersAddDimMetadata(b, dims)
    sparsity = tflite.SparsityParametersEnd(b)

    # quantization with custom details for tensor 1
    custom_q = b.CreateNumpyVector(np.frombuffer(b"\x07\x08\x09", dtype=np.uint8))
    tflite.CustomQuantizationStart(b)
    tflite.CustomQuantizationAddCustom(b, custom_q)
    cq = tflite.CustomQuantizationEnd(b)
    scale = b.CreateNumpyVector(np.array([0.5], dtype="<f4"))
    zp = b.CreateNumpyVector(np.array([0], dtype="<i8"))
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale)
    tflite.QuantizationParametersAddZeroPoint(b, zp)
    tflite.QuantizationParametersAddDetailsType(b, tflite.QuantizationDetails.CustomQuantization)
    tflite.QuantizationParametersAddDetails(b, cq)
    quant = tflite.QuantizationParametersEnd(b)

    # a variant tensor's subtype
    vshape = ivec([2])
    tflite.VariantSubTypeStart(b)
    tflite.VariantSubTypeAddShape(b, vshape)
    tflite.VariantSubTypeAddType(b, tflite.TensorType.INT32)
    tflite.VariantSubTypeAddHasRank(b, True)
    vst = tflite.VariantSubTypeEnd(b)
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(vst)
    variants = b.EndVector()

    specs = [  # name, shape, type, buffer, extras
        ("in", [1, 4], tflite.TensorType.INT8, 0, {}),
        ("w", [4, 4], tflite.TensorType.INT8, 1, {"sparsity": sparsity, "quant": quant}),
        ("out", [1, 4], tflite.TensorType.INT8, 0, {}),
        ("var", [], tflite.TensorType.VARIANT, 0, {"variants": variants, "rank": False}),
    ]
    tensors = []
    for name, shape, ttype, buf, extra in specs:
        n_off = string(name)
        s_off = ivec(shape)
        tensors.append(table("Tensor", Shape=s_off, Type=ttype, Buffer=buf, Name=n_off,
                             Quantization=extra.get("quant"), Sparsity=extra.get("sparsity"),
                             VariantTensors=extra.get("variants"),
                             HasRank=extra.get("rank", True)))
    b.StartVector(4, len(tensors), 4)
    for off in reversed(tensors):
        b.PrependUOffsetTRelative(off)
    tensors_vec = b.EndVector()

    tflite.FullyConnectedOptionsStart(b)
    tflite.FullyConnectedOptionsAddKeepNumDims(b, True)
    fc_opts = tflite.FullyConnectedOptionsEnd(b)
    tflite.StablehloConcatenateOptionsStart(b)
    tflite.StablehloConcatenateOptionsAddDimension(b, 1)
    opts2 = tflite.StablehloConcatenateOptionsEnd(b)
    custom = b.CreateNumpyVector(np.frombuffer(b"\x01\x02\x03", dtype=np.uint8))
    mut = b.CreateNumpyVector(np.array([False, True, False], dtype=np.bool_))
    inputs = ivec([0, 1, -1])
    outputs = ivec([2])
    inter = ivec([3])
    op = table("Operator", OpcodeIndex=0, Inputs=inputs, Outputs=outputs,
               BuiltinOptionsType=tflite.BuiltinOptions.FullyConnectedOptions,
               BuiltinOptions=fc_opts, CustomOptions=custom, MutatingVariableInputs=mut,
               Intermediates=inter,
               BuiltinOptions2Type=tflite.BuiltinOptions2.StablehloConcatenateOptions,
               BuiltinOptions2=opts2)
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(op)
    ops_vec = b.EndVector()

    sg_in, sg_out, sg_name = ivec([0]), ivec([2]), string("main")
    sg = table("SubGraph", Tensors=tensors_vec, Inputs=sg_in, Outputs=sg_out, Operators=ops_vec,
               Name=sg_name)
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(sg)
    sgs = b.EndVector()

    oc = table("OperatorCode", DeprecatedBuiltinCode=tflite.BuiltinOperator.FULLY_CONNECTED,
               BuiltinCode=tflite.BuiltinOperator.FULLY_CONNECTED, Version=7)
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(oc)
    ocs = b.EndVector()

    md_name = string("notes")
    md_t = table("Metadata", Name=md_name, Buffer=2)
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(md_t)
    mds = b.EndVector()
    md_buf = ivec([2])
    desc = string("hand built")

    m = table("Model", Version=3, OperatorCodes=ocs, Subgraphs=sgs, Description=desc,
              Buffers=bufs_vec, MetadataBuffer=md_buf, Metadata=mds)
    b.Finish(m, file_identifier=b"TFL3")
    return bytes(b.Output())


def test_fields_the_ir_does_not_model_are_copied():
    raw = _hand_built_model()
    model = parse_model(raw)
    data = serialize_model(model)
    back = parse_model(data)
    _assert_same_ir(model, back)
    fb = tflite.Model.GetRootAs(data, 0)
    assert fb.MetadataBufferAsNumpy().tolist() == [2]
    sg = fb.Subgraphs(0)
    w = sg.Tensors(1)
    sp = w.Sparsity()
    assert sp.TraversalOrderAsNumpy().tolist() == [0, 1]
    assert sp.DimMetadataLength() == 2
    assert sp.DimMetadata(0).DenseSize() == 4
    d1 = sp.DimMetadata(1)
    assert d1.Format() == tflite.DimensionType.SPARSE_CSR
    assert d1.ArraySegmentsType() == tflite.SparseIndexVector.Int32Vector
    segs = tflite.Int32Vector()
    segs.Init(d1.ArraySegments().Bytes, d1.ArraySegments().Pos)
    assert segs.ValuesAsNumpy().tolist() == [0, 2, 3, 5, 6]
    assert d1.ArrayIndicesType() == tflite.SparseIndexVector.Uint8Vector
    idx = tflite.Uint8Vector()
    idx.Init(d1.ArrayIndices().Bytes, d1.ArrayIndices().Pos)
    assert idx.ValuesAsNumpy().tolist() == [0, 3, 1, 0, 2, 3]
    q = w.Quantization()
    assert q.DetailsType() == tflite.QuantizationDetails.CustomQuantization
    cq = tflite.CustomQuantization()
    cq.Init(q.Details().Bytes, q.Details().Pos)
    assert cq.CustomAsNumpy().tobytes() == b"\x07\x08\x09"
    v = sg.Tensors(3)
    assert not v.HasRank() and sg.Tensors(0).HasRank()
    assert v.VariantTensorsLength() == 1
    assert v.VariantTensors(0).ShapeAsNumpy().tolist() == [2]
    assert v.VariantTensors(0).Type() == tflite.TensorType.INT32
    op = sg.Operators(0)
    assert op.CustomOptionsAsNumpy().tobytes() == b"\x01\x02\x03"
    assert op.MutatingVariableInputsAsNumpy().tolist() == [False, True, False]
    assert op.IntermediatesAsNumpy().tolist() == [3]
    assert op.InputsAsNumpy().tolist() == [0, 1, -1]
    assert op.BuiltinOptions2Type() == tflite.BuiltinOptions2.StablehloConcatenateOptions
    assert back.main.operators[0].options["dimension"] == 1
    assert back.main.operators[0].options["keep_num_dims"] is True
    assert fb.OperatorCodes(0).Version() == 7
    # The IR's options stay authoritative, options2 included.
    model.main.operators[0].options["dimension"] = 2
    assert parse_model(serialize_model(model)).main.operators[0].options["dimension"] == 2


def test_model_without_source_bytes():
    model = copy.deepcopy(load_model(_sample("cnn_float32.tflite")))
    model.raw = None
    model.metadata = {}
    for sg in model.subgraphs:
        for t in sg.tensors:
            t.has_data = False
            t.buffer = 0
    back = parse_model(serialize_model(model))
    assert [op.opcode for op in back.main.operators] == [op.opcode for op in model.main.operators]
    model.main.tensors[1].has_data = True
    model.main.tensors[1].buffer = 2
    with pytest.raises(TinymemError, match="no source bytes"):
        serialize_model(model)


# --------------------------------------------------------------------------
# write_model: never onto the input, never a half-written file


def _copy_sample(tmp_path: Path, name: str = "resnet_skip_int8.tflite") -> Path:
    src = _sample(name)
    dst = tmp_path / name
    dst.write_bytes(src.read_bytes())
    return dst


def test_write_model_writes_atomically(tmp_path):
    path = _copy_sample(tmp_path)
    model = load_model(path)
    out = tmp_path / "out.tflite"
    out.write_bytes(b"old content")
    n = write_model(model, out)
    assert n == out.stat().st_size
    _assert_same_ir(model, load_model(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, "out.tflite"])


def test_write_model_refuses_to_overwrite_the_input(tmp_path):
    path = _copy_sample(tmp_path)
    before = path.read_bytes()
    model = load_model(path)
    with pytest.raises(TinymemError, match="input"):
        write_model(model, path)
    with pytest.raises(TinymemError, match="input"):
        write_model(model, str(tmp_path / "." / path.name))
    link = tmp_path / "hardlink.tflite"
    os.link(path, link)
    with pytest.raises(TinymemError, match="input"):
        write_model(model, link)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, link.name])


def test_write_model_refuses_a_bad_model_and_leaves_nothing(tmp_path, monkeypatch):
    path = _copy_sample(tmp_path)
    model = load_model(path)
    out = tmp_path / "out.tflite"
    bad = copy.deepcopy(model)
    bad.main.operators[0].inputs = (10_000,)
    with pytest.raises(TinymemError):
        write_model(bad, out)
    assert not out.exists()
    # Bytes that do not read back: refused after writing the temporary file.
    monkeypatch.setattr(writer, "serialize_model", lambda *a, **k: b"\x08\x00\x00\x00TFL3junk")
    with pytest.raises(TinymemError, match="does not read back"):
        write_model(model, out)
    assert not out.exists()
    # An existing output is left as it was.
    out.write_bytes(b"keep me")
    with pytest.raises(TinymemError):
        write_model(model, out)
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, "out.tflite"])


def test_write_model_reports_unwritable_places(tmp_path):
    model = load_model(_copy_sample(tmp_path))
    with pytest.raises(TinymemError, match="does not exist"):
        write_model(model, tmp_path / "no" / "such" / "dir.tflite")
    with pytest.raises(TinymemError, match="directory"):
        write_model(model, tmp_path)


@pytest.mark.skipif(not runtimes.have_tflm(), reason="tflite-micro not installed")
def test_explored_schedules_write_files_tflm_plans_as_predicted(tmp_path):
    """The contract with the explorer: each option's file gets the predicted arena."""
    path = _sample("resnet_skip_int8.tflite")
    ex = explored(path)
    tiled = [o for o in ex.options if o.steps]
    assert tiled  # the skip connections leave a peak that tiling lowers
    for o in ex.options:
        out = tmp_path / f"{o.id or o.kind}.tflite".replace("+", "_")
        write_model(o.model, out, offline_plan=o.offline)
        assert runtimes.tflm_arena(str(out)).head == o.plan.arena_bytes, o.id
    best = min(tiled, key=lambda o: o.plan.arena_bytes)
    _assert_bit_identical(path, serialize_model(best.model, offline_plan=best.offline), tmp_path)
