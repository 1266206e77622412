"""The explorer's fast paths give what the plain ones give: forked workers vs one
process, the greedy's neighbour walk vs its vectorised scan, the compiled tail
moves vs the step-by-step replay, rule answers kept on the ops vs asked afresh."""

from __future__ import annotations

import dataclasses
import gc
import random
import time
from pathlib import Path

import pytest

import tinymem
from tinymem.memory import greedy, tail
from tinymem.memory.aliases import in_place_floor
from tinymem.memory.planner import plan_model
from tinymem.memory.requests import BufferRequest
from tinymem.schedules import parallel
from tinymem.schedules.explore import Objective, explore, model_macs
from tinymem.targets import DEFAULT_TARGET

SAMPLES = Path(__file__).resolve().parents[1] / "sample_models"


def _square(i: int) -> tuple[int, bool]:
    time.sleep(0.02)  # (long enough for the child to start before this process is done)
    return i * i, parallel._in_child


def _same(done: dict) -> dict:
    return done


def test_shared_ends_return_every_result_in_order(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    got = parallel.share_ends(40, _square, _same, _same)
    assert [r for r, _ in got] == [i * i for i in range(40)]
    assert any(c for _, c in got), "no item was computed in the forked child"
    assert not all(c for _, c in got), "no item was computed here"


def test_shared_ends_with_one_worker_run_here(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    assert parallel.share_ends(40, _square, _same, _same) == [(i * i, False) for i in range(40)]


def test_items_a_failed_child_took_are_run_here(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")

    def failing(done: dict) -> dict:
        raise RuntimeError("the child cannot send")

    got = parallel.share_ends(40, _square, failing, _same)
    assert got == [(i * i, False) for i in range(40)]


def _figures(ex):
    return [(o.id, o.kind, o.required_bytes, o.arena_bytes, o.tail_bytes, o.macs, o.pareto,
             o.recommended, o.description) for o in ex.options] + [ex.evaluated, ex.notes]


def _breakdowns(ex):
    return [sorted(o.plan.persistent_bytes_by_op().items()) for o in ex.options]


@pytest.mark.parametrize("name", ["resnet_skip_int8", "cnn_float32", "conv1d_audio_int8"])
def test_explore_on_two_workers_finds_what_one_finds(monkeypatch, name):
    model = tinymem.load_model(SAMPLES / f"{name}.tflite")
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    serial = explore(model, target=DEFAULT_TARGET)
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    sent = []
    collect = parallel._collect

    def counted(pid, fd):
        got = collect(pid, fd)
        sent.append(got is not None)
        return got

    monkeypatch.setattr(parallel, "_collect", counted)
    forked = explore(model, target=DEFAULT_TARGET)
    assert _figures(forked) == _figures(serial)
    assert _breakdowns(forked) == _breakdowns(serial)  # (tails planned in the child too)
    assert sent == [True]  # the child's beams came back


def _random_buffers(rng: random.Random) -> list[BufferRequest]:
    out = []
    for i in range(rng.randint(0, 60)):
        first = rng.randint(-1, 30)
        last = rng.randint(first, first + rng.choice([0, 1, 3, 40]))
        offline = rng.choice([None] * 6 + [rng.randint(0, 50) * 16])
        out.append(BufferRequest(size=rng.choice([0, 1, 16, 17, 100, rng.randint(1, 5000)]),
                                 first=first, last=last, subgraph=0, tensor=i,
                                 offline_offset=offline))
    return out


def test_greedy_neighbour_walk_places_as_the_vectorised_scan():
    rng = random.Random(1)
    for _ in range(500):
        bufs = _random_buffers(rng)
        order = list(range(len(bufs)))
        rng.shuffle(order)
        assert greedy.place_in_order(bufs, order) == greedy._place_dense(bufs, order)


def test_time_overlaps_lists_every_pair_alive_together():
    rng = random.Random(2)
    for _ in range(300):
        bufs = _random_buffers(rng)
        got = greedy.time_overlaps(bufs)
        want = [[j for j, o in enumerate(bufs) if j != i and b.first <= o.last
                 and b.last >= o.first] for i, b in enumerate(bufs)]
        if got is None:  # too dense for lists: the pairs exceed the limit
            assert sum(map(len, want)) > greedy._SPARSE_MAX_PAIRS_PER_BUFFER * len(bufs)
        else:
            assert [got.of(i) for i in range(len(bufs))] == want


def test_tail_breakdown_is_the_replay_at_a_large_arena():
    model = tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite")
    plan = plan_model(model, target=DEFAULT_TARGET)
    ok, tail_bytes, by_op, by_kind = tail._Replay(plan.tail.steps(), tail._LARGE).run()
    assert ok and plan.tail.tail_bytes == tail_bytes == sum(by_kind.values())
    assert plan.tail.op_bytes == by_op and plan.tail.by_kind == by_kind


def _replay(steps, size: int) -> bool:
    return tail._Replay(steps, size).run()[0]


def test_compiled_tail_moves_fit_where_the_replay_fits():
    rng = random.Random(3)
    for _ in range(300):
        steps = []
        for _ in range(rng.randint(0, 25)):
            k = rng.random()
            if k < .6:
                steps.append(("tail", rng.choice([0, 1, 3, 4, 12, 16, 28, 36]),
                              rng.choice([1, 4, 8, 16]), None, "x"))
            else:
                steps.append(("head" if k < .8 else "need", rng.randint(0, 400)))
        moves = tail._compile(steps)
        for size in range(0, 700, 3):
            assert tail._fits_compiled(moves, size) == _replay(steps, size)


def _asked_afresh(model):
    """The model with every op rebuilt from its fields: no answer kept from before."""
    return dataclasses.replace(model, subgraphs=[
        dataclasses.replace(sg, operators=[dataclasses.replace(op) for op in sg.operators])
        for sg in model.subgraphs])


def _planned(model):
    plan = plan_model(model, target=DEFAULT_TARGET)
    return (plan.required_bytes, plan.arena_bytes, plan.tail_bytes, plan.offsets,
            plan.scratch_bytes_by_op(), plan.persistent_bytes_by_op(), model_macs(model))


def test_rule_answers_kept_on_rewritten_ops_are_those_asked_afresh():
    model = tinymem.load_model(SAMPLES / "cnn_float32.tflite")
    tiled = [o for o in explore(model, target=DEFAULT_TARGET).options if o.steps]
    assert {s.kind for o in tiled for s in o.steps} >= {"patch", "cached", "fdt"}
    for o in tiled:
        assert _planned(o.model) == _planned(_asked_afresh(o.model)), o.id


def test_greedy_placement_after_a_kept_prefix_places_as_a_full_one():
    rng = random.Random(2)
    for _ in range(300):
        bufs = _random_buffers(rng)
        first = list(range(len(bufs)))
        rng.shuffle(first)
        k = rng.randint(0, len(bufs))
        order = first[:k] + rng.sample(first[k:], len(bufs) - k)
        full = greedy.place_in_order(bufs, order)
        kept = greedy.place_in_order(bufs, order, greedy.time_overlaps(bufs),
                                     (greedy.place_in_order(bufs, first), k))
        assert kept == full


def test_greedy_placement_stops_only_when_the_arena_reaches_the_bound():
    rng = random.Random(4)
    for _ in range(300):
        bufs = _random_buffers(rng)
        order = list(range(len(bufs)))
        rng.shuffle(order)
        full = greedy.place_in_order(bufs, order)
        size = greedy.arena_size(bufs, full)
        below = rng.randint(0, size + 32)
        got = greedy.place_in_order(bufs, order, greedy.time_overlaps(bufs), below=below)
        assert got == (None if size >= below else full)


def _floors_hold(model, plan, target) -> None:
    """The floors the explorer prunes by are at or below what planning gives."""
    plain = plan_model(model, offline=[], target=target)
    req = plain.requests
    tails = tail.tail_floor(model, target, req.scratch_count)
    assert tails <= plain.tail_bytes
    assert tail.required_floor(int(plain.live.max()), tails) <= plain.required_bytes
    floor = in_place_floor(model, req, plain.live)
    assert floor <= plan.arena_bytes  # any layout, ops in place or not
    assert floor <= plain.arena_bytes


@pytest.mark.parametrize("name", ["resnet_skip_int8", "conv1d_audio_int8", "cnn_float32"])
def test_pruning_floors_never_exceed_the_planned_figures(name):
    ex = explore(tinymem.load_model(SAMPLES / f"{name}.tflite"), target=DEFAULT_TARGET)
    assert any("in place" in o.description for o in ex.options)  # the in-place floor is tried
    for o in ex.options:
        _floors_hold(o.model, o.plan, DEFAULT_TARGET)


def _fronts(ex) -> tuple:
    front = {(o.required_bytes, round(o.mac_overhead, 9)) for o in ex.options if o.pareto}
    front_head = {(o.arena_bytes, round(o.mac_overhead, 9)) for o in ex.options if o.pareto_head}
    best = [(ex.best_within(x).required_bytes, ex.best_within(x, Objective.HEAD).arena_bytes)
            for x in (0.0, 0.02, 0.10, 0.25)]
    # The recomputing schedules are shown beside the cached ones: their best too.
    recompute = [o for o in ex.options if all(s.kind != "cached" for s in o.steps)]
    within = [[o for o in recompute if o.mac_overhead <= x + 1e-12] for x in (0.0, 0.02, 0.10, 0.25)]
    best_recompute = [(min(o.required_bytes for o in ok), min(o.arena_bytes for o in ok))
                      for ok in within]
    return front, front_head, best, best_recompute


@pytest.mark.parametrize("name", ["cnn_float32", "resnet_skip_int8"])
def test_layouts_skipped_by_their_floor_change_no_front(monkeypatch, name):
    from tinymem.schedules import explore as explore_module

    model = tinymem.load_model(SAMPLES / f"{name}.tflite")
    pruned = explore(model, target=DEFAULT_TARGET)
    monkeypatch.setattr(explore_module, "_layout_cannot_show", lambda ev, o, options: False)
    full = explore(model, target=DEFAULT_TARGET)
    assert len(pruned.options) < len(full.options)  # some layout search was skipped
    assert _fronts(pruned) == _fronts(full)


@pytest.mark.parametrize("name", ["cnn_float32", "resnet_skip_int8"])
def test_candidates_let_go_and_rebuilt_give_the_same_options(monkeypatch, name):
    from tinymem.schedules import explore as explore_module

    model = tinymem.load_model(SAMPLES / f"{name}.tflite")
    kept = _figures(explore(model, target=DEFAULT_TARGET))
    rebuilt = []
    monkeypatch.setattr(explore_module._Evaluator, "HELD_OPS", 1)  # every model let go at once
    original_release = explore_module._Evaluator.release

    def release(self):
        rebuilt.append(self.rebuilt)
        original_release(self)

    monkeypatch.setattr(explore_module._Evaluator, "release", release)
    assert _figures(explore(model, target=DEFAULT_TARGET)) == kept
    assert rebuilt and rebuilt[0] > 0  # some were built again


def test_a_search_leaves_no_cyclic_garbage():
    model = tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite")
    gc.collect()
    gc.disable()
    try:
        ex = explore(model, target=DEFAULT_TARGET, caps=(0.1,))
        del ex
        left = gc.collect()
    finally:
        gc.enable()
    # (a few of the reader's and the rules' small objects; a candidate alone is thousands)
    assert left < 200


def test_planning_requests_leaves_no_cycle_holding_the_model():
    model = tinymem.load_model(SAMPLES / "mobilenet_v2_035_144_int8.tflite")
    gc.collect()
    gc.disable()
    try:
        plan_model(model, target=DEFAULT_TARGET)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_cached_strips_in_column_lanes_leave_no_cycle():
    from tinymem.schedules.explore import _peak_op
    from tinymem.schedules.row_cache import cached_steps

    model = tinymem.load_model(SAMPLES / "mobilenet_v2_035_144_int8.tflite")
    plan = plan_model(model, target=DEFAULT_TARGET)
    step = next(s for s in cached_steps(model, _peak_op(plan), plan.arena_bytes, DEFAULT_TARGET)
                if "columns" in s.label)
    gc.collect()
    gc.disable()
    try:
        step.apply(model)
        assert gc.collect() == 0
    finally:
        gc.enable()


# --------------------------------------------------------------------------- shared rule answers


def _conv_copy(model, **tensor_changes):
    """The model's first CONV_2D again, reading and writing new tensors like its own
    (changed by `tensor_changes`), in a subgraph that holds both: (op, copy, subgraph)."""
    from tinymem.schedules.edit import GraphEditor, clone

    sg = model.main
    conv = next(op for op in sg.operators if op.opcode == "CONV_2D")
    ed = GraphEditor(model, 0)
    src, out = (sg.tensors[conv.inputs[0]], sg.tensors[conv.outputs[0]])
    like = clone(src, **tensor_changes)
    new_in = ed.new_tensor(like, like.shape, "in")
    new_out = ed.new_tensor(out, out.shape, "out")
    ed.copy_op(conv, (new_in,) + conv.inputs[1:], (new_out,), "tile")
    return conv, ed.ops[-1], clone(sg, tensors=ed.tensors)


def _answers(op):
    from tinymem.ops.memo import _SLOT

    return op.__dict__[_SLOT][1]


def test_ops_of_one_content_share_their_answers_during_a_search():
    from tinymem.ops import op_scratch
    from tinymem.ops.memo import shared_answers

    model = tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite")
    with shared_answers():
        conv, copy, sg = _conv_copy(model)
        op_scratch(conv, sg, DEFAULT_TARGET)
        op_scratch(copy, sg, DEFAULT_TARGET)
        assert _answers(copy) is _answers(conv)


def test_ops_share_no_answers_outside_a_search():
    from tinymem.ops import op_scratch

    conv, copy, sg = _conv_copy(tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite"))
    op_scratch(conv, sg, DEFAULT_TARGET)
    op_scratch(copy, sg, DEFAULT_TARGET)
    assert _answers(copy) is not _answers(conv)


@pytest.mark.parametrize("change", ["shape", "dtype", "quantization"])
def test_ops_whose_tensors_differ_share_no_answers(change):
    from tinymem.graph.ir import Quantization
    from tinymem.ops import op_scratch
    from tinymem.ops.memo import shared_answers

    model = tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite")
    src = model.main.tensors[next(op for op in model.main.operators
                                  if op.opcode == "CONV_2D").inputs[0]]
    changes = {"shape": {"shape": src.shape[:1] + (src.shape[1] + 1,) + src.shape[2:]},
               "dtype": {"dtype": "int16"},
               "quantization": {"quantization": Quantization(scale=(0.5,), zero_point=(3,))}}
    with shared_answers():
        conv, copy, sg = _conv_copy(model, **changes[change])
        op_scratch(conv, sg, DEFAULT_TARGET)
        op_scratch(copy, sg, DEFAULT_TARGET)
        assert _answers(copy) is not _answers(conv)


@pytest.mark.parametrize("name", ["cnn_float32", "resnet_skip_int8"])
def test_a_search_with_shared_answers_finds_what_one_without_finds(monkeypatch, name):
    from tinymem.ops import memo

    model = tinymem.load_model(SAMPLES / f"{name}.tflite")
    shared = _figures(explore(model, target=DEFAULT_TARGET))
    monkeypatch.setattr(memo._SharedAnswers, "answers", lambda self, op, sg: {})
    assert _figures(explore(tinymem.load_model(SAMPLES / f"{name}.tflite"),
                            target=DEFAULT_TARGET)) == shared


# --------------------------------------------------------------------------- renumbered copies


def _ops_as_written(model):
    return [(op.index, op.opcode, op.inputs, op.outputs, op.intermediates, op.options)
            for op in model.main.operators]


def test_grids_of_one_segment_renumber_the_ops_after_it_as_a_lone_rewrite_does():
    from tinymem.schedules import edit
    from tinymem.schedules.row_cache import cached_steps
    from tinymem.schedules.tiling_steps import spatial_steps

    model = tinymem.load_model(SAMPLES / "mobilenet_v2_035_144_int8.tflite")
    plan = plan_model(model, target=DEFAULT_TARGET)
    peak = plan.main_op_at(plan.peak_step())
    steps = [*spatial_steps(model, peak, plan.arena_bytes, DEFAULT_TARGET),
             *cached_steps(model, peak, plan.arena_bytes, DEFAULT_TARGET)]
    assert len({s.segment for s in steps}) > 1
    with edit.shared_renumbering():  # as in a search: each after the one before
        together = [_ops_as_written(s.apply(model)) for s in steps]
    alone = []
    for s in steps:
        with edit.shared_renumbering():
            alone.append(_ops_as_written(s.apply(model)))
    assert together == alone


def test_candidates_built_with_lazy_indices_plan_and_settle_as_eager_ones():
    from tinymem.memory.requests import build_requests
    from tinymem.schedules import edit
    from tinymem.schedules.row_cache import cached_steps
    from tinymem.schedules.tiling_steps import spatial_steps

    model = tinymem.load_model(SAMPLES / "mobilenet_v2_035_144_int8.tflite")
    plan = plan_model(model, target=DEFAULT_TARGET)
    peak = plan.main_op_at(plan.peak_step())
    steps = [*spatial_steps(model, peak, plan.arena_bytes, DEFAULT_TARGET),
             *cached_steps(model, peak, plan.arena_bytes, DEFAULT_TARGET)]
    with edit.shared_renumbering(), edit.lazy_indices():
        lazy = [s.apply(model) for s in steps]
    eager = [s.apply(model) for s in steps]
    assert any(m.main.__dict__.get("_stale_indices") for m in lazy)  # (some were left stale)
    for a, b in zip(lazy, eager):
        assert build_requests(a, None, DEFAULT_TARGET) == build_requests(b, None, DEFAULT_TARGET)
        edit.settle_indices(a)
        assert [op.index for op in a.main.operators] == list(range(len(a.main.operators)))
        assert _ops_as_written(a) == _ops_as_written(b)


def test_a_search_keeps_no_renumbered_copies_when_it_ends():
    from tinymem.schedules import edit

    explore(tinymem.load_model(SAMPLES / "cnn_float32.tflite"), target=DEFAULT_TARGET)
    assert edit._renumbering is None


def test_a_nested_search_shares_no_answers_with_the_outer_one():
    from tinymem.ops import memo

    with memo.shared_answers():
        outer = memo._shared
        with memo.shared_answers():
            assert memo._shared is not outer  # file constants name one model's buffers
        assert memo._shared is outer
    assert memo._shared is None


def test_renumbered_copies_are_let_go_when_a_search_fails():
    from tinymem.schedules import edit

    with pytest.raises(RuntimeError):
        with edit.shared_renumbering():
            raise RuntimeError("the search failed")
    assert edit._renumbering is None


def test_the_collector_is_off_during_a_search_and_as_it_was_after():
    from tinymem.schedules.collector import collector_off

    inside = []
    with collector_off():
        inside.append(gc.isenabled())
    assert inside == [False] and gc.isenabled()
    gc.disable()
    try:
        with collector_off():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


# --------------------------------------------------------------------------- rewrites measured by their changes


@pytest.mark.parametrize("name", ["cnn_float32", "resnet_skip_int8", "mobilenet_v2_035_144_int8"])
def test_a_rewrite_names_every_op_it_made_and_every_op_it_left_out(name):
    from tinymem.ops import total_macs
    from tinymem.schedules.explore import STEP_SOURCES, _peak_op

    model = tinymem.load_model(SAMPLES / f"{name}.tflite")
    plan = plan_model(model, target=DEFAULT_TARGET)
    steps = [s for src in STEP_SOURCES
             for s in src(model, _peak_op(plan), plan.arena_bytes, DEFAULT_TARGET)]
    assert len({s.kind for s in steps}) >= 2
    for step in steps:
        child = step.apply(model)
        rw = child.main.rewrite
        assert rw is not None and rw.source == id(model.main)
        made = {id(op) for op in rw.created}
        # The source has no tags: every op the child names a tag on, or whose options
        # differ from its source op's, was made by the rewrite.
        for op in child.main.operators:
            src = model.main.operators[op.origin] if op.origin is not None else None
            same = (op.tag is None and src is not None and op.opcode == src.opcode
                    and op.options == src.options)
            assert same or id(op) in made, (step.label, op.index)
        assert model_macs(child) == (model_macs(model) - total_macs(rw.dropped, model.main)
                                     + total_macs(rw.created, child.main)), step.label


def test_compiled_placement_places_as_the_python_it_is_compiled_from():
    import numpy as np

    from tinymem.memory import first_fit

    rng = random.Random(5)
    n = first_fit.COMPILE_FROM + 50
    for _ in range(20):
        first = [rng.randint(-1, 200) for _ in range(n)]
        last = [f + rng.choice([0, 1, 3, 20]) for f in first]
        f, la = np.array(first, dtype=np.int64), np.array(last, dtype=np.int64)
        rows = first_fit.overlap_rows(f, la, 10 ** 9)
        compiled = first_fit.for_size(first_fit.overlap_rows, n)
        assert compiled is not first_fit.overlap_rows  # (it is compiled at this size)
        got = compiled(f, la, 10 ** 9)
        assert [sorted(got[1][got[0][i]:got[0][i + 1]]) for i in range(n)] == \
            [sorted(rows[1][rows[0][i]:rows[0][i + 1]]) for i in range(n)]
        sizes = np.array([rng.choice([0, 16, 32, rng.randint(1, 99) * 16]) for _ in range(n)],
                         dtype=np.int64)
        order = np.array(rng.sample(range(n), n), dtype=np.int64)
        limit = rng.choice([-1, rng.randint(0, 5000)])
        plain, fast = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        ok = first_fit.place(order, 0, sizes, plain, rows[0], rows[1], limit)
        assert first_fit.for_size(first_fit.place, n)(order, 0, sizes, fast, rows[0], rows[1],
                                                      limit) == ok
        assert fast.tolist() == plain.tolist()


@pytest.mark.parametrize("name", ["cnn_float32", "resnet_skip_int8", "mobilenet_v2_035_144_int8"])
def test_a_candidate_is_at_least_as_live_as_its_parent_outside_the_ops_it_rewrites(name):
    from tinymem.memory.liveness import live_bytes_per_scope
    from tinymem.memory.requests import build_requests
    from tinymem.schedules.explore import STEP_SOURCES, _Evaluator, _peak_op

    model = tinymem.load_model(SAMPLES / f"{name}.tflite")
    plan = plan_model(model, target=DEFAULT_TARGET)
    ev = _Evaluator(model, None, DEFAULT_TARGET)
    steps = [s for src in STEP_SOURCES
             for s in src(model, _peak_op(plan), plan.arena_bytes, DEFAULT_TARGET)]
    assert len({s.kind for s in steps}) >= 2
    below = 0
    for step in steps:
        req = build_requests(step.apply(model), None, DEFAULT_TARGET)
        bound = int(live_bytes_per_scope(req.buffers, req.last_scope).max())
        outside = ev.outside_bound((), model, step)
        assert 0 < outside <= bound, step.label
        below += outside < plan.peak_bytes
    assert below  # (the bound is not the parent's peak everywhere)
