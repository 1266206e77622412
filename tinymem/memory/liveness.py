"""Live memory over time: the lower bound any layout of the same schedule must meet."""

from __future__ import annotations

import numpy as np

from .requests import BufferRequest


def live_bytes_per_scope(buffers: list[BufferRequest], last_scope: int) -> np.ndarray:
    """Aligned bytes that must be intact at each scope 0..last_scope.

    Buffers alive "before everything" (scope -1: tensors nobody creates)
    count at scope 0 as well as their real span, since they overlap all
    that is alive at the start.

    Offline-planned buffers sit where their plan puts them, and a plan (Vela's,
    say) may overlap buffers TFLM thinks alive together: TFLM honours it. So
    they count by the bytes they cover together, not by their sum; the result
    stays a bound the arena meets (online buffers never overlap anything alive).
    """
    # (A list, summed by numpy after: a search runs this for every candidate,
    # and a list item is updated several times faster than an array element.)
    diff = [0] * (last_scope + 3)
    offline = []
    for b in buffers:
        if b.offline_offset is not None:
            offline.append(b)
            continue
        a = b.aligned
        diff[b.first + 1] += a
        diff[b.last + 2] -= a
    live = np.cumsum(np.array(diff, dtype=np.int64))[: last_scope + 2]
    if offline:
        live = live + _covered_per_scope(offline, last_scope)
    # Index 0 is scope -1; fold it into scope 0 so callers index by scope.
    out = live[1:].copy()
    out[0] = max(out[0], live[0])
    return out


def _covered_per_scope(buffers: list[BufferRequest], last_scope: int) -> np.ndarray:
    """Bytes of the arena the offline buffers alive at each scope -1..last_scope cover."""
    starts = np.array([b.offline_offset for b in buffers], dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    starts = starts[order]
    ends = starts + np.array([buffers[i].aligned for i in order], dtype=np.int64)
    firsts = np.array([buffers[i].first for i in order], dtype=np.int64)
    lasts = np.array([buffers[i].last for i in order], dtype=np.int64)
    out = np.zeros(last_scope + 2, dtype=np.int64)
    for k, scope in enumerate(range(-1, last_scope + 1)):
        alive = (firsts <= scope) & (lasts >= scope)
        if not alive.any():
            continue
        s, e = starts[alive], ends[alive]
        # Sorted by start: each interval adds what reaches past all before it.
        reach = np.maximum.accumulate(e)
        prev = np.concatenate(([s[0]], reach[:-1]))
        out[k] = int(np.sum(np.maximum(e - np.maximum(s, prev), 0)))
    return out
