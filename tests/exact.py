"""The check every rewrite test makes: a written model gives the original's
outputs in LiteRT and the TFLM wheel, and TFLM plans the predicted head."""

from __future__ import annotations

from pathlib import Path

from tinymem.memory.planner import plan_model
from tinymem.verify.compare import verify_models
from tinymem.writer import write_model


def assert_same_outputs(original, path: Path, runs: int = 3, what=None):
    """`path` gives `original`'s outputs (both paths) in LiteRT and the TFLM wheel,
    over `runs` random inputs; returns the report (its planned arenas)."""
    report = verify_models(str(original), str(path), runs=runs)
    assert {r.runtime for r in report.results} == {"litert", "tflite-micro"}
    for r in report.results:
        assert r.ok, (what, r)
    return report


def assert_exact_rewrite(original, model, path: Path, what=None):
    """Write `model` to `path` and check it against `original` (a path), three random runs."""
    write_model(model, path)
    report = assert_same_outputs(original, path, 3, what)
    assert report.arena_rewritten == plan_model(model).arena_bytes
    return report
