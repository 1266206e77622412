"""Fused depthwise tiling (FDT), checked against LiteRT and TFLite Micro.

For the FDT options explore finds on every sample and shared model: no
recompute (the MAC count grows only by the merge ADDs of a sum-merge), the
written file loads in LiteRT and gives the original's outputs and every
common intermediate tensor bit for bit (int8) or within 1e-5 relative error
(float), and TFLite Micro's arena for it is the one explore predicted.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymem
from tinymem.verify import runtimes
from tinymem.memory.planner import plan_model
from tinymem.ops import rule_for
from tinymem.schedules.explore import explore, model_macs
from tinymem.schedules.fdt import FdtStep, Path, PathFinder, fdt_split, fdt_steps
from tinymem.writer import write_model, write_option

from .conftest import SAMPLES, all_model_params, explored, shared_param

needs_litert = pytest.mark.skipif(not runtimes.have_litert(), reason="needs ai-edge-litert")

SEEDS = (0, 1, 2)
FLOAT_RTOL = 1e-5


def _merge_macs(model) -> int:
    """MACs of the ops FDT added to merge partitions (ADDs of a sum-merge)."""
    sg = model.main
    return sum(rule_for(op).macs(op, sg) or 0 for op in sg.operators
               if op.tag == "fdt" and op.source_op is None)


def _compare(original: str, rewritten: str) -> int:
    """Run both files in LiteRT on seeded inputs; assert every tensor with the
    same (unique) name, shape and dtype agrees. Returns how many were compared."""
    try:
        details = runtimes.litert_input_details(original)
        inputs = [runtimes.random_inputs(details, s) for s in SEEDS]
        ref = runtimes.litert_run(original, inputs, named=True)
    except (RuntimeError, ValueError) as e:
        pytest.skip(f"LiteRT refuses the original: {e}")
    got = runtimes.litert_run(rewritten, inputs, named=True)
    names = runtimes.unique_tensor_names(original) & runtimes.unique_tensor_names(rewritten)
    compared = 0
    for r, g in zip(ref, got):
        for name in names:
            a, b = r.get(name), g.get(name)
            if a is None or b is None or a.shape != b.shape or a.dtype != b.dtype:
                continue
            compared += 1
            if a.dtype.kind == "f":
                scale = float(np.max(np.abs(a))) if a.size else 0.0
                err = float(np.max(np.abs(a - b))) if a.size else 0.0
                assert err <= FLOAT_RTOL * max(scale, 1e-30), (name, err, scale)
            else:
                assert np.array_equal(a, b), name
    return compared


def _check_tflm_arena(original: str, rewritten: str, predicted: int) -> None:
    if not runtimes.have_tflm():
        return
    try:
        head = runtimes.tflm_arena(rewritten).head
    except RuntimeError:
        try:
            runtimes.tflm_arena(original)
        except RuntimeError:
            return  # TFLite Micro cannot set up the original either
        raise
    assert head == predicted


def _fdt_options(ex):
    """The FDT options worth checking: the lowest arena, and the lowest arena
    with a different kind (e.g. with an offline layout)."""
    opts = sorted((o for o in ex.options if "fdt" in o.kind),
                  key=lambda o: (o.arena_bytes, o.macs))
    chosen = []
    for o in opts:
        if all(o.kind != c.kind for c in chosen):
            chosen.append(o)
    return chosen[:2]


# What the FDT-only search is expected to find on each model. A model that
# finds nothing says why, and the test checks that reason too, so a broken
# search fails instead of turning into skips.
FINDS = "finds a lower arena"
NO_PATH = "no channel path covers the peak op"
NO_GAIN = "paths cover the peak op, but no split lowers the arena"
UNSUPPORTED = "the target has no kernels for the model's ops, so no split can be offered"
FDT_EXPECTED = {
    "cnn_float32": FINDS, "conv1d_audio_int8": FINDS, "mobilenet_v2_035_144_int8": FINDS,
    "mobilenet_v2_100_224_int8": FINDS, "arm_ds_cnn_l_int8": FINDS,
    "mobilenet_v2_035_144_uint8in": FINDS, "mcunet_320kb_1mb_imagenet": FINDS,
    "mlperf_vww_96_int8": FINDS, "mltk_kws_mobilenetv2": FINDS,
    "mltk_rock_paper_scissors": FINDS, "tfm_magic_wand": FINDS, "tfm_mobilenet_v2_pt_int8": FINDS,
    "tfm_person_detect": FINDS, "tinyengine_detection": FINDS, "tinyengine_mcunetv2_large": FINDS,
    "tinyengine_vww": FINDS,
    # Ranked by the host's own scratch (FDT once used the M4 CMSIS-NN kernels'),
    # a 12-part split of its first two layers lowers the arena to set.
    "mlperf_str_ww_ref_model": FINDS,
    # The peak is at an op FDT cannot split or follow: LSTM, SVDF, custom signal ops.
    "tfm_dtln_noise_suppression": NO_PATH,
    "tfm_keyword_scrambled_8bit": NO_PATH, "tfm_audio_preprocessor_int8": NO_PATH,
    # The peak op (an int8 FULLY_CONNECTED or conv) can be split alone, but its
    # parts' concatenation costs what the split saves (no sum merge for int8).
    "mlperf_ad01_int8": NO_GAIN, "tfm_hello_world_int8": NO_GAIN,
    "tfm_micro_speech_quantized": NO_GAIN, "arm_cnn_s_int8": NO_GAIN,
    # Residual nets and DS-CNNs, and two more: paths exist, but at the peak the
    # search finds no split that lowers the greedy arena.
    "resnet_skip_int8": NO_GAIN, "mlperf_ic_resnet8_int8": NO_GAIN,
    "ds_cnn_kws_int8": NO_GAIN, "arm_ds_cnn_s_int8": NO_GAIN, "mlperf_kws_ref_model": NO_GAIN,
    "mltk_fingerprint_signature_generator": NO_GAIN, "tfm_pr1341_id_model": NO_GAIN,
    # uint8 convolutions: TFLM has no kernel for them, so no split of them is offered.
    "arm_mobilenet_v2_1.0_224_uint8": UNSUPPORTED,
}


def _paths_through(model, op: int) -> int:
    sg = model.main
    finder = PathFinder(sg)
    return sum(1 for first in range(len(sg.operators)) for p, _ in finder.paths_from(first)
               if p.first <= op <= p.last)


def _peak_op(plan) -> int:
    steps = [s for s in plan.requests.steps if s.subgraph == 0]
    return max(steps, key=lambda s: plan.live[s.scope]).op


@pytest.mark.parametrize("path", all_model_params())
def test_fdt_finds_what_is_expected(path):
    expected = FDT_EXPECTED.get(path.stem)
    assert expected is not None, f"add {path.stem} to FDT_EXPECTED"
    ex = explored(path, fdt_only=True)
    assert bool(_fdt_options(ex)) == (expected == FINDS), expected
    if expected == UNSUPPORTED:
        from tinymem.ops.support import check_support

        assert not check_support(ex.model, ex.target).runs
    elif expected != FINDS:
        through = _paths_through(ex.model, _peak_op(ex.baseline.plan))
        assert (through == 0) == (expected == NO_PATH), (expected, through)


@needs_litert
@pytest.mark.parametrize("path", [p for p in all_model_params()
                                  if FDT_EXPECTED.get(p.values[0].stem) == FINDS])
def test_fdt_options_are_exact(path, tmp_path):
    ex = explored(path, fdt_only=True)
    options = _fdt_options(ex)
    assert options
    for o in options:
        assert o.arena_bytes < ex.baseline.arena_bytes
        # Nothing is recomputed: only a sum-merge's ADDs are new work.
        assert o.macs - ex.baseline.macs == _merge_macs(o.model), o.description
        out = tmp_path / f"{o.id}.tflite"
        write_option(o, out)
        assert _compare(str(path), str(out)) > 0
        _check_tflm_arena(str(path), str(out), o.arena_bytes)


@needs_litert
@pytest.mark.parametrize("path", [pytest.param(SAMPLES / "cnn_float32.tflite", id="cnn_float32"),
                                  pytest.param(SAMPLES / "conv1d_audio_int8.tflite",
                                               id="conv1d_audio_int8"),
                                  shared_param("arm_ds_cnn_l_int8", id="arm_ds_cnn_l_int8")])
def test_default_explore_fdt_options(path, tmp_path):
    # The explorer's default sources include FDT; its options (also mixed with
    # spatial tiling) are exact too.
    ex = explored(path)
    options = [o for o in ex.options if "fdt" in o.kind]
    assert options
    for o in options:
        if all(s.kind == "fdt" for s in o.steps):
            assert o.macs - ex.baseline.macs == _merge_macs(o.model), o.description
        out = tmp_path / f"{o.id}.tflite"
        write_option(o, out)
        assert _compare(str(path), str(out)) > 0
        _check_tflm_arena(str(path), str(out), o.arena_bytes)


@pytest.fixture(scope="module")
def cnn_float():
    return tinymem.load_model(SAMPLES / "cnn_float32.tflite")


def _sum_paths(model):
    sg = model.main
    finder = PathFinder(sg)
    return [p for first in range(len(sg.operators))
            for p, _ in finder.paths_from(first) if p.merge == "sum"]


@needs_litert
@pytest.mark.parametrize("path", [pytest.param(SAMPLES / "cnn_float32.tflite", id="sample:cnn_float32"),
                                  shared_param("tfm_magic_wand")])
def test_sum_merge_is_exact_for_float(path, tmp_path):
    model = tinymem.load_model(path)
    paths = _sum_paths(model)
    assert paths, "no conv/FC split by input channels found"
    base_macs = model_macs(model)
    for k, p in enumerate(paths):
        parts = 3
        m2 = fdt_split(model, p, parts)
        adds = [op for op in m2.main.operators if op.opcode == "ADD" and op.source_op is None]
        assert len(adds) == parts - 1
        exit_elems = m2.main.tensors[adds[-1].outputs[0]].num_elements
        assert model_macs(m2) - base_macs == (parts - 1) * exit_elems
        out = tmp_path / f"sum{k}.tflite"
        write_model(m2, out)
        assert _compare(str(path), str(out)) > 0
        _check_tflm_arena(str(path), str(out), plan_model(m2).arena_bytes)


def _fc_stack(path, widths=(128, 2048, 64, 10), seed=0):
    """A float fully-connected stack (no converter needed: built as IR and written)."""
    import copy

    from tinymem.graph.ir import Operator, Subgraph, Tensor

    base = tinymem.load_model(SAMPLES / "cnn_float32.tflite")
    rng = np.random.default_rng(seed)
    tensors, ops = [], []

    def tensor(name, shape, data=None):
        tensors.append(Tensor(index=len(tensors), name=name, shape=tuple(shape), dtype="float32",
                              buffer=-1 if data is not None else 0, has_data=data is not None,
                              data=data))
        return len(tensors) - 1

    x = cur = tensor("input", (1, widths[0]))
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        w = tensor(f"fc{i}/w", (b, a),
                   (rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32))
        bias = tensor(f"fc{i}/b", (b,), (0.1 * rng.standard_normal(b)).astype(np.float32))
        y = tensor(f"fc{i}/out", (1, b))
        ops.append(Operator(index=i, opcode="FULLY_CONNECTED", inputs=(cur, w, bias), outputs=(y,),
                            options={"fused_activation_function": "RELU" if i < len(widths) - 2
                                     else "NONE", "keep_num_dims": False},
                            options_type="FullyConnectedOptions", builtin_code=9, origin=i))
        cur = y
    model = copy.copy(base)
    model.subgraphs = [Subgraph(index=0, name="main", tensors=tensors, operators=ops,
                                inputs=(x,), outputs=(cur,))]
    model.signature_defs, model.metadata = [], {}
    write_model(model, path)
    return path


@needs_litert
def test_float_fc_stack(tmp_path):
    # A global receptive field at every layer: spatial tiling has nothing to
    # cut, FDT splits the wide hidden layer and sums the next FC's partials.
    path = _fc_stack(tmp_path / "fc_stack.tflite")
    model = tinymem.load_model(path)
    ex = explore(model, sources=[fdt_steps])
    split = [o for o in ex.options if "fdt" in o.kind]
    # The head beam splits finer (the head halves at least); the arena-to-set beam
    # keeps a coarser split whose parts' tail (OpData per part) still pays.
    assert min(o.arena_bytes for o in split) * 2 <= ex.baseline.arena_bytes
    best = min(split, key=lambda o: o.required_bytes)
    assert best.required_bytes < ex.baseline.required_bytes
    assert "sum-merge" in best.description
    assert 0 < best.macs - ex.baseline.macs == _merge_macs(best.model)
    out = tmp_path / "fc_stack_fdt.tflite"
    write_option(best, out)
    assert _compare(str(path), str(out)) > 0
    _check_tflm_arena(str(path), str(out), best.arena_bytes)


def test_no_sum_merge_for_int8():
    model = tinymem.load_model(SAMPLES / "conv1d_audio_int8.tflite")
    assert not _sum_paths(model)


def test_path_rules(cnn_float):
    sg = cnn_float.main
    finder = PathFinder(sg)
    found = {(p.first, p.last, p.merge) for f in range(len(sg.operators))
             for p, _ in finder.paths_from(f)}
    # conv -> max pool, merged by concatenation; conv -> pool -> reshape -> FC
    # merged by partial sums (the FC reads the flattened partitions).
    assert (0, 1, "concat") in found
    assert (2, 5, "sum") in found
    # SOFTMAX is not channel-wise; a one-op path is an op split by output
    # channels (for its scratch), never a channel-wise op alone.
    assert not any(last == 6 for _, last, _ in found)
    assert all(rule_for(sg.operators[first]).channels == "split_out"
               for first, last, merge in found if first == last)
    with pytest.raises(ValueError):
        fdt_split(cnn_float, Path(0, 5, 6, "concat"), 2)


def test_steps_interface(cnn_float):
    plan = plan_model(cnn_float)
    steps = list(fdt_steps(cnn_float, 1, plan.arena_bytes, plan.target))
    assert steps and all(isinstance(s, FdtStep) for s in steps)
    s = steps[0]
    assert s.kind == "fdt" and s.grid is None and s.parts >= 2
    assert s.label.startswith("fdt ops ") and f"{s.parts} parts" in s.label
    hash(s)  # the explorer keys its cache on steps
    m2 = s.apply(cnn_float)
    created = [op for op in m2.main.operators if op.tag == "fdt"]
    assert created and all(op.origin is not None for op in created)
    # Partition-major: part 0's ops all run before part 1's.
    assert plan_model(m2).arena_bytes < plan.arena_bytes
    # Per path, fewest parts first (the explorer's cost cut-off relies on it).
    by_path: dict = {}
    for st in steps:
        by_path.setdefault(st.segment, []).append(st.parts)
    assert all(v == sorted(v) for v in by_path.values())
