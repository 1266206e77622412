"""The generated int8 CNNs of sample_models/bench/ (the Vela comparison) run in both runtimes.

Each model is set up and invoked on seeded random int8 inputs in the TFLite Micro
wheel and in LiteRT; TFLM's arena head is tinymem's prediction for the host wheel.
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from tinymem.memory.planner import plan_model
from tinymem.read.reader import load_model
from tinymem.verify import runtimes

from .conftest import SAMPLES

BENCH = SAMPLES / "bench"
# Named, not globbed: a model that goes missing fails instead of being skipped.
BENCH_MODELS = (
    "cnn_maxpool_int8", "detect_fpn_int8", "ds_cnn_m_int8", "inception_small_int8",
    "mobilenet_v1_025_128_int8", "mobilenet_v3_small_050_144_int8", "resnet20_cifar_int8",
    "squeezenet_int8", "unet_small_int8",
)


def _litert(path):
    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def _inputs(it, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, d["shape"], dtype=np.int8) for d in it.get_input_details()]


def test_every_bench_file_is_named():
    assert sorted(p.stem for p in BENCH.glob("*.tflite")) == sorted(BENCH_MODELS)


@pytest.mark.parametrize("name", BENCH_MODELS)
def test_bench_model_runs_in_litert_and_tflm(name):
    path = BENCH / f"{name}.tflite"
    assert path.stat().st_size <= 600 * 1024  # small enough to commit
    it = _litert(path)
    assert [d["dtype"] for d in it.get_input_details()] == [np.int8]  # full-integer int8
    assert {d["dtype"] for d in it.get_output_details()} == {np.int8}
    x = _inputs(it, 0)
    for d, v in zip(it.get_input_details(), x):
        it.set_tensor(d["index"], v)
    it.invoke()
    expected = [it.get_tensor(d["index"]) for d in it.get_output_details()]
    arena, runs = runtimes.tflm_run(str(path), [x])
    got = runs[0]
    assert [a.shape for a in got] == [e.shape for e in expected]  # TFLM gives every output
    assert all(a.dtype == np.int8 for a in got)
    assert plan_model(load_model(str(path))).head_bytes == arena.head  # exact arena head
