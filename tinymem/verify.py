"""Checking a rewritten model against its original on the real runtimes.

Both files get the same seeded random inputs in LiteRT and in TFLite Micro
(whichever is installed). Outputs are compared, and in LiteRT every
intermediate tensor the two files share by name, so a difference is caught
where it starts rather than only at a saturated softmax. TFLM's arena head
is read for both files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import runtimes
from .errors import TinymemError
from .extras import Extra, install_hint

FLOAT_RTOL = 1e-5


@dataclass
class RuntimeResult:
    runtime: str
    ok: bool | None  # None: could not run
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    tensors_compared: int = 0
    tensors_differing: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class VerifyReport:
    original: str
    rewritten: str
    runs: int
    results: list[RuntimeResult]
    arena_original: int | None = None
    arena_rewritten: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        ran = [r for r in self.results if r.ok is not None]
        return bool(ran) and all(r.ok for r in ran)

    def to_json(self) -> dict:
        return {
            "schema": "tinymem.verify/1",
            "original": self.original, "rewritten": self.rewritten, "runs": self.runs,
            "ok": self.ok,
            "tflm_arena": {"original": self.arena_original, "rewritten": self.arena_rewritten},
            "runtimes": [r.__dict__ for r in self.results],
            "notes": self.notes,
        }


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = np.abs(a64 - b64)
    scale = np.maximum(np.abs(a64), 1e-30)
    return float(d.max(initial=0.0)), float((d / scale).max(initial=0.0))


def _equal_enough(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if np.issubdtype(a.dtype, np.floating):
        return bool(np.all(np.abs(a - b) <= FLOAT_RTOL * np.maximum(np.abs(a), 1e-6)))
    return bool(np.array_equal(a, b))


def verify_models(original: str, rewritten: str, runs: int = 3, seed: int = 0) -> VerifyReport:
    from .reader import load_model

    load_model(original)  # clear errors for bad files before any runtime sees them
    load_model(rewritten)
    report = VerifyReport(original=original, rewritten=rewritten, runs=runs, results=[])
    if not runtimes.have_litert() and not runtimes.have_tflm():
        raise TinymemError(f"verify needs a runtime: {install_hint(Extra.RUNTIMES)}")
    try:
        details = runtimes.litert_input_details(original) if runtimes.have_litert() else None
    except Exception:
        details = None
    if details is None:
        details = _details_from_ir(original)
    inputs = [runtimes.random_inputs(details, seed + k) for k in range(runs)]

    if runtimes.have_litert():
        report.results.append(_compare_litert(original, rewritten, inputs))
    else:
        report.notes.append("ai-edge-litert not installed: LiteRT not checked")
    if runtimes.have_tflm():
        report.results.append(_compare_tflm(original, rewritten, inputs, report))
    else:
        report.notes.append("tflite-micro not installed: TFLite Micro not checked")
    return report


def _details_from_ir(path: str) -> list[dict]:
    from .reader import load_model

    sg = load_model(path).main
    return [{"dtype": np.dtype(sg.tensors[t].dtype), "shape": sg.tensors[t].shape}
            for t in sg.inputs]


def _compare_litert(original: str, rewritten: str, inputs) -> RuntimeResult:
    res = RuntimeResult(runtime="litert", ok=None)
    try:
        runs_a = runtimes.litert_run_full(original, inputs)
        runs_b = runtimes.litert_run_full(rewritten, inputs)
    except Exception as e:  # the runtime's own refusal, reported not raised
        res.error = str(e).splitlines()[0] if str(e) else type(e).__name__
        return res
    ok, max_abs, max_rel = _compare_outputs([o for o, _ in runs_a], [o for o, _ in runs_b])
    differing = set()
    compared = 0
    names_a = runtimes.unique_tensor_names(original)
    names_b = runtimes.unique_tensor_names(rewritten)
    shared = names_a & names_b
    for (_, ta), (_, tb) in zip(runs_a, runs_b):
        for name, x in ta.items():
            if name not in shared:
                continue
            y = tb.get(name)
            if y is None or y.shape != x.shape or y.dtype != x.dtype:
                continue
            compared += 1
            if not _equal_enough(x, y):
                differing.add(name)
    res.ok = ok and not differing
    res.max_abs_diff, res.max_rel_diff = max_abs, max_rel
    res.tensors_compared = compared // max(len(inputs), 1)
    res.tensors_differing = sorted(differing)[:20]
    return res


def _compare_tflm(original: str, rewritten: str, inputs, report: VerifyReport) -> RuntimeResult:
    res = RuntimeResult(runtime="tflite-micro", ok=None)
    try:
        arena_a, out_a = runtimes.tflm_run(original, inputs)
        report.arena_original = arena_a.head
    except Exception as e:
        # Some kernels abort on odd (e.g. random-weight) models at invoke; the
        # arenas can still be read from a plain set-up.
        res.error = f"original: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        for attr, path in (("arena_original", original), ("arena_rewritten", rewritten)):
            try:
                setattr(report, attr, runtimes.tflm_arena(path).head)
            except Exception:
                pass
        return res
    try:
        arena_b, out_b = runtimes.tflm_run(rewritten, inputs)
        report.arena_rewritten = arena_b.head
    except Exception as e:
        res.error = f"rewritten: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        res.ok = False
        return res
    res.ok, res.max_abs_diff, res.max_rel_diff = _compare_outputs(out_a, out_b)
    return res


def _compare_outputs(out_a, out_b) -> tuple[bool, float, float]:
    """(all equal enough, max abs diff, max rel diff) over runs and outputs."""
    ok, max_abs, max_rel = True, 0.0, 0.0
    for ra, rb in zip(out_a, out_b):
        if len(ra) != len(rb):
            return False, float("inf"), float("inf")
        for x, y in zip(ra, rb):
            if x.shape != y.shape:
                return False, float("inf"), float("inf")
            d_abs, d_rel = _diff(x, y)
            max_abs, max_rel = max(max_abs, d_abs), max(max_rel, d_rel)
            ok &= _equal_enough(x, y)
    return ok, max_abs, max_rel
