"""The rich terminal view of a profile: a per-layer table and the summary.

The summary is `report.summary.ProfileSummary`, the same object the HTML
report renders; this module only decides how it looks in a terminal. All
text from the model goes in as rich `Text`, never as markup.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..memory.profile import Profile
from ..ops.support import Support
from .units import UNITS_LEGEND, human_count, plural, short_bytes
from .charts import bar, sparkline
from .columns import Column, fitted_table
from .safe_text import plain, visible
from .summary import ProfileSummary, Tone, macs_short, profile_summary

# Tensors listed under "alive at peak"; the rest are counted ("+44 more").
ALIVE_SHOWN = 4
BAR_WIDTH = 16

STYLE = {Tone.PLAIN: "", Tone.STRONG: "bold", Tone.GOOD: "green", Tone.BAD: "bold red",
         Tone.PEAK: "red", Tone.NOTE: "yellow"}

# Dropped first to last when the terminal is narrow (see report.columns).
LAYER_COLUMNS = [
    Column("#"),
    Column("op", "left", flexible=True, min_width=17),
    Column("output", "left", drop=3),
    Column("in"),
    Column("out"),
    Column("scratch", drop=5),
    Column("persist", drop=8),  # tail bytes of the op: options, OpData, per-channel arrays
    Column("live B"),
    Column("", "left", drop=7),  # the bar
    Column("MACs", drop=2),
    Column("weights", drop=6),
    Column("blk", drop=4),
]


def profile_view(p: Profile, max_rows: int | None = None, width: int | None = None,
                 summary: ProfileSummary | None = None, support: Support | None = None,
                 deploy: str | None = None) -> Group:
    width = width or Console().width
    return Group(layer_table(p, max_rows, width),
                 summary_panel(summary or profile_summary(p, support=support, deploy=deploy),
                               width))


def layer_table(p: Profile, max_rows: int | None = None, width: int = 120) -> Table:
    """Per-layer rows, with the columns that fit `width` (numbers are never cut)."""
    top = max((l.live_bytes for l in p.layers), default=0)
    peak = p.peak_layer
    shown = p.layers if max_rows is None else p.layers[:max(max_rows, 0)]
    rows, styles = [], []
    for l in shown:
        is_peak = peak is not None and l is peak
        styles.append("bold red" if is_peak else ("dim" if l.live_bytes < top * 0.25 else ""))
        rows.append([f"{l.subgraph}:{l.index}" if l.subgraph else str(l.index),
                     plain(("▶ " if is_peak else "") + l.op),
                     "x".join(str(d) for d in l.output_shape),
                     short_bytes(l.input_bytes), short_bytes(l.output_bytes),
                     short_bytes(l.scratch_bytes) if l.scratch_bytes else "",
                     short_bytes(l.persistent_bytes) if l.persistent_bytes else "",
                     f"{l.live_bytes:,}", bar(l.live_bytes, top, BAR_WIDTH),
                     human_count(l.macs), short_bytes(l.weights_bytes) if l.weights_bytes else "",
                     str(l.block)])
    t, _ = fitted_table(LAYER_COLUMNS, rows, width, styles)
    t.title = plain(f"Activation memory per layer: {p.model.path or ''} ({p.target.label()})")
    caption = UNITS_LEGEND
    if len(shown) < len(p.layers):
        caption = f"{plural(len(p.layers) - len(shown), 'more layer')} not shown; " + caption
    t.caption = caption
    t.caption_justify = "left"
    return t


def summary_panel(s: ProfileSummary, width: int = 120) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for line in s.lines:
        value = Text(visible(line.text), style=STYLE[line.tone])
        if line.note:
            value.append(f"  ({visible(line.note)})", style="dim")
        grid.add_row(Text(visible(line.label)), value)
        for row in line.rows[:ALIVE_SHOWN]:
            grid.add_row("", Text(visible(" ".join(row))))
        if len(line.rows) > ALIVE_SHOWN:
            grid.add_row("", Text(f"+{len(line.rows) - ALIVE_SHOWN} more (all in --json)",
                                  style="dim"))
    if s.code:
        for k, code in enumerate(s.code.splitlines()):
            grid.add_row(Text("paste into your app" if k == 0 else ""), Text(code, style="green"))
    # The strip takes what the panel (4 cells) and the label column leave.
    strip = max(16, min(64, width - 4 - 2 - max(len(l.label) for l in s.lines)))
    grid.add_row(Text("memory over time"), Text(sparkline(s.curve, strip), style="cyan"))
    return Panel(grid, title="summary", title_align="left")


# One row per model for `tinymem profile a.tflite b.tflite ...`.
MODEL_COLUMNS = [
    Column("model", "left", flexible=True, min_width=32),
    Column("ops", drop=3),
    Column("arena"),
    Column("live peak", drop=2),
    Column("layout", drop=4),
    Column("MACs", drop=5),
    Column("weights", drop=6),
    Column("peak op", "left", drop=7, flexible=True, min_width=12),
]


def profiles_table(results: list[tuple[str, Profile | None, str | None]],
                   width: int = 120) -> Group:
    """One summary row per model: (path, profile, None) or (path, None, error); the
    errors in full under the table."""
    import os

    names = [os.path.basename(path) for path, _, _ in results]
    if len(set(names)) < len(names):
        names = [path for path, _, _ in results]  # the file names alone would be ambiguous
    rows, styles = [], []
    errors = Text()
    for name, (path, p, error) in zip(names, results):
        if p is None:
            rows.append([plain(name), "", "error", "", "", "", "", ""])
            styles.append("red")
            errors.append(f"{visible(error)}\n", style="red")
            continue
        pl = p.peak_layer
        rows.append([plain(name), str(len(p.layers)), f"{p.required_bytes:,}", f"{p.peak_bytes:,}",
                     f"{p.layout.plan.arena_bytes:,}" if p.layout is not None else "",
                     macs_short(p), short_bytes(p.weights_bytes),
                     plain(f"{pl.index} {pl.op}" if pl is not None else "")])
        styles.append("")
    t, _ = fitted_table(MODEL_COLUMNS, rows, width, styles)
    t.title = Text(f"Activation memory of {plural(len(results), 'model')} (bytes)")
    target = next((p.target.label() for _, p, _ in results if p is not None), "")
    t.caption = (f"arena: the kTensorArenaSize to set on {target}; layout: the head with "
                 "tinymem's better layout; " + UNITS_LEGEND)
    t.caption_justify = "left"
    errors.rstrip()
    return Group(t, errors) if errors else Group(t)
