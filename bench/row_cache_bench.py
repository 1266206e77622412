"""Cached row strips against recomputing tiles, measured on the Cortex-M4 firmware.

For each model: the baseline, tinymem's lowest-head recomputing option
within 10% MAC overhead, explore's cached option (lowest arena to set), and
of the cached steps at the baseline's peak the lowest head and the lowest
arena to set. Each is written to a .tflite and run once on the real TFLite Micro
firmware (M4, CMSIS-NN kernels, QEMU): head and tail as the firmware
allocates them, instructions for one Invoke. MACs, bytes copied and ops
added come from tinymem.

    python bench/row_cache_bench.py [MODEL.tflite ...]
"""

from __future__ import annotations

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
from tinymem.schedules.row_cache import cached_steps  # noqa: E402
from tinymem.targets import DEFAULT_TARGET  # noqa: E402
from tinymem.writer import write_model  # noqa: E402

SHARED = ROOT.parent / "shared" / "models"
DEFAULT_MODELS = (ROOT / "sample_models" / "mobilenet_v2_035_144_int8.tflite",
                  ROOT / "sample_models" / "mobilenet_v2_100_224_int8.tflite",
                  SHARED / "tfm_person_detect.tflite", SHARED / "mlperf_vww_96_int8.tflite",
                  SHARED / "tinyengine_vww.tflite")


def rows_for(model_path: Path):
    """(label, model, offline plan) rows to measure."""
    model = tinymem.load_model(model_path)
    t0 = time.perf_counter()
    ex = explore(model, target=DEFAULT_TARGET)
    seconds = time.perf_counter() - t0
    rows = [("baseline", model, None)]
    recompute = [o for o in ex.options if o.steps and "cached" not in o.kind
                 and o.mac_overhead <= 0.10]
    if recompute:
        o = min(recompute, key=lambda o: (o.arena_bytes, o.mac_overhead))
        rows.append((f"lowest recomputing head <=10%: {o.description}", o.model, o.offline))
    cached = [o for o in ex.options if "cached" in o.kind and o.mac_overhead <= 0.01]
    if cached:
        best = min(cached, key=lambda o: (o.required_bytes, o.arena_bytes))
        rows.append((f"explore's cached option: {best.description}", best.model, best.offline))
    # Every cached step at the baseline's peak, planned alone: the lowest head and
    # the lowest arena to set (the explorer picks by arena to set, after more steps).
    base = plan_model(model, target=DEFAULT_TARGET)
    steps = []
    for step in cached_steps(model, base.main_op_at(base.peak_step()), base.arena_bytes):
        try:
            m = step.apply(model)
        except ValueError:
            continue
        if model_macs(m) <= 1.01 * model_macs(model):
            steps.append((plan_model(m, target=DEFAULT_TARGET), m, step))
    if steps:
        p, m, step = min(steps, key=lambda s: (s[0].arena_bytes, s[0].required_bytes))
        rows.append((f"lowest cached head: {step.label}", m, None))
        p, m, step = min(steps, key=lambda s: (s[0].required_bytes, s[0].arena_bytes))
        rows.append((f"lowest cached arena to set: {step.label}", m, None))
    return ex, seconds, rows


def main(argv: list[str]) -> None:
    if not have_firmware():
        print("needs qemu-system-arm and ../shared/targets firmware", file=sys.stderr)
        sys.exit(1)
    paths = [Path(p) for p in argv] or [p for p in DEFAULT_MODELS if p.exists()]
    print("| model | option | head B (tinymem) | head B (M4) | to set B (tinymem) | tail B (M4) "
          "| MACs | copied B | +ops | M4 instructions | vs baseline |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
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
                plan = plan_model(m, offline=offline, target=DEFAULT_TARGET)
                head = plan.arena_bytes
                vs = "" if not (instr and base_instr) else f"{instr / base_instr - 1:+.2%}"
                print(f"| {path.stem} | {label} | {head:,} | {fw.get('head', 0):,} | "
                      f"{plan.required_bytes:,} | {fw.get('tail', 0):,} | {model_macs(m) / base_macs - 1:+.2%} | "
                      f"{bytes_copied(m):,} | {len(m.main.operators) - base_ops} | "
                      f"{instr or 0:,} | {vs} |", flush=True)
        print(f"| {path.stem} | (explore took {seconds:.1f} s, {ex.evaluated} candidates) "
              "| | | | | | | | | |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
