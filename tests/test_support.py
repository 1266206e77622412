"""Runs on the target, or says why: the TFLM support table against the real thing.

The table's claims are checked against TFLM itself: its resolver header and
the resolver the firmware and the tflite-micro wheel use (from the pinned
sources), the wheel running each model on the host, and the Cortex-M4
firmware in ../shared/targets running it in QEMU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from tinymem.ops import REGISTRY
from tinymem.ops.support import arena_to_set, check_support, deploy_snippet, resolver_calls
from tinymem.read.reader import load_model
from tinymem.verify.runtimes import have_tflm, tflm_run
from tinymem.targets import Kernels, resolve_target

from .conftest import ROOT, SAMPLES, shared_paths
from .tiny_models import BO, F32, I8, I32, TT, ModelBuilder, _opts

TARGETS = ROOT.parent / "shared" / "targets"
SOURCES = TARGETS / "rebuild" / "tflm_cortexm_src.tar.xz"
M4 = {k: resolve_target("cortex-m4", k) for k in ("reference", "cmsis-nn")}
FIRMWARE_KERNELS = {"reference": "ref", "cmsis-nn": "cmsis_nn"}
UINT8_IN = SAMPLES / "mobilenet_v2_035_144_uint8in.tflite"

need_sources = pytest.mark.skipif(not SOURCES.exists(), reason="no TFLM sources in ../shared")
need_tflm = pytest.mark.skipif(not have_tflm(), reason="tflite-micro is not installed")
need_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or not TARGETS.is_dir(),
                               reason="qemu-system-arm or ../shared/targets is absent")


# --------------------------------------------------------------------------- TFLM's own files

@lru_cache(maxsize=None)
def _source(name: str) -> str:
    with tarfile.open(SOURCES) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(name))
        return tar.extractfile(member).read().decode()


@lru_cache(maxsize=None)
def resolver_methods() -> dict[str, str]:
    """MicroMutableOpResolver method -> the op it registers ("CONV_2D", "CUSTOM:SignalRfft")."""
    text = _source("tensorflow/lite/micro/micro_mutable_op_resolver.h")
    heads = list(re.finditer(r"TfLiteStatus (Add\w+)\(", text))
    out = {}
    for h, nxt in zip(heads, heads[1:] + [None]):
        body = text[h.end(): nxt.start() if nxt else len(text)]
        b = re.search(r"AddBuiltin\(\s*BuiltinOperator_(\w+)", body)
        c = re.search(r'AddCustom\(\s*"(\w+)"', body)
        if b and b.group(1) != "CUSTOM":
            out[h.group(1)] = b.group(1)
        elif c:
            out[h.group(1)] = f"CUSTOM:{c.group(1)}"
    return out


@need_sources
def test_every_resolver_method_in_the_rules_is_tflms_and_registers_that_op():
    methods = resolver_methods()
    for name, rule in REGISTRY.items():
        if rule.tflm is None or rule.tflm.needs:
            continue
        assert methods.get(rule.tflm.resolver) == name, (name, rule.tflm.resolver)


@need_sources
def test_the_rules_cover_every_op_the_firmware_resolver_registers():
    # The firmware (and the wheel) register what python_ops_resolver.cc adds.
    added = set(re.findall(r"\b(Add\w+)\(\)", _source("python/tflite_micro/python_ops_resolver.cc")))
    have = {r.tflm.resolver for r in REGISTRY.values() if r.tflm is not None}
    assert added - have == set()
    # ...and no rule claims a kernel that resolver does not add (Ethos-U: needs its build).
    claimed = {r.tflm.resolver for r in REGISTRY.values() if r.tflm is not None and not r.tflm.needs}
    assert claimed - added == set()


@need_sources
def test_ethos_u_is_a_null_registration_outside_an_ethos_u_build():
    stub = _source("tensorflow/lite/micro/kernels/ethosu.cc")
    assert "Register_ETHOSU() { return nullptr; }" in stub
    assert REGISTRY["CUSTOM:ethos-u"].tflm.needs


def test_every_registered_op_has_a_kernel_for_each_kernel_set():
    for name, rule in REGISTRY.items():
        if rule.tflm is not None and not rule.tflm.needs:
            assert all(rule.tflm.kernel(k) is not None for k in Kernels), name


# --------------------------------------------------------------------------- real outcomes

def firmware(path: Path, kernels: str, inputs: Path | None = None,
             outputs: Path | None = None) -> dict:
    env = dict(os.environ, ICOUNT="0", PER_OP="0")
    if inputs is not None:
        env["INPUTS"] = str(inputs)
    if outputs is not None:
        env["OUTPUTS"] = str(outputs)
    proc = subprocess.run([str(TARGETS / "run.sh"), str(path), "m4", FIRMWARE_KERNELS[kernels]],
                          capture_output=True, text=True, env=env, timeout=600)
    return json.loads(proc.stdout)


def firmware_runs(result: dict) -> bool:
    return result.get("allocate") == "ok" and result.get("invoke") == "ok"


def zero_inputs(path: Path) -> list[np.ndarray]:
    sg = load_model(str(path)).main
    return [np.zeros([max(d, 1) for d in sg.tensors[t].shape], dtype=sg.tensors[t].dtype)
            for t in sg.inputs]


def wheel_runs(path: Path) -> bool:
    try:
        tflm_run(str(path), [zero_inputs(path)])
    except RuntimeError:
        return False
    return True


SHARED = [pytest.param(p, id=p.stem) for p in shared_paths()]


def _small(path: Path) -> bool:
    # Reference kernels in QEMU take 1-2 minutes on the >50 M-MAC models; the wheel
    # runs the reference kernels on every model (below), CMSIS-NN runs them all here.
    # A model the table refuses fails in Prepare, within a second, however large.
    from tinymem.schedules.explore import model_macs

    m = load_model(str(path))
    return model_macs(m) < 50_000_000 or not check_support(m, M4["reference"]).runs


FIRMWARE_CASES = ([pytest.param(p, "cmsis-nn", id=f"cmsis-nn:{p.stem}") for p in shared_paths()]
                  + [pytest.param(p, "reference", id=f"reference:{p.stem}")
                     for p in shared_paths() if _small(p)])


@need_qemu
@pytest.mark.parametrize("path,kernels", FIRMWARE_CASES)
def test_checker_agrees_with_the_m4_firmware_on_shared_models(path, kernels):
    support = check_support(load_model(str(path)), M4[kernels])
    assert support.runs == firmware_runs(firmware(path, kernels)), support.problems


@need_tflm
@pytest.mark.parametrize("path", SHARED)
def test_checker_agrees_with_the_wheel_on_shared_models(path):
    host = resolve_target("host")
    assert check_support(load_model(str(path)), host).runs == wheel_runs(path)


def test_uint8_mobilenet_is_refused_naming_its_first_conv():
    path = ROOT.parent / "shared" / "models" / "arm_mobilenet_v2_1.0_224_uint8.tflite"
    if not path.exists():
        pytest.skip("shared model absent")
    s = check_support(load_model(str(path)), M4["cmsis-nn"])
    assert not s.runs
    assert s.problems[0].text() == "op 0 CONV_2D: uint8 input has no kernel in cmsis-nn"


# --------------------------------------------------------------------------- hand-built refusals

def _tile() -> ModelBuilder:
    g = ModelBuilder()
    x, y = g.tensor([1, 4]), g.tensor([2, 4])
    g.op(BO.TILE, [x, g.tensor([2], I32, data=np.array([2, 1]))], [y], _opts("Tile"))
    g.io([x], [y])
    return g


def _fill_dynamic_dims() -> ModelBuilder:
    g = ModelBuilder()
    dims, y = g.tensor([2], I32), g.tensor([2, 3])
    g.op(BO.FILL, [dims, g.tensor([], F32, data=np.array(1.0))], [y], _opts("Fill"))
    g.io([dims], [y])
    return g


def _custom(name: str) -> ModelBuilder:
    g = ModelBuilder()
    x, y = g.tensor([1, 8], I8, scale=0.1), g.tensor([1, 8], I8, scale=0.1)
    g.op(BO.CUSTOM, [x], [y], custom=name, custom_options=b"")
    g.io([x], [y])
    return g


def _hybrid_fc() -> ModelBuilder:
    g = ModelBuilder()
    x, y = g.tensor([1, 8]), g.tensor([1, 4])
    w = g.tensor([4, 8], I8, data=np.ones((4, 8)), scale=0.1)
    g.op(BO.FULLY_CONNECTED, [x, w, -1], [y], _opts("FullyConnected"))
    g.io([x], [y])
    return g


def _slice(dtype) -> ModelBuilder:
    g = ModelBuilder()
    x, y = g.tensor([1, 6, 6, 3], dtype, scale=0.1), g.tensor([1, 3, 6, 3], dtype, scale=0.1)
    consts = [g.tensor([4], I32, data=np.array(v)) for v in ([0, 0, 0, 0], [1, 3, 6, 3], [1, 1, 1, 1])]
    g.op(BO.STRIDED_SLICE, [x, *consts], [y], _opts("StridedSlice"))
    g.io([x], [y])
    return g


def _reshape_to_unknown() -> ModelBuilder:
    g = ModelBuilder()
    x, y = g.tensor([1, 10, 3]), g.tensor([5, -1])
    g.op(BO.RESHAPE, [x, g.tensor([2], I32, data=np.array([5, -1]))], [y],
         _opts("Reshape", newShape=[5, -1]))
    g.io([x], [y])
    return g


REFUSED = [  # model, the op named, words the reason must contain
    pytest.param(_tile, "TILE", "no kernel for TILE", id="tile"),
    pytest.param(_fill_dynamic_dims, "FILL", "non-constant dims", id="fill-dynamic-dims"),
    pytest.param(lambda: _custom("ethos-u"), "ethos-u", "Ethos-U", id="ethos-u"),
    pytest.param(lambda: _custom("MyVendorOp"), "MyVendorOp", "not a kernel TFLM ships", id="custom"),
    pytest.param(_hybrid_fc, "FULLY_CONNECTED", "hybrid", id="hybrid-fc"),
    pytest.param(lambda: _slice(TT.UINT8), "STRIDED_SLICE", "uint8 input", id="uint8-slice"),
    pytest.param(_reshape_to_unknown, "RESHAPE", "unknown dimension", id="unknown-dimension"),
]


@pytest.mark.parametrize("kernels", ["reference", "cmsis-nn"])
@pytest.mark.parametrize("make,op,words", REFUSED)
def test_a_model_tflm_cannot_run_gets_runs_false_with_the_op_named(make, op, words, kernels,
                                                                    tmp_path):
    path = make().save(tmp_path / "m.tflite")
    s = check_support(load_model(str(path)), M4[kernels])
    assert not s.runs
    assert (s.problems[0].index, s.problems[0].op) == (0, op)
    assert words in s.problems[0].reason


@need_tflm
@pytest.mark.parametrize("make,op,words", REFUSED)
def test_the_wheel_really_refuses_those_models(make, op, words, tmp_path):
    assert not wheel_runs(make().save(tmp_path / "m.tflite"))


@need_qemu
@pytest.mark.parametrize("make,op,words", REFUSED)
def test_the_m4_firmware_really_refuses_those_models(make, op, words, tmp_path):
    assert not firmware_runs(firmware(make().save(tmp_path / "m.tflite"), "cmsis-nn"))


@need_tflm
def test_the_same_slice_in_int8_runs_and_is_accepted(tmp_path):
    path = _slice(I8).save(tmp_path / "m.tflite")
    assert check_support(load_model(str(path)), M4["cmsis-nn"]).runs
    assert wheel_runs(path)


# --------------------------------------------------------------------------- what a user pastes

def _op_names(path: Path) -> set[str]:
    """The types of the ops the model's nodes run (TFLM looks each node's up), read with
    the `tflite` package, not tinymem's reader; unused operator codes do not count."""
    import tflite

    m = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    out = set()
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for i in range(sg.OperatorsLength()):
            c = m.OperatorCodes(sg.Operators(i).OpcodeIndex())
            code = max(c.BuiltinCode(), c.DeprecatedBuiltinCode())
            out.add(f"CUSTOM:{c.CustomCode().decode()}" if names[code] == "CUSTOM" else names[code])
    return out


