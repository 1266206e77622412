"""What the benchmarks share: the models they run on, timing, the table header.

Importing this module puts the checkout first on sys.path, so a benchmark
times this checkout's tinymem, not an installed one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models"
sys.path.insert(0, str(ROOT))


def model_paths() -> list[Path]:
    """The bundled samples, then ../shared/models when present."""
    paths = sorted((ROOT / "sample_models").glob("*.tflite"))
    if SHARED.is_dir():
        paths += sorted(SHARED.glob("*.tflite"))
    return paths


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall seconds of each of `runs` calls of `fn`."""
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def print_header(*columns: str, left: int = 1) -> None:
    """A markdown table's header: the first `left` columns left-aligned, the rest right."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * left + "---:|" * (len(columns) - left))
