"""Offset aliases: a join assembled inside its output, a PAD run over its input at its output's end.

The rules (one a line): a CONCATENATION whose axis has only 1s before it
places each input as a chunk of its output, at the bytes of the inputs
before it, when the input is used last by it, is no model output and has
the output's type and quantisation; a PAD places its input at the highest
16-byte-aligned offset from which it never writes over bytes still to be
read (else the lowest such offset past that); a PAD over a model input only
with the user's leave. Written files are checked in LiteRT and the TFLite
Micro wheel (outputs bit for bit, the predicted head, set up at the
predicted arena and not one byte below) and on the CMSIS-NN firmware.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinymem
from tinymem.memory.aliases import find_aliases
from tinymem.memory.planner import plan_model
from tinymem.memory.tail import smallest_working
from tinymem.schedules.explore import explore
from tinymem.targets import DEFAULT_TARGET, resolve_target
from tinymem.verify import runtimes
from tinymem.verify.compare import verify_models
from tinymem.read.file import offline_plan
from tinymem.writer import serialize_model, write_model, write_option

from .firmware import assert_agrees_on_firmware, have_firmware
from .in_place_models import concat_channels_int8, concat_rows_int8, pad_int8

ROOT = Path(__file__).resolve().parents[1]
MNV2_035 = ROOT / "sample_models" / "mobilenet_v2_035_144_int8.tflite"


def _model(builder):
    return tinymem.parse_model(builder.to_bytes())


def _placed(model, overwrite_inputs=False) -> list[tuple[str, str, int]]:
    """(op, input name, offset in the output) of every alias found."""
    req = plan_model(model, offline=[]).requests
    sg = model.main
    return [(sg.operators[a.op].opcode, sg.tensors[a.input].name, a.offset)
            for a in find_aliases(model, req, overwrite_inputs)]


def _offsets(model, opcode: str) -> list[int]:
    return [off for op, _, off in _placed(model) if op == opcode]


def test_row_strips_sit_in_the_join_at_the_bytes_of_those_before():
    assert _offsets(_model(concat_rows_int8(hw=16, c=8, tiles=2)), "CONCATENATION") == [0, 1024]


def test_uneven_strips_keep_their_unaligned_offsets():
    # strips of 3 rows x 9 columns x 3 channels: 81 bytes each
    assert _offsets(_model(concat_rows_int8(hw=9, c=3, tiles=3)), "CONCATENATION") == [0, 81, 162]


def test_a_join_along_channels_is_not_in_place():
    assert _offsets(_model(concat_channels_int8()), "CONCATENATION") == []


def test_a_strip_of_other_quantisation_is_not_in_place():
    m = _model(concat_rows_int8(hw=8, c=4, tiles=2))
    strip = m.main.operators[-2].inputs[1]
    q = m.main.tensors[strip].quantization
    m.main.tensors[strip].quantization = type(q)(scale=(q.scale[0] * 2,), zero_point=q.zero_point)
    assert _offsets(m, "CONCATENATION") == []


def test_a_strip_that_is_a_model_output_stays_where_it_is():
    m = _model(concat_rows_int8(hw=8, c=4, tiles=2))
    first = m.main.operators[-2].inputs[0]
    m.main.outputs = tuple(m.main.outputs) + (first,)
    assert _offsets(m, "CONCATENATION") == [4 * 8 * 4]  # the second strip, after 4 rows of 8x4


@pytest.mark.parametrize("hw, c, pads, offset", [
    # 18x18x8 out, 16x16x8 in: 544 spare bytes, 152 written after the last element
    (16, 8, ((1, 1), (1, 1)), 544),
    # 9x8x3 out, 7x7x3 in: 69 spare, 48 after the last element; 64 is aligned
    (7, 3, ((0, 2), (1, 0)), 64),
    # 7x8x3 out, 7x7x3 in: 21 spare, nothing after the last element: only 21 is safe
    (7, 3, ((0, 0), (1, 0)), 21),
])
def test_pad_input_sits_at_the_aligned_safe_offset(hw, c, pads, offset):
    assert _offsets(_model(pad_int8(hw=hw, c=c, pads=pads)), "PAD") == [offset]


def test_pad_over_the_model_input_needs_the_flag():
    m = _model(pad_int8(pad_input=True))
    assert _offsets(m, "PAD") == []
    assert [op for op, _, _ in _placed(m, overwrite_inputs=True)] == ["PAD"]


def test_the_writer_keeps_an_overlapping_plan():
    m = _model(pad_int8())
    vec = [-1] * len(m.main.tensors)
    op = next(o for o in m.main.operators if o.opcode == "PAD")
    vec[op.outputs[0]], vec[op.inputs[0]] = 0, 544  # the input inside the output
    assert offline_plan(tinymem.parse_model(serialize_model(m, vec))) == vec


needs_runtimes = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                    reason="needs ai-edge-litert and tflite-micro")
needs_firmware = pytest.mark.skipif(not have_firmware(), reason="needs qemu-system-arm and "
                                    "../shared/targets firmware")


def _sets_up_exactly_at(path: Path, required: int, head: int) -> None:
    assert runtimes.tflm_arena(str(path), arena_size=required).head == head
    with pytest.raises(RuntimeError):
        runtimes.tflm_arena(str(path), arena_size=required - 1)


def _exact_in_both_runtimes(src: Path, out: Path) -> None:
    report = verify_models(str(src), str(out), runs=3)
    assert {r.runtime for r in report.results} == {"litert", "tflite-micro"}
    assert all(r.ok for r in report.results), [(r.runtime, r.error) for r in report.results]


CASES = {
    "concat": (lambda: concat_rows_int8(seed=1, hw=16, c=8, tiles=4), False, "CONCATENATION"),
    # strips of 5 rows x 15 columns x 5 channels: chunks at 375 and 750
    "concat_unaligned": (lambda: concat_rows_int8(seed=2, hw=15, c=5, tiles=3), False,
                         "CONCATENATION"),
    "pad": (lambda: pad_int8(seed=3), False, "PAD"),
    # 15x16x3 out, 15x15x3 in: the input at 45
    "pad_unaligned": (lambda: pad_int8(seed=4, hw=15, c=3, pads=((0, 0), (1, 0))), False, "PAD"),
    "pad_model_input": (lambda: pad_int8(seed=5, pad_input=True), True, "PAD"),
}


def _written(name, tmp_path, target=None, tiled=False):
    """A case's explored option, written: (source, written, option, baseline).
    The layout of the untouched graph with its ops in place; with `tiled` the
    lowest head at no extra MACs (tiled too, by cached strips or otherwise)."""
    make, overwrite, opcode = CASES[name]
    src = make().save(tmp_path / f"{name}.tflite")
    ex = explore(tinymem.load_model(src), target=target, overwrite_inputs=overwrite)
    # The lowest head among options that run ops in place: a cached strip without
    # aliases may be lower still, and is checked by its own tests.
    best = (_lowest_in_place(ex, 0.0) if tiled
            else next(o for o in ex.options if o.kind == "layout"))
    assert best.offline is not None and "in place" in best.description, best.description
    assert best.head_bytes < ex.baseline.head_bytes
    out = tmp_path / f"{name}.small.tflite"
    write_option(best, out)
    return src, out, best, ex.baseline


def _smallest_arena(path: Path, near: int) -> int:
    """The smallest arena the TFLM wheel sets the model up in (searched near a guess)."""
    def ok(n: int) -> bool:
        try:
            runtimes.tflm_arena(str(path), arena_size=n)
            return True
        except RuntimeError:
            return False

    assert ok(near + 1024) and not ok(near - 1024)
    return smallest_working(ok, near)


def _lowest_in_place(ex, overhead: float):
    """The lowest head within `overhead` extra MACs among the options that run ops in place."""
    ok = [o for o in ex.options if o.mac_overhead <= overhead + 1e-12
          and o.offline is not None and "in place" in o.description]
    assert ok, [o.description for o in ex.options]
    return min(ok, key=lambda o: (o.head_bytes, o.mac_overhead))


def _uses_the_alias(option, opcode: str) -> bool:
    """Some input of an `opcode` op is pinned inside that op's output."""
    sg, vec = option.model.main, option.offline
    for op in sg.operators:
        if op.opcode == opcode:
            y = sg.tensors[op.outputs[0]]
            for t in op.inputs:
                if t >= 0 and vec[op.outputs[0]] <= vec[t] < vec[op.outputs[0]] + y.nbytes:
                    return True
    return False


