"""The deployment targets tinymem predicts for: a CPU and the kernel set it runs.

A target is data, not code paths: the analysis asks a target for its facts
(pointer width, which CMSIS-NN code path family the CPU selects, which
kernels are linked) and never switches on a target's name. Adding a core is
one `Core` entry.

Facts come from the Cortex-M firmware in ../shared/targets (TFLM 90b983c2,
CMSIS-NN 4ab83cc3, arm-none-eabi-gcc 12.2) and from the x86-64
`tflite-micro` wheel, which links the reference kernels only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import TinymemError


class Kernels(str, Enum):
    """The kernel set TFLite Micro is built with."""

    REFERENCE = "reference"
    CMSIS_NN = "cmsis-nn"  # TFLM's default build: KERNELS_OPTIMIZED_FOR_SPEED
    CMSIS_NN_SIZE = "cmsis-nn-size"  # KERNELS_OPTIMIZED_FOR_SIZE


class Isa(str, Enum):
    """The CMSIS-NN code path family a CPU compiles to (arm_nn_math_types.h)."""

    NONE = "none"  # neither DSP nor MVE: Cortex-M0/M0+/M3/M23
    DSP = "dsp"  # ARM_MATH_DSP: Cortex-M4/M7/M33/M35P
    MVE = "mve"  # ARM_MATH_MVEI (Helium): Cortex-M55/M85; MVE wins over DSP


@dataclass(frozen=True)
class Core:
    name: str  # what the user types: "cortex-m4"
    pointer_bytes: int  # sizeof(void*): 4 on Cortex-M, 8 on the x86-64 wheel
    isa: Isa
    # The firmware folder in ../shared/targets/firmware measured for this core,
    # or for the core whose rules it shares; None for the host wheel.
    firmware: str | None
    # The measured core this one follows, when it was not measured itself.
    same_as: str | None = None
    kernels: tuple[Kernels, ...] = (Kernels.REFERENCE, Kernels.CMSIS_NN, Kernels.CMSIS_NN_SIZE)


CORES: dict[str, Core] = {c.name: c for c in (
    Core("host", 8, Isa.NONE, None, kernels=(Kernels.REFERENCE,)),
    Core("cortex-m3", 4, Isa.NONE, "m3"),
    Core("cortex-m0", 4, Isa.NONE, "m3", same_as="cortex-m3"),
    Core("cortex-m0plus", 4, Isa.NONE, "m3", same_as="cortex-m3"),
    Core("cortex-m4", 4, Isa.DSP, "m4"),
    Core("cortex-m33", 4, Isa.DSP, "m4", same_as="cortex-m4"),
    Core("cortex-m7", 4, Isa.DSP, "m7"),
    Core("cortex-m55", 4, Isa.MVE, "m55"),
)}

# The firmware folder of each kernel set under firmware/<core>/.
FIRMWARE_KERNELS = {Kernels.REFERENCE: "ref", Kernels.CMSIS_NN: "cmsis_nn",
                    Kernels.CMSIS_NN_SIZE: "cmsis_nn_size"}


# The measured firmware reads the model into a 6 MiB buffer (app/main.cc
# MODEL_MAX_BYTES) and refuses a file that fills it, before TFLM sees the model.
FIRMWARE_MODEL_MAX_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Target:
    core: Core
    kernels: Kernels

    @property
    def name(self) -> str:
        return self.core.name

    @property
    def pointer_bytes(self) -> int:
        return self.core.pointer_bytes

    @property
    def isa(self) -> Isa:
        """The CMSIS-NN code path family; the reference kernels ignore it."""
        return self.core.isa

    @property
    def cmsis_nn(self) -> bool:
        return self.kernels in (Kernels.CMSIS_NN, Kernels.CMSIS_NN_SIZE)

    def label(self) -> str:
        """How every table, plot and document names the target: 'cortex-m4, cmsis-nn'."""
        return f"{self.core.name}, {self.kernels.value}"

    def to_json(self) -> dict:
        return {"name": self.core.name, "kernels": self.kernels.value}


DEFAULT_CORE = "cortex-m4"
DEFAULT_KERNELS = Kernels.CMSIS_NN
HOST = "host"


def resolve_target(core: str | None = None, kernels: str | Kernels | None = None) -> Target:
    """The Target for a core name and a kernel-set name (defaults: Cortex-M4, CMSIS-NN;
    the host wheel has only the reference kernels, so `host` defaults to them)."""
    name = (core or DEFAULT_CORE).strip().lower()
    c = CORES.get(name)
    if c is None:
        raise TinymemError(f"unknown target {name!r}; choose one of: {', '.join(CORES)}")
    if kernels is None:
        k = DEFAULT_KERNELS if DEFAULT_KERNELS in c.kernels else c.kernels[0]
    else:
        try:
            k = Kernels(kernels)
        except ValueError:
            raise TinymemError(f"unknown kernel set {str(kernels)!r}; choose one of: "
                               f"{', '.join(x.value for x in Kernels)}") from None
    if k not in c.kernels:
        raise TinymemError(f"{c.name} has no {k.value} kernels (it has: "
                           f"{', '.join(x.value for x in c.kernels)})")
    return Target(c, k)


DEFAULT_TARGET = resolve_target()


def targets_help() -> str:
    """One line for --help: the cores and which measured core each follows."""
    parts = []
    for c in CORES.values():
        parts.append(f"{c.name} (as {c.same_as})" if c.same_as else c.name)
    return ", ".join(parts)
