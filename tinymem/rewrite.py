"""Turning a chosen schedule into a .tflite file.

The option's Model is the very graph the explorer measured; the writer
serialises it (with its offline memory plan, if the option has one), so the
file TFLite Micro loads is the one whose arena was predicted.
"""

from __future__ import annotations

import os

from .errors import TinymemError
from .schedules.explore import Option
from .writer import write_model


def write_option(option: Option, path: str | os.PathLike) -> int:
    """Write `option` as a .tflite at `path`; returns the bytes written."""
    src = option.model.path
    if src and os.path.exists(path) and os.path.exists(src) and os.path.samefile(src, path):
        raise TinymemError(f"refusing to overwrite the input model {src}")
    return write_model(option.model, path, offline_plan=option.offline)
