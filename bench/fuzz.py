"""Fuzz the library with mutated and truncated real models, through every stage.

Thousands of seeded cases: each is read, profiled, explored and written
(the reader's model and every schedule found, each parsed back). Each must
end valid or in a clean TinymemError; anything else is a crash. A sample of
cases also runs through the CLI to check exit code 2 and one stderr line.

    python bench/fuzz.py [CASES] [SEED] [STAGES]   # STAGES: profile,explore,write
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from _bench import model_paths

from tests.test_fuzz import STAGES, mutate, run_case  # noqa: E402


def main(cases: int = 5000, seed: int = 1, stages=STAGES) -> int:
    rng = random.Random(seed)
    names = [p for p in model_paths() if p.stat().st_size < 1_100_000]
    models = [p.read_bytes() for p in names]
    outcome: Counter = Counter()
    failures = []
    slowest = 0.0
    t0 = time.perf_counter()
    for i in range(cases):
        k = rng.randrange(len(models))
        data = mutate(models[k], rng)
        t = time.perf_counter()
        try:
            outcome[run_case(data, stages)] += 1
        except Exception as e:  # a bug: record it
            outcome["CRASH"] += 1
            where = traceback.extract_tb(e.__traceback__)[-1]
            failures.append((i, names[k].stem,
                             f"{type(e).__name__}: {str(e)[:80]} at {Path(where.filename).name}:{where.lineno}"))
            print(f"case {i} ({names[k].stem}): {failures[-1][2]}", file=sys.stderr, flush=True)
        slowest = max(slowest, time.perf_counter() - t)
        if (i + 1) % 50 == 0:
            print(f"{i + 1} cases: {dict(outcome)}", file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    cli_bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(20):
            p = Path(tmp) / f"m{k}.tflite"
            p.write_bytes(mutate(rng.choice(models), rng)[: rng.randrange(16, 4096)])
            r = subprocess.run([sys.executable, "-m", "tinymem.cli", "profile", str(p)],
                               capture_output=True, text=True)
            if r.returncode not in (0, 2) or "Traceback" in r.stderr or \
                    (r.returncode == 2 and len(r.stderr.strip().splitlines()) != 1):
                cli_bad += 1
    print(f"stages: read, {', '.join(stages)}; seed {seed}")
    print("| cases | valid | refused by reader | rejected later | crash | slowest case ms | total s | CLI bad exits (of 20) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {cases} | {outcome['valid']} | {outcome['refused']} | {outcome['rejected']} | "
          f"{outcome['CRASH']} | {slowest * 1000:.0f} | {total:.1f} | {cli_bad} |")
    for i, name, msg in failures[:30]:
        print(f"case {i} ({name}): {msg}")
    return 1 if failures or cli_bad else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[0]) if args else 5000
    s = int(args[1]) if len(args) > 1 else 1
    st = tuple(args[2].split(",")) if len(args) > 2 else STAGES
    sys.exit(main(n, s, st))
