"""Explore every model: the best schedule within 0%, 10%, 15% and 25% MAC overhead.

Prints a markdown table of TFLM arena bytes (as planned for the rewritten
model), the reduction against the baseline, the kind of schedule, and the
search time.

    python bench/explore_bench.py [MODEL.tflite ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from _bench import model_paths

import tinymem  # noqa: E402
from tinymem.schedules.explore import explore  # noqa: E402

LIMITS = (0.0, 0.10, 0.15, 0.25)


def main(argv: list[str]) -> None:
    paths = [Path(p) for p in argv] or model_paths()
    head = " | ".join(f"best ≤{int(x * 100)}%" for x in LIMITS)
    print(f"| model | baseline B | {head} | search s |")
    print("|---|---:|" + "---|" * len(LIMITS) + "---:|")
    for path in paths:
        ex = explore(tinymem.load_model(path))
        base = ex.baseline.arena_bytes
        cells = []
        for limit in LIMITS:
            o = ex.best_within(limit)
            cells.append(f"{o.arena_bytes:,} ({base / o.arena_bytes:.2f}x, {o.kind}, "
                         f"{o.mac_overhead:+.1%})" if o.kind != "baseline" else f"{o.arena_bytes:,}")
        print(f"| {path.stem} | {base:,} | " + " | ".join(cells) + f" | {ex.seconds:.1f} |",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