@need_sources
@pytest.mark.parametrize("path", SHARED + [pytest.param(UINT8_IN, id="uint8in")])
def test_the_resolver_registers_exactly_the_ops_the_model_uses(path):
    calls = resolver_calls(load_model(str(path)))
    assert len(calls) == len(set(calls))
    assert {resolver_methods()[c] for c in calls} == _op_names(path)


def test_no_arena_to_set_for_a_model_that_does_not_run(tmp_path):
    path = _tile().save(tmp_path / "m.tflite")
    m = load_model(str(path))
    s = check_support(m, M4["cmsis-nn"])
    assert arena_to_set(s, 1234) is None
    assert deploy_snippet(m, s, 1234) is None


def test_deploy_snippet_counts_its_resolver_calls():
    m = load_model(str(SAMPLES / "ds_cnn_kws_int8.tflite"))
    text = deploy_snippet(m, check_support(m, M4["cmsis-nn"]), 5000)
    calls = resolver_calls(m)
    assert text.splitlines()[0] == "constexpr int kTensorArenaSize = 5000;"
    assert text.splitlines()[1] == f"tflite::MicroMutableOpResolver<{len(calls)}> resolver;"
    assert text.splitlines()[2:] == [f"resolver.{c}();" for c in calls]


# --------------------------------------------------------------------------- the CLI

