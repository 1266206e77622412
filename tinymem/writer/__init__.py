"""Serialise a graph IR Model back to a .tflite flatbuffer: the inverse of the reader.

Three steps, one module each:

- `validate`: refuse a model whose indices or types do not fit, before
  anything is built;
- `plan`: decide which tensors, buffers and operator codes go where
  (buffers keep their indices, unused tensors are left out, new constants
  and an offline memory plan are appended), from the IR alone;
- `emit`: build the flatbuffer tables, copying from the source file
  (`source`) what the IR does not hold.

`write_model` then writes the bytes atomically (`fileio.atomic_write`); `write_option`
writes a schedule `explore` chose, with its offline memory plan, so the file
TFLite Micro loads is the one whose arena was predicted.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import TinymemError
from ..fileio import atomic_write, check_output
from ..graph.ir import Model
from ..read.file import offline_plan as stored_offline_plan
from ..read.schema import OFFLINE_PLAN_KEY
from .emit import emit_model
from .plan import plan_write
from .source import SourceModel
from .validate import check_model

if TYPE_CHECKING:
    from ..schedules.explore import Option


def serialize_model(model: Model, offline_plan: list[int] | None = None,
                    keep_unused: bool = False) -> bytes:
    """The .tflite flatbuffer of a model. Raises TinymemError for an inconsistent model.

    `offline_plan` has one offset per IR tensor over all subgraphs (-1 = plan
    online); it is written as OfflineMemoryAllocation metadata. Tensors no
    operator, subgraph input/output or signature refers to are left out
    (TFLite Micro would still plan unused activations, all at once), and the
    tensor indices renumbered, unless `keep_unused`.
    """
    source = SourceModel(model)
    check_model(model)
    stored = None
    if offline_plan is None and OFFLINE_PLAN_KEY in model.metadata:
        stored = stored_offline_plan(model)
    plan = plan_write(model, offline_plan, keep_unused, source_opcodes=source.opcodes,
                      metadata_buffers=source.metadata_buffers(), stored_offline=stored)
    return emit_model(model, plan, source)


def write_model(model: Model, path: str | os.PathLike, offline_plan: list[int] | None = None,
                keep_unused: bool = False) -> int:
    """Write a model to `path` atomically (see `fileio.atomic_write`); returns the bytes written.

    Refuses to overwrite the model's own input file. The bytes are read back
    from the temporary file and parsed before they replace anything: a
    failure leaves no file behind.
    """
    from ..read.reader import parse_model

    check_output(path, [model.path])  # before serialising: fail fast on a bad path
    data = serialize_model(model, offline_plan, keep_unused)

    def reads_back(stored: bytes) -> None:
        if stored != data:
            raise TinymemError(f"{os.fspath(path)}: the written file differs from the model bytes")
        try:
            parse_model(stored, os.fspath(path))
        except TinymemError as e:
            raise TinymemError(f"{os.fspath(path)}: not written, the rewritten model does not "
                               f"read back: {e}") from None

    return atomic_write(path, data, inputs=[model.path], check=reads_back)


def write_option(option: Option, path: str | os.PathLike) -> int:
    """Write an explored option (the very graph explore measured, and its offline
    plan if it has one) as a .tflite at `path`; returns the bytes written."""
    return write_model(option.model, path, offline_plan=option.offline)


__all__ = ["serialize_model", "write_model", "write_option"]
