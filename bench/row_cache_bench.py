"""Cached row strips against recomputing tiles, measured on the Cortex-M4 firmware.

For each model: the baseline, tinymem's best recomputing option within 10%
MAC overhead, the best cached option, and the cached stage at other strip
counts. Each is written to a .tflite and run once on the real TFLite Micro
firmware (M4, CMSIS-NN kernels, QEMU): head and tail as the firmware
allocates them, instructions for one Invoke. MACs, bytes copied and ops
added come from tinymem.

    python bench/row_cache_bench.py [MODEL.tflite ...]
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tinymem  # noqa: E402
from tests.firmware import have_firmware, run_firmware  # noqa: E402
from tinymem.memory.planner import plan_model  # noqa: E402
from tinymem.schedules.copies import bytes_copied  # noqa: E402
from tinymem.schedules.explore import explore, model_macs  # noqa: E402
from tinymem.schedules.row_cache import CachedStep, balanced_cuts  # noqa: E402
from tinymem.schedules.spatial import Grid, even_splits  # noqa: E402
from tinymem.writer import write_model  # noqa: E402

DEFAULT_MODELS = (ROOT / "sample_models" / "mobilenet_v2_035_144_int8.tflite",
                  ROOT.parent / "shared" / "models" / "tfm_person_detect.tflite")
SWEEP = (6, 12, 18, 24, 36)


def rows_for(model_path: Path):
    """(label, model, offline plan) rows to measure."""
    model = tinymem.load_model(model_path)
    t0 = time.perf_counter()
    ex = explore(model)
    seconds = time.perf_counter() - t0
    rows = [("baseline", model, None)]
    recompute = [o for o in ex.options if o.steps and "cached" not in o.kind
                 and o.mac_overhead <= 0.10]
    if recompute:
        o = min(recompute, key=lambda o: (o.arena_bytes, o.mac_overhead))
        rows.append((f"{o.id}: {o.description}", o.model, o.offline))
    cached = [o for o in ex.options if "cached" in o.kind and o.mac_overhead <= 0.01]
    if cached:
        best = min(cached, key=lambda o: o.arena_bytes)
        rows.append((f"{best.id}: {best.description}", best.model, best.offline))
        # The same stages at other strip counts, uniform and balanced.
        shown = {s.grid.rows for s in best.steps if isinstance(s, CachedStep)}
        for n in SWEEP:
            for balanced in (False, True):
                cur, label = model, None
                for s in best.steps:
                    if isinstance(s, CachedStep):
                        h = s.grid.rows[-1][1]
                        if n > h:
                            break
                        if balanced:
                            cuts = balanced_cuts(cur.main, s.segment, n)
                            strips = tuple(zip(cuts, cuts[1:]))
                        else:
                            strips = even_splits(h, n)
                        if strips in shown:
                            break
                        shown.add(strips)
                        s = dataclasses.replace(s, grid=Grid(rows=strips, cols=s.grid.cols))
                        label = s.label
                    cur = s.apply(cur)
                else:
                    if label:
                        rows.append((label, cur, None))
    return ex, seconds, rows


def main(argv: list[str]) -> None:
    if not have_firmware():
        print("needs qemu-system-arm and ../shared/targets firmware", file=sys.stderr)
        sys.exit(1)
    paths = [Path(p) for p in argv] or [p for p in DEFAULT_MODELS if p.exists()]
    print("| model | option | head B (tinymem) | head B (M4) | tail B (M4) | MACs | copied B "
          "| +ops | M4 instructions | vs baseline |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        ex, seconds, rows = rows_for(path)
        base_macs = model_macs(ex.model)
        base_ops = len(ex.model.main.operators)
        base_instr = None
        with tempfile.TemporaryDirectory() as tmp:
            for k, (label, m, offline) in enumerate(rows):
                f = Path(tmp) / f"o{k}.tflite"
                write_model(m, f, offline_plan=offline)
                fw, _ = run_firmware(f)
                instr = fw.get("invoke_instructions")
                if k == 0:
                    base_instr = instr
                head = plan_model(m, offline=offline).arena_bytes
                vs = "" if not (instr and base_instr) else f"{instr / base_instr - 1:+.2%}"
                print(f"| {path.stem} | {label} | {head:,} | {fw.get('head', 0):,} | "
                      f"{fw.get('tail', 0):,} | {model_macs(m) / base_macs - 1:+.2%} | "
                      f"{bytes_copied(m):,} | {len(m.main.operators) - base_ops} | "
                      f"{instr:,} | {vs} |", flush=True)
        print(f"| {path.stem} | (explore took {seconds:.1f} s, {ex.evaluated} candidates) "
              "| | | | | | | | |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
