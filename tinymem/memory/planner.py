"""One call that plans a model's arena head the way TFLite Micro does.

Everything in tinymem that needs "how much SRAM" goes through `plan_model`:
the profiler, every schedule the explorer evaluates, and the check of a
rewritten file, so their figures cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Model
from ..tflite_file import offline_plan
from .greedy import arena_size, greedy_offsets
from .liveness import live_bytes_per_scope
from .requests import BufferRequest, Requests, build_requests


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


class PlannedFigures:
    """The two figures of anything measured by a plan (a profile, an explored option)."""

    plan: ArenaPlan

    @property
    def arena_bytes(self) -> int:
        """The arena head TFLM allocates."""
        return self.plan.arena_bytes

    @property
    def peak_bytes(self) -> int:
        """The live-set lower bound."""
        return self.plan.peak_bytes


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
                     live=live_bytes_per_scope(req.buffers, req.last_scope))
