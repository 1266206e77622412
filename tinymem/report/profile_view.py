"""The rich terminal view of a profile: a per-layer table and a summary."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..analysis import Profile
from ..units import human_bytes, human_count, short_bytes
from .names import short_name
from .charts import bar, sparkline


def profile_view(p: Profile, max_rows: int | None = None, width: int | None = None) -> Group:
    width = width or Console().width
    return Group(layer_table(p, max_rows, wide=width >= 110), summary_panel(p))


def layer_table(p: Profile, max_rows: int | None = None, wide: bool = True) -> Table:
    """Per-layer rows; `wide` adds bars and exact live bytes (narrow terminals get kB)."""
    t = Table(title=f"Activation memory per layer: {p.model.path or ''}", title_justify="left",
              header_style="bold", box=None, pad_edge=False)
    cols = [("#", "right"), ("op", "left"), ("output", "left"), ("in", "right"),
            ("out", "right"), ("scratch", "right"), ("live B", "right")]
    if wide:
        cols.append(("", "left"))
    cols += [("MACs", "right"), ("weights", "right"), ("blk", "right")]
    for col, just in cols:
        t.add_column(col, justify=just, no_wrap=True, overflow="ellipsis",
                     max_width={"op": 24 if wide else 18, "output": None if wide else 14}.get(col),
                     min_width={"#": 2, "live B": 6, "blk": 3}.get(col))
    top = max((l.live_bytes for l in p.layers), default=0)
    peak = p.peak_layer
    rows = p.layers if max_rows is None else p.layers[:max_rows]
    for l in rows:
        is_peak = peak is not None and l is peak
        style = "bold red" if is_peak else ("dim" if l.live_bytes < top * 0.25 else "")
        idx = f"{l.subgraph}:{l.index}" if l.subgraph else str(l.index)
        cells = [idx, ("▶ " if is_peak else "") + l.op,
                 "x".join(str(d) for d in l.output_shape),
                 short_bytes(l.input_bytes), short_bytes(l.output_bytes),
                 short_bytes(l.scratch_bytes) if l.scratch_bytes else "",
                 f"{l.live_bytes:,}" if wide else short_bytes(l.live_bytes)]
        if wide:
            cells.append(bar(l.live_bytes, top, 16))
        cells += [human_count(l.macs), short_bytes(l.weights_bytes) if l.weights_bytes else "",
                  str(l.block)]
        t.add_row(*cells, style=style)
    if max_rows is not None and len(p.layers) > max_rows:
        t.caption = f"{len(p.layers) - max_rows} more layers not shown"
    return t


def summary_panel(p: Profile) -> Panel:
    lines = Text()

    def row(label: str, value: str, style: str = "") -> None:
        lines.append(f"{label:<22}", style="bold")
        lines.append(value + "\n", style=style)

    row("TFLM arena (head)", f"{p.arena_bytes:,} B  ({human_bytes(p.arena_bytes)})", "bold")
    row("live-set peak", f"{p.peak_bytes:,} B  (no layout of this op order needs less)")
    if p.layout is not None:
        a = p.layout.plan.arena_bytes
        row("better layout", f"{a:,} B  (-{(p.arena_bytes - a) / p.arena_bytes:.1%}, "
            "as an OfflineMemoryAllocation plan)", "green")
    elif p.arena_bytes == p.peak_bytes:
        row("better layout", "none needed: TFLM's greedy layout meets the live-set bound")
    macs = f"{p.macs:,}"
    if p.unknown_mac_ops:
        macs += f"  (+ unknown for {', '.join(p.unknown_mac_ops)})"
    row("MACs", macs)
    row("weights", f"{p.weights_bytes:,} B  ({human_bytes(p.weights_bytes)})")
    if p.peak_layer is not None:
        pl = p.peak_layer
        blk = p.blocks[pl.block] if pl.block < len(p.blocks) else None
        where = f"op {pl.index} {pl.op}"
        if blk:
            where += f", block {blk.index} (ops {blk.first_op}-{blk.last_op})"
        row("peak at", where, "red")
        for k, ten in enumerate(sorted(p.peak_tensors, key=lambda t: -t.bytes)[:4]):
            row("alive at peak" if k == 0 else "",
                f"{'x'.join(map(str, ten.shape))} {ten.dtype} ({human_bytes(ten.bytes)}) "
                f"#{ten.index} {short_name(ten.name, 40)}")
        if pl.scratch_bytes:
            row("scratch at peak", human_bytes(pl.scratch_bytes))
    imb = p.imbalance()
    if imb and imb["ratio"]:
        row("imbalance", f"blocks 0-{imb['head_blocks'] - 1} peak {human_bytes(imb['head_peak_bytes'])}"
            f" vs {human_bytes(imb['tail_peak_bytes'])} for the rest ({imb['ratio']}x)")
    lines.append(f"{'memory over time':<22}", style="bold")
    lines.append(sparkline([l.live_bytes for l in p.layers]), style="cyan")
    for n in p.notes:
        lines.append(f"\nnote: {n}", style="yellow")
    return Panel(lines, title="summary", title_align="left")
