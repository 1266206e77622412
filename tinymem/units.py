"""Parsing the sizes and fractions people type: 256k, 256KiB, 0.25M, 10%."""

from __future__ import annotations

import re

from .errors import BudgetError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)
_FACTOR = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def parse_size(text: str) -> int:
    """Bytes from '262144', '256k', '256K', '256KiB', '256kB', '0.25M'.

    Embedded engineers mean 1024 by k (SRAM sizes are powers of two), so k, KB
    and KiB all count 1024.
    """
    m = _SIZE.match(str(text))
    if not m:
        raise BudgetError(f"cannot read '{text}' as a memory size (try 256k, 256KiB or 262144)")
    value = float(m.group(1)) * _FACTOR[m.group(2).lower()]
    if value <= 0:
        raise BudgetError(f"memory size must be positive, got '{text}'")
    return int(round(value))


def parse_fraction(text: str) -> float:
    """A fraction from '10%', '0.1' or '10 %'."""
    s = str(text).strip()
    try:
        value = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise BudgetError(f"cannot read '{text}' as an overhead (try 10% or 0.1)") from None
    if value < 0:
        raise BudgetError(f"overhead must not be negative, got '{text}'")
    return value


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1024:
        return f"{n} B"
    if n < 1024 ** 2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 ** 2:.2f} MiB"


def human_count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= f:
            return f"{n / f:.2f}{unit}"
    return str(n)


def short_bytes(n: int | None) -> str:
    """Compact byte counts for table cells: 512, 60.8k, 1.44M (k = 1024)."""
    if n is None:
        return "?"
    if n < 1024:
        return str(n)
    if n < 1024 ** 2:
        return f"{n / 1024:.1f}k"
    return f"{n / 1024 ** 2:.2f}M"
