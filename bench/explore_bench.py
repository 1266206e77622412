"""Explore every model: the best schedule within 0%, 10%, 15% and 25% MAC overhead,
and what the search cost.

Prints a markdown table of TFLM arena bytes to set (as planned for the
rewritten model on the default target, Cortex-M4 + CMSIS-NN), the reduction
against the baseline, the kind of schedule, the options and candidates
evaluated, and the search's wall and CPU seconds (CPU: this process and the
workers it forked; on a shared machine wall time says more about the others).
The last lines give the median and the worst. TINYMEM_WORKERS=2 forks workers.

    python bench/explore_bench.py [--beam N] [--caps 0.02,0.1] [MODEL.tflite ...]

--beam and --caps narrow the search (explore's `beam` and `caps`): the
trade of time for options, model by model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from _bench import model_paths

import tinymem  # noqa: E402
from tinymem.schedules.explore import DEFAULT_BEAM, OVERHEAD_CAPS, explore  # noqa: E402
from tinymem.schedules import parallel  # noqa: E402
from tinymem.targets import DEFAULT_TARGET  # noqa: E402

LIMITS = (0.0, 0.10, 0.15, 0.25)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _caps(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--beam", type=int, default=DEFAULT_BEAM)
    ap.add_argument("--caps", type=_caps, default=OVERHEAD_CAPS)
    args = ap.parse_args(argv)
    paths = args.models or model_paths()
    head = " | ".join(f"best ≤{int(x * 100)}%" for x in LIMITS)
    print(f"| model | baseline B | {head} | options | evaluated | wall s | CPU s |")
    print("|---|---:|" + "---|" * len(LIMITS) + "---:|---:|---:|---:|")
    walls, cpus = [], []
    for path in paths:
        model = tinymem.load_model(path)
        t0, c0 = time.perf_counter(), _cpu()
        ex = explore(model, target=DEFAULT_TARGET, beam=args.beam, caps=args.caps)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        walls.append(wall)
        cpus.append(cpu)
        base = ex.baseline.required_bytes
        cells = []
        for limit in LIMITS:
            o = ex.best_within(limit)
            cells.append(f"{o.required_bytes:,} ({base / o.required_bytes:.2f}x, {o.kind}, "
                         f"{o.mac_overhead:+.1%})" if o.kind != "baseline"
                         else f"{o.required_bytes:,}")
        print(f"| {path.stem} | {base:,} | " + " | ".join(cells)
              + f" | {len(ex.options)} | {ex.evaluated} | {wall:.1f} | {cpu:.1f} |", flush=True)
    if walls:
        print(f"\nmedian: {statistics.median(walls):.1f} s wall, {statistics.median(cpus):.1f} s CPU; "
              f"worst: {max(walls):.1f} s wall, {max(cpus):.1f} s CPU "
              f"({len(walls)} models, {parallel.workers()} processes, "
              f"beam {args.beam}, caps {','.join(f'{c:g}' for c in args.caps)})")


if __name__ == "__main__":
    main(sys.argv[1:])
