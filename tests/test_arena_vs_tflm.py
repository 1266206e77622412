"""arena_bytes must equal, byte for byte, the head the real TFLite Micro allocates."""

from __future__ import annotations

import pytest

import tinymem
from tinymem import runtimes

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
