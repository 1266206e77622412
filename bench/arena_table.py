"""The arena to set per target: tinymem's prediction against the real TFLM firmware.

For every model and target (Cortex-M3/M4/M7/M55 with CMSIS-NN, M55 with the
size-optimised CMSIS-NN, Cortex-M4 with the reference kernels), prints the
predicted head / tail / required bytes next to the firmware's recorded head
and tail and, with --min, its smallest working arena (checked with two runs:
works at the prediction, fails one byte below). Needs qemu-system-arm and
../shared/targets. Reference-kernel runs on big models take up to a minute.

    python bench/arena_table.py [--min] [--targets cortex-m4:cmsis-nn,...]
"""

from __future__ import annotations

import argparse

from _bench import model_paths

from tinymem.verify import firmware  # noqa: E402
from tinymem.memory.planner import plan_model  # noqa: E402
from tinymem.read.reader import load_model  # noqa: E402
from tinymem.targets import resolve_target  # noqa: E402

DEFAULT = ("cortex-m3:cmsis-nn,cortex-m4:cmsis-nn,cortex-m7:cmsis-nn,cortex-m55:cmsis-nn,"
           "cortex-m55:cmsis-nn-size,cortex-m4:reference")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min", action="store_true", help="check required_bytes with two runs")
    ap.add_argument("--targets", default=DEFAULT)
    args = ap.parse_args()
    targets = [resolve_target(*t.split(":")) for t in args.targets.split(",")]
    for t in targets:
        why = firmware.missing(None, t)
        if why:
            print(f"{t.label()}: skipped ({why})")
            continue
        print(f"\n### {t.label()}\n")
        print("| model | head | fw head | tail | fw tail | required | works at | fails at -1 |")
        print("|---|---:|---:|---:|---:|---:|---|---|")
        exact = [0, 0, 0, 0]
        for path in model_paths():
            plan = plan_model(load_model(str(path)), target=t)
            real = firmware.run_firmware(path, t)
            if not real.allocate_ok:
                print(f"| {path.stem} | {plan.head_bytes:,} | (TFLM refuses) | | | | | |")
                continue
            works = fails = ""
            if args.min:
                w = firmware.run_firmware(path, t, arena=plan.required_bytes).ok
                f = not firmware.run_firmware(path, t, arena=plan.required_bytes - 1).ok
                works, fails = ("yes" if w else "NO"), ("yes" if f else "NO")
                exact[3] += w and f
            exact[0] += 1
            exact[1] += plan.head_bytes == real.head
            exact[2] += plan.tail_bytes == real.tail
            print(f"| {path.stem} | {plan.head_bytes:,} | {real.head:,} | {plan.tail_bytes:,} | "
                  f"{real.tail:,} | {plan.required_bytes:,} | {works} | {fails} |", flush=True)
        n, h, tl, r = exact
        print(f"\n{n} models set up: head exact {h}, tail exact {tl}"
              + (f", required exact {r}" if args.min else ""))


if __name__ == "__main__":
    main()
