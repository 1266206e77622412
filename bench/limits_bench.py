"""Time and peak memory of tinymem on small hostile files (tests/hostile_models.py).

Each case runs in a child process under a 2 GB address-space limit and a
timeout: read, profile, explore, write. The table says how each stage ended
(ok, a clean ModelError, a crash, out of memory or time) and how long the
whole child took, with its peak resident memory.

    python bench/limits_bench.py [TIMEOUT_S] [CASE...]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile_models import HOSTILE, WITHIN_LIMITS  # noqa: E402

CASES = {**HOSTILE, **WITHIN_LIMITS}

_CHILD = r"""
import json, sys, time, tempfile, os, resource
import tinymem
from tinymem.errors import TinymemError
from tinymem.schedules.explore import explore
from tinymem.writer import write_model
path = sys.argv[1]
out = {}
t0 = time.perf_counter()
def stage(name, fn):
    t = time.perf_counter()
    try:
        r = fn()
        out[name] = "ok"
        return r
    except TinymemError as e:
        out[name] = "error: " + str(e)[:200]
    except RecursionError:
        out[name] = "CRASH RecursionError"
    except MemoryError:
        out[name] = "CRASH MemoryError"
    except Exception as e:
        out[name] = f"CRASH {type(e).__name__}"
    finally:
        out[name + "_s"] = time.perf_counter() - t
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out), flush=True)
    return None
model = stage("read", lambda: tinymem.load_model(path))
if model is not None:
    stage("profile", lambda: tinymem.profile_json(tinymem.profile(model)))
    stage("explore", lambda: explore(model))
    with tempfile.TemporaryDirectory() as d:
        stage("write", lambda: write_model(model, os.path.join(d, "o.tflite")))
"""


def run_case(name: str, data: bytes, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"{name}.tflite"
        p.write_bytes(data)

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(p)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=limit,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            stdout, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, _ = proc.communicate()
            timed_out = True
        elapsed = time.perf_counter() - t
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    res = json.loads(lines[-1]) if lines else {}
    res["timed_out"] = timed_out
    res["total_s"] = elapsed
    res["rc"] = proc.returncode
    return res


def main(timeout: float = 30.0, names: list[str] | None = None) -> int:
    names = names or list(CASES)
    print("| hostile file | file KiB | read | profile | explore | write | child s | peak RSS MiB |")
    print("|---|---:|---|---|---|---|---:|---:|")
    bad = 0
    for name in names:
        data = CASES[name]()
        res = run_case(name, data, timeout)
        rss_txt = f"{res['rss_mb']:.0f}" if "rss_mb" in res else "?"

        def cell(stage: str) -> str:
            if stage not in res:
                return "TIMEOUT" if res["timed_out"] and not any(
                    k for k in res if k.startswith(stage)) else "-"
            s = res[stage]
            secs = res.get(stage + "_s", 0)
            if s.startswith("CRASH"):
                nonlocal_bad.append(1)
            short = "ok" if s == "ok" else ("refused" if s.startswith("error") else s)
            return f"{short} {secs:.2f}s"

        nonlocal_bad: list[int] = []
        cells = [cell(s) for s in ("read", "profile", "explore", "write")]
        if res["timed_out"]:
            nonlocal_bad.append(1)
            cells = [c if c != "-" else "TIMEOUT" for c in cells]
            for i, c in enumerate(cells):
                if c == "TIMEOUT":
                    cells[i + 1:] = ["-"] * (3 - i)
                    break
        if res["rc"] not in (0, None) and not res["timed_out"]:
            nonlocal_bad.append(1)
            cells = [c if c != "-" else f"killed rc={res['rc']}" for c in cells]
        bad += bool(nonlocal_bad)
        print(f"| {name} | {len(data) / 1024:.0f} | " + " | ".join(cells) +
              f" | {res['total_s']:.2f} | {rss_txt} |", flush=True)
        if res.get("read", "").startswith("error"):
            print(f"|  ↳ {res['read'][7:].split('.tflite: ', 1)[-1]} |||||||")
    return 1 if bad else 0


if __name__ == "__main__":
    t = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    sys.exit(main(t, sys.argv[2:] or None))
