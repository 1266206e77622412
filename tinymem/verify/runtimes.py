"""The real runtimes, used as ground truth: TFLite Micro and LiteRT.

Both are optional (the `runtimes` extra). TFLite Micro is always run in a
child process: some of its kernels abort the whole process on odd models,
and it reports its arena only on the C-level stderr.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from ..extras import Extra, install_hint

_TFLM_SCRIPT = r"""
import sys
from tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))
it.print_allocations()
"""

_LINE = re.compile(r"Arena allocation (head|tail|total) (\d+) bytes")


@dataclass(frozen=True)
class TflmArena:
    head: int
    tail: int
    total: int


class RuntimeUnavailable(RuntimeError):
    pass


def _reason(proc: subprocess.CompletedProcess) -> str:
    """The line of a failed child's stderr that says why (not the allocation report)."""
    lines = [ln.strip() for ln in (proc.stderr or "").splitlines()
             if ln.strip() and not ln.startswith("[RecordingMicroAllocator]")]
    if proc.returncode < 0:
        return f"the runtime crashed (signal {-proc.returncode})" + (f": {lines[-1]}" if lines else "")
    return lines[-1] if lines else f"exit code {proc.returncode}"


def have_tflm() -> bool:
    try:
        import tflite_micro  # noqa: F401
    except Exception:
        return False
    return True


def have_litert() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except Exception:
        return False
    return True


def tflm_arena(path: str, arena_size: int = 64 * 1024 * 1024, timeout: float = 120) -> TflmArena:
    """The arena TFLite Micro allocates for a model, or RuntimeError saying why it could not."""
    if not have_tflm():
        raise RuntimeUnavailable(f"tflite-micro is not installed: {install_hint(Extra.RUNTIMES)}")
    proc = subprocess.run([sys.executable, "-c", _TFLM_SCRIPT, os.fspath(path), str(arena_size)],
                          capture_output=True, text=True, timeout=timeout)
    found = dict((k, int(v)) for k, v in _LINE.findall(proc.stderr + proc.stdout))
    if proc.returncode != 0 or not {"head", "tail", "total"} <= found.keys():
        raise RuntimeError(f"TFLite Micro could not set up the model: {_reason(proc)}")
    return TflmArena(head=found["head"], tail=found["tail"], total=found["total"])


_TFLM_RUN_SCRIPT = r"""
import sys, numpy as np
from tflite_micro import runtime
path, arena, npz, out, n_out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
it = runtime.Interpreter.from_file(path, arena_size=arena)
it.print_allocations()
data = np.load(npz)
results = {}
for k in range(int(data["count"])):
    it.reset()
    for i in range(int(data["inputs"])):
        it.set_input(data[f"x{k}_{i}"], i)
    it.invoke()
    for j in range(n_out):
        results[f"y{k}_{j}"] = it.get_output(j)
np.savez(out, **results)
"""


def random_inputs(details: list[dict], seed: int):
    """Seeded random inputs covering each input type's whole range."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        dt = np.dtype(d["dtype"])
        shape = tuple(int(s) for s in d["shape"])
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            out.append(rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dt))
        elif dt == np.bool_:
            out.append(rng.integers(0, 2, size=shape).astype(dt))
        else:
            out.append(rng.standard_normal(shape).astype(dt))
    return out


def _litert(path: str, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Optimised builtin kernels without delegates: deterministic, and unlike the
    # reference resolver they accept random-weight models' extreme scales.
    return Interpreter(model_path=os.fspath(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                       experimental_preserve_all_tensors=preserve)


_LITERT_CHILD = r"""
import os, pickle, sys
sys.path.insert(0, sys.argv[1])
from tinymem.verify.runtimes import _litert_here
with open(sys.argv[2], "rb") as f:
    job = pickle.load(f)
result = _litert_here(*job)
with open(sys.argv[3], "wb") as f:
    pickle.dump(result, f)
