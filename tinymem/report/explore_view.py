"""The rich terminal view of an exploration."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..schedules.copies import bytes_copied
from ..schedules.explore import Exploration
from .units import human_bytes
from .columns import Column, fitted_table
from .safe_text import plain, visible
from .summary import FRONTS_NOTE, explore_summary, front_mark, option_macs, overhead_text

# Dropped first to last when the terminal is narrow (see report.columns); the
# schedule's text then follows the table as a legend.
OPTION_COLUMNS = [
    Column("", "left"),
    Column("id", "left"),
    Column("arena"),  # the arena to set: head + tail + alignment
    Column("head", drop=1),  # the activation arena alone, as Vela's SRAM figure counts
    Column("vs base", drop=1),
    Column("tail", drop=7),
    Column("live bound", drop=5),
    Column("MACs", drop=3),
    Column("overhead"),
    Column("stage", drop=4),
    Column("copied", drop=8),
    Column("+ops", drop=2),
    Column("fits", "center", drop=1),
    Column("schedule", "left", drop=6, flexible=True, min_width=24, wrap=True),
]
SCHEDULE = len(OPTION_COLUMNS) - 1  # the index of the schedule column


def _rows(ex: Exploration):
    base = ex.baseline.required_bytes
    rows, styles = [], []
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.required_bytes)):
        stage = o.stage_overhead()
        copied = bytes_copied(o.model) if o.steps else 0
        styles.append("bold green" if o.recommended else
                      ("" if o.pareto or o.pareto_head else "dim"))
        rows.append([("→" if o.recommended else " ") + front_mark(o), plain(o.id),
                     f"{o.required_bytes:,}", f"{o.head_bytes:,}",
                     f"{o.required_bytes / base - 1:+.0%}" if base else "",
                     f"{o.tail_bytes:,}",
                     f"{o.peak_bytes:,}", option_macs(o), overhead_text(o),
                     "" if stage is None else f"{stage:+.0%}",
                     human_bytes(copied) if copied else "",
                     str(o.ops_added) if o.ops_added else "",
                     "" if o.fits is None else ("yes" if o.fits else "no"),
                     plain(o.description)])
    return rows, styles


def explore_table(ex: Exploration, width: int = 120) -> tuple[Table, bool]:
    """One row per option, cheapest first, with the columns that fit `width`.

    Returns the table and whether the schedule column fitted."""
    rows, styles = _rows(ex)
    t, keep = fitted_table(OPTION_COLUMNS, rows, width, styles)
    title = f"Schedules for {ex.model.path or 'model'} ({ex.target.label()})"
    if ex.budget is not None:
        title += f"  (budget {ex.budget:,} B = {human_bytes(ex.budget)})"
    t.title = plain(title)
    rule = ("the lowest overhead that fits" if ex.budget is not None
            else "the lowest arena to set within the overhead limit")
    t.caption = ("arena = the kTensorArenaSize to set (head + tail + alignment); "
                 "head = tensors and scratch alone\n"
                 f"{FRONTS_NOTE}\n"
                 f"→ recommended: {rule}")
    t.caption_justify = "left"
    return t, SCHEDULE in keep


def schedule_legend(ex: Exploration) -> Text:
    """What each option does, one line each (for terminals too narrow for the column)."""
    text = Text()
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.required_bytes)):
        text.append(f"{visible(o.id)}: ", style="bold")
        text.append(visible(o.description) + "\n", style="dim")
    return text


def notes_text(ex: Exploration) -> Text:
    """The search's notes (splits skipped because the target cannot run them, why
    nothing lowers the arena)."""
    text = Text()
    for n in ex.notes:
        text.append(f"note: {visible(n)}\n", style="yellow")
    return text


def summary_line(ex: Exploration) -> Text:
    s = explore_summary(ex)
    return Text(visible(s.headline) if ex.recommended is not None else "", style="bold green")


def explore_view(ex: Exploration, width: int = 120) -> Group:
    """The table, the legend when the schedule column did not fit, the recommendation
    and the search's notes."""
    table, with_schedule = explore_table(ex, width)
    parts = [table]
    if not with_schedule:
        parts.append(schedule_legend(ex))
    parts.append(summary_line(ex))
    if ex.notes:
        parts.append(notes_text(ex))
    return Group(*parts)
