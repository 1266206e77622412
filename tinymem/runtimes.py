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
        raise RuntimeUnavailable("tflite-micro is not installed (pip install 'tinymem[runtimes]')")
    proc = subprocess.run([sys.executable, "-c", _TFLM_SCRIPT, os.fspath(path), str(arena_size)],
                          capture_output=True, text=True, timeout=timeout)
    found = dict((k, int(v)) for k, v in _LINE.findall(proc.stderr + proc.stdout))
    if proc.returncode != 0 or not {"head", "tail", "total"} <= found.keys():
        lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise RuntimeError(f"TFLite Micro could not set up the model: {reason}")
    return TflmArena(head=found["head"], tail=found["tail"], total=found["total"])
