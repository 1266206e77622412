"""A replica of TFLite Micro's GreedyMemoryPlanner.

Buffers are placed largest first (equal sizes in reverse request order, as
TFLM's array is filled from the back); each goes into the lowest gap, among the buffers already placed that
are alive at the same time, that is big enough. Offline-planned buffers keep
their offsets and are placed before everything else.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import first_fit
from .requests import BufferRequest


def greedy_offsets(buffers: list[BufferRequest]) -> list[int]:
    """Offsets TFLM's greedy planner gives the buffers (aligned sizes)."""
    # TFLM fills its sort array from the back, so equal sizes end up in
    # reverse request order; its bubble sort is stable and keeps that.
    online = [i for i in reversed(range(len(buffers))) if buffers[i].offline_offset is None]
    order = sorted(online, key=lambda i: -buffers[i].aligned)
    return place_in_order(buffers, order)


_COMPUTE = object()  # place_in_order's default: find the overlaps itself


def place_in_order(buffers: list[BufferRequest], order: list[int],
                   overlaps=_COMPUTE, placed: tuple[list[int], int] | None = None,
                   below: int | None = None) -> list[int] | None:
    """Offsets from placing the buffers one by one in `order`, each in the lowest
    gap that fits; offline-planned buffers keep their offsets and go first.

    `overlaps` (from `time_overlaps`, for callers placing the same buffers in
    many orders) lists each buffer's time-overlapping ones, None: too dense.
    For a local search that tries orders differing from a placed one after a
    prefix: `placed` = (offsets of an order, k) when `order` starts with that
    order's first k buffers (a buffer's place depends only on those placed
    before it, so theirs are taken as they are), and with `below` the result
    is None as soon as a buffer ends at or above it (the arena could not be
    smaller than `below`)."""
    if overlaps is _COMPUTE:
        overlaps = time_overlaps(buffers)
    if overlaps is None:
        offsets = _place_dense(buffers, order)
        return None if below is not None and arena_size(buffers, offsets) >= below else offsets
    offsets = overlaps.fixed.copy()
    order_arr = np.asarray(order, dtype=np.int64)
    start = 0
    if placed is not None:
        before, start = placed
        head = order_arr[:start]
        offsets[head] = np.asarray(before, dtype=np.int64)[head]
    limit = below if below is not None else -1
    place = first_fit.for_size(first_fit.place, len(buffers))
    if not place(order_arr, start, overlaps.sizes, offsets, overlaps.indptr, overlaps.indices,
                 limit):
        return None
    out = offsets.tolist()
    if below is not None and arena_size(buffers, out) >= below:
        return None  # an offline buffer reaches it
    return out


# Above this many buffers, or this many overlapping pairs per buffer, the
# vectorised scan of every placed buffer beats walking neighbour lists (2,000
# random buffers: 59 pairs each, lists 19 ms and the scan 32; 145 pairs, 45 and
# 34; a tiled MobileNetV2's 1,928 buffers at 48.5 pairs, 11 ms and 25; the
# compiled walk is faster still, but its lists take memory by the pair).
_SPARSE_MAX_BUFFERS = 3000
_SPARSE_MAX_PAIRS_PER_BUFFER = 96


class Overlaps(NamedTuple):
    """Each buffer's time-overlapping ones, as compressed rows (buffer i's are
    indices[indptr[i]:indptr[i + 1]], in no particular order), with what every
    placement of these buffers starts from."""

    indptr: np.ndarray
    indices: np.ndarray
    sizes: np.ndarray  # aligned sizes
    fixed: np.ndarray  # offline offsets, -1 for buffers the greedy rule places

    def of(self, i: int) -> list[int]:
        """Buffer i's overlapping ones, in index order."""
        return sorted(self.indices[self.indptr[i]:self.indptr[i + 1]].tolist())


def time_overlaps(buffers: list[BufferRequest]) -> Overlaps | None:
    """For each buffer, the others alive at some common scope; None when the
    buffers are too many or overlap too densely for lists to pay."""
    n = len(buffers)
    if n > _SPARSE_MAX_BUFFERS:
        return None
    first = np.fromiter((b.first for b in buffers), dtype=np.int64, count=n)
    last = np.fromiter((b.last for b in buffers), dtype=np.int64, count=n)
    limit = _SPARSE_MAX_PAIRS_PER_BUFFER * n // 2
    indptr, indices = first_fit.for_size(first_fit.overlap_rows, n)(first, last, limit)
    if indptr.size == 0:
        return None
    sizes = np.fromiter((b.aligned for b in buffers), dtype=np.int64, count=n)
    fixed = np.fromiter((-1 if b.offline_offset is None else b.offline_offset for b in buffers),
                        dtype=np.int64, count=n)
    return Overlaps(indptr, indices, sizes, fixed)


def _place_dense(buffers: list[BufferRequest], order: list[int]) -> list[int]:
    """`place_in_order` for many buffers alive at once: one vectorised pass per
    placement over the placed ones."""
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
