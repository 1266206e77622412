"""Arena sweep: one-op models of every op type and dtype, tinymem against the real TFLM.

For each model in tests/op_sweep_models.SWEEP: tinymem's head, tail and
smallest arena (required_bytes), and what the tflite-micro wheel (x86-64)
and the Cortex-M4 CMSIS-NN firmware (QEMU) measure: head and tail from the
RecordingMicroAllocator, the smallest arena with which AllocateTensors (and,
on the firmware, Invoke) succeeds. Prints one row per model that differs and
a summary line per runtime; `--json FILE` keeps every row.

    python bench/tail_sweep.py [--json out.json] [OP/dtype ...]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import _bench  # noqa: F401  (this checkout first on sys.path)

from tests.arena_probe import firmware_arena, wheel_arena  # noqa: E402
from tests.op_sweep_models import SWEEP, not_swept  # noqa: E402
from tinymem.memory.planner import plan_model  # noqa: E402
from tinymem.read.reader import load_model  # noqa: E402
from tinymem.targets import resolve_target  # noqa: E402

M4 = resolve_target("cortex-m4", "cmsis-nn")


def measure(name: str, path: Path) -> dict:
    model = load_model(str(path))
    row = {"case": name}
    for runtime, target, probe in (("wheel", None, wheel_arena),
                                   ("m4", M4, lambda p, g: firmware_arena(p, M4, g))):
        plan = plan_model(model, target=target)
        row[runtime] = {"predicted": [plan.head_bytes, plan.tail_bytes, plan.required_bytes]}
        try:
            row[runtime]["measured"] = list(probe(path, plan.required_bytes))
        except Exception as e:  # the runtime refuses the model: recorded, not compared
            row[runtime]["refused"] = str(e)[:120]
    return row


def main(argv: list[str]) -> None:
    out_json = None
    if argv[:1] == ["--json"]:
        out_json, argv = argv[1], argv[2:]
    names = argv or list(SWEEP)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = SWEEP[name]().save(Path(tmp) / (name.replace("/", "_").replace(":", "_")
                                                   + ".tflite"))
            rows.append(measure(name, path))
            if out_json:  # kept as it goes: a long sweep cut short still tells
                Path(out_json).write_text(json.dumps(rows, indent=1))
    print("| case | runtime | predicted head/tail/required | measured |")
    print("|---|---|---:|---:|")
    for r in rows:
        for rt in ("wheel", "m4"):
            m = r[rt].get("measured")
            if m is not None and m != r[rt]["predicted"]:
                print(f"| {r['case']} | {rt} | {r[rt]['predicted']} | {m} |")
    for rt in ("wheel", "m4"):
        compared = [r for r in rows if "measured" in r[rt]]
        exact = sum(r[rt]["measured"] == r[rt]["predicted"] for r in compared)
        refused = [r["case"] for r in rows if "refused" in r[rt]]
        print(f"{rt}: {len(rows)} models, {len(compared)} set up, {exact} exact "
              f"(head, tail and required); refused: {', '.join(refused) or 'none'}")
    print(f"op types with a TFLM kernel and no sweep recipe: {', '.join(not_swept())}")


if __name__ == "__main__":
    main(sys.argv[1:])
