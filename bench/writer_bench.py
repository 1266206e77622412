"""Time the writer on every model: planning and emission of the whole file.

Prints a markdown table: file size, tensors, and the time of
`serialize_model(load_model(path))` (the median and the best of 7, after one
warm-up run that fills the reflection caches).

    python bench/writer_bench.py
"""

from __future__ import annotations

import statistics

from _bench import model_paths, print_header, timed

from tinymem.read.reader import load_model
from tinymem.writer import serialize_model


def main() -> None:
    print_header("model", "file kB", "tensors", "serialize median ms", "best ms")
    for path in model_paths():
        model = load_model(path)
        serialize_model(model)
        runs = timed(lambda: serialize_model(model), 7)
        tensors = sum(len(sg.tensors) for sg in model.subgraphs)
        print(f"| {path.stem} | {path.stat().st_size / 1024:.0f} | {tensors} | "
              f"{statistics.median(runs) * 1000:.1f} | {min(runs) * 1000:.1f} |", flush=True)


if __name__ == "__main__":
    main()
