"""Channel splits on graphs, not chains: a TRANSPOSE_CONV split so each part asks
for a share of its accumulator scratch, and parts that join an existing
CONCATENATION. Each written option is checked against the real runtimes:
LiteRT and the TFLite Micro wheel give the original's outputs bit for bit,
and TFLite Micro plans exactly the arena explore predicted.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymem
from tinymem.schedules.explore import explore
from tinymem.schedules.fdt import Merge, fdt_steps
from tinymem.verify import runtimes
from tinymem.writer import write_option

from .fdt_models import branch_join_int8, conv1d_views_int8, inception_int8, unet_int8

needs_runtimes = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                    reason="needs ai-edge-litert and tflite-micro")
SEEDS = (0, 1, 2)


def _fdt_only(path):
    return explore(tinymem.load_model(path), sources=[fdt_steps])


def _best(ex):
    return min(ex.options, key=lambda o: (o.required_bytes, o.mac_overhead))


def _outputs_match(original, rewritten) -> None:
    details = runtimes.litert_input_details(str(original))
    inputs = [runtimes.random_inputs(details, s) for s in SEEDS]
    for run in (lambda p: runtimes.litert_run(str(p), inputs),
                lambda p: runtimes.tflm_run(str(p), inputs)[1]):
        for a, b in zip(run(original), run(rewritten)):
            for x, y in zip(a, b):
                assert np.array_equal(x, y)


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    return unet_int8().save(tmp_path_factory.mktemp("fdt") / "unet.tflite")


@pytest.fixture(scope="module")
def branch_join(tmp_path_factory):
    return branch_join_int8().save(tmp_path_factory.mktemp("fdt") / "branch_join.tflite")


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    return inception_int8().save(tmp_path_factory.mktemp("fdt") / "inception.tflite")


@pytest.fixture(scope="module")
def conv1d(tmp_path_factory):
    return conv1d_views_int8().save(tmp_path_factory.mktemp("fdt") / "conv1d.tflite")


def test_transpose_conv_scratch_is_the_unet_peak(unet):
    plan = _fdt_only(unet).baseline.plan
    scratch = max(b.aligned for b in plan.buffers if b.tensor is None)
    assert 2 * scratch > plan.arena_bytes


def test_transpose_conv_is_split_into_the_concat(unet):
    ex = _fdt_only(unet)
    best = _best(ex)
    assert best.required_bytes < ex.baseline.required_bytes
    assert best.steps and best.steps[0].segment.merge == Merge.JOIN
    ops = [op.opcode for op in best.model.main.operators]
    assert ops.count("TRANSPOSE_CONV") == best.steps[0].parts
    assert ops.count("CONCATENATION") == 1  # the model's own, with the parts as inputs


def _alone(ex):
    """The lowest option whose first step splits the TRANSPOSE_CONV alone (its
    parts concatenated before the model's own CONCATENATION), or None."""
    alone = [o for o in ex.options if o.steps and o.steps[0].segment.merge == Merge.CONCAT]
    return min(alone, key=lambda o: (o.required_bytes, o.mac_overhead)) if alone else None


def test_transpose_conv_alone_is_split_for_the_targets_scratch(unet):
    # On the host wheel's reference kernels the TRANSPOSE_CONV's int32 accumulator
    # is its whole output (CMSIS-NN's asks for a fifth of it): ranked by the
    # explorer's own target, FDT also splits the op alone, each part asking for
    # a share of that scratch.
    ex = _fdt_only(unet)
    best = _alone(ex)
    assert best is not None and best.required_bytes < ex.baseline.required_bytes


def test_split_adds_no_work(unet, branch_join, inception, conv1d):
    for path in (unet, branch_join, inception, conv1d):
        ex = _fdt_only(path)
        assert _best(ex).macs == ex.baseline.macs


def test_branch_parts_join_the_concat(branch_join):
    ex = _fdt_only(branch_join)
    best = _best(ex)
    assert best.required_bytes < ex.baseline.required_bytes
    assert any(s.segment.merge == Merge.JOIN for s in best.steps)


def test_parts_start_from_the_concat_inputs(inception):
    ex = _fdt_only(inception)
    best = _best(ex)
    assert best.required_bytes < ex.baseline.required_bytes
    # Each branch is pooled on its own: the pooled halves are concatenated, not the branches.
    sg = best.model.main
    cats = [op for op in sg.operators if op.opcode == "CONCATENATION"]
    assert len(cats) == 1 and sg.operators[-1].inputs[0] == cats[0].outputs[0]
    assert [op.opcode for op in sg.operators].count("MAX_POOL_2D") == 2


def test_parts_go_through_reshape_and_expand_dims(conv1d):
    ex = _fdt_only(conv1d)
    best = _best(ex)
    assert best.required_bytes < ex.baseline.required_bytes
    ops = [op.opcode for op in best.model.main.operators]
    assert ops.count("EXPAND_DIMS") == best.steps[0].parts == ops.count("RESHAPE")


@needs_runtimes
@pytest.mark.parametrize("which", ["unet", "unet_alone", "branch_join", "inception", "conv1d"])
def test_written_split_is_exact_and_planned_as_predicted(which, request, tmp_path):
    src = request.getfixturevalue(which.removesuffix("_alone"))
    ex = _fdt_only(src)
    best = _alone(ex) if which.endswith("_alone") else _best(ex)
    out = tmp_path / f"{which}_{best.id}.tflite"
    write_option(best, out)
    _outputs_match(src, out)
    assert runtimes.tflm_arena(str(out)).head == best.arena_bytes
