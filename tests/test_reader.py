"""The reader: real models read fully, damaged files fail with one clear error."""

from __future__ import annotations

import pytest

import tinymem
from tinymem.errors import ModelError

from .conftest import all_model_params, sample_paths


@pytest.mark.parametrize("path", all_model_params())
def test_every_model_reads_and_profiles(path):
    model = tinymem.load_model(path)
    assert model.subgraphs and model.main.operators
    prof = tinymem.profile(model)
    assert prof.arena_bytes >= prof.peak_bytes > 0
    assert len(prof.layers) == sum(len(sg.operators) for sg in model.subgraphs) or prof.layers
    for t in model.main.tensors:
        assert t.dtype


def test_options_are_read(mobilenet_035):
    model = tinymem.load_model(mobilenet_035)
    first = model.main.operators[0]
    assert first.opcode == "CONV_2D"
    assert first.options["stride_h"] == 2 and first.options["padding"] == "SAME"
    dw = next(op for op in model.main.operators if op.opcode == "DEPTHWISE_CONV_2D")
    assert dw.options["depth_multiplier"] == 1
    w = model.main.tensors[first.inputs[1]]
    assert w.kind == "constant" and w.quantization.per_channel
    assert len(w.quantization.scale) == w.shape[0]


def test_custom_ops_profile_with_unknown_macs():
    from .conftest import SHARED

    path = SHARED / "tfm_audio_preprocessor_int8.tflite"
    if not path.exists():
        pytest.skip("shared models absent")
    prof = tinymem.profile(path)
    assert any(op.startswith("CUSTOM:Signal") for op in prof.unknown_mac_ops)
    assert prof.arena_bytes > 0


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello world, this is not a model", "not a TFLite flatbuffer"),
    (b"\x10\x00\x00\x00TFL3", "truncated|corrupted"),
])
def test_bad_bytes_raise_model_error(tmp_path, content, message):
    p = tmp_path / "bad.tflite"
    p.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        tinymem.load_model(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        tinymem.load_model(tmp_path / "nope.tflite")
    with pytest.raises(ModelError, match="directory"):
        tinymem.load_model(tmp_path)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_real_model(tmp_path, cut):
    data = sample_paths()[0].read_bytes()
    p = tmp_path / "cut.tflite"
    p.write_bytes(data[: int(len(data) * cut)])
    try:
        prof = tinymem.profile(p)
    except ModelError:
        return
    assert prof.arena_bytes >= 0  # a truncation that only cut unused weights
