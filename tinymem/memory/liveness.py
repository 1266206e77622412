"""Live memory over time: the lower bound any layout of the same schedule must meet."""

from __future__ import annotations

import numpy as np

from .requests import BufferRequest


def live_bytes_per_scope(buffers: list[BufferRequest], last_scope: int) -> np.ndarray:
    """Aligned bytes that must be intact at each scope 0..last_scope.

    Buffers alive "before everything" (scope -1: tensors nobody creates)
    count at scope 0 as well as their real span, since they overlap all
    that is alive at the start.
    """
    diff = np.zeros(last_scope + 3, dtype=np.int64)
    for b in buffers:
        diff[b.first + 1] += b.aligned
        diff[b.last + 2] -= b.aligned
    live = np.cumsum(diff)[: last_scope + 2]
    # Index 0 is scope -1; fold it into scope 0 so callers index by scope.
    out = live[1:].copy()
    out[0] = max(out[0], live[0])
    return out

