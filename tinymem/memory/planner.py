"""One call that plans a model's arena head the way TFLite Micro does.

Everything in tinymem that needs "how much SRAM" goes through `plan_model`:
the profiler, every schedule the explorer evaluates, and the check of a
rewritten file, so their figures cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Model
from .aliases import merge, shared_by_plan
from .greedy import arena_size, greedy_offsets
from .liveness import live_bytes_per_scope
from .requests import BufferRequest, Requests, build_requests

OFFLINE_PLAN_KEY = "OfflineMemoryAllocation"


@dataclass
class ArenaPlan:
    requests: Requests
    offsets: list[int]
    arena_bytes: int  # the head TFLM would allocate
    live: np.ndarray  # aligned live bytes per scope

    @property
    def buffers(self) -> list[BufferRequest]:
        return self.requests.buffers

    @property
    def peak_bytes(self) -> int:
        """The live-set lower bound: no layout of this schedule needs less."""
        return int(self.live.max()) if self.live.size else 0

    @property
    def peak_scope(self) -> int:
        return int(self.live.argmax()) if self.live.size else 0


def plan_model(model: Model, offline: list[int] | None = None) -> ArenaPlan:
    """Plan the arena head with TFLM's rules and greedy planner.

    When the model carries an OfflineMemoryAllocation plan, TFLM honours it;
    so do we, unless `offline` overrides it.
    """
    if offline is None:
        offline = offline_plan(model)
    req = build_requests(model, offline)
    offsets = greedy_offsets(req.buffers)
    return ArenaPlan(requests=req, offsets=offsets, arena_bytes=arena_size(req.buffers, offsets),
                     live=live_bytes(req))


def live_bytes(req: Requests) -> np.ndarray:
    """Live bytes per scope; tensors an offline plan runs in place count once."""
    buffers = req.buffers
    if any(b.offline_offset is not None for b in buffers):
        buffers = merge(buffers, shared_by_plan(buffers))
    return live_bytes_per_scope(buffers, req.last_scope)


def offline_plan(model: Model) -> list[int] | None:
    """The offsets of an OfflineMemoryAllocation metadata plan, if the model has one."""
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


def buffer_bytes(model: Model, index: int) -> bytes | None:
    """The raw bytes of buffer `index` of a model read from a file."""
    import tflite

    if model.raw is None:
        return None
    fb = tflite.Model.GetRootAs(model.raw, 0)
    buf = fb.Buffers(index)
    if buf.Offset() > 1:
        return bytes(model.raw[buf.Offset(): buf.Offset() + buf.Size()])
    if buf.DataLength() == 0:
        return b""
    return buf.DataAsNumpy().tobytes()