def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "tinymem.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, **kw)


def test_profile_says_on_its_first_summary_line_that_the_model_does_not_run(tmp_path):
    path = _tile().save(tmp_path / "m.tflite")
    proc = _cli("profile", path, "--kernels", "reference")
    assert proc.returncode == 0
    summary = proc.stdout[proc.stdout.index("summary"):].splitlines()
    assert "does not run on cortex-m4, reference" in summary[1]
    assert "op 0 TILE: TFLM has no kernel for TILE" in summary[2]
    assert "kTensorArenaSize" not in proc.stdout


def test_profile_json_support_and_deploy(tmp_path):
    bad = _cli("profile", _tile().save(tmp_path / "m.tflite"), "--json")
    doc = json.loads(bad.stdout)
    assert bad.returncode == 0
    assert doc["support"] == {"runs": False, "problems": [
        {"index": 0, "subgraph": 0, "op": "TILE", "reason": "TFLM has no kernel for TILE"}]}
    assert doc["deploy"]["arena_size"] is None
    good = json.loads(_cli("profile", SAMPLES / "ds_cnn_kws_int8.tflite", "--json").stdout)
    assert good["support"] == {"runs": True, "problems": []}
    assert good["deploy"]["arena_size"] is not None
    assert good["deploy"]["resolver"] == resolver_calls(load_model(str(SAMPLES / "ds_cnn_kws_int8.tflite")))


