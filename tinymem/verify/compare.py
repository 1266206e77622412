"""Checking a rewritten model against its original on the real runtimes.

Both files get the same seeded random inputs in LiteRT and in TFLite Micro
(whichever is installed). Outputs are compared, and in LiteRT every
intermediate tensor the two files share by name, so a difference is caught
where it starts rather than only at a saturated softmax. TFLM's arena head
is read for both files.
"""

from __future__ import annotations

import math
import subprocess
import time
from dataclasses import dataclass, field

import numpy as np

from . import runtimes
from ..errors import TinymemError
from ..extras import Extra, install_hint

FLOAT_RTOL = 1e-5
# Random inputs for all runs together are allocated here and copied to each
# child: a model declaring a [1, 40000, 40000] input is refused, not fed 1.6 GB.
INPUT_BYTES_LIMIT = 64 * 1024 * 1024
DEFAULT_TIMEOUT_S = 120.0  # for all the runtimes' child processes together


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
    def not_run(self) -> list[RuntimeResult]:
        """The installed runtimes that could not run the models: nothing verified there."""
        return [r for r in self.results if r.ok is None]

    @property
    def ok(self) -> bool:
        """Every installed runtime ran both models and found them the same."""
        return bool(self.results) and all(r.ok for r in self.results)

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


