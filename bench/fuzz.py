"""Fuzz the reader and profiler with mutated and truncated real models.

Thousands of seeded cases: each must end in a clean ModelError or a valid
profile; anything else (another exception, a hang) is a failure. A sample
of cases also runs through the CLI to check exit code 2 and one stderr line.

    python bench/fuzz.py [CASES] [SEED]
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _models import model_paths

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tinymem  # noqa: E402
from tests.test_fuzz import mutate  # noqa: E402
from tinymem.errors import ModelError  # noqa: E402


def main(cases: int = 5000, seed: int = 1) -> int:
    rng = random.Random(seed)
    models = [p.read_bytes() for p in model_paths() if p.stat().st_size < 1_100_000]
    outcome: Counter = Counter()
    failures = []
    slowest = 0.0
    t0 = time.perf_counter()
    for i in range(cases):
        data = mutate(rng.choice(models), rng)
        t = time.perf_counter()
        try:
            prof = tinymem.profile(tinymem.parse_model(data, "fuzz.tflite"))
            tinymem.profile_json(prof)
            outcome["valid profile"] += 1
        except ModelError:
            outcome["ModelError"] += 1
        except Exception as e:  # a bug: record it
            outcome["CRASH"] += 1
            failures.append((i, f"{type(e).__name__}: {e}"))
        slowest = max(slowest, time.perf_counter() - t)
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
    print("| cases | valid profile | ModelError | crash | slowest case ms | total s | CLI bad exits (of 20) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {cases} | {outcome['valid profile']} | {outcome['ModelError']} | {outcome['CRASH']} | "
          f"{slowest * 1000:.0f} | {total:.1f} | {cli_bad} |")
    for i, msg in failures[:10]:
        print(f"case {i}: {msg}")
    return 1 if failures or cli_bad else 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*args))