def test_explore_never_writes_a_file_that_would_not_run(tmp_path):
    out = tmp_path / "out.tflite"
    proc = _cli("explore", _tile().save(tmp_path / "m.tflite"), "-o", out, "--option", "baseline")
    assert proc.returncode != 0
    assert proc.stderr.startswith("tinymem: error: option baseline would not run")
    assert "op 0 TILE" in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "m.tflite"]


# --------------------------------------------------------------------------- explore on a uint8 input

@pytest.fixture(scope="module")
def uint8_exploration():
    from tinymem.schedules.explore import explore

    return explore(load_model(str(UINT8_IN)), max_overhead=0.10, target=M4["cmsis-nn"])


def test_uint8_input_model_is_a_quantize_first_model_tflm_runs():
    m = load_model(str(UINT8_IN))
    assert m.main.tensors[m.main.inputs[0]].dtype == "uint8"
    assert m.main.operators[0].opcode == "QUANTIZE"
    assert check_support(m, M4["cmsis-nn"]).runs


def test_uint8_input_patch_stage_starts_after_the_quantize(uint8_exploration):
    patches = [o for o in uint8_exploration.options if "patch" in o.kind]
    assert patches
    # The patch step itself (another step may come before it in a chain).
    assert all(s.segment.first == 1 for o in patches for s in o.steps if s.kind == "patch")
    assert any("skipped patch ops 0-" in n and "STRIDED_SLICE: uint8 input has no kernel" in n
               for n in uint8_exploration.notes)


