"""Running a model on real TFLite Micro firmware for a Cortex-M target, in QEMU.

The runner is a folder with the interface ../shared/targets documents:
`run.sh MODEL CORE KERNELS [ARENA]` prints one JSON line (head, tail, total,
allocate / invoke status, recorded allocations), `INPUTS=DIR` feeds
`input_<i>.bin` and `OUTPUTS=DIR` receives `output_<i>.bin`. tinymem never
runs it to predict; tests, benchmarks and `tinymem verify --firmware` do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TinymemError
from ..targets import FIRMWARE_KERNELS, Target

# Where the shared firmware lives next to a checkout: ../shared/targets, this
# file being <checkout>/tinymem/verify/firmware.py.
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "targets"


@dataclass
class FirmwareRun:
    head: int | None
    tail: int | None
    total: int | None
    allocate_ok: bool
    invoke_ok: bool
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.allocate_ok and self.invoke_ok


class FirmwareUnavailable(TinymemError):
    pass


def missing(folder: str | os.PathLike | None, target: Target) -> str | None:
    """Why the firmware cannot run for `target` (one line), or None when it can."""
    if target.core.firmware is None:
        return f"{target.name} has no firmware: it is the host wheel"
    if shutil.which("qemu-system-arm") is None:
        return "qemu-system-arm is not installed (apt-get install qemu-system-arm)"
    d = Path(folder) if folder is not None else DEFAULT_DIR
    if not (d / "run.sh").is_file():
        return f"no firmware runner at {d} (run.sh missing)"
    elf = d / "firmware" / target.core.firmware / FIRMWARE_KERNELS[target.kernels] / "app.elf"
    if not elf.is_file():
        return f"no firmware for {target.label()} at {elf}"
    return None


def run_firmware(model_path: str | os.PathLike, target: Target, arena: int | None = None,
                 folder: str | os.PathLike | None = None, inputs_dir: str | None = None,
                 outputs_dir: str | None = None, timeout: float = 900) -> FirmwareRun:
    """One run of the model on the target's firmware (one Invoke, no per-op timing)."""
    why = missing(folder, target)
    if why is not None:
        raise FirmwareUnavailable(why)
    d = Path(folder) if folder is not None else DEFAULT_DIR
    env = dict(os.environ, PER_OP="0", ICOUNT="0")
    env.pop("FULL", None)
    if inputs_dir is not None:
        env["INPUTS"] = str(inputs_dir)
    if outputs_dir is not None:
        env["OUTPUTS"] = str(outputs_dir)
    cmd = [str(d / "run.sh"), os.fspath(model_path), target.core.firmware,
           FIRMWARE_KERNELS[target.kernels]]
    if arena is not None:
        cmd.append(str(arena))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"the firmware runner printed no result: "
                           f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    r = json.loads(line)
    return FirmwareRun(head=r.get("head"), tail=r.get("tail"), total=r.get("total"),
                       allocate_ok=r.get("allocate") == "ok", invoke_ok=r.get("invoke") == "ok",
                       raw=r)
