"""tinymem: how much SRAM a TFLite model needs on a microcontroller, and how to need less.

Library use, no CLI needed:

    import tinymem
    model = tinymem.load_model("model.tflite")
    prof = tinymem.profile(model)
    prof.arena_bytes, prof.peak_bytes, prof.peak_layer.op
    prof = tinymem.profile(model, target=resolve_target("cortex-m4", "cmsis-nn"))
    prof.required_bytes, prof.head_bytes, prof.tail_bytes   # the arena a board sets
    tinymem.profile_json(prof)   # the same document `tinymem profile --json` prints
"""

__version__ = "0.1.0"

from .errors import ModelError, TinymemError  # noqa: E402
from .reader import load_model, parse_model  # noqa: E402


def profile(model, search_layout: bool = True, target=None):
    """Profile a Model (or a path to a .tflite file) for a target
    (a `targets.Target`, e.g. `resolve_target("cortex-m4", "cmsis-nn")`; None: the host wheel)."""
    from .analysis import profile_model

    if not hasattr(model, "subgraphs"):
        model = load_model(model)
    return profile_model(model, search_layout=search_layout, target=target)


def profile_json(prof) -> dict:
    from .report.profile_json import profile_document

    return profile_document(prof)


__all__ = ["__version__", "load_model", "parse_model", "profile", "profile_json",
           "TinymemError", "ModelError"]
