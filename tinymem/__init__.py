"""tinymem: how much SRAM a TFLite model needs on a microcontroller, and how to need less.

Library use, no CLI needed:

    import tinymem
    model = tinymem.load_model("model.tflite")
    prof = tinymem.profile(model)
    prof.arena_bytes, prof.peak_bytes, prof.peak_layer.op
    prof = tinymem.profile(model, target=resolve_target("cortex-m4", "cmsis-nn"))
    prof.required_bytes, prof.head_bytes, prof.tail_bytes   # the arena a board sets
    tinymem.profile_json(prof)   # the same document `tinymem profile --json` prints
    s = tinymem.check_support(model, tinymem.resolve_target("cortex-m4", "cmsis-nn"))
    s.runs, [p.text() for p in s.problems]   # "op 0 CONV_2D: uint8 input has no kernel in cmsis-nn"
"""

__version__ = "0.1.0"

from .errors import ModelError, TinymemError  # noqa: E402
from .read.reader import load_model, parse_model  # noqa: E402


def profile(model, search_layout: bool = True, target=None):
    """Profile a Model (or a path to a .tflite file) for a target
    (a `targets.Target`, e.g. `resolve_target("cortex-m4", "cmsis-nn")`; None: the host wheel)."""
    from .memory.profile import profile_model

    if not hasattr(model, "subgraphs"):
        model = load_model(model)
    return profile_model(model, search_layout=search_layout, target=target)


def profile_json(prof) -> dict:
    from .report.profile_json import profile_document

    return profile_document(prof)


def check_support(model, target=None):
    """Whether `target`'s TFLM build (default: Cortex-M4, CMSIS-NN) runs the model, and why not."""
    from .ops.support import check_support as check
    from .targets import DEFAULT_TARGET

    if not hasattr(model, "subgraphs"):
        model = load_model(model)
    return check(model, target or DEFAULT_TARGET)


def resolve_target(core=None, kernels=None):
    from .targets import resolve_target as resolve

    return resolve(core, kernels)


__all__ = ["__version__", "load_model", "parse_model", "profile", "profile_json",
           "check_support", "resolve_target", "TinymemError", "ModelError"]
