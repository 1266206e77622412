"""The search keeps the best schedules by head and by the arena to set (issues 10, 11).

Issue 10 and 11 judge options by their head (the planned activation arena:
Arm Vela's SRAM figure counts activations only); the board sets the arena to
set (head + tail), so the recommendation stays by that. The issue's "96 KB"
is tested as 96,000 B and its "300 KB" as 300,000 B (the stricter readings,
both reached: the stage joins assembled in place and PADs run in place).
"""

from __future__ import annotations

import pytest

import tinymem
from tinymem.memory.planner import plan_model
from tinymem.report.explore_json import explore_document
from tinymem.report.explore_view import explore_table
from tinymem.schedules.explore import Objective, explore, figure
from tinymem.targets import DEFAULT_TARGET
from tinymem.verify import runtimes
from tinymem.verify.compare import verify_models
from tinymem.writer import write_option

from .conftest import SAMPLES, SHARED, explored

MNV2_035 = SAMPLES / "mobilenet_v2_035_144_int8.tflite"
MNV2_100 = SAMPLES / "mobilenet_v2_100_224_int8.tflite"
PERSON = SHARED / "tfm_person_detect.tflite"
VELA_MNV2_035 = 120_955  # Arm Vela --optimise Size, SRAM (activations), issue 11
VELA_PERSON = 30_720

_ON_M4: dict[tuple, object] = {}


def on_m4(path, objectives=None):
    """explore(path) as the CLI runs it (Cortex-M4, CMSIS-NN), once per session."""
    if not path.exists():
        pytest.fail(f"{path} is absent")
    key = (str(path), objectives)
    if key not in _ON_M4:
        extra = {} if objectives is None else {"objectives": objectives}
        _ON_M4[key] = explore(tinymem.load_model(path), target=DEFAULT_TARGET, **extra)
    return _ON_M4[key]


def is_cached(o) -> bool:
    return any(s.kind == "cached" for s in o.steps)


def recomputes(o) -> bool:
    """Tiles that recompute their halos (patch, spatial), with no cached strips."""
    return not is_cached(o) and any(s.kind in ("patch", "spatial") for s in o.steps)


def test_figure_is_the_head_or_the_arena_to_set():
    plan = plan_model(tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite"))
    assert figure(plan, Objective.HEAD) == plan.head_bytes == plan.arena_bytes
    assert figure(plan, Objective.TO_SET) == plan.required_bytes > plan.head_bytes


def test_mobilenet_035_head_within_10_percent_is_at_most_96_kb():
    best = on_m4(MNV2_035).best_within(0.10, Objective.HEAD)
    assert best.head_bytes <= 96_000 and best.mac_overhead <= 0.10


def test_mobilenet_100_head_within_15_percent_is_at_most_300_kb():
    best = on_m4(MNV2_100).best_within(0.15, Objective.HEAD)
    assert best.head_bytes <= 300_000 and best.mac_overhead <= 0.15


def test_mobilenet_035_cached_option_within_1_percent_is_at_or_below_vela():
    ex = on_m4(MNV2_035)
    cached = [o for o in ex.options if is_cached(o) and o.mac_overhead <= 0.01]
    assert cached and min(o.head_bytes for o in cached) <= VELA_MNV2_035


def test_mobilenet_035_cached_option_is_below_every_recomputing_one_within_10_percent():
    # Issue 11's bar: 85,472 B (wide expansions made late, kept rows cut after the
    # next op, the first conv and the widest expansion in columns, +0.44% MACs)
    # against 86,288 B for the best recomputing option within 10%.
    ex = on_m4(MNV2_035)
    cached = min(o.head_bytes for o in ex.options if is_cached(o) and o.mac_overhead <= 0.01)
    recomputing = [o for o in ex.options if recomputes(o) and o.mac_overhead <= 0.10]
    assert cached < min(o.head_bytes for o in recomputing)


def test_person_detect_head_within_1_percent_is_at_or_below_vela():
    best = on_m4(PERSON).best_within(0.01, Objective.HEAD)
    assert best.head_bytes <= VELA_PERSON


@pytest.mark.parametrize("path", [MNV2_035, SAMPLES / "resnet_skip_int8.tflite"],
                         ids=lambda p: p.stem)
def test_keeping_the_head_beam_loses_nothing_the_to_set_search_found(path):
    both, to_set_only = on_m4(path), on_m4(path, (Objective.TO_SET,))
    for limit in (0.0, 0.01, 0.10, 0.15, 0.25):
        for goal in Objective:
            assert (figure(both.best_within(limit, goal).plan, goal)
                    <= figure(to_set_only.best_within(limit, goal).plan, goal)), (limit, goal)
    # The recommendation is by the arena to set: the head beam cannot make it worse.
    assert both.recommended.required_bytes <= to_set_only.recommended.required_bytes


def test_every_option_is_what_the_one_planner_says_of_its_model():
    for o in on_m4(MNV2_035).options:
        plan = plan_model(o.model, offline=o.offline or [], target=DEFAULT_TARGET)
        assert (plan.head_bytes, plan.tail_bytes, plan.required_bytes, plan.peak_bytes) == \
            (o.head_bytes, o.tail_bytes, o.required_bytes, o.peak_bytes), o.id


def test_both_fronts_are_marked():
    ex = on_m4(MNV2_035)
    for goal, mark in ((Objective.TO_SET, "pareto"), (Objective.HEAD, "pareto_head")):
        for o in ex.options:
            f = figure(o.plan, goal)
            dominated = any(figure(p.plan, goal) <= f and p.mac_overhead <= o.mac_overhead
                            and (figure(p.plan, goal), p.mac_overhead) != (f, o.mac_overhead)
                            for p in ex.options)
            assert getattr(o, mark) == (not dominated), (o.id, goal)
    best_head = ex.best_within(0.10, Objective.HEAD)
    assert best_head.pareto_head and not best_head.recommended


def test_json_and_table_show_the_head_beside_the_arena_to_set():
    ex = on_m4(MNV2_035)
    doc = explore_document(ex)
    assert doc["search"]["objectives"] == ["to_set", "head"]
    for rec, o in zip(doc["options"], ex.options):
        assert (rec["head_bytes"], rec["required_bytes"], rec["pareto_head"]) == \
            (o.head_bytes, o.required_bytes, o.pareto_head)
    table, _ = explore_table(ex, width=80)
    headers = [c.header for c in table.columns]
    assert headers[headers.index("arena") + 1] == "head"


@pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                    reason="needs ai-edge-litert and tflite-micro")
def test_lowest_head_option_is_exact_in_the_tflm_wheel(tmp_path):
    # The host target is the tflite-micro wheel: it plans the predicted head, and the
    # outputs are bit-identical in it and in LiteRT.
    ex = explored(MNV2_035)
    o = ex.best_within(0.10, Objective.HEAD)
    assert o.steps and o is not ex.best_within(0.10)  # a schedule the to-set beam does not rank first
    out = tmp_path / f"{o.id}.tflite"
    write_option(o, out)
    assert runtimes.tflm_arena(str(out)).head == o.head_bytes
    report = verify_models(str(MNV2_035), str(out), runs=2)
    for r in report.results:
        assert r.ok, (r.runtime, r)
