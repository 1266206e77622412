"""Spatial tiling across branches and joins, checked against the real runtimes.

Segments that hold a residual block, a CONCATENATION of branches (a fire
module), read several tensors from outside (a UNet decoder's encoder skip)
or let a tensor pass by untouched are run tile by tile; the written files
must give the original's outputs bit for bit in LiteRT and TFLite Micro,
and TFLM must plan exactly the arena tinymem predicted.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymem
from tinymem.memory.planner import plan_model
from tinymem.schedules.row_cache import cache_segment, cacheable
from tinymem.schedules.segments import SegmentFinder
from tinymem.schedules.spatial import Grid, balanced_grid, tile_segment, tileable, uniform_grid
from tinymem.schedules.tiling_steps import joined_segments
from tinymem.verify import runtimes
from tinymem.verify.compare import verify_models

from .exact import assert_exact_rewrite
from .conftest import SAMPLES, SHARED
from .tiny_models import BO, I8, I32, ModelBuilder, S, _opts

needs_runtimes = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                    reason="needs ai-edge-litert and tflite-micro")

# One quantization for every concatenated tensor: TFLM's int8 CONCATENATION
# wants its inputs and output on the same scale.
JOIN_Q = dict(scale=0.09, zp=-4)


def _conv(g: ModelBuilder, rng, x: int, cout: int, k: int, stride: int = 1,
          q: dict | None = None, name: str = "") -> int:
    _, h, w, cin = g.main.tensors[x].shape
    h, w = -(-h // stride), -(-w // stride)
    wt = g.tensor([cout, k, k, cin], I8, data=rng.integers(-127, 128, size=(cout, k, k, cin)),
                  scale=[0.004] * cout, zp=[0] * cout, qdim=0)
    bt = g.tensor([cout], I32, data=rng.integers(-800, 800, size=cout), scale=[0.0002] * cout,
                  zp=[0] * cout)
    q = q or dict(scale=0.07, zp=2)
    y = g.tensor([1, h, w, cout], I8, name=name, **q)
    g.op(BO.CONV_2D, [x, wt, bt], [y],
         _opts("Conv2D", padding=S.Padding.SAME, strideH=stride, strideW=stride,
               dilationHFactor=1, dilationWFactor=1,
               fusedActivationFunction=S.ActivationFunctionType.RELU))
    return y


def _concat(g: ModelBuilder, parts: list[int]) -> int:
    _, h, w, _ = g.main.tensors[parts[0]].shape
    c = sum(g.main.tensors[p].shape[3] for p in parts)
    y = g.tensor([1, h, w, c], I8, name="joined", **JOIN_Q)
    g.op(BO.CONCATENATION, parts, [y], _opts("Concatenation", axis=3))
    return y


def fire_model(path) -> str:
    """squeeze 1x1 -> (expand 1x1 | expand 3x3) -> CONCATENATION -> 3x3 stride 2."""
    rng = np.random.default_rng(3)
    g = ModelBuilder()
    x = g.tensor([1, 15, 13, 4], I8, scale=0.05, zp=1, name="input")
    s = _conv(g, rng, x, 4, 1, name="squeeze")
    e1 = _conv(g, rng, s, 6, 1, q=JOIN_Q, name="e1")
    e3 = _conv(g, rng, s, 5, 3, q=JOIN_Q, name="e3")
    y = _concat(g, [e1, e3])
    out = _conv(g, rng, y, 4, 3, stride=2, name="out")
    g.io([x], [out])
    g.save(path)
    return str(path)


def decoder_model(path) -> str:
    """An encoder output `a`, two more layers, then CONCATENATION(c, a): a
    decoder reading its encoder skip."""
    rng = np.random.default_rng(5)
    g = ModelBuilder()
    x = g.tensor([1, 14, 17, 3], I8, scale=0.05, zp=-2, name="input")
    a = _conv(g, rng, x, 5, 3, q=JOIN_Q, name="a")    # op 0: the encoder's skip
    b = _conv(g, rng, a, 6, 3, name="b")              # op 1
    c = _conv(g, rng, b, 4, 3, q=JOIN_Q, name="c")    # op 2
    d = _concat(g, [c, a])                            # op 3
    out = _conv(g, rng, d, 3, 3, stride=2, name="out")  # op 4
    g.io([x], [out])
    g.save(path)
    return str(path)


@pytest.fixture(scope="module")
def fire(tmp_path_factory):
    return fire_model(tmp_path_factory.mktemp("fire") / "fire.tflite")


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    return decoder_model(tmp_path_factory.mktemp("decoder") / "decoder.tflite")


def _names(sg, tensors) -> list[str]:
    return [sg.tensors[t].name for t in tensors]


def _check_exact(original: str, model, tmp_path, name: str) -> None:
    report = assert_exact_rewrite(original, model, tmp_path / f"{name}.tflite", name)
    # LiteRT compares every intermediate tensor by name, not only the outputs.
    assert next(r for r in report.results if r.runtime == "litert").tensors_compared > 0


def test_concatenation_along_channels_tiles(fire):
    sg = tinymem.load_model(fire).main
    seg = SegmentFinder(sg).segment(0, 4)
    assert tileable(sg, seg)


def test_concatenation_along_rows_does_not_tile(tmp_path):
    g = ModelBuilder()
    a = g.tensor([1, 4, 4, 2], I8, name="a", **JOIN_Q)
    b = g.tensor([1, 4, 4, 2], I8, name="b", **JOIN_Q)
    y = g.tensor([1, 8, 4, 2], I8, name="y", **JOIN_Q)
    g.op(BO.CONCATENATION, [a, b], [y], _opts("Concatenation", axis=1))
    g.io([a, b], [y])
    sg = tinymem.load_model(g.save(tmp_path / "rows.tflite")).main
    seg = SegmentFinder(sg).segment(0, 0, max_entries=2)
    assert not tileable(sg, seg)


def test_two_entries_only_when_allowed(decoder):
    sg = tinymem.load_model(decoder).main
    finder = SegmentFinder(sg)
    assert finder.segment(2, 4) is None  # reads b and the skip a
    seg = finder.segment(2, 4, max_entries=2)
    assert sorted(_names(sg, seg.entries)) == ["a", "b"]
    assert _names(sg, [seg.exit]) == ["out"]


def test_a_skip_beside_the_segment_passes_by(decoder):
    sg = tinymem.load_model(decoder).main
    finder = SegmentFinder(sg)
    seg = finder.segment(1, 2)
    assert _names(sg, seg.entries) == ["a"]  # a is read: an entry, not passing
    assert finder.passing(seg) == []
    seg = finder.segment(2, 2)
    assert _names(sg, finder.passing(seg)) == ["a"]


@needs_runtimes
@pytest.mark.parametrize("ph,pw,balanced", [(2, 1, False), (2, 2, False), (3, 2, True)])
def test_fire_module_tiles_exactly(fire, ph, pw, balanced, tmp_path):
    model = tinymem.load_model(fire)
    sg = model.main
    seg = SegmentFinder(sg).segment(0, 4)
    y = sg.tensors[seg.exit]
    grid = balanced_grid(sg, seg, ph, pw) if balanced else uniform_grid(y.shape[1], y.shape[2],
                                                                        ph, pw)
    _check_exact(fire, tile_segment(model, seg, grid), tmp_path, f"fire_{ph}x{pw}")


@needs_runtimes
@pytest.mark.parametrize("first,last", [(2, 4), (1, 3), (2, 3)])
def test_decoder_reading_its_skip_tiles_exactly(decoder, first, last, tmp_path):
    model = tinymem.load_model(decoder)
    seg = SegmentFinder(model.main).segment(first, last, max_entries=2)
    y = model.main.tensors[seg.exit]
    out = tile_segment(model, seg, uniform_grid(y.shape[1], y.shape[2], 2, 2))
    _check_exact(decoder, out, tmp_path, f"decoder_{first}_{last}")


@needs_runtimes
def test_segment_with_a_tensor_passing_by_tiles_exactly(decoder, tmp_path):
    model = tinymem.load_model(decoder)
    seg = SegmentFinder(model.main).segment(1, 2)  # the skip a waits for the concat
    y = model.main.tensors[seg.exit]
    out = tile_segment(model, seg, Grid(rows=((0, 5), (5, 14)), cols=((0, y.shape[2]),)))
    _check_exact(decoder, out, tmp_path, "decoder_passing")


# Real models: segments that start inside a residual block (its skip is a
# second entry) and end past the join, or end at the join.
REAL = [
    (SAMPLES / "mobilenet_v2_035_144_int8.tflite", 7, 12),   # dw, project, ADD, next block
    (SAMPLES / "mobilenet_v2_035_144_int8.tflite", 14, 20),  # two residual blocks, skip in
    (SAMPLES / "resnet_skip_int8.tflite", 2, 7),             # conv, ADD, the downsampling block
    (SHARED / "mlperf_ic_resnet8_int8.tflite", 2, 3),        # the second conv and its ADD
    (SHARED / "mlperf_ic_resnet8_int8.tflite", 5, 7),        # a block's conv, shortcut, ADD
]


@needs_runtimes
@pytest.mark.parametrize("path,first,last", REAL, ids=lambda v: getattr(v, "stem", str(v)))
def test_real_residual_segments_tile_exactly(path, first, last, tmp_path):
    if not path.exists():
        pytest.fail(f"{path} is missing")
    model = tinymem.load_model(path)
    sg = model.main
    seg = SegmentFinder(sg).segment(first, last, max_entries=3)
    assert seg is not None and len(seg.entries) == 2
    assert tileable(sg, seg)
    out = tile_segment(model, seg, balanced_grid(sg, seg, 2, 2))
    _check_exact(str(path), out, tmp_path, f"{path.stem}_{first}_{last}")


def test_explorer_offers_segments_across_joins():
    model = tinymem.load_model(SAMPLES / "resnet_skip_int8.tflite")
    plan = plan_model(model)
    peak = plan.main_op_at(plan.peak_step())
    segs = [seg for _, seg in joined_segments(model, peak, plan.arena_bytes)]
    assert any(len(seg.entries) > 1 for seg in segs)


@needs_runtimes
def test_fire_module_in_cached_strips_is_exact(fire, tmp_path):
    """A CONCATENATION along channels joins rows like ADD does: the cached
    strips, which reuse the same segments and windows, stay exact."""
    model = tinymem.load_model(fire)
    seg = SegmentFinder(model.main).segment(0, 4)
    assert cacheable(model.main, seg)
    out = cache_segment(model, seg, (0, 3, 5, 8))
    _check_exact(fire, out, tmp_path, "fire_cached")


def test_cached_strips_refuse_a_second_entry(decoder):
    model = tinymem.load_model(decoder)
    seg = SegmentFinder(model.main).segment(2, 4, max_entries=2)
    assert not cacheable(model.main, seg)


def fire_net_model(path, hw: int = 64) -> str:
    """A stem conv, three fire modules (squeeze 1x1, expand 1x1 | 3x3, joined
    along channels), two downsampling convs: a SqueezeNet-like peak at the
    joins."""
    rng = np.random.default_rng(1)
    g = ModelBuilder()
    x = g.tensor([1, hw, hw, 3], I8, scale=0.05, zp=0, name="input")
    h = _conv(g, rng, x, 32, 3, stride=2)
    for _ in range(3):
        s = _conv(g, rng, h, 16, 1)
        h = _concat(g, [_conv(g, rng, s, 32, 1, q=JOIN_Q), _conv(g, rng, s, 32, 3, q=JOIN_Q)])
    h = _conv(g, rng, h, 32, 3, stride=2)
    h = _conv(g, rng, h, 16, 3, stride=2)
    g.io([x], [h])
    g.save(path)
    return str(path)


@needs_runtimes
def test_explore_tiles_through_fire_modules_exactly(tmp_path):
    from tinymem.schedules.explore import explore
    from tinymem.writer import write_option

    path = fire_net_model(tmp_path / "fire_net.tflite")
    ex = explore(tinymem.load_model(path), max_overhead=0.10)
    best = ex.best_within(0.10)
    assert best.required_bytes < ex.baseline.required_bytes
    # The chosen schedule's tiled segments run across the CONCATENATIONs.
    src = ex.model.main
    spans = [s.source_ops or (s.segment.first, s.segment.last) for s in best.steps]
    assert any(src.operators[i].opcode == "CONCATENATION"
               for a, b in spans for i in range(a, b + 1))
    out = tmp_path / "best.tflite"
    write_option(best, out)
    report = verify_models(path, str(out), runs=2)
    for r in report.results:
        assert r.ok, r
    assert report.arena_rewritten == best.arena_bytes
