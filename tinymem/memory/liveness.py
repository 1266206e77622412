"""Live memory over time: the lower bound any layout of the same schedule must meet."""

from __future__ import annotations

import numpy as np

from .requests import BufferRequest


def live_bytes_per_scope(buffers: list[BufferRequest], last_scope: int) -> np.ndarray:
    """Aligned bytes that must be intact at each scope 0..last_scope."""
    diff = np.zeros(last_scope + 2, dtype=np.int64)
    for b in buffers:
        diff[b.first] += b.aligned
        diff[b.last + 1] -= b.aligned
    return np.cumsum(diff)[: last_scope + 1]


def alive_at(buffers: list[BufferRequest], scope: int) -> list[BufferRequest]:
    return [b for b in buffers if b.first <= scope <= b.last]
