"""Spatial tiling of a segment (MCUNetV2 patches, fused feature-map tiling).

The segment's exit tensor is cut into a grid of output tiles. For each tile
the needed range of every tensor is found by walking the segment backwards
through each op's receptive window (kernel, stride, dilation, padding), along
every branch: a tensor read by several ops (a residual's skip) needs the union
of their ranges, and the operands of a join (ADD, a CONCATENATION along
channels) need the same rows as its output, so they agree. The tile then runs:
a STRIDED_SLICE of each entry, the segment's ops with VALID
padding on exactly the rows and columns they need (a PAD only where a tile
touches the border, which pads with the tensor's zero point), and the tiles
are joined by CONCATENATION, one row of tiles at a time, then the rows.
Weights are shared by all tiles. Overlapping halos are recomputed: that is
the MAC overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph.ir import Model, Subgraph, TensorKind
from ..ops import SamePadding, pad_value, rule_for
from .balance import balanced_splits
from .edit import GraphEditor
from .segments import Segment

Range2 = tuple[int, int, int, int]  # h0, h1, w0, w1 (half-open)


@dataclass(frozen=True)
class Grid:
    rows: tuple[tuple[int, int], ...]
    cols: tuple[tuple[int, int], ...]

    @property
    def label(self) -> str:
        return f"{len(self.rows)}x{len(self.cols)}"

    @property
    def tiles(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def ragged(self) -> bool:
        """Tiles of more than one height or width."""
        return len({b - a for a, b in self.rows}) > 1 or len({b - a for a, b in self.cols}) > 1


def even_splits(n: int, parts: int) -> tuple[tuple[int, int], ...]:
    parts = max(1, min(parts, n))
    cuts = [round(i * n / parts) for i in range(parts + 1)]
    return tuple((cuts[i], cuts[i + 1]) for i in range(parts))


def uniform_grid(h: int, w: int, ph: int, pw: int) -> Grid:
    return Grid(rows=even_splits(h, ph), cols=even_splits(w, pw))


def tileable(sg: Subgraph, seg: Segment) -> bool:
    """Every op has a spatial window, every activation is NHWC with batch 1,
    and no pooling needs border padding (PAD + VALID would change its result)."""
    for i in seg.ops:
        op = sg.operators[i]
        if op.tag is not None:
            return False
        rule = rule_for(op)
        if rule.window is None or rule.window(op, sg) is None:
            return False
        for t in list(op.real_inputs()) + [o for o in op.outputs if o >= 0]:
            ten = sg.tensors[t]
            if ten.kind == TensorKind.ACTIVATION and (len(ten.shape) != 4 or ten.shape[0] != 1):
                return False
        if rule.same_padding == SamePadding.EXCLUDED:
            wh, ww = rule.window(op, sg)
            if _needs_border(wh, sg.tensors[op.inputs[0]].shape[1], sg.tensors[op.outputs[0]].shape[1]) \
                    or _needs_border(ww, sg.tensors[op.inputs[0]].shape[2], sg.tensors[op.outputs[0]].shape[2]):
                return False
    return True


def _needs_border(win, in_size: int, out_size: int) -> bool:
    lo, hi = win.padded_range(0, out_size)
    return lo < 0 or hi > in_size


def _data_inputs(sg: Subgraph, op) -> tuple[int, ...]:
    """Positions of the op's inputs that are activations (kept on the op while it
    names the same inputs: a tiler asks once per op per tile)."""
    got = op.__dict__.get("_data_inputs")
    if got is not None and got[0] is op.inputs:
        return got[1]
    found = tuple(p for p, t in enumerate(op.inputs)
                  if t >= 0 and sg.tensors[t].kind == TensorKind.ACTIVATION)
    op.__dict__["_data_inputs"] = (op.inputs, found)
    return found


def segment_windows(sg: Subgraph, seg: Segment) -> dict[int, tuple]:
    return {i: rule_for(sg.operators[i]).window(sg.operators[i], sg) for i in seg.ops}


def needed_ranges(sg: Subgraph, seg: Segment, tile: Range2,
                  windows: dict[int, tuple] | None = None) -> dict[int, Range2]:
    windows = windows or segment_windows(sg, seg)
    need: dict[int, Range2] = {seg.exit: tile}
    for i in reversed(seg.ops):
        op = sg.operators[i]
        o = op.outputs[0]
        if o not in need:
            continue
        h0, h1, w0, w1 = need[o]
        wh, ww = windows[i]
        for p in _data_inputs(sg, op):
            t = op.inputs[p]
            shape = sg.tensors[t].shape
            a0, a1 = wh.input_range(h0, h1, shape[1])
            b0, b1 = ww.input_range(w0, w1, shape[2])
            if t in need:
                c = need[t]
                a0, a1, b0, b1 = min(a0, c[0]), max(a1, c[1]), min(b0, c[2]), max(b1, c[3])
            need[t] = (a0, a1, b0, b1)
    return need


def tile_segment(model: Model, seg: Segment, grid: Grid, tag: str = "tile") -> Model:
    """The model with `seg` run tile by tile over `grid` (two tiles or more) of its exit tensor."""
    if grid.tiles < 2:
        raise ValueError(f"a {grid.label} grid is not a tiling")
    sg = model.subgraphs[seg.subgraph]
    ed = GraphEditor(model, seg.subgraph)
    ed.keep_all(sg.operators[: seg.first])
    y = sg.tensors[seg.exit]
    windows = segment_windows(sg, seg)
    single_row = len(grid.rows) == 1
    row_outputs = []
    for r, (h0, h1) in enumerate(grid.rows):
        tile_outs = []
        for c, (w0, w1) in enumerate(grid.cols):
            tile_outs.append(_emit_tile(ed, sg, seg, (h0, h1, w0, w1), f"t{r}_{c}", tag, windows))
        if len(tile_outs) == 1:
            row_outputs.append(tile_outs[0])
            continue
        # With one row of tiles, the row is the exit tensor itself.
        row = seg.exit if single_row else ed.new_tensor(y, (1, h1 - h0, y.shape[2], y.shape[3]),
                                                       f"row{r}")
        ed.concat(tile_outs, 2, row, tag, origin=seg.last)
        row_outputs.append(row)
    if len(row_outputs) > 1:
        ed.concat(row_outputs, 1, seg.exit, tag, origin=seg.last)
    ed.keep_all(sg.operators[seg.last + 1:])
    return ed.finish()


def _emit_tile(ed: GraphEditor, sg: Subgraph, seg: Segment, tile: Range2, name: str,
               tag: str, windows: dict[int, tuple]) -> int:
    need = needed_ranges(sg, seg, tile, windows)
    cur: dict[int, tuple[int, Range2]] = {}

    def slice_entry(e: int, at: int) -> None:
        # Each entry (a residual's skip, a decoder's encoder skip) is sliced to its
        # own window, the union of what its readers need, right before its first
        # reader: a skip read late in the segment is not held through the tile.
        x = sg.tensors[e]
        xr = need[e]
        k = seg.entries.index(e)
        tx = ed.new_tensor(x, (1, xr[1] - xr[0], xr[3] - xr[2], x.shape[3]),
                           f"{name}_in" if k == 0 else f"{name}_in{k}")
        ed.strided_slice(e, (0, xr[0], xr[2], 0), (1, xr[1], xr[3], x.shape[3]), tx, tag,
                         origin=at)
        cur[e] = (tx, xr)

    for i in seg.ops:
        op = sg.operators[i]
        o = op.outputs[0]
        if o not in need:
            continue  # not needed for this tile (cannot happen in a segment)
        h0, h1, w0, w1 = need[o]
        wh, ww = windows[i]
        inputs = list(op.inputs)
        for p in _data_inputs(sg, op):
            t = op.inputs[p]
            if t not in cur:
                slice_entry(t, i)
            ten = sg.tensors[t]
            src, have = cur[t]
            ph0, ph1 = wh.padded_range(h0, h1)
            pw0, pw1 = ww.padded_range(w0, w1)
            clip = (max(ph0, 0), min(ph1, ten.shape[1]), max(pw0, 0), min(pw1, ten.shape[2]))
            if clip != have:  # another reader needed more of this tensor: crop
                cropped = ed.new_tensor(ten, (1, clip[1] - clip[0], clip[3] - clip[2], ten.shape[3]),
                                        f"{name}_crop{i}")
                ed.strided_slice(src, (0, clip[0] - have[0], clip[2] - have[2], 0),
                                 (1, clip[1] - have[0], clip[3] - have[2], ten.shape[3]),
                                 cropped, tag, origin=i)
                src = cropped
            pads = ((0, 0), (clip[0] - ph0, ph1 - clip[1]), (clip[2] - pw0, pw1 - clip[3]), (0, 0))
            if any(a or b for a, b in pads):
                padded = ed.new_tensor(ten, (1, ph1 - ph0, pw1 - pw0, ten.shape[3]), f"{name}_pad{i}")
                # A model's own PADV2 keeps its pad value; SAME padding and PAD pad
                # with the zero point, which is what PAD does.
                value = pad_value(op)
                ed.pad(src, pads, padded, tag, origin=i, value=value)
                src = padded
            inputs[p] = src
        if rule_for(op).pad is not None:
            # The tile's own border padding (above) is all this op does here.
            cur[o] = (inputs[0], (h0, h1, w0, w1))
            continue
        yt = sg.tensors[o]
        out = ed.new_tensor(yt, (1, h1 - h0, w1 - w0, yt.shape[3]), name)
        changes = {"padding": "VALID"} if "padding" in op.options else {}
        ed.copy_op(op, inputs, [out] + list(op.outputs[1:]), tag, **changes)
        cur[o] = (out, (h0, h1, w0, w1))
    return cur[seg.exit][0]


def balanced_grid(sg: Subgraph, seg: Segment, ph: int, pw: int,
                  tables: dict | None = None) -> Grid:
    """A ragged grid whose tiles need about the same memory.

    Border tiles need no halo on their outer side, so with equal output
    tiles they work on less data than inner ones; the peak is set by the
    largest tile. Here each axis is split so that the tiles' total working
    data (every segment tensor's needed rows times its row size) is as even
    as possible: a binary search on the largest allowed cost, cutting
    greedily. `tables`, for a caller asking for many grids of one segment,
    keeps the cost tables of its axes (they depend on the segment alone).
    """
    y = sg.tensors[seg.exit]
    tables = {} if tables is None else tables
    return Grid(rows=_balanced_axis(sg, seg, tables, 0, y.shape[1], ph),
                cols=_balanced_axis(sg, seg, tables, 1, y.shape[2], pw))


def _axis_cost_tables(sg: Subgraph, seg: Segment, windows, axis: int, n: int):
    """Arrays L, H with cost(a, b) = H[b] - L[a] for output rows [a, b).

    Through every window the needed range starts at a function of a alone
    and ends at a function of b alone (and unions keep that), so the tile's
    working data splits into a part per start row and a part per end row.
    """
    import numpy as np

    idx = np.arange(n + 1)
    lo: dict[int, np.ndarray] = {seg.exit: idx.copy()}
    hi: dict[int, np.ndarray] = {seg.exit: idx.copy()}
    for i in reversed(seg.ops):
        op = sg.operators[i]
        o = op.outputs[0]
        if o not in lo:
            continue
        win = windows[i][axis]
        for p in _data_inputs(sg, op):
            t = op.inputs[p]
            size = sg.tensors[t].shape[1 + axis]
            l_in = np.clip(lo[o] * win.stride - win.pad_before, 0, size)
            h_in = np.clip((hi[o] - 1) * win.stride - win.pad_before
                           + win.dilation * (win.kernel - 1) + 1, 0, size)
            lo[t] = np.minimum(lo[t], l_in) if t in lo else l_in
            hi[t] = np.maximum(hi[t], h_in) if t in hi else h_in
    L = np.zeros(n + 1, dtype=np.int64)
    H = np.zeros(n + 1, dtype=np.int64)
    for t in lo:
        ten = sg.tensors[t]
        row = ten.nbytes // max(ten.shape[1 + axis], 1)
        L += lo[t] * row
        H += hi[t] * row
    return L, H


def _balanced_axis(sg, seg, tables: dict, axis: int, n: int, parts: int):
    if parts <= 1 or parts >= n:
        return even_splits(n, parts)
    if axis not in tables:
        if "windows" not in tables:
            tables["windows"] = segment_windows(sg, seg)
        tables[axis] = _axis_cost_tables(sg, seg, tables["windows"], axis, n)
    L, H = tables[axis]
    return balanced_splits(L, H, parts, exact=True) or even_splits(n, parts)
