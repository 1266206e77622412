"""The rich terminal view of an exploration."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..schedules.explore import Exploration
from ..units import human_bytes
from .columns import Column, fitted_table
from .summary import explore_summary, option_macs, overhead_text

SCHEDULE = 10  # the index of the schedule column below

# Dropped first to last when the terminal is narrow (see report.columns); the
# schedule's text then follows the table as a legend.
OPTION_COLUMNS = [
    Column("", "left"),
    Column("id", "left"),
    Column("TFLM arena"),
    Column("vs base", drop=1),
    Column("live bound", drop=5),
    Column("MACs", drop=3),
    Column("overhead"),
    Column("stage", drop=4),
    Column("+ops", drop=2),
    Column("fits", "center", drop=1),
    Column("schedule", "left", drop=6, flexible=True, min_width=24, wrap=True),
]


def _rows(ex: Exploration):
    base = ex.baseline.arena_bytes
    rows, styles = [], []
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.arena_bytes)):
        stage = o.stage_overhead()
        styles.append("bold green" if o.recommended else ("" if o.pareto else "dim"))
        rows.append([("→" if o.recommended else " ") + ("★" if o.pareto else " "), Text(o.id),
                     f"{o.arena_bytes:,}", f"{o.arena_bytes / base - 1:+.0%}" if base else "",
                     f"{o.peak_bytes:,}", option_macs(o), overhead_text(o),
                     "" if stage is None else f"{stage:+.0%}",
                     str(o.ops_added) if o.ops_added else "",
                     "" if o.fits is None else ("yes" if o.fits else "no"),
                     Text(o.description)])
    return rows, styles


def explore_table(ex: Exploration, width: int = 120) -> tuple[Table, bool]:
    """One row per option, cheapest first, with the columns that fit `width`.

    Returns the table and whether the schedule column fitted."""
    rows, styles = _rows(ex)
    t, keep = fitted_table(OPTION_COLUMNS, rows, width, styles)
    title = f"Schedules for {ex.model.path or 'model'}"
    if ex.budget is not None:
        title += f"  (budget {ex.budget:,} B = {human_bytes(ex.budget)})"
    t.title = Text(title)
    t.caption = ("★ Pareto front (arena vs MAC overhead)   → recommended: the lowest overhead "
                 "that fits" if ex.budget is not None else
                 "★ Pareto front (arena vs MAC overhead)   → recommended: the lowest arena "
                 "within the overhead limit")
    t.caption_justify = "left"
    return t, SCHEDULE in keep


def schedule_legend(ex: Exploration) -> Text:
    """What each option does, one line each (for terminals too narrow for the column)."""
    text = Text()
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.arena_bytes)):
        text.append(f"{o.id}: ", style="bold")
        text.append(o.description + "\n", style="dim")
    return text


def summary_line(ex: Exploration) -> Text:
    s = explore_summary(ex)
    return Text(s.headline if ex.recommended is not None else "", style="bold green")


def explore_view(ex: Exploration, width: int = 120) -> Group:
    """The table, the legend when the schedule column did not fit, the recommendation."""
    table, with_schedule = explore_table(ex, width)
    parts = [table]
    if not with_schedule:
        parts.append(schedule_legend(ex))
    parts.append(summary_line(ex))
    return Group(*parts)
