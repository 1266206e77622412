"""Text charts for the terminal: a compact memory-over-time strip."""

from __future__ import annotations

_BARS = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int = 64) -> str:
    """One line of block characters; each column is the max of the ops it covers."""
    if not values:
        return ""
    n = len(values)
    cols = min(width, n)
    top = max(values) or 1
    out = []
    for c in range(cols):
        lo, hi = c * n // cols, max((c + 1) * n // cols, c * n // cols + 1)
        v = max(values[lo:hi])
        out.append(_BARS[min(len(_BARS) - 1, round(v / top * (len(_BARS) - 1)))])
    return "".join(out)


def bar(value: int, top: int, width: int = 20) -> str:
    if top <= 0:
        return ""
    full = value * width / top
    n = int(full)
    part = full - n
    s = "█" * n
    if part >= 0.5 and n < width:
        s += "▌"
    return s
