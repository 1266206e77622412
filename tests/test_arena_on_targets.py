"""The arena a board must set, against the real TFLM firmware in QEMU (../shared/targets).

For each target (core x kernel set), tinymem's predicted head and tail equal
the firmware's recorded ones, and `required_bytes` is the smallest working
arena: AllocateTensors and Invoke succeed at it and fail one byte below.
CMSIS-NN runs take ~0.3 s, so every model runs on Cortex-M4 and the small
ones on the other cores; reference kernels (up to a minute on big models)
run the small models on Cortex-M4 only.
"""

from __future__ import annotations

import pytest

from tinymem.verify import firmware
from tinymem.memory.planner import plan_model
from tinymem.read.reader import load_model
from tinymem.targets import resolve_target

from .conftest import need_firmware, sample_paths, shared_paths

M4_CMSIS = resolve_target("cortex-m4", "cmsis-nn")
CMSIS_TARGETS = [resolve_target(c, k) for c, k in (
    ("cortex-m3", "cmsis-nn"), ("cortex-m7", "cmsis-nn"), ("cortex-m55", "cmsis-nn"),
    ("cortex-m55", "cmsis-nn-size"))]
M4_REF = resolve_target("cortex-m4", "reference")

ALL = sample_paths() + shared_paths()
# Small in MACs: quick under reference kernels and on every core.
SMALL = [p for p in ALL if p.stem in {
    "arm_cnn_s_int8", "arm_ds_cnn_s_int8", "mlperf_ad01_int8", "mlperf_kws_ref_model",
    "mlperf_str_ww_ref_model", "tfm_hello_world_int8", "tfm_keyword_scrambled_8bit",
    "tfm_magic_wand", "tfm_micro_speech_quantized", "tfm_audio_preprocessor_int8",
    "tfm_dtln_noise_suppression", "mltk_fingerprint_signature_generator", "conv1d_audio_int8",
    "ds_cnn_kws_int8", "resnet_skip_int8", "mlperf_ic_resnet8_int8"}]


def _cases(targets, paths):
    return [pytest.param(t, p, id=f"{t.name}-{t.kernels.value}:{p.stem}")
            for t in targets for p in paths]


def _measured(target, path, arena=None):
    run = firmware.run_firmware(path, target, arena=arena)
    return run


@pytest.mark.parametrize("target,path", _cases([M4_CMSIS], ALL) + _cases(CMSIS_TARGETS, SMALL)
                         + _cases([M4_REF], SMALL))
def test_head_and_tail_equal_the_firmware(target, path):
    need_firmware(target)
    real = _measured(target, path)
    if not real.allocate_ok:
        pytest.skip(f"TFLM on {target.label()} cannot set this model up")
    model = load_model(str(path))
    plan = plan_model(model, target=target)
    assert (plan.head_bytes, plan.tail_bytes) == (real.head, real.tail)
    if len(model.subgraphs) == 1:
        # Each kernel's scratch requests, as the firmware traced them per node.
        predicted = {}
        for b in plan.requests.buffers:
            if b.tensor is None and b.size > 0:
                predicted.setdefault(b.op, []).append(b.size)
        traced = {node: [s for s in sizes if s > 0] for node, _, sizes in real.raw["scratch_by_node"]}
        assert predicted == {k: v for k, v in traced.items() if v}


@pytest.mark.parametrize("target,path", _cases([M4_CMSIS], SMALL)
                         + _cases([resolve_target("cortex-m55", "cmsis-nn")], SMALL[:6]))
def test_required_bytes_is_the_smallest_working_arena(target, path):
    need_firmware(target)
    plan = plan_model(load_model(str(path)), target=target)
    at = _measured(target, path, plan.required_bytes)
    if not at.allocate_ok and _measured(target, path).allocate_ok is False:
        pytest.skip(f"TFLM on {target.label()} cannot set this model up")
    assert at.ok, f"fails at the predicted {plan.required_bytes} B"
    assert not _measured(target, path, plan.required_bytes - 1).ok


def test_required_differs_from_head_plus_tail_where_the_firmware_says():
    # The two examples, on Cortex-M4 with CMSIS-NN: end alignment puts the
    # smallest arena below head + tail; the temporary section pushes it above.
    by_name = {p.stem: p for p in ALL}
    for name, smallest in (("arm_cnn_s_int8", 16_292), ("mlperf_ad01_int8", 3_116)):
        if name not in by_name:
            pytest.skip(f"shared model {name} absent")
        plan = plan_model(load_model(str(by_name[name])), target=M4_CMSIS)
        assert plan.required_bytes == smallest


def test_explore_recommendation_runs_on_the_firmware_as_predicted(tmp_path):
    # The recommended rewrite's arena to set, measured on the target, is the predicted
    # one, and its outputs there are the original's, byte for byte.
    from tinymem.writer import write_option
    from tinymem.schedules.explore import explore
    from tinymem.verify.compare import verify_on_firmware

    from .conftest import SAMPLES

    need_firmware(M4_CMSIS)
    src = SAMPLES / "resnet_skip_int8.tflite"
    ex = explore(load_model(str(src)), budget=48 * 1024, target=M4_CMSIS)
    rec = ex.recommended
    assert rec is not None and rec.kind != "baseline"
    out = tmp_path / "rec.tflite"
    write_option(rec, str(out))
    report = verify_on_firmware(str(src), str(out), M4_CMSIS, seed=1)
    assert report.outputs_identical
    assert (report.rewritten.head, report.rewritten.tail) == (rec.head_bytes, rec.tail_bytes)
    assert report.rewritten.works_at_required
    assert not firmware.run_firmware(out, M4_CMSIS, arena=rec.required_bytes - 1).ok


def test_verify_without_a_runner_says_what_is_missing(tmp_path):
    from tinymem.errors import TinymemError
    from tinymem.verify.compare import verify_on_firmware

    from .conftest import SAMPLES

    src = str(SAMPLES / "ds_cnn_kws_int8.tflite")
    with pytest.raises(TinymemError, match="no firmware runner"):
        verify_on_firmware(src, src, M4_CMSIS, folder=str(tmp_path))


@pytest.mark.parametrize("n_inputs", [1, 3, 10])
def test_one_op_concatenation_tail_equals_the_firmware(n_inputs, tmp_path):
    # CONCATENATION's 24-byte OpData follows misaligned builtin options: its raw size,
    # not the 16-aligned one, decides the padding.
    from .tiny_models import BO, I8, _opts, one_op_model

    need_firmware(M4_CMSIS)
    g = one_op_model(BO.CONCATENATION, [([1, 4], I8, None)] * n_inputs,
                     [([1, 4 * n_inputs], I8)], _opts("Concatenation", axis=1))
    path = g.save(tmp_path / "concat.tflite")
    real = _measured(M4_CMSIS, path)
    plan = plan_model(load_model(str(path)), target=M4_CMSIS)
    assert (plan.head_bytes, plan.tail_bytes) == (real.head, real.tail)
