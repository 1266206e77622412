"""In-place execution: which ops may run over an input, and the real runtimes agreeing.

The rules (one a line): an op with an `InPlace` rule may write its output over
an input it reads for the last time, of the same dtype and size; never over
a model output; over a model input (or memory shared with one) only when the
op leaves the bytes intact or the user allows it. Written files are checked
in LiteRT, the TFLite Micro wheel (outputs bit for bit, the predicted head)
and the Cortex-M4 CMSIS-NN firmware (outputs byte for byte).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinymem
from tinymem.verify import runtimes
from tinymem.memory.aliases import find_aliases
from tinymem.memory.layout import best_layout
from tinymem.memory.planner import plan_model
from tinymem.schedules.explore import explore
from tinymem.verify.compare import verify_models

from .in_place_models import add_over_input, residual_int8
from .tiny_models import BO, F32, I8, I16, I32, ModelBuilder, _opts

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT.parent / "shared" / "targets"


def _chain(first_op, *, shape=(1, 4, 4, 8), out_dtype=I8, keep_input=False,
           input_is_output=False, reshape_first=False):
    """input [-> RESHAPE] -> first_op -> RELU -> output; returns the model."""
    g = ModelBuilder()
    x = g.tensor(list(shape), I8, scale=0.1, zp=0, name="x")
    src = x
    if reshape_first:
        shp = g.tensor([2], I32, data=[1, int(np.prod(shape))])
        src = g.tensor([1, int(np.prod(shape))], I8, scale=0.1, zp=0)
        g.op(BO.RESHAPE, [x, shp], [src], _opts("Reshape", newShape=[1, int(np.prod(shape))]))
    s = g.tensor(list(g.main.tensors[src].shape), out_dtype, scale=0.1, zp=0)
    if first_op == "QUANTIZE":
        g.op(BO.QUANTIZE, [src], [s])
    elif first_op == "SQUEEZE":
        g.op(BO.SQUEEZE, [src], [s], _opts("Squeeze", squeezeDims=[]))
    else:
        g.op(getattr(BO, first_op), [src], [s])
    r = g.tensor(list(g.main.tensors[s].shape), out_dtype, scale=0.1, zp=0)
    g.op(BO.RELU, [s], [r])
    outs = [r] + ([src] if input_is_output else [])
    if keep_input:  # a later op reads the input again
        z = g.tensor(list(g.main.tensors[src].shape), I8, scale=0.1, zp=0)
        g.op(BO.RELU6, [src], [z])
        outs.append(z)
    g.io([x], outs)
    return tinymem.parse_model(g.to_bytes())


def _aliased_ops(model, overwrite_inputs=False) -> list[str]:
    req = plan_model(model, offline=[]).requests
    return [model.main.operators[a.op].opcode
            for a in find_aliases(model, req, overwrite_inputs)]


@pytest.mark.parametrize("model, overwrite, expected", [
    # a writing op over the model input: only when the user allows it
    (lambda: _chain("RELU6"), False, ["RELU"]),
    (lambda: _chain("RELU6"), True, ["RELU6", "RELU"]),
    # RESHAPE leaves the bytes as they are: it may alias a model input freely,
    # but a writing op after it would overwrite the input's memory
    (lambda: _chain("RELU6", reshape_first=True), False, ["RESHAPE", "RELU"]),
    (lambda: _chain("RELU6", reshape_first=True), True, ["RESHAPE", "RELU6", "RELU"]),
    # an input read again later is not the op's to overwrite (its last reader may)
    (lambda: _chain("RELU6", keep_input=True), True, ["RELU", "RELU6"]),
    # a model output is never overwritten
    (lambda: _chain("RELU6", reshape_first=True, input_is_output=True), True,
     ["RESHAPE", "RELU"]),
    # QUANTIZE in place only between equal sizes
    (lambda: _chain("QUANTIZE"), True, ["QUANTIZE", "RELU"]),
    (lambda: _chain("QUANTIZE", out_dtype=I16), True, ["RELU"]),
    # SQUEEZE memcpy()s unconditionally (undefined on one buffer): no rule
    (lambda: _chain("SQUEEZE", shape=(1, 1, 4, 8)), True, ["RELU"]),
])
def test_alias_rules(model, overwrite, expected):
    assert _aliased_ops(model(), overwrite) == expected


def test_broadcast_add_overwrites_only_the_full_shape_operand():
    m = tinymem.parse_model(add_over_input(broadcast=True).to_bytes())
    req = plan_model(m, offline=[]).requests
    (a, *rest) = [a for a in find_aliases(m, req, overwrite_inputs=True)
                  if m.main.operators[a.op].opcode == "ADD"]
    assert not rest and m.main.tensors[a.input].name == "x"


def test_add_over_model_inputs_needs_the_flag():
    m = tinymem.parse_model(add_over_input().to_bytes())
    assert _aliased_ops(m) == ["RELU"]
    assert _aliased_ops(m, overwrite_inputs=True) == ["ADD", "RELU"]


def test_layout_live_set_counts_aliased_tensors_once():
    m = tinymem.parse_model(residual_int8().to_bytes())
    base = plan_model(m)
    lay = best_layout(m, base)
    assert lay is not None and lay.plan.arena_bytes < base.arena_bytes
    # the re-measured plan knows the offline plan runs ops in place
    assert lay.plan.peak_bytes <= lay.plan.arena_bytes < base.peak_bytes


needs_runtimes = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                    reason="needs ai-edge-litert and tflite-micro")


def _explore_write(src: Path, out: Path, *flags: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "tinymem.cli", "explore", str(src), "-o",
                           str(out), *flags], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


@needs_runtimes
def test_written_in_place_layout_is_exact_and_planned_as_predicted(tmp_path):
    src = residual_int8().save(tmp_path / "res.tflite")
    out = tmp_path / "res.small.tflite"
    _explore_write(src, out)
    ex = explore(tinymem.load_model(src))
    chosen = ex.recommended
    assert chosen.kind == "layout" and "in place" in chosen.description
    report = verify_models(str(src), str(out), runs=3)
    assert all(r.ok for r in report.results), [(r.runtime, r.error) for r in report.results]
    assert runtimes.tflm_arena(str(out)).head == chosen.arena_bytes
    assert chosen.arena_bytes < runtimes.tflm_arena(str(src)).head


@needs_runtimes
def test_overwriting_model_inputs_is_exact_when_asked(tmp_path):
    src = add_over_input().save(tmp_path / "add.tflite")
    plain, over = tmp_path / "plain.tflite", tmp_path / "over.tflite"
    _explore_write(src, plain)
    _explore_write(src, over, "--overwrite-inputs")
    heads = [runtimes.tflm_arena(str(p)).head for p in (src, plain, over)]
    assert heads[0] == heads[1] > heads[2]  # the ADD could only run over an input
    report = verify_models(str(src), str(over), runs=3)
    assert all(r.ok for r in report.results), [(r.runtime, r.error) for r in report.results]


def _firmware_outputs(model: Path, inputs: Path, out: Path) -> dict:
    import json

    out.mkdir()
    env = dict(os.environ, INPUTS=str(inputs), OUTPUTS=str(out))
    proc = subprocess.run([str(TARGETS / "run.sh"), str(model), "m4", "cmsis_nn"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["allocate"] == "ok" and res["invoke"] == "ok", res
    res["output"] = (out / "output_0.bin").read_bytes()
    return res


@pytest.mark.skipif(not (TARGETS / "run.sh").exists() or shutil.which("qemu-system-arm") is None,
                    reason="needs qemu-system-arm and ../shared/targets")
@needs_runtimes
def test_in_place_plan_runs_on_cortex_m4_cmsis_nn(tmp_path):
    src = residual_int8(seed=3).save(tmp_path / "res.tflite")
    out = tmp_path / "res.small.tflite"
    _explore_write(src, out)
    x = np.random.default_rng(7).integers(-128, 128, size=(1, 16, 16, 8)).astype(np.int8)
    inputs = tmp_path / "in"
    inputs.mkdir()
    x.tofile(inputs / "input_0.bin")
    before = _firmware_outputs(src, inputs, tmp_path / "o1")
    after = _firmware_outputs(out, inputs, tmp_path / "o2")
    _, wheel = runtimes.tflm_run(str(src), [[x]])
    assert after["output"] == before["output"] == wheel[0][0].tobytes()
    assert after["head"] < before["head"]
