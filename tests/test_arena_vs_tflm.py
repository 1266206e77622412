"""arena_bytes and the tail must equal, byte for byte, what the real TFLite Micro allocates."""

from __future__ import annotations

import pytest

import tinymem
from tinymem.verify import runtimes

from .conftest import all_model_params, shared_manifest

pytestmark = pytest.mark.skipif(not runtimes.have_tflm(), reason="tflite-micro not installed")


@pytest.mark.parametrize("path", all_model_params())
def test_arena_matches_tflite_micro(path):
    prof = tinymem.profile(path, search_layout=False)
    try:
        real = runtimes.tflm_arena(str(path))
    except RuntimeError as e:
        # Models TFLM refuses must still profile cleanly (they did, above).
        manifest = shared_manifest().get(path.stem)
        if manifest is not None and manifest["tflm_arena_head"]:
            pytest.fail(f"TFLM set this model up before but not now: {e}")
        pytest.skip(f"TFLM cannot set this model up: {e}")
    assert prof.arena_bytes == real.head
    assert prof.tail_bytes == real.tail
    # The live-set figure is a lower bound on any layout, TFLM's included.
    assert prof.peak_bytes <= real.head


def test_mobilenet_v2_035_is_the_classic_figure(mobilenet_035):
    # The MCU benchmark's per-layer head, as published for this architecture.
    prof = tinymem.profile(mobilenet_035, search_layout=False)
    assert prof.arena_bytes == 311_040
    assert prof.peak_layer.op == "DEPTHWISE_CONV_2D"


_WHEEL_REQUIRED_MODELS = ["arm_cnn_s_int8", "tfm_keyword_scrambled_8bit", "tfm_hello_world_int8",
                          "mlperf_ad01_int8", "tfm_magic_wand", "mlperf_kws_ref_model",
                          "tfm_audio_preprocessor_int8", "tfm_pr1341_id_model"]


@pytest.mark.parametrize("name", _WHEEL_REQUIRED_MODELS)
def test_required_bytes_is_the_wheels_smallest_arena(name):
    # Library calls without a target predict the host wheel: AllocateTensors succeeds
    # at required_bytes and fails one byte below (the temporary section used while
    # planning puts it 2,904 B above head + tail on keyword_scrambled).
    from .conftest import SHARED

    path = SHARED / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"shared model {name} absent")
    prof = tinymem.profile(path, search_layout=False)
    _sets_up_exactly_at(str(path), prof.required_bytes, prof.head_bytes)


def _sets_up_exactly_at(path: str, required: int, head: int) -> None:
    """TFLM sets the model up in `required` bytes, with the predicted head, and not in one less."""
    assert runtimes.tflm_arena(path, arena_size=required).head == head
    with pytest.raises(RuntimeError):
        runtimes.tflm_arena(path, arena_size=required - 1)


def _one_op_tails():
    from .tiny_models import BO, F32, I8, _opts, one_op_model

    def concat(n, dtype):
        return one_op_model(BO.CONCATENATION, [([1, 4], dtype, None)] * n, [([1, 4 * n], dtype)],
                            _opts("Concatenation", axis=1))

    cases = {f"concat{n}_{d}": (concat, n, dtype) for n in (1, 3, 10)
             for d, dtype in (("f32", F32), ("i8", I8))}
    cases["div_f32"] = (lambda: one_op_model(BO.DIV, [([1, 8], F32, None)] * 2, [([1, 8], F32)],
                                             _opts("Div")),)
    return cases


@pytest.mark.parametrize("name", sorted(_one_op_tails()))
def test_one_op_tail_equals_the_wheels(name, tmp_path):
    # The op's kernel data follows misaligned builtin options: its raw size decides the padding.
    make, *args = _one_op_tails()[name]
    path = make(*args).save(tmp_path / f"{name}.tflite")
    plan = tinymem.profile(path, search_layout=False)
    real = runtimes.tflm_arena(str(path))
    assert (real.head, real.tail) == (plan.head_bytes, plan.tail_bytes)


# Tiled models: explore adds CONCATENATION, STRIDED_SLICE, PAD and conv copies, whose
# kernel data on the x86-64 wheel differs from the firmware's (the wheel's CONCATENATION
# keeps compressed-input scratch indices beside its params).
_TILED_ON_THE_WHEEL = ["mobilenet_v2_035_144_int8", "resnet_skip_int8"]


@pytest.mark.parametrize("name", _TILED_ON_THE_WHEEL)
def test_tiled_options_tail_and_smallest_arena_on_the_wheel(name, tmp_path):
    from tinymem.writer import write_option

    from .conftest import SAMPLES, explored

    ex = explored(SAMPLES / f"{name}.tflite", max_overhead=0.10)
    recommended = ex.best_within(0.10)
    lowest_head = min(ex.options, key=lambda o: o.plan.head_bytes)
    tiled = [o for o in (recommended, lowest_head) if o.ops_added > 0]
    assert tiled, "explore tiles nothing on this model"
    for o in tiled:
        path = str(tmp_path / f"{o.id}.tflite")
        write_option(o, path)
        real = runtimes.tflm_arena(path)
        assert (real.head, real.tail) == (o.plan.head_bytes, o.plan.tail_bytes), o.id
        _sets_up_exactly_at(path, o.plan.required_bytes, real.head)
