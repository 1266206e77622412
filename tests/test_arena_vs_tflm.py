"""arena_bytes must equal, byte for byte, the head the real TFLite Micro allocates."""

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
    # The live-set figure is a lower bound on any layout, TFLM's included.
    assert prof.peak_bytes <= real.head


def test_mobilenet_v2_035_is_the_classic_figure(mobilenet_035):
    # The MCU benchmark's per-layer head, as published for this architecture.
    prof = tinymem.profile(mobilenet_035, search_layout=False)
    assert prof.arena_bytes == 311_040
    assert prof.peak_layer.op == "DEPTHWISE_CONV_2D"


_WHEEL_REQUIRED_MODELS = ["arm_cnn_s_int8", "tfm_keyword_scrambled_8bit", "tfm_hello_world_int8",
                          "mlperf_ad01_int8", "tfm_magic_wand", "mlperf_kws_ref_model"]


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
    real = runtimes.tflm_arena(str(path), arena_size=prof.required_bytes)
    assert real.head == prof.head_bytes
    with pytest.raises(RuntimeError):
        runtimes.tflm_arena(str(path), arena_size=prof.required_bytes - 1)
