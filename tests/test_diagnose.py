"""When nothing lowers the arena, explore says why in one line (one case a row)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tinymem
from tinymem.schedules.diagnose import Wall
from tinymem.schedules.explore import explore

from .conftest import SAMPLES, shared_param
from .tiny_models import BO, F32, I8, I32, ModelBuilder, _opts, transpose_conv_model


def _fc_on_big_input(n_in: int = 640) -> ModelBuilder:
    g = ModelBuilder()
    x = g.tensor([1, n_in], F32, name="x")
    g.io([x], [g.fc(x, 16)])
    return g


def _transpose_at_peak() -> ModelBuilder:
    g = ModelBuilder()
    x = g.tensor([1, 16], F32, name="x")
    y = g.fc(x, 1024)
    shape = g.tensor([2], I32, data=[32, 32])
    r = g.tensor([32, 32], F32)
    g.op(BO.RESHAPE, [y, shape], [r], _opts("Reshape", newShape=[32, 32]))
    perm = g.tensor([2], I32, data=[1, 0])
    t = g.tensor([32, 32], F32)
    g.op(BO.TRANSPOSE, [r, perm], [t], _opts("Transpose"))
    g.io([x], [t])
    return g


def _parse(g: ModelBuilder):
    return tinymem.parse_model(g.to_bytes())


@pytest.mark.parametrize("make, wall", [
    (lambda: _parse(_fc_on_big_input()), Wall.PEAK_IS_INPUT),
    (lambda: _parse(_transpose_at_peak()), Wall.PEAK_OP_UNSPLITTABLE),
    # One output channel: nothing to split its accumulator by.
    (lambda: _parse(transpose_conv_model(I8, cin=3, cout=1, H=16, W=16)), Wall.PEAK_IS_SCRATCH),
    (lambda: _parse(_fc_on_big_input(4)), Wall.TAIL_DOMINATES),
    (lambda: tinymem.load_model(SAMPLES / "ds_cnn_kws_int8.tflite"), Wall.AT_LIVE_SET_BOUND),
])
def test_wall_named_when_nothing_lowers_the_arena(make, wall):
    ex = explore(make())
    assert min(o.arena_bytes for o in ex.options) == ex.baseline.arena_bytes
    assert ex.diagnosis is not None and ex.diagnosis.wall is wall
    assert ex.notes == [ex.diagnosis.text] and "would help" in ex.notes[0]
    assert "\n" not in ex.notes[0]


@pytest.mark.parametrize("path", [shared_param("arm_mobilenet_v2_1.0_224_uint8")])
def test_model_the_target_cannot_run_is_named(path):
    ex = explore(tinymem.load_model(path))
    assert ex.diagnosis is not None and ex.diagnosis.wall is Wall.MODEL_UNSUPPORTED
    assert "uint8" in ex.diagnosis.text


def test_no_diagnosis_when_an_option_is_lower():
    ex = explore(tinymem.load_model(SAMPLES / "conv1d_audio_int8.tflite"))
    assert ex.diagnosis is None and ex.notes == []


def test_diagnosis_in_json_and_view(tmp_path):
    path = _fc_on_big_input().save(tmp_path / "fc.tflite")
    run = lambda *a: subprocess.run([sys.executable, "-m", "tinymem.cli", "explore", str(path), *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    doc = json.loads(run("--json").stdout)
    assert doc["diagnosis"]["reason"] == "peak_is_input"
    assert doc["notes"] == [doc["diagnosis"]["text"]]
    assert "note: the peak" in run().stdout


@pytest.mark.parametrize("path", [shared_param("mlperf_kws_ref_model")])
def test_split_that_lowers_only_the_head_is_named(path):
    # On the M4 with CMSIS-NN, cached strips lower the KWS net's head, but the ops
    # they add grow the tail past the baseline's arena to set: the line says so,
    # with that option's figures.
    from tinymem.targets import DEFAULT_TARGET

    ex = explore(tinymem.load_model(path), target=DEFAULT_TARGET)
    low = min(ex.options, key=lambda o: (o.arena_bytes, o.required_bytes))
    assert low.arena_bytes < ex.baseline.arena_bytes
    assert min(o.required_bytes for o in ex.options) == ex.baseline.required_bytes
    assert ex.diagnosis is not None and ex.diagnosis.wall is Wall.HEAD_ONLY
    assert f"{low.arena_bytes:,} B" in ex.diagnosis.text
    assert f"{low.required_bytes:,} B" in ex.diagnosis.text and "would help" in ex.diagnosis.text
