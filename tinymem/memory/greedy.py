"""A replica of TFLite Micro's GreedyMemoryPlanner.

Buffers are placed largest first (equal sizes in reverse request order, as
TFLM's array is filled from the back); each goes into the lowest gap, among the buffers already placed that
are alive at the same time, that is big enough. Offline-planned buffers keep
their offsets and are placed before everything else.
"""

from __future__ import annotations

import numpy as np

from .requests import BufferRequest


def greedy_offsets(buffers: list[BufferRequest]) -> list[int]:
    """Offsets TFLM's greedy planner gives the buffers (aligned sizes)."""
    # TFLM fills its sort array from the back, so equal sizes end up in
    # reverse request order; its bubble sort is stable and keeps that.
    online = [i for i in reversed(range(len(buffers))) if buffers[i].offline_offset is None]
    order = sorted(online, key=lambda i: -buffers[i].aligned)
    return place_in_order(buffers, order)


def place_in_order(buffers: list[BufferRequest], order: list[int]) -> list[int]:
    """Offsets from placing the buffers one by one in `order`, each in the lowest
    gap that fits; offline-planned buffers keep their offsets and go first."""
    n = len(buffers)
    sizes = np.array([b.aligned for b in buffers], dtype=np.int64)
    firsts = np.array([b.first for b in buffers], dtype=np.int64)
    lasts = np.array([b.last for b in buffers], dtype=np.int64)
    offsets = np.full(n, -1, dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    for i, b in enumerate(buffers):
        if b.offline_offset is not None:
            offsets[i] = b.offline_offset
            placed[i] = True
    for i in order:
        if placed[i]:
            continue
        offsets[i] = place(sizes[i], firsts[i], lasts[i], sizes, firsts, lasts, offsets, placed)
        placed[i] = True
    return offsets.tolist()


def place(size, first, last, sizes, firsts, lasts, offsets, placed) -> int:
    """Lowest offset where a buffer fits among the placed, time-overlapping ones."""
    mask = placed & (firsts <= last) & (lasts >= first)
    if not mask.any():
        return 0
    offs = offsets[mask]
    ends = offs + sizes[mask]
    order = np.argsort(offs, kind="stable")
    offs, ends = offs[order], ends[order]
    # The candidate before entry j is the furthest end of the entries before it.
    cand = np.concatenate(([0], np.maximum.accumulate(ends)))
    fits = offs - cand[:-1] >= size
    hit = np.flatnonzero(fits)
    if hit.size:
        return int(cand[hit[0]])
    return int(cand[-1])


def arena_size(buffers: list[BufferRequest], offsets: list[int]) -> int:
    return max((o + b.aligned for b, o in zip(buffers, offsets)), default=0)
