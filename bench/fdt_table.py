"""Fused depthwise tiling against spatial tiling, model by model.

For every sample and shared model (or the ones named), explore three times:
with FDT steps only, with spatial steps only, and with both. Prints a
markdown table of TFLM arena bytes with the MAC overhead, for the best
option within 0%, 10% and 25% MAC overhead:

  * FDT: the best option whose schedule uses FDT (an FDT-only search);
  * spatial: the best option whose schedule uses patches / spatial tiling
    (a spatial-only search);
  * combined: the best option of any kind (layout and reordering included)
    of a search with both step sources.

"-" means the search found no such option within the limit.

    python bench/fdt_table.py [MODEL.tflite ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from _bench import model_paths

import tinymem  # noqa: E402
from tinymem.schedules.explore import explore  # noqa: E402
from tinymem.schedules.fdt import fdt_steps  # noqa: E402
from tinymem.schedules.tiling_steps import spatial_steps  # noqa: E402

LIMITS = (0.0, 0.10, 0.25)


def best(ex, limit: float, kinds: tuple[str, ...] | None):
    ok = [o for o in ex.options if o.mac_overhead <= limit + 1e-12
          and (kinds is None or any(k in o.kind.split("+") for k in kinds))]
    return min(ok, key=lambda o: (o.arena_bytes, o.mac_overhead)) if ok else None


def cell(o, base: int) -> str:
    if o is None:
        return "-"
    if o.arena_bytes >= base:
        return f"{o.arena_bytes:,}"
    return f"{o.arena_bytes:,} ({o.mac_overhead:+.1%})"


def main(argv: list[str]) -> None:
    paths = [Path(p) for p in argv] or model_paths()
    heads = []
    for what in ("FDT", "spatial", "combined"):
        heads += [f"{what} ≤{int(x * 100)}%" for x in LIMITS]
    print("| model | baseline B | " + " | ".join(heads) + " | s (fdt/spatial/both) |")
    print("|---|---:|" + "---:|" * len(heads) + "---|")
    for path in paths:
        model = tinymem.load_model(path)
        runs = {}
        secs = []
        for name, sources in (("fdt", [fdt_steps]), ("spatial", [spatial_steps]),
                              ("both", [spatial_steps, fdt_steps])):
            t0 = time.perf_counter()
            runs[name] = explore(model, sources=sources)
            secs.append(time.perf_counter() - t0)
        base = runs["both"].baseline.arena_bytes
        cells = [cell(best(runs["fdt"], x, ("fdt",)), base) for x in LIMITS]
        cells += [cell(best(runs["spatial"], x, ("patch", "spatial")), base) for x in LIMITS]
        cells += [cell(best(runs["both"], x, None), base) for x in LIMITS]
        print(f"| {path.stem} | {base:,} | " + " | ".join(cells)
              + " | " + "/".join(f"{s:.1f}" for s in secs) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
