"""The rich terminal view of an exploration."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..schedules.copies import bytes_copied
from ..schedules.explore import Exploration
from ..units import human_bytes, human_count
from .safe_text import plain, visible


def explore_table(ex: Exploration, width: int | None = None) -> Table:
    """One row per option, cheapest first; narrow terminals drop the secondary columns."""
    from rich.console import Console

    wide = (width or Console().width) >= 120
    base = ex.baseline.required_bytes
    title = f"Schedules for {ex.model.path or 'model'} ({ex.target.label()})"
    if ex.budget is not None:
        title += f"  (budget {ex.budget:,} B = {human_bytes(ex.budget)})"
    t = Table(title=plain(title), title_justify="left", header_style="bold", box=None, pad_edge=False)
    cols = [("", "left"), ("id", "left"), ("arena", "right"), ("vs base", "right")]
    if wide:
        cols += [("head", "right"), ("tail", "right"), ("live bound", "right"), ("MACs", "right")]
    cols += [("overhead", "right")]
    if wide:
        cols += [("stage", "right")]
    if wide:
        cols += [("copied", "right")]
    cols += [("+ops", "right"), ("fits", "center")]
    if wide:
        cols += [("schedule", "left")]
    for col, just in cols:
        t.add_column(col, justify=just, no_wrap=col != "schedule",
                     overflow="fold" if col == "schedule" else "ellipsis",
                     min_width={"": 2, "arena": 10, "vs base": 7, "overhead": 8,
                                "+ops": 4, "fits": 4, "schedule": 16}.get(col),
                     ratio=1 if col == "schedule" else None)
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.required_bytes)):
        mark = ("→" if o.recommended else " ") + ("★" if o.pareto else " ")
        stage = o.stage_overhead()
        style = "bold green" if o.recommended else ("" if o.pareto else "dim")
        fits = "" if o.fits is None else ("yes" if o.fits else "no")
        cells = [mark, plain(o.id), f"{o.required_bytes:,}",
                 f"{o.required_bytes / base - 1:+.0%}" if base else ""]
        if wide:
            cells += [f"{o.head_bytes:,}", f"{o.tail_bytes:,}", f"{o.peak_bytes:,}",
                      human_count(o.macs)]
        cells += [f"{o.mac_overhead:+.1%}"]
        if wide:
            cells += ["" if stage is None else f"{stage:+.0%}"]
            copied = bytes_copied(o.model) if o.steps else 0
            cells += [human_bytes(copied) if copied else ""]
        cells += [str(o.ops_added) if o.ops_added else "", fits]
        if wide:
            cells.append(plain(o.description))
        t.add_row(*cells, style=style)
    t.caption = ("arena = the kTensorArenaSize to set (head + tail + alignment)\n"
                 "★ Pareto front (arena vs MAC overhead)   → recommended: the lowest overhead "
                 "that fits" if ex.budget is not None else
                 "★ Pareto front (arena vs MAC overhead)   → recommended: the lowest arena "
                 "within the overhead limit")
    return t


def schedule_legend(ex: Exploration) -> Text:
    """What each option does, one line each (for terminals too narrow for the column)."""
    text = Text()
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.required_bytes)):
        text.append(f"{visible(o.id)}: ", style="bold")
        text.append(visible(o.description) + "\n", style="dim")
    return text


def no_fit_message(ex: Exploration) -> str:
    allowed = [o for o in ex.options
               if ex.max_overhead is None or o.mac_overhead <= ex.max_overhead + 1e-12]
    best = min(allowed or ex.options, key=lambda o: (o.required_bytes, o.mac_overhead))
    limit = "" if ex.max_overhead is None else f" within {ex.max_overhead:.0%} MAC overhead"
    return (f"nothing fits {ex.budget:,} B{limit}: the best achievable is {best.required_bytes:,} B "
            f"({best.id}, {best.mac_overhead:+.1%} MACs)")


def notes_text(ex: Exploration) -> Text:
    """The search's notes (splits skipped because the target cannot run them)."""
    text = Text()
    for n in ex.notes:
        text.append(f"note: {n}\n", style="yellow")
    return text


def summary_line(ex: Exploration) -> Text:
    rec = ex.recommended
    if rec is None:
        return Text("")
    base = ex.baseline.required_bytes
    return Text(f"recommended {visible(rec.id)}: arena to set {rec.required_bytes:,} B on "
                f"{ex.target.label()} (head {rec.head_bytes:,} + tail {rec.tail_bytes:,}; "
                f"{rec.required_bytes / base - 1:+.0%} vs baseline {base:,} B), "
                f"{rec.mac_overhead:+.1%} MACs", style="bold green")