sys.stdout.flush()
os._exit(0)  # LiteRT's teardown has crashed on some models; the results are saved
"""


def _litert_here(path: str, inputs_per_run, named: bool, details_only: bool):
    """Runs in the child process: LiteRT's input details, or per run the
    outputs (in order) and, with `named`, every tensor by name."""
    it = _litert(path, preserve=named)
    if details_only:
        return [{"dtype": d["dtype"], "shape": d["shape"]} for d in it.get_input_details()]
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    results = []
    for inputs in inputs_per_run:
        for d, x in zip(ins, inputs):
            it.set_tensor(d["index"], x)
        it.invoke()
        outputs = [it.get_tensor(d["index"]).copy() for d in outs]
        tensors = None
        if named:
            tensors = {}
            for d in it.get_tensor_details():
                try:
                    tensors[d["name"]] = it.get_tensor(d["index"]).copy()
                except ValueError:
                    continue  # tensors with no data (unused, or freed)
        results.append((outputs, tensors))
    return results


def _litert_child(path: str, inputs_per_run, named: bool, details_only: bool,
                  timeout: float = 600):
    import pickle
    import tempfile

    if not have_litert():
        raise RuntimeUnavailable(f"ai-edge-litert is not installed: {install_hint(Extra.RUNTIMES)}")
    # The folder holding the tinymem package: tinymem/verify/runtimes.py, three levels up.
    pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory() as tmp:
        job, out = os.path.join(tmp, "job.pkl"), os.path.join(tmp, "out.pkl")
        with open(job, "wb") as f:
            pickle.dump((os.fspath(path), inputs_per_run, named, details_only), f)
        proc = subprocess.run([sys.executable, "-c", _LITERT_CHILD, pkg_parent, job, out],
                              capture_output=True, text=True, timeout=timeout)
        if not os.path.exists(out):
            raise RuntimeError(f"LiteRT could not run the model: {_reason(proc)}")
        with open(out, "rb") as f:
            return pickle.load(f)


def litert_run(path: str, inputs_per_run: list[list], named: bool = False):
    """LiteRT's outputs for each list of inputs (run in a child process).

    With `named`, each run gives a dict of every activation tensor by name
    (outputs and intermediates), so a rewritten model can be compared with
    its original tensor by tensor, not only at the (often saturated) outputs.
    LiteRT runs in a child because it can abort the whole process on some
    models (as TFLite Micro can).
    """
    runs = litert_run_full(path, inputs_per_run, named=named)
    return [tensors if named else outputs for outputs, tensors in runs]


def litert_run_full(path: str, inputs_per_run: list[list], named: bool = True,
                    timeout: float = 600):
    """Per run, (outputs in order, every tensor by name or None): one child, one pass."""
    return _litert_child(path, inputs_per_run, named, details_only=False, timeout=timeout)


def litert_input_details(path: str, timeout: float = 600) -> list[dict]:
    return _litert_child(path, None, False, details_only=True, timeout=timeout)


def tflm_run(path: str, inputs_per_run: list[list], arena_size: int = 64 * 1024 * 1024,
             timeout: float = 300) -> tuple[TflmArena, list[list]]:
    """The arena and the outputs of TFLite Micro (in a child process) for each list of inputs."""
    import tempfile

    import numpy as np

    if not have_tflm():
        raise RuntimeUnavailable(f"tflite-micro is not installed: {install_hint(Extra.RUNTIMES)}")
    with tempfile.TemporaryDirectory() as tmp:
        npz, out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        arrays = {"count": np.array(len(inputs_per_run)),
                  "inputs": np.array(len(inputs_per_run[0]) if inputs_per_run else 0)}
        for k, inputs in enumerate(inputs_per_run):
            for i, x in enumerate(inputs):
                arrays[f"x{k}_{i}"] = x
        np.savez(npz, **arrays)
        from ..read.reader import load_model

        n_out = len(load_model(path).main.outputs)
        proc = subprocess.run([sys.executable, "-c", _TFLM_RUN_SCRIPT, os.fspath(path),
                               str(arena_size), npz, out, str(n_out)], capture_output=True,
                              text=True, timeout=timeout)
        found = dict((k, int(v)) for k, v in _LINE.findall(proc.stderr + proc.stdout))
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"TFLite Micro could not run the model: {_reason(proc)}")
        data = np.load(out)
        n_out = len([k for k in data.files if k.startswith("y0_")])
        results = [[data[f"y{k}_{j}"] for j in range(n_out)] for k in range(len(inputs_per_run))]
    return TflmArena(head=found["head"], tail=found["tail"], total=found["total"]), results


def unique_tensor_names(path: str) -> set[str]:
    """Names that identify exactly one tensor of the main subgraph (comparable across files)."""
    from collections import Counter

    from ..read.reader import load_model

    counts = Counter(t.name for t in load_model(path).main.tensors)
    return {n for n, c in counts.items() if n and c == 1}
