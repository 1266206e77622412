"""The best head (planned activation arena) and the best arena to set within
1%, 10% and 15% MAC overhead, with the search's cost.

Vela's SRAM figure counts activations only, so benchmarks against it compare
heads; the board sets the arena to set. Prints a markdown table.

    python bench/explore_heads.py [MODEL.tflite ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from _bench import model_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tinymem  # noqa: E402
from tinymem.schedules.explore import explore  # noqa: E402
from tinymem.targets import DEFAULT_TARGET  # noqa: E402

LIMITS = (0.01, 0.10, 0.15)


def _best(ex, limit: float, figure: str):
    ok = [o for o in ex.options if o.mac_overhead <= limit + 1e-12]
    o = min(ok, key=lambda o: (getattr(o, figure), o.mac_overhead))
    return f"{getattr(o, figure):,} ({o.mac_overhead:+.1%})"


def main(argv: list[str]) -> None:
    paths = [Path(p) for p in argv] or model_paths()
    cols = " | ".join(f"head ≤{round(x * 100)}% | to set ≤{round(x * 100)}%" for x in LIMITS)
    print(f"| model | base head | base to set | {cols} | candidates | s |")
    print("|---|---:|---:|" + "---:|" * (2 * len(LIMITS)) + "---:|---:|")
    for path in paths:
        ex = explore(tinymem.load_model(path), target=DEFAULT_TARGET)
        cells = [c for x in LIMITS for c in (_best(ex, x, "head_bytes"),
                                               _best(ex, x, "required_bytes"))]
        print(f"| {path.stem} | {ex.baseline.head_bytes:,} | {ex.baseline.required_bytes:,} | "
              + " | ".join(cells) + f" | {ex.evaluated} | {ex.seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
