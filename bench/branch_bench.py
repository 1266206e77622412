"""Best head and arena to set within 10% MACs on the models with branches.

Prints, per model, the baseline and the best option within 10% MAC overhead
by head (arena_bytes) and by the arena the target must set (required_bytes),
and the search time.

    python bench/branch_bench.py [MODEL.tflite ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _bench import ROOT, SHARED  # noqa: E402

import tinymem  # noqa: E402
from tinymem.schedules.explore import explore  # noqa: E402

MODELS = [ROOT / "sample_models" / "mobilenet_v2_035_144_int8.tflite",
          ROOT / "sample_models" / "mobilenet_v2_100_224_int8.tflite",
          ROOT / "sample_models" / "resnet_skip_int8.tflite",
          SHARED / "mlperf_ic_resnet8_int8.tflite",
          SHARED / "mcunet_320kb_1mb_imagenet.tflite",
          SHARED / "tinyengine_vww.tflite",
          SHARED / "mlperf_vww_96_int8.tflite",
          SHARED / "tfm_person_detect.tflite"]
LIMIT = 0.10


def main(argv: list[str]) -> None:
    paths = [Path(p) for p in argv] or MODELS
    print("| model | baseline head | baseline to set | best head ≤10% | best to set ≤10% | s |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in paths:
        ex = explore(tinymem.load_model(path))
        ok = [o for o in ex.options if o.mac_overhead <= LIMIT + 1e-12]
        head = min(ok, key=lambda o: (o.arena_bytes, o.mac_overhead))
        need = min(ok, key=lambda o: (o.required_bytes, o.mac_overhead))
        b = ex.baseline
        print(f"| {path.stem} | {b.arena_bytes:,} | {b.required_bytes:,} | "
              f"{head.arena_bytes:,} ({head.mac_overhead:+.1%}, {head.kind}) | "
              f"{need.required_bytes:,} ({need.mac_overhead:+.1%}, {need.kind}) | "
              f"{ex.seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
