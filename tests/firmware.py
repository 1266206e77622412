"""The real TFLite Micro firmware on Cortex-M (QEMU), as tests and benchmarks run it.

`run_firmware` runs one .tflite through ../shared/targets/run.sh and returns
its JSON line (head, tail, invoke_instructions, ...); with `inputs` it feeds
those arrays and returns the outputs' raw bytes too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

TARGETS = Path(__file__).resolve().parents[2] / "shared" / "targets"
RUN = TARGETS / "run.sh"


def have_firmware(core: str = "m4", kernels: str = "cmsis_nn") -> bool:
    return (RUN.exists() and shutil.which("qemu-system-arm") is not None
            and (TARGETS / "firmware" / core / kernels / "app.elf").exists())


def run_firmware(model: str | os.PathLike, core: str = "m4", kernels: str = "cmsis_nn",
                 inputs: list[np.ndarray] | None = None, n_outputs: int = 1,
                 per_op: bool = False, timeout: float = 600) -> tuple[dict, list[bytes]]:
    """(the firmware's JSON result, raw bytes of each output) for one Invoke."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PER_OP="1" if per_op else "0")
        outs: list[bytes] = []
        if inputs is not None:
            in_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
            in_dir.mkdir()
            out_dir.mkdir()
            for i, x in enumerate(inputs):
                (in_dir / f"input_{i}.bin").write_bytes(np.ascontiguousarray(x).tobytes())
            env.update(INPUTS=str(in_dir), OUTPUTS=str(out_dir))
        proc = subprocess.run([str(RUN), os.fspath(model), core, kernels], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=tmp)
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
        if line is None:
            raise RuntimeError(f"run.sh gave no result: {proc.stderr.strip()[-300:]}")
        result = json.loads(line)
        if inputs is not None:
            for j in range(n_outputs):
                f = Path(tmp) / "out" / f"output_{j}.bin"
                outs.append(f.read_bytes() if f.exists() else b"")
    return result, outs


def assert_agrees_on_firmware(original, rewritten, inputs: list[np.ndarray], n_outputs: int = 1,
                              core: str = "m4") -> dict:
    """Both files Invoke on the `core` CMSIS-NN firmware and give the same, non-empty
    output bytes for `inputs`; returns the rewritten file's result (its head, ...)."""
    orig, orig_out = run_firmware(original, core, inputs=inputs, n_outputs=n_outputs)
    new, new_out = run_firmware(rewritten, core, inputs=inputs, n_outputs=n_outputs)
    assert orig["invoke"] == "ok" and new["invoke"] == "ok", (orig.get("invoke"),
                                                               new.get("invoke"))
    assert new_out == orig_out and all(new_out)
    return new
