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
    n = len(buffers)
    offsets = [-1] * n
    sizes = [b.aligned for b in buffers]
    for i, b in enumerate(buffers):
        if b.offline_offset is not None:
            offsets[i] = b.offline_offset
    if placed is not None:
        before, k = placed
        for i in order[:k]:
            offsets[i] = before[i]
        order = order[k:]
    limit = below if below is not None else -1
    for i in order:
        if offsets[i] != -1:
            continue
        # The placed buffers alive with i, in TFLM's list order (offset, request
        # index); i goes below the first one with room under it, else above all.
        # (The lists are in index order and the sort is stable: ties stay by index.)
        near = [j for j in overlaps[i] if offsets[j] != -1]
        near.sort(key=offsets.__getitem__)
        size = sizes[i]
        cand = 0
        for j in near:
            off = offsets[j]
            if off - cand >= size:
                break
            end = off + sizes[j]
            if end > cand:
                cand = end
        offsets[i] = cand
        if cand + size >= limit >= 0:
            return None
    if below is not None and arena_size(buffers, offsets) >= below:
        return None  # an offline buffer reaches it
    return offsets


# Above this many buffers, or this many overlapping pairs per buffer, the
# vectorised scan of every placed buffer beats walking neighbour lists (2,000
# random buffers: 59 pairs each, lists 19 ms and the scan 32; 145 pairs, 45 and
# 34; a tiled MobileNetV2's 1,928 buffers at 48.5 pairs, 11 ms and 25).
_SPARSE_MAX_BUFFERS = 3000
_SPARSE_MAX_PAIRS_PER_BUFFER = 96


def time_overlaps(buffers: list[BufferRequest]) -> list[list[int]] | None:
    """For each buffer, the others alive at some common scope (in index order);
    None when the buffers are too many or overlap too densely for lists to pay."""
    n = len(buffers)
    if n == 0 or n > _SPARSE_MAX_BUFFERS:
        return None if n else []
    first = np.fromiter((b.first for b in buffers), dtype=np.int64, count=n)
    last = np.fromiter((b.last for b in buffers), dtype=np.int64, count=n)
    # Each overlapping pair once, from the one that starts first (in a stable
    # order by start): the later one starts at or before the earlier one's end
    # (found by bisection, so no n-by-n matrix) and ends at or after its start.
    by_first = np.argsort(first, kind="stable")
    starts = first[by_first]
    pos = np.arange(n)
    upto = np.searchsorted(starts, last[by_first], side="right")
    counts = np.maximum(upto - pos - 1, 0)
    total = int(counts.sum())
    block = np.repeat(np.cumsum(counts) - counts, counts)
    later = np.arange(total) - block + np.repeat(pos + 1, counts)
    a = by_first[np.repeat(pos, counts)]
    b = by_first[later]
    keep = last[b] >= first[a]
    a, b = a[keep], b[keep]
    if 2 * a.size > _SPARSE_MAX_PAIRS_PER_BUFFER * n:
        return None
    # Both directions, sorted by (buffer, other): each list in index order.
    pairs = np.sort(np.concatenate((a * n + b, b * n + a)))
    rows, cols = pairs // n, pairs % n
    bounds = np.searchsorted(rows, np.arange(n + 1)).tolist()
    cols = cols.tolist()
    return [cols[bounds[i]:bounds[i + 1]] for i in range(n)]


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
