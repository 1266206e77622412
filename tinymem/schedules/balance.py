"""Cutting an axis into ranges whose costs are as even as possible.

Both the spatial tiler's ragged grids and the cached row strips cut an
output axis 0 .. n so that the heaviest range is as light as it can be.
Their costs share a form: range [a, b) costs hi[b] - lo[a], with hi and lo
rising in b and a (a range's working data splits into a part set by its
start and a part set by its end). For that form, greedy cutting under a
cost limit gives the fewest ranges, so a binary search on the limit finds
the smallest one that is met.
"""

from __future__ import annotations

from typing import Sequence


def balanced_splits(lo: Sequence[int], hi: Sequence[int], parts: int,
                    exact: bool = False) -> tuple[tuple[int, int], ...] | None:
    """Ranges [a, b) covering 0 .. n (n = len(hi) - 1), at most `parts` of them
    (exactly `parts` with `exact`), the largest cost hi[b] - lo[a] as small as
    the greedy cut under a binary-searched limit allows; None if no limit
    gives such a cut."""
    lo, hi = [int(v) for v in lo], [int(v) for v in hi]
    n = len(hi) - 1

    def cut(limit: int) -> list[tuple[int, int]] | None:
        splits, a = [], 0
        while a < n:
            b = a + 1
            if hi[b] - lo[a] > limit:
                return None
            while b < n and hi[b + 1] - lo[a] <= limit:
                b += 1
            splits.append((a, b))
            a = b
            if len(splits) > parts:
                return None
        return splits if not exact or len(splits) == parts else None

    low, high = 1, hi[n] - lo[0]
    while low < high:
        mid = (low + high) // 2
        if cut(mid) is not None:
            high = mid
        else:
            low = mid + 1
    found = cut(low)
    return tuple(found) if found else None
