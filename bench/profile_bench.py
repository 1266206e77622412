"""Time `tinymem profile` on every model, the way a user runs it.

Prints a markdown table: file size, ops, wall time of the whole command
(`tinymem profile MODEL --json` in a fresh interpreter: start-up, reading,
planning, layout search, JSON), of the library call alone, and of
serialising the model back to bytes (the writer; weights copied once).

    python bench/profile_bench.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _models import model_paths

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

import tinymem  # noqa: E402


def main() -> None:
    from tinymem.writer import serialize_model

    print("| model | file kB | ops | TFLM arena B | profile command s | library ms | serialise ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in model_paths():
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tinymem.cli", "profile", str(path), "--json"],
                           check=True, capture_output=True)
            runs.append(time.perf_counter() - t)
        lib = []
        for _ in range(5):
            t = time.perf_counter()
            prof = tinymem.profile(path)
            lib.append(time.perf_counter() - t)
        ser = []
        for _ in range(3):
            t = time.perf_counter()
            serialize_model(prof.model)
            ser.append(time.perf_counter() - t)
        print(f"| {path.stem} | {path.stat().st_size / 1024:.0f} | {len(prof.layers)} | "
              f"{prof.arena_bytes:,} | {statistics.median(runs):.2f} | "
              f"{statistics.median(lib) * 1000:.1f} | {statistics.median(ser) * 1000:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
