"""The inner loop of TFLM's greedy placement, compiled by numba when it is there.

Placing n buffers walks each one's placed, time-overlapping neighbours in
address order: about n times the neighbour count. In Python that loop (with
the neighbour lists) was a fifth of an explore on the largest models: on the
PyTorch MobileNetV2, 2,600 placements of up to 2,000 buffers took 9.8 of 52 s,
and the layout searches, which place the same buffers many times, 7.5 s more.
Compiled: 2.0 s and 3.1 s.

The functions are plain Python over numpy arrays, compiled on first use
(cached next to this module, so only a machine's first run pays the few
seconds it takes). Small inputs run them as written until then: a small
model's profile needs no compiler, and loading numba would cost more than
placing its buffers. Without numba (a platform with no wheel for it) every
input runs so.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

# Below this many buffers the functions run as Python (a MobileNetV2-0.35 has
# about 150; a tiled candidate of a large model 2,000).
COMPILE_FROM = 256

_compiled: dict[str, Callable] = {}


def for_size(fn: Callable, n_buffers: int) -> Callable:
    """`fn` (place or overlap_rows) compiled when the input is large enough to
    pay, or once it has been compiled (a search's small candidates too)."""
    got = _compiled.get(fn.__name__)
    if got is None and n_buffers < COMPILE_FROM:
        return fn
    if got is None:
        try:
            from numba import njit
        except ImportError:  # pragma: no cover - numba is a dependency
            got = fn
        else:
            try:
                got = njit(cache=True, nogil=True)(fn)
            except RuntimeError:  # no writable place for the cache (a read-only install)
                got = njit(nogil=True)(fn)
        _compiled[fn.__name__] = got
    return got


# Rows up to this long are sorted by insertion (a library sort's call costs
# more than sorting them; longer rows, the model input's say, would cost n**2).
_INSERTION_MAX = 48


def place(order: np.ndarray, start: int, sizes: np.ndarray, offsets: np.ndarray,
          indptr: np.ndarray, indices: np.ndarray, limit: int) -> bool:
    """Place the buffers order[start:] in turn, writing `offsets` (-1: not placed
    yet; buffers placed already are skipped): each goes below the first placed
    neighbour (indices[indptr[i]:indptr[i + 1]]) with room under it, walking
    them by (offset, index), else above them all. False as soon as a buffer
    ends at or above `limit` (when limit >= 0)."""
    n = len(indptr) - 1
    widest = 0
    for i in range(n):
        widest = max(widest, indptr[i + 1] - indptr[i])
    keys = np.empty(widest, dtype=np.int64)
    for p in range(start, len(order)):
        i = order[p]
        if offsets[i] != -1:
            continue
        # The placed neighbours, walked by (offset, index) as TFLM walks its
        # list: each a key off * n + j, sorted in place.
        m = 0
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            off = offsets[j]
            if off != -1:
                keys[m] = off * n + j
                m += 1
        size = sizes[i]
        cand = 0
        if m > 0:
            walk = keys[:m]
            if m <= _INSERTION_MAX:
                for k in range(1, m):  # an insertion sort: no call for short rows
                    key = walk[k]
                    h = k
                    while h > 0 and walk[h - 1] > key:
                        walk[h] = walk[h - 1]
                        h -= 1
                    walk[h] = key
            else:
                walk.sort()
            for key in walk:
                off = key // n
                if off - cand >= size:
                    break
                end = off + sizes[key - off * n]
                if end > cand:
                    cand = end
        offsets[i] = cand
        if 0 <= limit <= cand + size:
            return False
    return True


def overlap_rows(first: np.ndarray, last: np.ndarray, max_pairs: int):
    """Each buffer's time-overlapping others (alive at a common scope) as
    compressed rows (indptr, indices), each row in no particular order; two
    empty arrays when there are more than `max_pairs` pairs."""
    n = len(first)
    by_first = np.argsort(first, kind="mergesort")
    starts = first[by_first]
    one = np.empty(max_pairs, dtype=np.int64)
    other = np.empty(max_pairs, dtype=np.int64)
    pairs = 0
    # Each pair once, from the one that starts first: the later one starts at
    # or before its end, and ends at or after its start.
    for p in range(n):
        a = by_first[p]
        q = p + 1
        while q < n and starts[q] <= last[a]:
            b = by_first[q]
            if last[b] >= first[a]:
                if pairs == max_pairs:
                    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
                one[pairs] = a
                other[pairs] = b
                pairs += 1
            q += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(pairs):
        indptr[one[k] + 1] += 1
        indptr[other[k] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:n].copy()
    indices = np.empty(indptr[n], dtype=np.int64)
    for k in range(pairs):
        a, b = one[k], other[k]
        indices[fill[a]] = b
        fill[a] += 1
        indices[fill[b]] = a
        fill[b] += 1
    return indptr, indices
