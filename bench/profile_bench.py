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

from _bench import model_paths, print_header, timed

import tinymem


def main() -> None:
    from tinymem.writer import serialize_model

    print_header("model", "file kB", "ops", "TFLM arena B", "profile command s", "library ms",
                 "serialise ms")
    for path in model_paths():
        runs = timed(lambda: subprocess.run(
            [sys.executable, "-m", "tinymem.cli", "profile", str(path), "--json"],
            check=True, capture_output=True), 3)
        profiles = []
        lib = timed(lambda: profiles.append(tinymem.profile(path)), 5)
        prof = profiles[-1]
        ser = timed(lambda: serialize_model(prof.model), 3)
        print(f"| {path.stem} | {path.stat().st_size / 1024:.0f} | {len(prof.layers)} | "
              f"{prof.arena_bytes:,} | {statistics.median(runs):.2f} | "
              f"{statistics.median(lib) * 1000:.1f} | {statistics.median(ser) * 1000:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
