"""The check every rewrite test makes: a written model gives the original's
outputs in LiteRT and the TFLM wheel, and TFLM plans the predicted head."""

from __future__ import annotations

from pathlib import Path

from tinymem.memory.planner import plan_model
from tinymem.verify.compare import verify_models
from tinymem.writer import write_model


def assert_exact_rewrite(original, model, path: Path, what=None):
    """Write `model` to `path` and check it against `original` (a path), three random runs."""
    write_model(model, path)
    report = verify_models(str(original), str(path), runs=3)
    assert {r.runtime for r in report.results} == {"litert", "tflite-micro"}
    for r in report.results:
        assert r.ok, (what, r)
    assert report.arena_rewritten == plan_model(model).arena_bytes
    return report
