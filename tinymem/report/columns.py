"""Tables that fit the terminal by dropping columns, never by cutting numbers.

A pipe or a small terminal gives 80 columns. Rather than let rich squeeze
every column (which turns `243.0k` into `243.…`), each column says how
dispensable it is; the least needed go first until the rest fit whole.
Only a column marked `flexible` (free text, such as an op name or a
schedule's description) may be shortened or wrapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

GAP = 2  # cells between two columns (rich's padding of one on each side)
ALWAYS = 0  # a column's `drop` rank when it is never dropped


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "right"
    drop: int = ALWAYS  # higher ranks are dropped first; ALWAYS stays
    flexible: bool = False  # free text: may be shortened (op) or wrapped (wrap=True)
    min_width: int = 8  # for a flexible column: the least it may be given
    wrap: bool = False  # a flexible column that wraps instead of ending in "…"


def _width(col: Column, cells: list) -> int:
    return max([cell_len(col.header)] + [cell_len(c.plain if isinstance(c, Text) else str(c))
                                         for c in cells])


def fit(columns: list[Column], rows: list[list], width: int) -> list[int]:
    """Indexes of the columns to keep so the table fits `width` cells.

    Empty optional columns go first, then by drop rank (highest first, the
    rightmost of equal rank first). Flexible columns count at their minimum.
    """
    widths = []
    for k, col in enumerate(columns):
        w = _width(col, [r[k] for r in rows])
        widths.append(min(w, col.min_width) if col.flexible else w)
    keep = [k for k, col in enumerate(columns)
            if col.drop == ALWAYS or any(str(r[k]).strip() for r in rows)]

    def total(ks):
        return sum(widths[k] for k in ks) + GAP * max(len(ks) - 1, 0)

    for k in sorted((k for k in keep if columns[k].drop != ALWAYS),
                    key=lambda k: (-columns[k].drop, -k)):
        if total(keep) <= width:
            break
        keep.remove(k)
    return keep


def fitted_table(columns: list[Column], rows: list[list], width: int,
                 styles: list[str] | None = None, **table_kw) -> tuple[Table, list[int]]:
    """A rich Table of the columns that fit; returns it and the kept indexes."""
    keep = fit(columns, rows, width)
    natural = {k: _width(columns[k], [r[k] for r in rows]) for k in keep}
    flex = [k for k in keep if columns[k].flexible]
    # What the fixed columns leave goes to the flexible ones: each its minimum,
    # then the rest to them from the left, up to what their text needs.
    room = width - sum(natural[k] for k in keep if k not in flex) - GAP * max(len(keep) - 1, 0)
    given = {k: min(natural[k], columns[k].min_width) for k in flex}
    room -= sum(given.values())
    for k in flex:
        extra = max(min(natural[k] - given[k], room), 0)
        given[k] += extra
        room -= extra
    t = Table(box=None, pad_edge=False, header_style="bold", title_justify="left", **table_kw)
    for k in keep:
        col = columns[k]
        if col.flexible:
            t.add_column(col.header, justify=col.justify, no_wrap=not col.wrap,
                         overflow="fold" if col.wrap else "ellipsis", width=given[k])
        else:
            # Its whole width, always: rich may not squeeze it.
            t.add_column(col.header, justify=col.justify, no_wrap=True, min_width=natural[k])
    for i, r in enumerate(rows):
        t.add_row(*[r[k] for k in keep], style=(styles[i] if styles else None) or None)
    return t, keep
