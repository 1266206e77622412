"""Time the writer on every model: planning and emission of the whole file.

Prints a markdown table: file size, tensors, and the time of
`serialize_model(load_model(path))` (the median and the best of 7, after one
warm-up run that fills the reflection caches).

    python bench/writer_bench.py
"""

from __future__ import annotations

import statistics
import sys
import time

from _models import model_paths

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from tinymem.read.reader import load_model  # noqa: E402
from tinymem.writer import serialize_model  # noqa: E402


def main() -> None:
    print("| model | file kB | tensors | serialize median ms | best ms |")
    print("|---|---:|---:|---:|---:|")
    for path in model_paths():
        model = load_model(path)
        serialize_model(model)
        runs = []
        for _ in range(7):
            t = time.perf_counter()
            serialize_model(model)
            runs.append(time.perf_counter() - t)
        tensors = sum(len(sg.tensors) for sg in model.subgraphs)
        print(f"| {path.stem} | {path.stat().st_size / 1024:.0f} | {tensors} | "
              f"{statistics.median(runs) * 1000:.1f} | {min(runs) * 1000:.1f} |", flush=True)


if __name__ == "__main__":
    main()
