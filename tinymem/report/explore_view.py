"""The rich terminal view of an exploration."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..schedules.copies import bytes_copied
from ..schedules.explore import Exploration
from ..units import human_bytes, human_count


def explore_table(ex: Exploration, width: int | None = None) -> Table:
    """One row per option, cheapest first; narrow terminals drop the secondary columns."""
    from rich.console import Console

    wide = (width or Console().width) >= 120
    base = ex.baseline.arena_bytes
    title = f"Schedules for {ex.model.path or 'model'}"
    if ex.budget is not None:
        title += f"  (budget {ex.budget:,} B = {human_bytes(ex.budget)})"
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    cols = [("", "left"), ("id", "left"), ("TFLM arena", "right"), ("vs base", "right")]
    if wide:
        cols += [("live bound", "right"), ("MACs", "right")]
    cols += [("overhead", "right")]
    if wide:
        cols += [("stage", "right"), ("copied", "right")]
    cols += [("+ops", "right"), ("fits", "center")]
    if wide:
        cols += [("schedule", "left")]
    for col, just in cols:
        t.add_column(col, justify=just, no_wrap=col != "schedule",
                     overflow="fold" if col == "schedule" else "ellipsis",
                     min_width={"": 2, "TFLM arena": 10, "vs base": 7, "overhead": 8,
                                "+ops": 4, "fits": 4, "schedule": 16}.get(col),
                     ratio=1 if col == "schedule" else None)
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.arena_bytes)):
        mark = ("→" if o.recommended else " ") + ("★" if o.pareto else " ")
        stage = o.stage_overhead()
        style = "bold green" if o.recommended else ("" if o.pareto else "dim")
        fits = "" if o.fits is None else ("yes" if o.fits else "no")
        cells = [mark, o.id, f"{o.arena_bytes:,}",
                 f"{o.arena_bytes / base - 1:+.0%}" if base else ""]
        if wide:
            cells += [f"{o.peak_bytes:,}", human_count(o.macs)]
        cells += [f"{o.mac_overhead:+.1%}"]
        if wide:
            cells += ["" if stage is None else f"{stage:+.0%}"]
            copied = bytes_copied(o.model) if o.steps else 0
            cells += [human_bytes(copied) if copied else ""]
        cells += [str(o.ops_added) if o.ops_added else "", fits]
        if wide:
            cells.append(o.description)
        t.add_row(*cells, style=style)
    t.caption = ("★ Pareto front (arena vs MAC overhead)   → recommended: the lowest overhead "
                 "that fits" if ex.budget is not None else
                 "★ Pareto front (arena vs MAC overhead)   → recommended: the lowest arena "
                 "within the overhead limit")
    return t


def schedule_legend(ex: Exploration) -> Text:
    """What each option does, one line each (for terminals too narrow for the column)."""
    text = Text()
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.arena_bytes)):
        text.append(f"{o.id}: ", style="bold")
        text.append(o.description + "\n", style="dim")
    return text


def no_fit_message(ex: Exploration) -> str:
    allowed = [o for o in ex.options
               if ex.max_overhead is None or o.mac_overhead <= ex.max_overhead + 1e-12]
    best = min(allowed or ex.options, key=lambda o: (o.arena_bytes, o.mac_overhead))
    limit = "" if ex.max_overhead is None else f" within {ex.max_overhead:.0%} MAC overhead"
    return (f"nothing fits {ex.budget:,} B{limit}: the best achievable is {best.arena_bytes:,} B "
            f"({best.id}, {best.mac_overhead:+.1%} MACs)")


def summary_line(ex: Exploration) -> Text:
    rec = ex.recommended
    if rec is None:
        return Text("")
    return Text(f"recommended {rec.id}: {rec.arena_bytes:,} B TFLM arena "
                f"({rec.arena_bytes / ex.baseline.arena_bytes - 1:+.0%} vs baseline "
                f"{ex.baseline.arena_bytes:,} B), {rec.mac_overhead:+.1%} MACs", style="bold green")
