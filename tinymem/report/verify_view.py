"""The rich view of `tinymem verify`."""

from __future__ import annotations

from rich.table import Table

from ..verify.compare import VerifyReport
from .safe_text import plain


def verify_view(r: VerifyReport) -> Table:
    t = Table(title=plain(f"{r.original}  vs  {r.rewritten}  ({r.runs} seeded inputs)"),
              title_justify="left", header_style="bold", box=None)
    for col in ("runtime", "result", "max |diff|", "max rel diff", "tensors compared", "note"):
        t.add_column(col)
    for res in r.results:
        result = "not run" if res.ok is None else ("identical" if res.ok else "DIFFERENT")
        style = "green" if res.ok else ("yellow" if res.ok is None else "bold red")
        note = res.error or (", ".join(res.tensors_differing[:3]) if res.tensors_differing else "")
        t.add_row(res.runtime, result,
                  "" if res.max_abs_diff is None else f"{res.max_abs_diff:g}",
                  "" if res.max_rel_diff is None else f"{res.max_rel_diff:.2e}",
                  str(res.tensors_compared) if res.tensors_compared else "", plain(note), style=style)
    a, b = r.arena_original, r.arena_rewritten
    cap = [f"TFLM arena head: original {a:,} B" if a is not None else "TFLM arena: original n/a",
           f"rewritten {b:,} B" if b is not None else "rewritten n/a"]
    t.caption = plain(", ".join(cap) + ("" if not r.notes else "  |  " + "; ".join(r.notes)))
    return t
