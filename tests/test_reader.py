"""The reader: real models read fully, damaged files fail with one clear error."""

from __future__ import annotations

from collections import Counter

import pytest
import tflite

import tinymem
from tinymem.errors import ModelError

from .conftest import all_model_params, sample_paths, shared_manifest, shared_param


_SCHEMA_TYPE_NAMES = {v: k.lower() for k, v in vars(tflite.TensorType).items()
                      if not k.startswith("_")}


@pytest.mark.parametrize("path", all_model_params())
def test_every_model_reads_and_profiles(path):
    model = tinymem.load_model(path)
    raw = tflite.Model.GetRootAs(path.read_bytes(), 0)  # the schema's own accessors
    assert len(model.subgraphs) == raw.SubgraphsLength()
    prof = tinymem.profile(model)
    assert prof.arena_bytes >= prof.peak_bytes > 0
    # One layer per operator run: none of these models has control flow.
    assert len(prof.layers) == raw.Subgraphs(0).OperatorsLength()
    for i, t in enumerate(model.main.tensors):
        assert t.dtype == _SCHEMA_TYPE_NAMES[raw.Subgraphs(0).Tensors(i).Type()], t.name
    manifest = shared_manifest().get(path.stem)
    if manifest:  # published facts about the file, gathered without tinymem
        ops = Counter(op.opcode for op in model.main.operators)
        expected = Counter({k: int(n) for k, n in
                            (item.rsplit(":", 1) for item in manifest["op_counts"].split(","))})
        assert ops == expected
        assert len(model.main.operators) == int(manifest["n_ops"])
        inputs = ",".join("x".join(str(d) for d in model.main.tensors[i].shape) + ":" +
                          model.main.tensors[i].dtype for i in model.main.inputs)
        assert inputs == manifest["inputs"]


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


@pytest.mark.parametrize("path", [shared_param("tfm_audio_preprocessor_int8")])
def test_custom_ops_profile_with_unknown_macs(path):
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
    # The reader took it, so the cut spared the tables: the plan is the full model's.
    assert prof.arena_bytes == tinymem.profile(sample_paths()[0]).arena_bytes
