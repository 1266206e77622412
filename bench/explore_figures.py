"""Every option explore finds, as figures: the golden reference for speed work.

A faster explorer must print the same lines: (id, kind, required B, arena B,
tail B, MACs) per option, in order, per model. Save a run with --save and
compare a later one with --compare.

    python bench/explore_figures.py [--save F.json | --compare F.json] [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _bench import model_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tinymem  # noqa: E402
from tinymem.schedules.explore import explore  # noqa: E402
from tinymem.targets import DEFAULT_TARGET  # noqa: E402


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the search's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def figures(path: Path) -> list[list]:
    ex = explore(tinymem.load_model(path), target=DEFAULT_TARGET)
    return [[o.id, o.kind, o.required_bytes, o.arena_bytes, o.tail_bytes, o.macs]
            for o in ex.options]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--save")
    ap.add_argument("--compare")
    ap.add_argument("models", nargs="*")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.models] or model_paths()
    want = json.loads(Path(args.compare).read_text()) if args.compare else {}
    got: dict[str, list] = {}
    differ = 0
    for path in paths:
        t0, c0 = time.perf_counter(), _cpu()
        try:
            rows = figures(path)
        except tinymem.TinymemError as e:
            rows = [["error", str(e)]]
        got[path.stem] = rows
        status = ""
        if args.compare:
            same = want.get(path.stem) == rows
            differ += not same
            status = "same" if same else "DIFFERENT"
        print(f"# {path.stem}: {len(rows)} options, {time.perf_counter() - t0:.1f} s wall, "
              f"{_cpu() - c0:.1f} s CPU {status}", flush=True)
        if not args.compare or status != "same":
            for r in rows:
                print("   ", *r)
            if status == "DIFFERENT":
                print("  expected:")
                for r in want.get(path.stem, []):
                    print("   ", *r)
    if args.save:
        Path(args.save).write_text(json.dumps(got, indent=0))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
