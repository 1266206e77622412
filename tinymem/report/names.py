"""Tensor and op names as the reports show them."""

from __future__ import annotations

from ..graph.ir import own_name


def short_name(name: str, limit: int = 48) -> str:
    """A readable tensor name: the producing op's own name (at most `limit` characters
    of its end)."""
    first = own_name(name)
    if len(first) > limit:
        first = "…" + first[-(limit - 1):]
    return first
