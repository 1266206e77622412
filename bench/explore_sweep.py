"""Explore every model, one at a time: does some option set a lower arena than the baseline?

Each model runs in its own process under a time limit (a model that hangs or
crashes is one row, not the end of the sweep). Prints a markdown table: the
arena to set for the baseline and the best option, the best option's head,
the best arena to set within 10% MAC overhead, and, where no option is
below the baseline, the explorer's one-line diagnosis.

    python bench/explore_sweep.py [--timeout S] [--target CORE] [--graphs] [MODEL.tflite ...]

`--graphs` adds the small generated graphs of tests/fdt_models.py (a UNet
block, a branch joined by a concatenation, an inception block, a conv1d
block with RESHAPE / EXPAND_DIMS views).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import model_paths

ROOT = Path(__file__).resolve().parents[1]


def one(path: str, core: str | None, kernels: str | None) -> dict:
    """Explore one model and return its row's figures."""
    sys.path.insert(0, os.environ.get("TINYMEM_ROOT", str(ROOT)))
    import tinymem
    from tinymem.schedules.explore import explore
    from tinymem.targets import resolve_target

    t0 = time.perf_counter()
    ex = explore(tinymem.load_model(Path(path)), target=resolve_target(core, kernels))
    best = min(ex.options, key=lambda o: (o.required_bytes, o.mac_overhead))
    within = ex.best_within(0.10)
    return {"base": ex.baseline.required_bytes, "best": best.required_bytes,
            "best_head": best.arena_bytes, "best_kind": best.kind,
            "best_over": best.mac_overhead, "within10": within.required_bytes,
            "diagnosis": ex.diagnosis.text if ex.diagnosis else "",
            "seconds": time.perf_counter() - t0}


def _graphs(out: Path) -> list[Path]:
    """The generated graph models, written to `out`."""
    sys.path.insert(0, str(ROOT))
    from tests import fdt_models

    return [fdt_models.unet_int8().save(out / "gen_unet_int8.tflite"),
            fdt_models.branch_join_int8().save(out / "gen_branch_join_int8.tflite"),
            fdt_models.inception_int8().save(out / "gen_inception_int8.tflite"),
            fdt_models.conv1d_views_int8().save(out / "gen_conv1d_views_int8.tflite")]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--target", default=None)
    ap.add_argument("--kernels", default=None)
    ap.add_argument("--graphs", action="store_true")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("models", nargs="*")
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.target, args.kernels)))
        return
    paths = [Path(p) for p in args.models] or model_paths()
    with tempfile.TemporaryDirectory(prefix="tinymem-sweep-") as tmp:
        if args.graphs:
            paths += _graphs(Path(tmp))
        _sweep(paths, args)


def _sweep(paths: list[Path], args) -> None:
    print("| model | baseline to set | best to set | best head | best kind (MACs) "
          "| within 10% | s | diagnosis |")
    print("|---|---:|---:|---:|---|---:|---:|---|")
    lower = 0
    for path in paths:
        cmd = [sys.executable, __file__, "--one", str(path)]
        if args.target:
            cmd += ["--target", args.target]
        if args.kernels:
            cmd += ["--kernels", args.kernels]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"| {path.stem} | | | | timeout after {args.timeout:.0f} s | | | |", flush=True)
            continue
        if res.returncode != 0:
            why = (res.stderr.strip().splitlines() or ["?"])[-1][:120]
            print(f"| {path.stem} | | | | failed: {why} | | | |", flush=True)
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        lower += r["best"] < r["base"]
        diag = r["diagnosis"] if r["best"] >= r["base"] else ""
        print(f"| {path.stem} | {r['base']:,} | {r['best']:,} | {r['best_head']:,} "
              f"| {r['best_kind']} ({r['best_over']:+.1%}) | {r['within10']:,} "
              f"| {r['seconds']:.1f} | {diag} |", flush=True)
    print(f"\n{lower} of {len(paths)} models have an option below the baseline's arena to set.")


if __name__ == "__main__":
    main(sys.argv[1:])
