"""tinymem against Arm Vela `--optimise Size` on the benchmark of 24 int8 CNNs.

For each model: Vela's "Total SRAM used" (the summary CSV's sram_memory_used,
KiB; activations and Vela's own staging buffers, no per-op state), and
tinymem's head (the activation arena, `Option.arena_bytes`) of the best option
within 10% extra MACs on the default target (Cortex-M4, CMSIS-NN), the arena
to set for that option (head + tail), its MAC overhead, the op at its peak,
and the explore time. The ratio is tinymem head / Vela; the summary gives the
geomean and the models where tinymem is above Vela. Each model runs in a child
process with a timeout (explore is slow on big models). Needs the `bench`
extra (ethos-u-vela, run through its `vela` command).

    python bench/vela_table.py [--timeout 600] [--overhead 0.10] [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models"
SAMPLES = ROOT / "sample_models"

# The int8 CNNs (int8 input and output) of the shared and sample models, and the
# generated ones of sample_models/bench/. Left out: models with float or uint8
# edges (their float input alone outweighs Vela's figure, which the NPU never
# holds), non-CNNs (FC, LSTM, SVDF, signal ops), the uint8-input duplicate of
# MobileNetV2-0.35, and mcunet_320kb_1mb_imagenet (Vela refuses its RESHAPE).
BENCH = (
    [SHARED / f"{n}.tflite" for n in (
        "tfm_person_detect", "tfm_pr1341_id_model", "mlperf_ic_resnet8_int8",
        "mlperf_kws_ref_model", "mlperf_str_ww_ref_model", "mlperf_vww_96_int8",
        "mltk_kws_mobilenetv2", "mltk_fingerprint_signature_generator",
        "tfm_micro_speech_quantized", "tfm_mobilenet_v2_pt_int8")]
    + [SAMPLES / f"{n}.tflite" for n in (
        "mobilenet_v2_035_144_int8", "mobilenet_v2_100_224_int8", "ds_cnn_kws_int8",
        "resnet_skip_int8", "conv1d_audio_int8")]
    + sorted((SAMPLES / "bench").glob("*.tflite"))
)

VELA_ARGS = ["--optimise", "Size", "--accelerator-config", "ethos-u55-256"]

# Run in the child: explore one model, print the chosen option's figures as JSON.
_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import tinymem
from tinymem.schedules.explore import explore
from tinymem.targets import DEFAULT_TARGET
limit = float(sys.argv[3])
ex = explore(tinymem.load_model(sys.argv[2]), target=DEFAULT_TARGET)
ok = [o for o in ex.options if o.mac_overhead <= limit + 1e-12]
best = min(ok, key=lambda o: (o.arena_bytes, o.required_bytes, o.mac_overhead))
step = best.plan.peak_step()
op = None if step is None else best.plan.main_op_at(step)
print(json.dumps({"head": best.arena_bytes, "required": best.required_bytes,
                  "overhead": best.mac_overhead, "kind": best.kind,
                  "baseline": ex.baseline.arena_bytes, "seconds": ex.seconds,
                  "peak_op": None if op is None else str(best.model.main.operators[op].opcode)}))
"""


def vela_sram_bytes(path: Path, timeout: float) -> int | str:
    """Vela's Total SRAM used in bytes, or why it gave none."""
    vela = shutil.which("vela")
    if vela is None:
        return "vela not installed (pip install .[bench])"
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([vela, *VELA_ARGS, "--output-dir", out, str(path)],
                              capture_output=True, text=True, timeout=timeout)
        summaries = list(Path(out).glob("*_summary_*.csv"))
        if proc.returncode != 0 or not summaries:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return "Vela fails: " + (lines[-1] if lines else f"exit {proc.returncode}")[:60]
        with open(summaries[0], newline="") as f:
            row = next(csv.DictReader(f))
        return round(float(row["sram_memory_used"]) * 1024)


def tinymem_best(path: Path, limit: float, timeout: float) -> dict | str:
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(path), str(limit)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"explore over {timeout:.0f} s"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return "explore fails: " + (lines[-1] if lines else f"exit {proc.returncode}")[:80]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per model's explore")
    ap.add_argument("--overhead", type=float, default=0.10, help="MAC overhead allowed")
    args = ap.parse_args(argv)
    paths = args.models or BENCH
    print(f"| model | Vela B | tinymem head ≤{args.overhead:.0%} | ratio | tinymem to set "
          f"| MACs | kind | peak op | baseline head | explore s |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
    ratios, behind = [], []
    for path in paths:
        vela = vela_sram_bytes(path, 300)
        best = tinymem_best(path, args.overhead, args.timeout)
        if isinstance(best, str) or isinstance(vela, str):
            v = vela if isinstance(vela, str) else f"{vela:,}"
            b = best if isinstance(best, str) else f"{best['head']:,}"
            print(f"| {path.stem} | {v} | {b} | | | | | | | |", flush=True)
            continue
        ratio = best["head"] / vela
        ratios.append(ratio)
        if best["head"] > vela:
            behind.append(path.stem)
        print(f"| {path.stem} | {vela:,} | {best['head']:,} | {ratio:.2f} | "
              f"{best['required']:,} | {best['overhead']:+.1%} | {best['kind']} | "
              f"{best['peak_op'] or ''} | {best['baseline']:,} | {best['seconds']:.1f} |",
              flush=True)
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"\n{len(ratios)} models compared; geomean tinymem/Vela {geo:.2f}; "
              f"tinymem above Vela on {len(behind)}: {', '.join(behind) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
