"""Small hostile files are refused (or handled) by the reader, whatever their claims.

Each file comes from tests/hostile_models.py and is at most a few hundred KB;
bench/limits_bench.py measures the time and memory each takes.
"""

from __future__ import annotations

import os

import pytest

import tinymem
from tinymem.read import limits
from tinymem.errors import ModelError
from tinymem.memory.planner import plan_model

from . import hostile_models as H

# hostile file -> words the one-line refusal must contain
REFUSED = [
    ("call_once_chain_1500", "subgraphs (limit"),
    ("call_once_chain_200", "nests deeper than 64"),
    ("if_doubling_24", "inlines into more than"),
    ("shared_tensor_table_50000", "50,000 tensors"),
    ("shared_operator_table_20000", "20,000 operators"),
    ("wide_fan_out_6000", "6,001 tensors"),
    ("long_shared_name_800k_x5000", "tables shared by many entries"),
    ("long_shared_option_vector_200k_x2000", "tables shared by many entries"),
    ("long_shared_custom_options_800k_x2000", "tables shared by many entries"),
    ("shared_subgraphs_5000x5000", "5,000 subgraphs"),
    ("rank_100000", "100,000 dimensions"),
    ("op_reads_own_output", "reads its own output tensor 1"),
    ("empty_main_subgraph", "main subgraph has no operators"),
]


@pytest.mark.parametrize("name,words", REFUSED, ids=[n for n, _ in REFUSED])
def test_hostile_file_is_refused_in_one_line(name, words):
    data = H.HOSTILE[name]()
    assert len(data) < 1_000_000  # small on disk: the claim is what is huge
    with pytest.raises(ModelError) as e:
        tinymem.parse_model(data, "hostile.tflite")
    msg = str(e.value)
    assert words in msg and "\n" not in msg and msg.startswith("hostile.tflite: ")


def test_every_hostile_file_is_covered():
    assert {n for n, _ in REFUSED} == set(H.HOSTILE)


# Files just inside each limit still read and plan (the limits are not off by one).
WITHIN = [
    ("call chain 63 deep", lambda: H.call_chain(limits.MAX_CALL_DEPTH - 1)),
    ("IF doubling to 8,191 steps", lambda: H.if_doubling(12)),
    ("5,000 tensors sharing one table", lambda: H.shared_tensor_table(limits.MAX_TENSORS)),
    ("2,500 operators sharing one table", lambda: H.shared_operator_table(limits.MAX_OPERATORS)),
    ("256 subgraphs", lambda: H.shared_subgraphs(limits.MAX_SUBGRAPHS, 2)),
    ("rank 16", lambda: H.huge_rank(limits.MAX_RANK)),
]


@pytest.mark.parametrize("name,make", WITHIN, ids=[n for n, _ in WITHIN])
def test_model_within_the_limits_is_planned(name, make):
    model = tinymem.parse_model(make(), "edge.tflite")
    plan = plan_model(model)
    assert plan.arena_bytes >= plan.peak_bytes > 0


def test_if_doubling_inlines_every_call():
    # 12 levels of IF whose branches both call the next level: each level runs
    # its IF once per call, the last level its ADD: 2**12 - 1 IFs and 2**12 ADDs.
    plan = plan_model(tinymem.parse_model(H.if_doubling(12)))
    assert len(plan.requests.steps) == 2 ** 13 - 1


def test_deep_call_chain_plans_without_recursion(monkeypatch):
    # The planner's subgraph walk does not recurse: a chain deeper than Python's
    # recursion limit plans, once the reader's limits are lifted.
    monkeypatch.setattr(limits, "MAX_CALL_DEPTH", 10_000)
    monkeypatch.setattr(limits, "MAX_SUBGRAPHS", 10_000)
    model = tinymem.parse_model(H.call_chain(1500))
    plan = plan_model(model)
    assert len(plan.requests.steps) == 1501  # 1,500 CALL_ONCEs and the final ADD
    # Each CALL_ONCE scope nests inside its caller's: one scope per step and per call.
    assert plan.requests.last_scope == 1501 + 1500


def test_recursive_control_flow_is_refused():
    import flatbuffers

    b = flatbuffers.Builder(256)
    t = H.tensor(b)
    opts = H.options(b, "CallOnceOptions", InitSubgraphIndex=0)
    sg = H.subgraph(b, [t], [H.operator(b, 0, opts=("CallOnceOptions", opts))])
    with pytest.raises(ModelError, match="already running"):
        tinymem.parse_model(H.finish(b, [sg], ["CALL_ONCE"]))


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_device_path_is_refused_before_reading(special):
    if not os.path.exists(special):
        pytest.skip(f"{special} absent on this system")
    with pytest.raises(ModelError, match="not a regular file"):
        tinymem.load_model(special)


def test_fifo_path_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "m.tflite"
    os.mkfifo(fifo)
    with pytest.raises(ModelError, match="not a regular file"):
        tinymem.load_model(fifo)


def test_file_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:
        f.truncate(1 << 20)  # sparse: costs no disk
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", (1 << 20) - 1)
    with pytest.raises(ModelError, match="larger than any model"):
        tinymem.load_model(big)


def test_real_models_are_far_inside_every_limit():
    from .conftest import sample_paths, shared_paths

    for path in sample_paths() + shared_paths():
        m = tinymem.load_model(path)
        assert m.file_size * 16 < limits.MAX_FILE_BYTES, path.name
        assert sum(len(sg.tensors) for sg in m.subgraphs) * 10 < limits.MAX_TENSORS, path.name
        assert sum(len(sg.operators) for sg in m.subgraphs) * 10 < limits.MAX_OPERATORS, path.name
        assert len(plan_model(m).requests.steps) * 10 < limits.MAX_INLINED_STEPS, path.name
        assert max(len(t.shape) for sg in m.subgraphs for t in sg.tensors) < limits.MAX_RANK


@pytest.mark.parametrize("case", ["dev_zero", "if_doubling_24"])
def test_cli_refuses_in_one_line(case, tmp_path):
    import subprocess
    import sys

    if case == "dev_zero":
        path = "/dev/zero"
        if not os.path.exists(path):
            pytest.skip("/dev/zero absent on this system")
    else:
        path = tmp_path / "m.tflite"
        path.write_bytes(H.HOSTILE[case]())
    r = subprocess.run([sys.executable, "-m", "tinymem.cli", "profile", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinymem: error: ")