@needs_runtimes
@pytest.mark.parametrize("name", list(CASES))
def test_written_layout_in_place_is_exact_and_planned_as_predicted(name, tmp_path):
    src, out, best, base = _written(name, tmp_path)
    assert _uses_the_alias(best, CASES[name][2])
    _exact_in_both_runtimes(src, out)
    assert runtimes.tflm_arena(str(out)).head == best.head_bytes
    # Read back, the file's own (overlapping) plan gives the same figures.
    again = plan_model(tinymem.load_model(out))
    assert (again.head_bytes, again.required_bytes) == (best.head_bytes, best.required_bytes)
    # The arena to set moves as predicted (the wheel's tail model has its own tests).
    assert (_smallest_arena(out, best.required_bytes) - _smallest_arena(src, base.required_bytes)
            == best.required_bytes - base.required_bytes)


@needs_runtimes
@pytest.mark.parametrize("name", list(CASES))
def test_written_tiled_option_in_place_is_exact_with_the_predicted_head(name, tmp_path):
    src, out, best, _ = _written(name, tmp_path, tiled=True)
    _exact_in_both_runtimes(src, out)
    assert runtimes.tflm_arena(str(out)).head == best.head_bytes


@needs_runtimes
def test_pad_input_one_byte_below_its_lowest_offset_breaks_tflm(tmp_path):
    # The bound is tight against the real kernel: 17x17x8 out, 16x16x8 in,
    # 264 spare bytes of which 144 (a pixel, then a row) come after the last
    # element, so the input may start at 120 but not at 119.
    g = pad_int8(pad_input=True, pads=((0, 1), (0, 1)))
    m = _model(g)
    src = g.save(tmp_path / "pad.tflite")
    sg = m.main
    op = next(o for o in sg.operators if o.opcode == "PAD")
    x_t, p_t, y_t = op.inputs[0], op.outputs[0], sg.outputs[0]
    assert _placed(m, overwrite_inputs=True) == [("PAD", sg.tensors[x_t].name, 256)]
    x = [[np.random.default_rng(k).integers(-128, 128, size=(1, 16, 16, 8)).astype(np.int8)]
         for k in range(2)]
    _, want = runtimes.tflm_run(str(src), x)
    for offset, exact in ((256, True), (120, True), (119, False)):
        vec = [-1] * len(sg.tensors)
        vec[p_t], vec[x_t], vec[y_t] = 0, offset, 2320  # PAD's output takes 2,312 B
        out = tmp_path / f"pad_at_{offset}.tflite"
        write_model(m, out, offline_plan=vec)
        _, got = runtimes.tflm_run(str(out), x)
        same = all(np.array_equal(a[0], b[0]) for a, b in zip(got, want))
        assert same == exact, offset


def _firmware_agrees(src: Path, out: Path, option, core: str) -> None:
    sg = option.model.main
    shape = sg.tensors[sg.inputs[0]].shape
    x = [np.random.default_rng(11).integers(-128, 128, size=shape).astype(np.int8)]
    new = assert_agrees_on_firmware(src, out, x, core=core)
    assert new["head"] == option.head_bytes


@needs_firmware
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("core", ["m4", "m55"])
def test_written_layout_in_place_agrees_on_the_cmsis_nn_firmware(name, core, tmp_path):
    src, out, best, _ = _written(name, tmp_path, target=resolve_target(f"cortex-{core}"))
    assert _uses_the_alias(best, CASES[name][2])
    _firmware_agrees(src, out, best, core)


@needs_firmware
def test_mobilenet_v2_035_lowest_head_within_10_percent_agrees_on_the_m4(tmp_path):
    ex = explore(tinymem.load_model(MNV2_035), target=DEFAULT_TARGET)
    best = _lowest_in_place(ex, 0.10)
    assert "in place" in best.description, best.description
    assert _uses_the_alias(best, "CONCATENATION")
    out = tmp_path / "mnv2.small.tflite"
    write_option(best, out)
    _firmware_agrees(MNV2_035, out, best, "m4")
