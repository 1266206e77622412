"""The heads offset aliases (CONCATENATION assembled in place, PAD run in place)
are judged by: the best head within a MAC cap on the M4 CMSIS-NN target, the
kind of option that reaches it, and the op at its peak. Prints a markdown table.

    python bench/alias_figures.py [NAME ...]     (names from CASES; all by default)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tinymem  # noqa: E402
from tinymem.schedules.explore import Objective, explore  # noqa: E402
from tinymem.targets import DEFAULT_TARGET  # noqa: E402

MODELS = ROOT.parent / "shared" / "models"
# name -> (model file, MAC caps judged)
CASES = {
    "mobilenet_v2_100_224": (ROOT / "sample_models/mobilenet_v2_100_224_int8.tflite", (0.15,)),
    "mobilenet_v2_035_144": (ROOT / "sample_models/mobilenet_v2_035_144_int8.tflite", (0.0, 0.10)),
    "resnet_skip": (ROOT / "sample_models/resnet_skip_int8.tflite", (0.0, 0.10)),
    "resnet20_cifar": (ROOT / "sample_models/bench/resnet20_cifar_int8.tflite", (0.0, 0.10)),
    "id_model": (MODELS / "tfm_pr1341_id_model.tflite", (0.0, 0.10)),
    "person_detect": (MODELS / "tfm_person_detect.tflite", (0.0, 0.10)),
}


def main(argv: list[str]) -> None:
    names = argv or list(CASES)
    print("| model | cap | head | to set | MACs | kind | peak op | s |")
    print("|---|---:|---:|---:|---:|---|---|---:|")
    for name in names:
        path, caps = CASES[name]
        t0 = time.process_time()
        ex = explore(tinymem.load_model(path), target=DEFAULT_TARGET)
        secs = time.process_time() - t0
        for cap in caps:
            o = ex.best_within(cap, Objective.HEAD)
            step = o.plan.peak_step()
            peak = o.model.subgraphs[step.subgraph].operators[step.op].opcode if step else "-"
            print(f"| {name} | {cap:.0%} | {o.head_bytes:,} | {o.required_bytes:,} | "
                  f"{o.mac_overhead:+.1%} | {o.kind} | {peak} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
