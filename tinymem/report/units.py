"""Parsing the sizes and fractions people type: 256k, 256KiB, 0.25M, 10%."""

from __future__ import annotations

import math
import re

from ..errors import BudgetError

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
    if value <= 0 or not math.isfinite(value):
        raise BudgetError(f"memory size must be a positive finite number, got '{text}'")
    if round(value) < 1:
        raise BudgetError(f"memory size '{text}' is less than one byte")
    return int(round(value))


def parse_fraction(text: str) -> float:
    """A fraction from '10%', '0.1' or '10 %'.

    A bare number above 1 is refused rather than read as a fraction: '10'
    would mean 1000%, and the user almost certainly meant 10%.
    """
    s = str(text).strip()
    percent = s.endswith("%")
    try:
        value = float(s[:-1]) / 100 if percent else float(s)
    except ValueError:
        raise BudgetError(f"cannot read '{text}' as an overhead (try 10% or 0.1)") from None
    if not math.isfinite(value):
        raise BudgetError(f"overhead must be a finite number, got '{text}' (try 10% or 0.1)")
    if value < 0:
        raise BudgetError(f"overhead must not be negative, got '{text}'")
    if value > 1 and not percent:
        raise BudgetError(f"overhead '{text}' is a fraction above 1 ({value:.0%}); "
                          f"write '{s}%' if you meant {s} percent, or '{value:.0%}' if you meant that")
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
    """Counts (MACs) with SI prefixes, three significant digits: 746k, 2.24M (k = 1000)."""
    if n is None:
        return "?"
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= f:
            return _three_digits(n / f) + unit
    return str(n)


def short_bytes(n: int | None) -> str:
    """Compact byte counts for table cells, IEC prefixes: 512, 60.8Ki, 1.44Mi (Ki = 1024).

    Ki/Mi, never k/M, so a byte cell cannot be read as the SI count next to it.
    """
    if n is None:
        return "?"
    if n < 1024:
        return str(n)
    if n < 1024 ** 2:
        return _three_digits(n / 1024) + "Ki"
    return _three_digits(n / 1024 ** 2) + "Mi"


def _three_digits(x: float) -> str:
    text = f"{x:.3g}"
    return text if "e" not in text else f"{x:.0f}"


# The legend of the compact units above, for a table's caption.
UNITS_LEGEND = "bytes: Ki = 1024, Mi = 1024²; MACs: k = 10³, M = 10⁶, G = 10⁹"


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 op', '2 ops', '1 option'."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"

