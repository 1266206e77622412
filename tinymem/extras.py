"""The optional extras and how to install them: the one home of every install hint.

The distribution is called `tinymem-sram` (the name `tinymem` on the package
index belongs to an unrelated project); the command and the import stay
`tinymem`. tinymem is installed from a clone, so a hint names the packages
themselves (which install anywhere) and the extra to use in a clone.
"""

from __future__ import annotations

from enum import Enum

DISTRIBUTION = "tinymem-sram"


class Extra(Enum):
    RUNTIMES = "runtimes"  # the real runtimes: verify, and the tests' ground truth
    PLOTS = "plots"  # --plot, and the pictures of --html


# The packages each extra brings (pyproject.toml lists the same, with versions).
PACKAGES: dict[Extra, tuple[str, ...]] = {
    Extra.RUNTIMES: ("tflite-micro", "ai-edge-litert"),
    Extra.PLOTS: ("matplotlib",),
}


def install_hint(extra: Extra) -> str:
    """The command that brings an extra: `pip install matplotlib (in a clone: ...)`."""
    return (f"pip install {' '.join(PACKAGES[extra])} "
            f"(in a clone of tinymem: pip install '.[{extra.value}]')")
