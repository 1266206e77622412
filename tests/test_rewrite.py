"""Rewritten models, checked against the real runtimes.

For the options explore recommends on every sample and shared model: the
written file loads in LiteRT and TFLite Micro, gives the original's outputs
(and intermediate tensors) bit for bit, and TFLM's arena for it is the one
explore predicted.
"""

from __future__ import annotations

import os

import pytest

import tinymem
from tinymem.verify import runtimes
from tinymem.errors import TinymemError
from tinymem.schedules.explore import explore
from tinymem.verify.compare import verify_models
from tinymem.writer import write_option

from .conftest import SAMPLES, all_model_params, explored
from .test_explore import NOTHING_LOWERS

pytestmark = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                reason="needs ai-edge-litert and tflite-micro")


def _chosen_options(ex):
    """The recommendation within 10% MAC overhead, and the best within 25%."""
    chosen = []
    for limit in (0.10, 0.25):
        o = ex.best_within(limit)
        if o.kind != "baseline" and o not in chosen:
            chosen.append(o)
    return chosen


def _litert_refuses(path: str) -> bool:
    try:
        details = runtimes.litert_input_details(path)
        runtimes.litert_run_full(path, [runtimes.random_inputs(details, 0)])
    except Exception:  # the runtime's own refusal, whatever its type
        return True
    return False


@pytest.mark.parametrize("path", [p for p in all_model_params()
                                  if p.values[0].stem not in NOTHING_LOWERS])
def test_recommended_rewrites_are_exact(path, tmp_path):
    ex = explored(path, max_overhead=0.10)
    options = _chosen_options(ex)
    assert options
    try:
        runtimes.tflm_arena(str(path))
        tflm_ok = True
    except RuntimeError:
        tflm_ok = False
    for o in options:
        out = tmp_path / f"{o.id}.tflite"
        write_option(o, out)
        # Weights are shared: the file grows only by the new ops' tables.
        growth = os.path.getsize(out) - os.path.getsize(path)
        assert growth <= 4096 + 200 * max(o.ops_added, 0), (o.id, growth)
        report = verify_models(str(path), str(out), runs=3)
        litert = next(r for r in report.results if r.runtime == "litert")
        if litert.ok is None:
            # LiteRT could not compare: it must be the original it refuses (a known
            # quantization check), not the file tinymem wrote.
            assert _litert_refuses(str(path)), (o.id, litert.error)
        else:
            assert litert.ok, (o.id, litert)
            assert litert.tensors_compared > 0
        if tflm_ok:
            assert report.arena_rewritten is not None, o.id
            assert report.arena_rewritten <= o.arena_bytes, (o.id, report.arena_rewritten)
            assert report.arena_rewritten == o.arena_bytes
            tflm = next(r for r in report.results if r.runtime == "tflite-micro")
            if tflm.error is None or not tflm.error.startswith("original"):
                assert tflm.ok, (o.id, tflm)


def test_never_overwrites_the_input(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes((SAMPLES / "resnet_skip_int8.tflite").read_bytes())
    before = src.read_bytes()
    ex = explore(tinymem.load_model(src), max_overhead=0.10)
    with pytest.raises(TinymemError):
        write_option(ex.recommended, src)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
