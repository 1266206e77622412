"""Models where the head within 10% MACs was above Arm Vela `--optimise Size` (issue 10).

The bars are Vela's own "Total SRAM used" (ethos-u-vela 5.2.0, `--optimise Size
--accelerator-config ethos-u55-256`, x 1024, as bench/vela_table.py reads it).
Each option is judged as the bench judges it: explored for the default target
(Cortex-M4, CMSIS-NN), the lowest head within 10% extra MACs; written, it must
give the original's outputs in LiteRT and TFLM and TFLM must plan its head.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymem
from tinymem.memory.planner import plan_model
from tinymem.ops import rule_for
from tinymem.ops.base import Window
from tinymem.schedules.explore import Objective, explore
from tinymem.schedules.scratch_free import run_scratch_free, scratch_free_ops
from tinymem.targets import DEFAULT_TARGET
from tinymem.verify import runtimes
from tinymem.writer import write_option

from .conftest import SAMPLES, SHARED, SHARED_ABSENT
from .exact import assert_same_outputs
from .firmware import assert_agrees_on_firmware, have_firmware

SQUEEZENET = SAMPLES / "bench" / "squeezenet_int8.tflite"
STR_WW = SHARED / "mlperf_str_ww_ref_model.tflite"
MNV2_PT = SHARED / "tfm_mobilenet_v2_pt_int8.tflite"
VELA_SIZE = {SQUEEZENET: 78_800, STR_WW: 5_904, MNV2_PT: 361_984}
GAPS = [SQUEEZENET, STR_WW, MNV2_PT]

needs_firmware = pytest.mark.skipif(not have_firmware("m4", "cmsis_nn"),
                                    reason="the M4 CMSIS-NN firmware or qemu is absent")

_EXPLORED: dict = {}


def best_on_m4(path):
    """The lowest head within 10% MACs on Cortex-M4 + CMSIS-NN (explored once per session)."""
    if not path.exists():
        if path.parent == SHARED:
            pytest.skip(SHARED_ABSENT)
        pytest.fail(f"{path} is absent")
    if path not in _EXPLORED:
        ex = explore(tinymem.load_model(path), target=DEFAULT_TARGET)
        _EXPLORED[path] = ex.best_within(0.10, Objective.HEAD)
    return _EXPLORED[path]


def _inputs(model, seed: int):
    sg = model.main
    return runtimes.random_inputs([{"dtype": np.dtype(sg.tensors[t].dtype),
                                    "shape": sg.tensors[t].shape} for t in sg.inputs], seed)


@pytest.mark.parametrize("path", GAPS, ids=lambda p: p.stem)
def test_head_within_10_percent_is_at_or_below_vela(path):
    best = best_on_m4(path)
    assert best.mac_overhead <= 0.10
    assert best.head_bytes <= VELA_SIZE[path], best.description


@pytest.mark.parametrize("path", GAPS, ids=lambda p: p.stem)
def test_written_option_is_exact_and_tflm_plans_its_head(path, tmp_path):
    best = best_on_m4(path)
    out = tmp_path / "best.tflite"
    write_option(best, out)
    report = assert_same_outputs(path, out, runs=3)
    # The wheel runs the reference kernels on the host: its head is the host plan's.
    assert report.arena_rewritten == plan_model(tinymem.load_model(out)).arena_bytes


@needs_firmware
@pytest.mark.parametrize("path", GAPS, ids=lambda p: p.stem)
def test_written_option_agrees_on_the_m4_cmsis_nn_firmware(path, tmp_path):
    best = best_on_m4(path)
    out = tmp_path / "best.tflite"
    write_option(best, out)
    model = tinymem.load_model(path)
    x = _inputs(model, 7)
    n = len(model.main.outputs)
    new = assert_agrees_on_firmware(path, out, x, n)
    assert new["head"] == best.head_bytes


# ------------------------------------------------ what closed the gaps, one rule a line

def test_str_ww_best_option_runs_its_depthwise_convs_without_scratch():
    assert any(s.kind == "kernel" for s in best_on_m4(STR_WW).steps)


@pytest.mark.parametrize("path", [SQUEEZENET, MNV2_PT], ids=lambda p: p.stem)
def test_best_option_is_cached_strips_at_no_extra_macs(path):
    # Their stride-2 VALID layers read the whole strip width (Window.full_read):
    # no 63-of-64 (SqueezeNet's pool) or 225-of-226 (the PyTorch PAD + conv) column copy.
    best = best_on_m4(path)
    assert any(s.kind == "cached" for s in best.steps) and best.mac_overhead <= 0.0


def test_a_depthwise_filter_with_one_column_gets_a_column_dilation_of_2():
    sg = tinymem.load_model(STR_WW).main
    dw = next(op for op in sg.operators if rule_for(op).scratch_free is not None)
    assert rule_for(dw).scratch_free(dw, sg) == {"dilation_w_factor": 2}


def test_moved_depthwise_convs_ask_cmsis_nn_for_no_scratch_on_m4():
    model = tinymem.load_model(STR_WW)
    moved = run_scratch_free(model)
    sg, msg = model.main, moved.main
    for i in scratch_free_ops(sg):
        assert rule_for(sg.operators[i]).scratch(sg.operators[i], sg, DEFAULT_TARGET)
        assert rule_for(msg.operators[i]).scratch(msg.operators[i], msg, DEFAULT_TARGET) == []


def test_a_3x3_depthwise_filter_has_no_scratch_free_variant():
    sg = tinymem.load_model(SAMPLES / "mobilenet_v2_035_144_int8.tflite").main
    dws = [op for op in sg.operators if rule_for(op).scratch_free is not None]
    assert dws and all(rule_for(op).scratch_free(op, sg) is None for op in dws)


def test_moving_kernels_changes_no_macs_and_no_tensor():
    model = tinymem.load_model(STR_WW)
    moved = run_scratch_free(model)
    assert len(moved.main.tensors) == len(model.main.tensors)
    assert [op.opcode for op in moved.main.operators] == [op.opcode for op in model.main.operators]


def test_a_stride_2_window_reads_to_the_input_end_when_less_than_a_stride_is_left():
    pool = Window(kernel=3, stride=2)
    assert pool.padded_range(0, 31) == (0, 63)
    assert pool.full_read(31, 64) == (0, 64)  # VALID over 64 columns still gives 31
    assert pool.full_read(31, 63) == (0, 63)
    assert pool.full_read(30, 64) == (0, 61)  # 3 columns left: 31 outputs, not 30


def test_a_stride_1_window_never_reads_past_what_it_needs():
    assert Window(kernel=3, stride=1).full_read(62, 65) == (0, 64)


def test_a_padded_window_is_left_as_it_is():
    assert Window(kernel=3, stride=2, pad_before=1).full_read(32, 64) == (-1, 64)


def test_a_kernel_step_is_reported_in_the_explore_json_with_its_op_span():
    from tinymem.report.explore_json import explore_document

    ex = explore(tinymem.load_model(STR_WW), target=DEFAULT_TARGET)
    steps = [s for o in explore_document(ex)["options"] for s in o["steps"]
             if s["kind"] == "kernel"]
    assert steps and all(s["first_op"] <= s["last_op"] and s["grid"] is None for s in steps)
