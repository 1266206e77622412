"""Tensor and op names as the reports show them."""

from __future__ import annotations


def short_name(name: str, limit: int = 48) -> str:
    """A readable tensor name: converters join fused op names with ';', keep the first
    (and at most `limit` characters of its end)."""
    first = name.split(";")[0]
    if len(first) > limit:
        first = "…" + first[-(limit - 1):]
    return first