class _Budget:
    """One time budget for every child process verify starts."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired("runtime", self.seconds)
        return left


def _why(e: BaseException, budget: _Budget) -> str:
    """One line saying why a runtime did not give results."""
    if isinstance(e, subprocess.TimeoutExpired):
        return (f"did not finish within the {budget.seconds:g} s budget (--timeout); "
                "a model that never ends, such as a WHILE whose condition stays true?")
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def verify_models(original: str, rewritten: str, runs: int = 3, seed: int = 0,
                  timeout: float = DEFAULT_TIMEOUT_S) -> VerifyReport:
    """Run both files on every installed runtime with `runs` seeded random inputs.

    `timeout` bounds all the runtimes' child processes together (seconds); a
    runtime that runs out of it is reported as not run.
    """
    from ..read.reader import load_model

    if runs < 1:
        raise TinymemError(f"verify needs at least one run, got {runs}")
    if seed < 0:
        raise TinymemError(f"the seed must not be negative, got {seed}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise TinymemError(f"the time budget must be a positive number of seconds, got {timeout}")
    load_model(original)  # clear errors for bad files before any runtime sees them
    load_model(rewritten)
    report = VerifyReport(original=original, rewritten=rewritten, runs=runs, results=[])
    if not runtimes.have_litert() and not runtimes.have_tflm():
        raise TinymemError(f"verify needs a runtime: {install_hint(Extra.RUNTIMES)}")
    budget = _Budget(timeout)
    details = _details_from_ir(original)
    _check_input_size(details, runs)  # before LiteRT allocates anything either
    try:
        if runtimes.have_litert():
            details = runtimes.litert_input_details(original, timeout=budget.left())
    except Exception:
        pass  # the file's own declarations then
    details = _known_shapes(details, report)
    _check_input_size(details, runs)
    inputs = [runtimes.random_inputs(details, seed + k) for k in range(runs)]

    if runtimes.have_litert():
        report.results.append(_compare_litert(original, rewritten, inputs, budget))
    else:
        report.notes.append("ai-edge-litert not installed: LiteRT not checked")
    if runtimes.have_tflm():
        report.results.append(_compare_tflm(original, rewritten, inputs, report, budget))
    else:
        report.notes.append("tflite-micro not installed: TFLite Micro not checked")
    return report


def _known_shapes(details: list[dict], report: VerifyReport) -> list[dict]:
    """Input details with every unknown (-1) dimension run as 1, and a note saying so."""
    out = []
    for i, d in enumerate(details):
        shape = [int(s) for s in d["shape"]]
        if any(s < 0 for s in shape):
            report.notes.append(f"input {i} has unknown dimensions {shape}: run with 1 there")
            shape = [1 if s < 0 else s for s in shape]
        out.append({"dtype": d["dtype"], "shape": shape})
    return out


def _check_input_size(details: list[dict], runs: int) -> None:
    per_run = 0
    for d in details:
        try:
            item = np.dtype(d["dtype"]).itemsize
        except TypeError:
            raise TinymemError(f"verify cannot make random inputs of type {d['dtype']}") from None
        per_run += math.prod(max(int(s), 1) for s in d["shape"]) * item
    if per_run * runs > INPUT_BYTES_LIMIT:
        raise TinymemError(f"the model's inputs take {per_run:,} bytes per run ({runs} runs): "
                           f"more than the {INPUT_BYTES_LIMIT >> 20} MiB verify allocates for "
                           "random inputs" + ("; try fewer --runs" if per_run <= INPUT_BYTES_LIMIT
                                              else ""))


def _details_from_ir(path: str) -> list[dict]:
    from ..read.reader import load_model

    sg = load_model(path).main
    return [{"dtype": np.dtype(sg.tensors[t].dtype), "shape": sg.tensors[t].shape}
            for t in sg.inputs]


def _compare_litert(original: str, rewritten: str, inputs, budget: _Budget) -> RuntimeResult:
    res = RuntimeResult(runtime="litert", ok=None)
    try:
        runs_a = runtimes.litert_run_full(original, inputs, timeout=budget.left())
        runs_b = runtimes.litert_run_full(rewritten, inputs, timeout=budget.left())
    except Exception as e:  # the runtime's own refusal, reported not raised
        res.error = _why(e, budget)
        return res
    ok, max_abs, max_rel, why = _compare_outputs([o for o, _ in runs_a], [o for o, _ in runs_b])
    if why:
        res.ok, res.error = False, why
        return res
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


def _compare_tflm(original: str, rewritten: str, inputs, report: VerifyReport,
                  budget: _Budget) -> RuntimeResult:
    res = RuntimeResult(runtime="tflite-micro", ok=None)
    try:
        arena_a, out_a = runtimes.tflm_run(original, inputs, timeout=budget.left())
        report.arena_original = arena_a.head
    except Exception as e:
        # Some kernels abort on odd (e.g. random-weight) models at invoke; the
        # arenas can still be read from a plain set-up.
        res.error = f"original: {_why(e, budget)}"
        for attr, path in (("arena_original", original), ("arena_rewritten", rewritten)):
            try:
                setattr(report, attr, runtimes.tflm_arena(path, timeout=budget.left()).head)
            except Exception:
                pass
        return res
    try:
        arena_b, out_b = runtimes.tflm_run(rewritten, inputs, timeout=budget.left())
        report.arena_rewritten = arena_b.head
    except Exception as e:
        res.error = f"rewritten: {_why(e, budget)}"
        res.ok = False
        return res
    res.ok, res.max_abs_diff, res.max_rel_diff, why = _compare_outputs(out_a, out_b)
    res.error = why
    return res


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _compare_outputs(out_a, out_b) -> tuple[bool, float | None, float | None, str | None]:
    """(all equal enough, max abs diff, max rel diff, why not comparable) over runs and outputs.

    Outputs of different counts or shapes have no difference to measure: the
    diffs are None and the reason says so (never an infinite diff, which JSON
    cannot carry).
    """
    ok, max_abs, max_rel = True, 0.0, 0.0
    for ra, rb in zip(out_a, out_b):
        if len(ra) != len(rb):
            return False, None, None, f"output counts differ: {len(ra)} vs {len(rb)}"
        for j, (x, y) in enumerate(zip(ra, rb)):
            if x.shape != y.shape:
                return (False, None, None, f"output shapes differ: output {j} is "
                        f"{list(x.shape)} vs {list(y.shape)}")
            d_abs, d_rel = _diff(x, y)
            max_abs, max_rel = max(max_abs, d_abs), max(max_rel, d_rel)
            ok &= _equal_enough(x, y)
    return ok, _finite_or_none(max_abs), _finite_or_none(max_rel), None


@dataclass
class FirmwareFile:
    path: str
    head: int | None = None
    tail: int | None = None
    required_predicted: int | None = None
    works_at_required: bool | None = None  # AllocateTensors + Invoke at the predicted arena
    error: str | None = None


@dataclass
class FirmwareReport:
    target: str
    original: FirmwareFile
    rewritten: FirmwareFile
    outputs_identical: bool | None = None

    @property
    def ok(self) -> bool:
        return bool(self.outputs_identical) and bool(self.rewritten.works_at_required)

    def to_json(self) -> dict:
        return {"target": self.target, "outputs_identical": self.outputs_identical,
                "original": self.original.__dict__, "rewritten": self.rewritten.__dict__}


def verify_on_firmware(original: str, rewritten: str, target, folder: str | None = None,
                       seed: int = 0) -> FirmwareReport:
    """Run both files on the target's TFLM firmware with the same random inputs.

    Reports each file's measured head and tail, whether it runs at tinymem's
    predicted arena to set, and whether the outputs are byte-identical.
    """
    import os
    import tempfile

    from . import firmware
    from ..memory.planner import plan_model
    from ..read.reader import load_model

    why = firmware.missing(folder, target)
    if why is not None:
        raise TinymemError(f"cannot verify on {target.label()}: {why}")
    inputs = runtimes.random_inputs(_details_from_ir(original), seed)
    report = FirmwareReport(target=target.label(), original=FirmwareFile(original),
                            rewritten=FirmwareFile(rewritten))
    outs = []
    with tempfile.TemporaryDirectory() as tmp:
        in_dir = os.path.join(tmp, "in")
        os.makedirs(in_dir)
        for i, x in enumerate(inputs):
            with open(os.path.join(in_dir, f"input_{i}.bin"), "wb") as f:
                f.write(np.ascontiguousarray(x).tobytes())
        for k, rec in enumerate((report.original, report.rewritten)):
            out_dir = os.path.join(tmp, f"out{k}")
            rec.required_predicted = plan_model(load_model(rec.path), target=target).required_bytes
            try:
                run = firmware.run_firmware(rec.path, target, folder=folder, inputs_dir=in_dir,
                                            outputs_dir=out_dir)
                rec.head, rec.tail = run.head, run.tail
                if not run.ok:
                    rec.error = "TFLM could not set up or run the model"
                    outs.append(None)
                    continue
                rec.works_at_required = firmware.run_firmware(
                    rec.path, target, arena=rec.required_predicted, folder=folder,
                    inputs_dir=in_dir).ok
            except Exception as e:  # the runner's own failure, reported not raised
                rec.error = str(e).splitlines()[0] if str(e) else type(e).__name__
                outs.append(None)
                continue
            files = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
            outs.append([open(os.path.join(out_dir, n), "rb").read() for n in files])
    if outs[0] is not None and outs[1] is not None:
        report.outputs_identical = outs[0] == outs[1] and len(outs[0]) > 0
    return report