def test_no_option_offered_on_a_uint8_input_is_refused_by_the_table(uint8_exploration):
    for o in uint8_exploration.options:
        assert check_support(o.model, M4["cmsis-nn"]).runs, o.id


def _written(uint8_exploration, tmp_path_factory):
    """The patch options and the best within 10% MACs, written as the CLI writes them."""
    from tinymem.writer import write_option

    ex = uint8_exploration
    chosen = {id(o): o for o in ex.options if "patch" in o.kind}
    best = ex.best_within(0.10)
    chosen[id(best)] = best
    out = tmp_path_factory.mktemp("uint8_options")
    paths = []
    for o in chosen.values():
        p = out / f"{o.id}.tflite"
        write_option(o, p)
        paths.append(p)
    return paths


@need_tflm
def test_uint8_input_options_run_in_the_wheel_bit_exact(uint8_exploration, tmp_path_factory):
    rng = np.random.default_rng(15)
    x = [rng.integers(0, 255, size=(1, 144, 144, 3), endpoint=True).astype(np.uint8)]
    _, (want,) = tflm_run(str(UINT8_IN), [x])
    for path in _written(uint8_exploration, tmp_path_factory):
        _, (got,) = tflm_run(str(path), [x])
        assert all(np.array_equal(a, b) for a, b in zip(want, got)), path.name


@need_qemu
def test_uint8_input_options_give_identical_outputs_on_m4_cmsis_nn(uint8_exploration,
                                                                    tmp_path_factory):
    inputs = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(16)
    (inputs / "input_0.bin").write_bytes(rng.integers(0, 256, size=144 * 144 * 3).astype(np.uint8).tobytes())

    def outputs_of(path):
        out = tmp_path_factory.mktemp("out")
        assert firmware_runs(firmware(path, "cmsis-nn", inputs, out)), path.name
        return (out / "output_0.bin").read_bytes()

    want = outputs_of(UINT8_IN)
    for path in _written(uint8_exploration, tmp_path_factory):
        assert outputs_of(path) == want, path.name


def _too_big_for_the_firmware() -> ModelBuilder:
    # A float FULLY_CONNECTED whose weights make the file just over 6 MiB.
    g = ModelBuilder()
    n_in, n_out = 1024, 1560
    x, y = g.tensor([1, n_in]), g.tensor([1, n_out])
    g.op(BO.FULLY_CONNECTED, [x, g.const([n_out, n_in]), -1], [y], _opts("FullyConnected"))
    g.io([x], [y])
    return g


def test_a_model_the_firmware_cannot_load_is_a_model_wide_problem(tmp_path):
    path = _too_big_for_the_firmware().save(tmp_path / "big.tflite")
    assert path.stat().st_size >= 6 * 1024 * 1024
    m = load_model(str(path))
    s = check_support(m, M4["cmsis-nn"])
    assert not s.runs
    assert [(p.index, p.op) for p in s.problems] == [(None, None)]
    assert "firmware loads models under 6,291,456 B" in s.problems[0].reason
    assert check_support(m, resolve_target("host")).runs  # the wheel has no such buffer
    if shutil.which("qemu-system-arm") and TARGETS.is_dir():
        assert "cannot read model.tflite" in firmware(path, "cmsis-nn").get("error", "")
    if have_tflm():
        assert wheel_runs(path)


# Measured: the wheel allocates and invokes every hand-built edge-case model of
# tests/tiny_models.py but one, whose RESHAPE output is stored as [5, -1] (it crashes
# Invoke; the M4 firmware BusFaults). The table must say exactly that: no false alarm.
WHEEL_REFUSES = {"reshape_neg1_out"}


def test_the_table_accepts_every_edge_case_model_the_wheel_runs(tmp_path):
    from .tiny_models import CASES

    host = resolve_target("host")
    for name, (_, make) in CASES.items():
        m = load_model(str(make().save(tmp_path / f"{name}.tflite")))
        assert check_support(m, host).runs == (name not in WHEEL_REFUSES), name


@need_tflm
def test_the_wheel_refuses_the_edge_case_the_table_refuses(tmp_path):
    from .tiny_models import CASES

    for name in WHEEL_REFUSES:
        assert not wheel_runs(CASES[name][1]().save(tmp_path / f"{name}.tflite"))
