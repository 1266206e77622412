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
    offsets = [-1] * n
    placed = _Placed(n)
    for i, b in enumerate(buffers):
        if b.offline_offset is not None:
            offsets[i] = b.offline_offset
            placed.add(i, b.offline_offset, b.aligned, b.first, b.last)
    for i in order:
        b = buffers[i]
        if b.offline_offset is not None or offsets[i] != -1:
            continue
        off = placed.lowest_fit(b.aligned, b.first, b.last)
        offsets[i] = off
        placed.add(i, off, b.aligned, b.first, b.last)
    return offsets


class _Placed:
    """The buffers placed so far, kept sorted by (offset, request index).

    That is the order TFLM walks its placed list in, so scanning it for the
    time-overlapping ones gives the gaps in address order without sorting
    again for every buffer: one vectorised pass per placement instead of a
    sort, which keeps 10,000 buffers alive at once to a fraction of a second.
    """

    def __init__(self, capacity: int):
        self.k = 0
        self.offs = np.zeros(capacity, dtype=np.int64)
        self.ends = np.zeros(capacity, dtype=np.int64)
        self.firsts = np.zeros(capacity, dtype=np.int64)
        self.lasts = np.zeros(capacity, dtype=np.int64)
        self.index = np.zeros(capacity, dtype=np.int64)

    def add(self, i: int, off: int, size: int, first: int, last: int) -> None:
        k = self.k
        lo = int(np.searchsorted(self.offs[:k], off, side="left"))
        hi = int(np.searchsorted(self.offs[:k], off, side="right"))
        pos = lo + int(np.searchsorted(self.index[lo:hi], i))
        for arr, val in ((self.offs, off), (self.ends, off + size), (self.firsts, first),
                         (self.lasts, last), (self.index, i)):
            arr[pos + 1:k + 1] = arr[pos:k]
            arr[pos] = val
        self.k = k + 1

    def lowest_fit(self, size: int, first: int, last: int) -> int:
        """Lowest offset where a buffer fits among the placed, time-overlapping ones."""
        k = self.k
        mask = (self.firsts[:k] <= last) & (self.lasts[:k] >= first)
        offs = self.offs[:k][mask]
        if not offs.size:
            return 0
        ends = self.ends[:k][mask]
        # The candidate before entry j is the furthest end of the entries before it.
        cand = np.concatenate(([0], np.maximum.accumulate(ends)))
        hit = np.flatnonzero(offs - cand[:-1] >= size)
        if hit.size:
            return int(cand[hit[0]])
        return int(cand[-1])


def arena_size(buffers: list[BufferRequest], offsets: list[int]) -> int:
    return max((o + b.aligned for b, o in zip(buffers, offsets)), default=0)
