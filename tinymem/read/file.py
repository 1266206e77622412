"""Bytes stored in a model's .tflite file: buffer data and the offline memory plan.

The reader keeps the whole file (`Model.raw`) and only buffer indices in the
IR, so weights are never copied at load time. What needs the bytes of a
buffer (the writer copying weights, FDT slicing them, the planner honouring
an OfflineMemoryAllocation plan) reads them here.
"""

from __future__ import annotations

import numpy as np
import tflite

from ..graph.ir import Model
from .schema import OFFLINE_PLAN_KEY


def buffer_view(raw: bytes, fb_buffer) -> memoryview:
    """The data of a generated Buffer table of the file `raw`, without a copy.

    Data stored after the flatbuffer (models over 2 GB: offset > 1) is found
    by its offset and size; an absent data vector is empty.
    """
    if fb_buffer.Offset() > 1:
        return memoryview(raw)[fb_buffer.Offset(): fb_buffer.Offset() + fb_buffer.Size()]
    tab = fb_buffer._tab
    o = tab.Offset(4)  # Buffer.data, the table's first field
    if not o:
        return memoryview(b"")
    start = tab.Vector(o)
    return memoryview(raw)[start: start + tab.VectorLen(o)]


def buffer_bytes(model: Model, index: int) -> bytes | None:
    """The raw bytes of buffer `index` of a model read from a file (None if not read from one)."""
    if model.raw is None:
        return None
    fb = tflite.Model.GetRootAs(model.raw, 0)
    return bytes(buffer_view(model.raw, fb.Buffers(index)))


def offline_plan(model: Model) -> list[int] | None:
    """The offsets of an OfflineMemoryAllocation metadata plan, if the model has one.

    The buffer holds int32 words: version, subgraph count, offset count,
    then one arena offset per tensor over all subgraphs (-1 = plan online).
    """
    b = model.metadata.get(OFFLINE_PLAN_KEY)
    if b is None or model.raw is None:
        return None
    data = buffer_bytes(model, b)
    if data is None or len(data) < 12:
        return None
    words = np.frombuffer(data[: len(data) // 4 * 4], dtype="<i4")
    n = int(words[2])
    if n < 0 or len(words) < 3 + n:
        return None
    return words[3: 3 + n].tolist()


def offline_plan_words(n_subgraphs: int, offsets: list[int]) -> bytes:
    """The metadata buffer of an OfflineMemoryAllocation plan (the inverse of `offline_plan`)."""
    words = [1, n_subgraphs, len(offsets)] + [int(v) for v in offsets]
    return np.asarray(words, dtype="<i4").tobytes()
