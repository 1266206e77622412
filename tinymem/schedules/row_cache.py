"""Row-strip tiling that keeps halos instead of recomputing them.

A segment is cut into strips of its exit rows, and the strips run one after
another. Every layer computes only its new output rows in each strip: the
input rows it shares with the previous strip (a `dilation*(kernel-1) + 1 -
stride` row halo for a conv) were kept from that strip as a small tensor
(STRIDED_SLICE) and are joined to the new rows (CONCATENATION) before the
layer runs. Nothing is recomputed; the price is the copies, the added ops,
and the kept rows, which stay alive from one strip to the next.

Strips span the whole width, so a SAME layer still gets its side columns
(and the first and last strips their top and bottom rows) from a PAD with
the zero point before a VALID copy of the layer, as in `spatial`. The entry
tensor stays whole while the strips run, so each layer that reads it slices
the rows it needs straight from it (no kept rows there).

Per tensor and strip the rows are exact: walking the segment backwards, a
layer's strip needs input rows `[a*stride - pad, (b-1)*stride - pad +
dilation*(kernel-1) + 1)` for output rows `[a, b)`, a tensor is produced up
to the furthest row any reader needs by then, and it keeps from the first
row a reader will need in a later strip.

Strips may instead be paced by an inner tensor (`driven_rows`): it makes
even cuts, its ancestors what those need, every later tensor all the rows
its inputs allow. The widest tensor then grows by even steps while deeper
layers lag and keep rows, so no strip makes a deep layer's whole halo at once.

Where one wide layer's rows are the strips' working set (MobileNetV2's first
expansion: a 3-row join of 72x48 rows for the stride-2 depthwise after it),
its ops may run in column tiles inside every strip (a `ColumnGroup`): each
tile recomputes the few halo columns it shares with its neighbour, keeps its
own rows, and the tiles' output rows are joined along the width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..graph.ir import Model, Subgraph
from ..targets import Target
from ..ops import pad_value, rule_for
from .balance import balanced_splits
from .edit import GraphEditor
from .segments import Segment
from .spatial import Grid, _axis_cost_tables, _data_inputs, even_splits, segment_windows
from .segments import source_span
from .steps import SegmentStep, StepKind, step_label
from .tiling_steps import candidate_segments

# Strip counts tried per segment (capped at the exit's height): fewer strips
# mean fewer added ops (each a node in the arena tail), more mean less head.
STRIP_COUNTS = (2, 3, 4, 6, 8, 12, 18, 24, 36)
# Strip counts tried for strips paced by an inner tensor: pacing pays where the
# strips are thin (with few strips it matches strips of the exit), and each
# count is one more candidate for the explorer to plan.
PACED_STRIP_COUNTS = (18, 24, 36)
# Column tiles tried for the widest layer's ops in every strip: each tile
# recomputes a halo column or two of one layer and adds that layer's ops once
# more per strip (tail). Three cut MobileNetV2-0.35's cached head from 99,040
# to 88,432 B at +0.2% MACs (two: 92,608 B); each count is one more large
# candidate to plan, so only three is tried.
COLUMN_TILES = (3,)
# Column tiles of a second group chained before or after the widest layer's
# (see `second_pair`): made late and kept after the next op, MobileNetV2-0.35's
# cached head is 86,432 B with the widest group alone, 85,904 B (85,472 B once kept rows before the exit stay early) with its first
# conv and depthwise also in two columns (+0.44% MACs; three: 86,224 B, +0.67%).
SECOND_COLUMN_TILES = 2
# TFLite Micro's CONCATENATION takes at most this many inputs (kMaxInputNum).
MAX_CONCAT_INPUTS = 10
# Types TFLite Micro's STRIDED_SLICE, CONCATENATION and PAD all run.
CACHEABLE_DTYPES = frozenset({"float32", "int8", "int16", "int32"})


@dataclass(frozen=True)
class Read:
    """Rows one reader needs of one input in one strip: clipped, then as padded."""

    lo: int
    hi: int
    pad_lo: int
    pad_hi: int


@dataclass
class RowPlan:
    """Which rows of each segment tensor every strip makes, reads and keeps.

    `made[t][k]..made[t][k+1]` are the rows of tensor t strip k computes;
    `reads[(op, pos)][k]` what reader `op` needs of its input `pos` in strip
    k (None when it computes nothing there); `keep[t][k]` the first row of t
    that some reader needs after strip k (rows from there to `made[t][k+1]`
    are kept).
    """

    strips: int
    made: dict[int, list[int]]
    reads: dict[tuple[int, int], list[Read | None]]
    keep: dict[int, list[int]]
    # For tensors kept already padded: the same in padded rows (below 0: the
    # top padding a reader will still need).
    keep_padded: dict[int, list[int]] | None = None

    def kept_rows(self, t: int, k: int) -> int:
        return max(self.made[t][k + 1] - self.keep[t][k], 0)


def row_plan(sg: Subgraph, seg: Segment, exit_cuts: tuple[int, ...],
             windows: dict[int, tuple] | None = None, driver: int | None = None,
             driver_cuts: tuple[int, ...] | None = None) -> RowPlan:
    """The rows every strip makes: driven by the exit's cuts (each tensor makes
    just what the exit's strip needs) or, with `driver`, by the cuts of one
    inner tensor (see `driven_rows`); `exit_cuts` then only gives the count."""
    windows = windows or segment_windows(sg, seg)
    if driver is None or driver == seg.exit:
        made = _needed_rows(sg, seg, exit_cuts, windows)
    else:
        made = driven_rows(sg, seg, driver, driver_cuts, windows)
    return _reads_and_keep(sg, seg, made, windows)


def _needed_rows(sg: Subgraph, seg: Segment, exit_cuts: tuple[int, ...],
                 windows: dict[int, tuple], tensors: set[int] | None = None,
                 start: int | None = None) -> dict[int, list[int]]:
    """Walking back from `start` (the exit), the rows of each tensor its strips need."""
    start = seg.exit if start is None else start
    strips = len(exit_cuts) - 1
    made: dict[int, list[int]] = {start: list(exit_cuts)}
    need_hi: dict[int, list[int]] = {}
    for i in reversed(seg.ops):
        op = sg.operators[i]
        o = op.outputs[0]
        if tensors is not None and o not in tensors:
            continue
        if o not in made:
            # Every reader of o is later in the segment, so its needs are known.
            made[o] = _running_max(need_hi.get(o, [0] * strips))
        cuts = made[o]
        wh = windows[i][0]
        for p in _data_inputs(sg, op):
            t = op.inputs[p]
            size = sg.tensors[t].shape[1]
            hi = need_hi.setdefault(t, [0] * strips)
            for k in range(strips):
                a, b = cuts[k], cuts[k + 1]
                if a < b:
                    hi[k] = max(hi[k], min(wh.padded_range(a, b)[1], size))
    if seg.entry in need_hi:  # how far into the entry the strips have read
        made[seg.entry] = _running_max(need_hi[seg.entry])
    return made


def driven_rows(sg: Subgraph, seg: Segment, driver: int, cuts: tuple[int, ...],
                windows: dict[int, tuple]) -> dict[int, list[int]]:
    """Strips paced by an inner tensor: `driver` makes rows `cuts` (its
    ancestors what that needs), and every other tensor as many rows as its
    inputs allow by then. The heaviest tensor then grows by even steps, and
    the layers after it lag behind, keeping a few rows, instead of the first
    strip making the whole halo of the exit's first row at once."""
    strips = len(cuts) - 1
    ancestors = _ancestors(sg, seg, driver)
    need = _needed_rows(sg, seg, cuts, windows, tensors=ancestors, start=driver)
    if seg.entry not in need:
        raise ValueError(f"tensor {driver} does not depend on the segment's entry")
    full = _needed_rows(sg, seg, (0, sg.tensors[seg.exit].shape[1]), windows)
    made: dict[int, list[int]] = {}
    for i in seg.ops:
        op = sg.operators[i]
        o = op.outputs[0]
        if o in ancestors:
            rows = need[o]
        else:
            wh = windows[i][0]
            rows = [0]
            for k in range(strips):
                b = full[o][1]
                for p in _data_inputs(sg, op):
                    t = op.inputs[p]
                    # The entry is whole, but an op reading it keeps pace
                    # with the driver's own reads of it.
                    avail = need[t][k + 1] if t == seg.entry else made[t][k + 1]
                    if avail < full[t][1]:
                        b = min(b, _rows_from(wh, avail))
                rows.append(max(rows[-1], b))
        rows = [min(r, full[o][1]) for r in rows[:-1]] + [full[o][1]]
        made[o] = _running_max(rows[1:])
    _make_late(sg, seg, made, ancestors, windows)
    return made


def _row_bytes(sg: Subgraph, t: int) -> int:
    """Bytes of one row (along the height) of tensor t."""
    x = sg.tensors[t]
    return x.nbytes // max(x.shape[1], 1)


def _make_late(sg: Subgraph, seg: Segment, made: dict[int, list[int]], ancestors: set[int],
               windows: dict[int, tuple]) -> None:
    """Lower, in place, what a strip makes of a tensor wider than the rows
    it is made from, by a row-wise op (kernel 1, stride 1 along the height),
    to what its readers use by then: the strip keeps the narrow input rows
    instead of the wide ones. (MobileNetV2's expansion before a stride-2
    depthwise: made as its input allows, every other strip it kept two
    48-channel rows where one is read; made late, it keeps an 8-channel row.)"""
    readers: dict[int, list[int]] = {}
    for i in seg.ops:
        for p in _data_inputs(sg, sg.operators[i]):
            readers.setdefault(sg.operators[i].inputs[p], []).append(i)
    strips = len(made[seg.exit]) - 1
    for i in reversed(seg.ops):
        op = sg.operators[i]
        o = op.outputs[0]
        wh = windows[i][0]
        if o == seg.exit or o in ancestors or not readers.get(o) \
                or (wh.kernel, wh.stride, wh.pad_before) != (1, 1, 0):
            continue
        if _row_bytes(sg, o) <= sum(_row_bytes(sg, op.inputs[p]) for p in _data_inputs(sg, op)):
            continue
        size = sg.tensors[o].shape[1]
        used = [0] * (strips + 1)
        for r in readers[o]:
            rw = windows[r][0]
            cuts = made[sg.operators[r].outputs[0]]
            for k in range(1, strips + 1):
                if cuts[k] > 0:
                    used[k] = max(used[k], min(rw.padded_range(0, cuts[k])[1], size))
        made[o] = [min(a, b) for a, b in zip(made[o], _running_max(used[1:]))]


def _rows_from(win, avail: int) -> int:
    """How many output rows a window computes from the first `avail` input rows."""
    return max((avail + win.pad_before - win.dilation * (win.kernel - 1) - 1) // win.stride + 1, 0)


def _ancestors(sg: Subgraph, seg: Segment, t: int) -> set[int]:
    """`t` and the segment tensors it is computed from (the entry excluded)."""
    out, todo = {t}, [t]
    producer = {sg.operators[i].outputs[0]: i for i in seg.ops}
    while todo:
        i = producer.get(todo.pop())
        if i is None:
            continue
        for p in _data_inputs(sg, sg.operators[i]):
            x = sg.operators[i].inputs[p]
            if x != seg.entry and x not in out:
                out.add(x)
                todo.append(x)
    return out


def _reads_and_keep(sg: Subgraph, seg: Segment, made: dict[int, list[int]],
                    windows: dict[int, tuple]) -> RowPlan:
    strips = len(made[seg.exit]) - 1
    reads: dict[tuple[int, int], list[Read | None]] = {}
    readers: dict[int, list[tuple[int, int]]] = {}
    for i in seg.ops:
        op = sg.operators[i]
        cuts = made[op.outputs[0]]
        wh = windows[i][0]
        for p in _data_inputs(sg, op):
            t = op.inputs[p]
            size = sg.tensors[t].shape[1]
            per_strip: list[Read | None] = []
            for k in range(strips):
                a, b = cuts[k], cuts[k + 1]
                if a >= b:
                    per_strip.append(None)
                    continue
                plo, phi = wh.padded_range(a, b)
                r = Read(lo=max(plo, 0), hi=min(phi, size), pad_lo=plo, pad_hi=phi)
                if t != seg.entry and r.hi > made[t][k + 1]:
                    raise ValueError(f"tensor {t}: strip {k} reads rows not made yet")
                per_strip.append(r)
            reads[(i, p)] = per_strip
            readers.setdefault(t, []).append((i, p))
    keep: dict[int, list[int]] = {}
    keep_padded: dict[int, list[int]] = {}
    for t, rs in readers.items():
        if t == seg.entry:
            continue
        first_needed = [made[t][k + 1] for k in range(strips)]
        first_padded = list(first_needed)
        for key in rs:
            later = None  # the lowest row this reader needs in a later strip
            later_pad = None  # the same, counting the padding rows above row 0
            for k in range(strips - 1, -1, -1):
                if later is not None:
                    first_needed[k] = min(first_needed[k], later)
                    first_padded[k] = min(first_padded[k], later_pad)
                r = reads[key][k]
                if r is not None:
                    later = r.lo if later is None else min(later, r.lo)
                    later_pad = r.pad_lo if later_pad is None else min(later_pad, r.pad_lo)
        keep[t] = first_needed
        keep_padded[t] = first_padded
    return RowPlan(strips=strips, made=made, reads=reads, keep=keep, keep_padded=keep_padded)


def _running_max(his: list[int]) -> list[int]:
    cuts, cur = [0], 0
    for h in his:
        cur = max(cur, h)
        cuts.append(cur)
    return cuts


def cacheable(sg: Subgraph, seg: Segment) -> bool:
    """Every activation is of a type the copy ops run, and no op broadcasts
    over rows (each input row range must follow from its output's).
    The strips slice one entry: segments reading several are not cached."""
    if seg.others:
        return False
    for i in seg.ops:
        op = sg.operators[i]
        y = sg.tensors[op.outputs[0]]
        if y.dtype not in CACHEABLE_DTYPES:
            return False
        for p in _data_inputs(sg, op):
            x = sg.tensors[op.inputs[p]]
            if x.dtype not in CACHEABLE_DTYPES or (x.shape[1] == 1 < y.shape[1]):
                return False
    return True


@dataclass(frozen=True)
class ColumnGroup:
    """Ops [first, last] of a cached segment that every strip runs once per
    column tile `cols` (of op `last`'s output), recomputing their halo
    columns: the tensors they make in between are read by them alone."""

    first: int
    last: int
    cols: tuple[tuple[int, int], ...]
    # A later group of the same segment, run the same way (its ops after
    # `last`): each wide layer's join and kept rows in lanes of their own.
    then: "ColumnGroup | None" = None
    names: tuple[int, int] | None = None  # first and last, in source numbering (labels)

    @property
    def ops(self) -> range:
        return range(self.first, self.last + 1)

    def chain(self) -> list["ColumnGroup"]:
        """This group and the ones after it, in op order."""
        out, g = [], self
        while g is not None:
            out.append(g)
            g = g.then
        return out

    def followed_by(self, later: "ColumnGroup") -> "ColumnGroup":
        """This chain with `later` (whose ops come after every op of it) at its end."""
        if self.then is None:
            return ColumnGroup(self.first, self.last, self.cols, later, self.names)
        return ColumnGroup(self.first, self.last, self.cols, self.then.followed_by(later),
                           self.names)


def column_group(sg: Subgraph, seg: Segment, first: int, last: int,
                 tiles: int) -> ColumnGroup | None:
    """Ops [first, last] of `seg` in `tiles` even column tiles, or None when
    a tensor they make before `last` is read outside them, one of them
    broadcasts over columns, or the output is too narrow."""
    if not (seg.first <= first <= last <= seg.last):
        return None
    inside = set(range(first, last + 1))
    made = {sg.operators[i].outputs[0] for i in range(first, last)}
    for i in seg.ops:
        if i not in inside and made & set(sg.operators[i].inputs):
            return None
    if seg.exit in made:
        return None
    for i in inside:  # each input column range must follow from its output's
        op = sg.operators[i]
        y = sg.tensors[op.outputs[0]]
        if any(sg.tensors[op.inputs[p]].shape[2] == 1 < y.shape[2] for p in _data_inputs(sg, op)):
            return None
    width = sg.tensors[sg.operators[last].outputs[0]].shape[2]
    if tiles < 2 or tiles > width:
        return None
    return ColumnGroup(first=first, last=last, cols=even_splits(width, tiles))


def lane_columns(sg: Subgraph, group: ColumnGroup,
                 windows: dict[int, tuple]) -> list[dict[int, tuple[int, int]]]:
    """Per column tile, the columns of every tensor the group makes that the
    tile needs (walking back through each op's window along the width)."""
    out_t = sg.operators[group.last].outputs[0]
    made = {sg.operators[i].outputs[0] for i in group.ops}
    lanes = []
    for c0, c1 in group.cols:
        need = {out_t: (c0, c1)}
        for i in reversed(group.ops):
            op = sg.operators[i]
            a, b = need[op.outputs[0]]
            ww = windows[i][1]
            for p in _data_inputs(sg, op):
                t = op.inputs[p]
                if t not in made:
                    continue
                lo, hi = ww.input_range(a, b, sg.tensors[t].shape[2])
                if t in need:
                    lo, hi = min(lo, need[t][0]), max(hi, need[t][1])
                need[t] = (lo, hi)
        lanes.append(need)
    return lanes


class _Strips:
    """Emits a segment strip by strip, keeping the halo rows between strips.

    With a column group, the group's ops run in every strip once per column
    tile (a lane: a `_Strips` of the group's ops alone, holding only the
    columns its tile needs and its own kept rows), and the group's output
    rows are joined along the width before later ops read them. The tiles
    recompute the group's few halo columns; in exchange each lane's
    working rows (a wide layer's kept and joined rows) are a fraction of the
    full width's.
    """

    def __init__(self, ed: GraphEditor, sg: Subgraph, seg: Segment, plan: RowPlan,
                 windows: dict[int, tuple], tag: str, group: "ColumnGroup | None" = None,
                 cols: dict[int, tuple[int, int]] | None = None,
                 parent: "_Strips | None" = None):
        self.ed, self.sg, self.seg, self.plan = ed, sg, seg, plan
        self.windows, self.tag = windows, tag
        self.kept: dict[int, tuple[int, int, int]] = {}  # t -> (tensor, lo, hi) from earlier strips
        self.new: dict[int, tuple[int, int, int]] = {}  # t -> (tensor, lo, hi) of this strip
        self.memo: dict[tuple, int] = {}
        self.pending: list[tuple[int, int]] = []  # (tensor, op) keeps cut after the next op
        # A lane (cols given) holds the columns `cols[t]` of the tensors its
        # group makes; it reads every other tensor whole from its parent.
        self.cols, self.parent, self.group = cols, parent, group
        self.ops = range(group.first, group.last + 1) if cols is not None else seg.ops
        # The parent runs every group of the chain; a lane, its own group alone.
        self.groups = (group.chain() if cols is None else [group]) if group is not None else []
        in_group = {i for g in self.groups for i in g.ops}
        # Per group (by its first op): its lanes, and the tensors they make.
        self.lanes: dict[int, list[_Strips]] = {}
        self.group_made: dict[int, set[int]] = {}
        if cols is None:
            for g in self.groups:
                # A lane is built for one group: it holds no chain of its own.
                one = ColumnGroup(g.first, g.last, g.cols)
                self.lanes[g.first] = [_Strips(ed, sg, seg, plan, windows, tag, one, c, self)
                                       for c in lane_columns(sg, g, windows)]
                self.group_made[g.first] = {sg.operators[i].outputs[0] for i in g.ops}
        last: dict[int, int] = {}
        count: dict[int, int] = {}
        for (i, p) in plan.reads:
            if i not in self.ops:
                continue
            t = sg.operators[i].inputs[p]
            last[t] = max(last.get(t, -1), i)
            count[t] = count.get(t, 0) + 1
        self.last_reader = last
        # A tensor whose one reader pads its sides (a SAME 3x3 after a 1x1,
        # say) keeps its rows already padded: each strip pads only its new
        # rows and joins them to the kept ones, so the strip never holds the
        # unpadded join and its padded copy at once. (Only where this
        # instance makes both the tensor and its reader.)
        self.padded_keep: set[int] = set()
        for (i, p) in plan.reads:
            if i not in self.ops or (cols is None and i in in_group):
                continue
            t = sg.operators[i].inputs[p]
            # (A model's own PADV2 pads with its value, not the zero point.)
            if (t != seg.entry and self._owns(t) and count[t] == 1
                    and pad_value(sg.operators[i]) is None and any(self._col_pads(i, t))):
                self.padded_keep.add(t)

    def _owns(self, t: int) -> bool:
        return self.cols is None or t in self.cols

    def _owner(self, t: int) -> "_Strips":
        return self if self._owns(t) else self.parent

    def _cols_of(self, t: int) -> tuple[int, int]:
        """The columns of t this instance holds: a lane's tile, else all."""
        if self.cols is not None and t in self.cols:
            return self.cols[t]
        return 0, self.sg.tensors[t].shape[2]

    def _padded_cols(self, i: int, t: int) -> tuple[int, int]:
        """The padded columns of t op i reads for the output columns it makes here; over
        the full width, up to t's end when less than a stride is left (`Window.full_read`)."""
        o = self.sg.operators[i].outputs[0]
        cols, width = self._cols_of(o), self.sg.tensors[o].shape[2]
        in_width = self.sg.tensors[t].shape[2]
        ww = self.windows[i][1]
        # Only where both are whole: a lane's input instance ends at its own tile.
        if cols == (0, width) and self._cols_of(t) == (0, in_width):
            return ww.full_read(width, in_width)
        return ww.padded_range(*cols)

    def _col_pads(self, i: int, t: int) -> tuple[int, int]:
        """The columns op i pads t with, left and right, for the output columns it makes here."""
        qlo, qhi = self._padded_cols(i, t)
        return max(-qlo, 0), max(qhi - self.sg.tensors[t].shape[2], 0)

    def run(self) -> list[int]:
        """Emits every strip; returns the exit's strip tensors in order."""
        seg, plan = self.seg, self.plan
        parts = []
        grouped = {i: g for g in self.groups for i in g.ops}
        for k in range(plan.strips):
            self.new, self.memo = {}, {}
            for lanes in self.lanes.values():
                for lane in lanes:
                    lane.new, lane.memo = {}, {}
            for i in seg.ops:
                if i in grouped:
                    if i == grouped[i].first:
                        self._run_group(grouped[i], k)
                    continue
                self._emit_op(i, k)
                self._flush(k, i)
            self._flush(k)
            if seg.exit in self.new:
                parts.append(self.new[seg.exit][0])
        # Run once: its lanes name it as their parent, and without the cycle
        # broken the editor and every op and tensor it made wait for the
        # cyclic collector.
        self.lanes.clear()
        return parts

    def _run_group(self, group: ColumnGroup, k: int) -> None:
        """A column group in strip k: every lane in turn, then its rows joined
        along the width; then what later strips need of the tensors it read."""
        sg = self.sg
        g = sg.operators[group.last].outputs[0]
        a, b = self.plan.made[g][k], self.plan.made[g][k + 1]
        lanes = self.lanes[group.first]
        for lane in lanes:
            for j in group.ops:
                lane._emit_op(j, k)
        if a < b:
            y = sg.tensors[g]
            out = self.ed.new_tensor(y, (1, b - a, y.shape[2], y.shape[3]), f"s{k}_cols")
            self.ed.concat([lane.new[g][0] for lane in lanes], 2, out, self.tag,
                           origin=group.last)
            self.new[g] = (out, a, b)
        kept = set()
        made = self.group_made[group.first]
        for j in group.ops:
            for p in _data_inputs(sg, sg.operators[j]):
                t = sg.operators[j].inputs[p]
                if (t != self.seg.entry and t not in made and t not in kept
                        and self.last_reader[t] in group.ops):
                    kept.add(t)
                    self._keep(t, k)

    def _emit_op(self, i: int, k: int) -> None:
        sg, ed, plan = self.sg, self.ed, self.plan
        op = sg.operators[i]
        o = op.outputs[0]
        a, b = plan.made[o][k], plan.made[o][k + 1]
        data = _data_inputs(sg, op)
        if a < b:
            wh, ww = self.windows[i]
            yt = sg.tensors[o]
            out_cols = self._cols_of(o)
            inputs = list(op.inputs)
            for p in data:
                t = op.inputs[p]
                ten = sg.tensors[t]
                r = plan.reads[(i, p)][k]
                qlo, qhi = self._padded_cols(i, t)
                cols = (max(qlo, 0), min(qhi, ten.shape[2]))
                if t in self.padded_keep:
                    inputs[p] = self._padded_rows(t, i, k, r, cols, (qlo, qhi))
                    continue
                src = self._rows(t, r.lo, r.hi, cols)
                pads = ((0, 0), (r.lo - r.pad_lo, r.pad_hi - r.hi), (cols[0] - qlo, qhi - cols[1]),
                        (0, 0))
                if any(x or y for x, y in pads):
                    padded = ed.new_tensor(ten, (1, r.pad_hi - r.pad_lo, qhi - qlo, ten.shape[3]),
                                           f"s{k}_pad{i}")
                    # A model's own PADV2 keeps its pad value; SAME padding and PAD
                    # pad with the zero point, which is what PAD does.
                    value = pad_value(op)
                    ed.pad(src, pads, padded, self.tag, origin=i, value=value)
                    src = padded
                inputs[p] = src
            if rule_for(op).pad is not None:
                # The strip's own border padding (above) is all this op does here.
                self.new[o] = (inputs[data[0]], a, b)
            else:
                out = ed.new_tensor(yt, (1, b - a, out_cols[1] - out_cols[0], yt.shape[3]),
                                    f"s{k}" if self.cols is None else f"s{k}_c{out_cols[0]}")
                changes = {"padding": "VALID"} if "padding" in op.options else {}
                ed.copy_op(op, inputs, [out] + list(op.outputs[1:]), self.tag, **changes)
                self.new[o] = (out, a, b)
        # After the last reader of an input in this strip, keep what later strips need.
        for p in data:
            t = op.inputs[p]
            if t != self.seg.entry and self._owns(t) and self.last_reader[t] == i:
                if self._defers(i, k, t):
                    self.pending.append((t, i))
                else:
                    self._keep(t, k)

    def _defers(self, i: int, k: int, t: int) -> bool:
        """Whether the rows of t kept after op i are cut after the next op
        instead: when that op alone reads op i's output, op i's output is gone
        by then, and the strip's join of t outlives it by one op.

        With O the bytes op i makes here, N the next op's and K those kept:
        cut now, the slice holds join + K + O, the next op K + O + N; cut
        after, the next op holds join + O + N, the slice join + K + N. That
        is lower when N is below both O and K (a depthwise conv's output read
        by the 1x1 after it, in thin strips; in tall ones the rows kept are
        fewer than the next op makes, and cutting late costs)."""
        sg, seg = self.sg, self.seg
        nxt = i + 1
        o = sg.operators[i].outputs[0]
        if self.cols is not None or nxt > seg.last or o == seg.exit \
                or any(nxt in g.ops for g in self.groups):
            return False
        readers = [j for j in seg.ops if o in sg.operators[j].inputs]
        if readers != [nxt]:
            return False
        n = sg.operators[nxt].outputs[0]
        if n == seg.exit:
            return False  # the exit's strips are joined in place at the end: left as they are
        made = self.plan.made
        mine = (made[o][k + 1] - made[o][k]) * _row_bytes(sg, o)
        theirs = (made[n][k + 1] - made[n][k]) * _row_bytes(sg, n)
        kept = max(made[t][k + 1] - self.plan.keep[t][k], 0) * _row_bytes(sg, t)
        return 0 < theirs < min(mine, kept)

    def _flush(self, k: int, after: int | None = None) -> None:
        """The deferred keeps of strip k, except those op `after` itself deferred."""
        still = []
        for t, i in self.pending:
            if i == after:
                still.append((t, i))
            else:
                self._keep(t, k)
        self.pending = still

    def _reader_cols(self, i: int, t: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Columns of t op i reads (clipped) and as padded, for the output columns it makes here."""
        qlo, qhi = self._padded_cols(i, t)
        return (max(qlo, 0), min(qhi, self.sg.tensors[t].shape[2])), (qlo, qhi)

    def _padded_rows(self, t: int, i: int, k: int, r: Read, cols: tuple[int, int],
                     padded_cols: tuple[int, int]) -> int:
        """Rows r of t as op i reads them, padded: kept padded rows joined to
        this strip's new rows, which are padded on their own."""
        have = [self.kept[t]] if t in self.kept else []
        window = self._padded_piece(t, i, k, have, r.pad_lo, r.pad_hi, cols, padded_cols)
        self.memo[("padded", t)] = (window, r.pad_lo, r.pad_hi)
        return window

    def _padded_piece(self, t: int, i: int, k: int, have: list[tuple[int, int, int]],
                      lo: int, hi: int, cols: tuple[int, int],
                      padded_cols: tuple[int, int]) -> int:
        """Padded rows [lo, hi) of t (below 0 and from its height on: padding),
        as wide as op i reads it: cropped from the padded pieces `have`
        where they hold them, the rest padded from this strip's new rows."""
        ed, ten = self.ed, self.sg.tensors[t]
        qlo, qhi = padded_cols
        width = qhi - qlo
        size = ten.shape[1]
        parts, cur = [], lo
        while cur < hi:
            covering = [p for p in have if p[1] <= cur < p[2]]
            if not covering:
                break
            piece = max(covering, key=lambda p: p[2])
            end = min(piece[2], hi)
            parts.append(self._crop(piece, cur, end, (0, width), ten, width))
            cur = end
        if cur < hi:
            r0, r1 = max(cur, 0), min(hi, size)
            top, bottom = max(min(0, hi) - cur, 0), max(hi - max(size, cur), 0)
            if r0 < r1:
                new = self.new.get(t)
                if new is None or not (new[1] <= r0 and r1 <= new[2]):
                    raise ValueError(f"tensor {t}: rows {r0}-{r1} are neither kept nor new "
                                     f"(strip {k})")
                src = self._crop(new, r0, r1, cols, ten, col0=self._cols_of(t)[0])
                pads = ((0, 0), (top, bottom), (cols[0] - qlo, qhi - cols[1]), (0, 0))
                if any(x or y for x, y in pads):
                    padded = ed.new_tensor(ten, (1, hi - cur, width, ten.shape[3]),
                                           f"s{k}_pad{i}")
                    ed.pad(src, pads, padded, self.tag, origin=i)
                    src = padded
                parts.append(src)
            elif parts and top == 0:
                # Every row was kept; only the bottom border is missing.
                pads = ((0, 0), (0, bottom), (0, 0), (0, 0))
                rows = ed.tensors[parts[-1]].shape[1] + bottom
                padded = ed.new_tensor(ten, (1, rows, width, ten.shape[3]), f"s{k}_pad{i}")
                ed.pad(parts[-1], pads, padded, self.tag, origin=i)
                parts[-1] = padded
            else:
                raise ValueError(f"tensor {t}: padding rows {cur}-{hi} with no row to pad")
        if len(parts) == 1:
            return parts[0]
        window = ed.new_tensor(ten, (1, hi - lo, width, ten.shape[3]), "join")
        ed.concat(parts, 1, window, self.tag, origin=i)
        return window

    def _keep(self, t: int, k: int) -> None:
        hi = self.plan.made[t][k + 1]
        if t in self.padded_keep:
            lo = self.plan.keep_padded[t][k]
            if max(lo, 0) >= hi:  # no row of t kept (top padding alone is made later)
                self.kept.pop(t, None)
                return
            have = [self.kept[t]] if t in self.kept else []
            if ("padded", t) in self.memo:  # the reader ran in this strip
                have.insert(0, self.memo[("padded", t)])
            cols, padded_cols = self._reader_cols(self.last_reader[t], t)
            piece = self._padded_piece(t, self.last_reader[t], k, have, lo, hi, cols,
                                       padded_cols)
            self.kept[t] = (piece, lo, hi)
            return
        lo = self.plan.keep[t][k]
        if lo >= hi:
            self.kept.pop(t, None)
            return
        self.kept[t] = (self._rows(t, lo, hi, self._cols_of(t)), lo, hi)

    def _rows(self, t: int, lo: int, hi: int, cols: tuple[int, int]) -> int:
        """A tensor holding rows [lo, hi) and columns `cols` of t in this strip."""
        ten = self.sg.tensors[t]
        if t == self.seg.entry:
            return self._crop((t, 0, ten.shape[1]), lo, hi, cols, ten)
        owner = self._owner(t)
        col0 = owner._cols_of(t)[0]
        pieces = [p for p in (owner.kept.get(t), owner.new.get(t)) if p is not None]
        if ("join", t) in owner.memo:
            # Once this strip joined t's kept and new rows, every later read
            # (the rows kept for the next strip among them) crops the join:
            # the new rows are then last read by the join, which may take
            # them in place (a chunk of its output) instead of a copy.
            pieces = [(owner.memo[("join", t)], *owner.memo[("range", t)])]
        for piece in pieces:
            if piece[1] <= lo and hi <= piece[2]:
                return self._crop(piece, lo, hi, cols, ten, col0=col0)
        # The rows span the kept rows and the new ones: join them once per strip.
        key = ("join", t)
        if key not in owner.memo:
            (kt, k0, k1), (nt, n0, n1) = pieces
            if k1 != n0:
                raise ValueError(f"tensor {t}: kept rows end at {k1}, new rows start at {n0}")
            like = self.ed.tensors[nt]
            joined = self.ed.new_tensor(ten, (1, n1 - k0, like.shape[2], ten.shape[3]), "join")
            self.ed.concat([kt, nt], 1, joined, self.tag, origin=self.seg.first)
            owner.memo[key] = joined
            owner.memo[("range", t)] = (k0, n1)
        k0, n1 = owner.memo[("range", t)]
        return self._crop((owner.memo[key], k0, n1), lo, hi, cols, ten, col0=col0)

    def _crop(self, piece: tuple[int, int, int], lo: int, hi: int, cols: tuple[int, int],
              ten, width: int | None = None, col0: int = 0) -> int:
        """Rows [lo, hi) and columns `cols` of a piece holding rows [p0, p1)
        and `width` columns from column `col0` (its own width unless given)."""
        src, p0, p1 = piece
        like = self.ed.tensors[src]
        width = like.shape[2] if width is None else width
        c0, c1 = cols[0] - col0, cols[1] - col0
        if (lo, hi) == (p0, p1) and (c0, c1) == (0, width):
            return src
        key = ("crop", src, lo, hi, c0, c1)
        if key not in self.memo:
            out = self.ed.new_tensor(ten if ten is not None else like,
                                     (1, hi - lo, c1 - c0, like.shape[3]), "rows")
            self.ed.strided_slice(src, (0, lo - p0, c0, 0), (1, hi - p0, c1, like.shape[3]),
                                  out, self.tag, origin=self.seg.first)
            self.memo[key] = out
        return self.memo[key]


def cache_segment(model: Model, seg: Segment, exit_cuts: tuple[int, ...] | None,
                  tag: str = "cached", driver: int | None = None,
                  driver_cuts: tuple[int, ...] | None = None,
                  group: ColumnGroup | None = None) -> Model:
    """The model with `seg` run in row strips of its exit (`exit_cuts`, from 0
    to its height) or, with `driver`, paced by that tensor's rows
    (`driver_cuts`); each layer computes only its new rows. With `group`,
    those ops run column tile by column tile in every strip."""
    sg = model.subgraphs[seg.subgraph]
    windows = segment_windows(sg, seg)
    plan = row_plan(sg, seg, exit_cuts, windows, driver, driver_cuts)
    ed = GraphEditor(model, seg.subgraph)
    for op in sg.operators[: seg.first]:
        ed.keep(op)
    parts = _Strips(ed, sg, seg, plan, windows, tag, group).run()
    _join_rows(ed, sg, parts, seg.exit, tag, seg.last)
    for op in sg.operators[seg.last + 1:]:
        ed.keep(op)
    return ed.finish()


def _join_rows(ed: GraphEditor, sg: Subgraph, parts: list[int], out: int, tag: str,
               origin: int) -> None:
    """CONCATENATION of row strips into `out`, in groups TFLite Micro accepts."""
    if len(parts) <= MAX_CONCAT_INPUTS:
        ed.concat(parts, 1, out, tag, origin=origin)
        return
    groups = []
    y = sg.tensors[out]
    n = -(-len(parts) // MAX_CONCAT_INPUTS)
    for g0, g1 in even_splits(len(parts), n):
        rows = sum(ed.tensors[p].shape[1] for p in parts[g0:g1])
        g = ed.new_tensor(y, (1, rows, y.shape[2], y.shape[3]), "rowgroup")
        _join_rows(ed, sg, parts[g0:g1], g, tag, origin)
        groups.append(g)
    _join_rows(ed, sg, groups, out, tag, origin)


def balanced_cuts(sg: Subgraph, seg: Segment, parts: int,
                  windows: dict[int, tuple] | None = None) -> tuple[int, ...]:
    """Exit row cuts (0 .. height) into at most `parts` strips whose new rows
    weigh about the same.

    A strip ending at exit row b makes every tensor up to the row it needs
    for b, so strip [a, b) costs H[b] - H[a] (H: rows needed times row bytes,
    summed over the segment's tensors), except the first, which also makes
    the halo rows above: it costs H[b]. With uniform strips the first is the
    heaviest; here the largest strip cost is found by binary search, cutting
    greedily.
    """
    windows = windows or segment_windows(sg, seg)
    n = sg.tensors[seg.exit].shape[1]
    _, cost = _axis_cost_tables(sg, seg, windows, 0, n)
    cost = [int(c) for c in cost]
    cost[0] = 0
    strips = balanced_splits(cost, cost, parts)
    return (0,) + (tuple(b for _, b in strips) if strips else (n,))


@dataclass(frozen=True, kw_only=True)
class CachedStep(SegmentStep):
    """An explorer step: run `segment` in row strips `grid.rows` of its exit,
    keeping halos; or, with `driver`, strips paced by that tensor's rows
    `driver_rows` (the exit then grows by uneven, lagging steps)."""

    segment: Segment
    grid: Grid = field()  # required (the base's default is None)
    kind: StepKind = StepKind.CACHED
    driver: int | None = None
    driver_rows: tuple[int, ...] | None = None
    driver_op: int | None = None  # the driver's producer, in source numbering (the label)
    columns: ColumnGroup | None = None  # ops run column tile by column tile in each strip
    columns_ops: tuple[int, int] | None = None  # those ops, in source numbering (the label)

    @property
    def label(self) -> str:
        cols = ""
        if self.columns is not None:
            for n, g in enumerate(self.columns.chain()):
                a, b = g.names or (self.columns_ops if n == 0 and self.columns_ops
                                   else (g.first, g.last))
                cols += f", ops {a}-{b} in {len(g.cols)} columns"
        if self.driver is not None:
            ragged = " ragged" if len({b - a for a, b in zip(self.driver_rows,
                                                               self.driver_rows[1:])}) > 1 else ""
            return step_label(self, f"{len(self.driver_rows) - 1} row strips{ragged} "
                                    f"paced by op {self.driver_op}{cols}")
        ragged = " ragged" if self.grid.ragged else ""
        return step_label(self, f"{len(self.grid.rows)} row strips{ragged}{cols}")

    def apply(self, model: Model) -> Model:
        if self.driver is not None:
            return cache_segment(model, self.segment, None, driver=self.driver,
                                 driver_cuts=self.driver_rows, group=self.columns)
        cuts = tuple(a for a, _ in self.grid.rows) + (self.grid.rows[-1][1],)
        return cache_segment(model, self.segment, cuts, group=self.columns)


def pacing_tensor(sg: Subgraph, seg: Segment) -> int | None:
    """The tensor whose rows should pace the strips: the output of the op
    that reads the segment's widest-row tensor (so that tensor is made in
    the steps its reader consumes), or None when that is the exit itself."""
    inner = [sg.operators[i].outputs[0] for i in seg.ops if i != seg.last]
    if not inner:
        return None
    widest = max(inner, key=lambda t: _row_bytes(sg, t))
    reader = next((i for i in seg.ops if widest in sg.operators[i].inputs), None)
    if reader is None or reader == seg.last:
        return None
    return sg.operators[reader].outputs[0]


def widest_pair(sg: Subgraph, seg: Segment) -> tuple[int, int] | None:
    """(producer, reader) of the segment's inner tensor with the widest rows,
    when it has one reader: the ops a column group splits, so the rows kept
    and joined for that reader are a fraction of the width."""
    inner = [sg.operators[i].outputs[0] for i in seg.ops if i != seg.last]
    if not inner:
        return None
    widest = max(inner, key=lambda t: _row_bytes(sg, t))
    readers = [i for i in seg.ops if widest in sg.operators[i].inputs]
    producer = next(i for i in seg.ops if sg.operators[i].outputs[0] == widest)
    if len(readers) != 1:
        return None
    return producer, readers[0]


def second_pair(sg: Subgraph, seg: Segment, first: tuple[int, int]) -> tuple[int, int] | None:
    """(producer, reader) of the inner tensor a strip makes most bytes of
    after the widest-row one's (`first`), when its one reader is a window of
    more than one row (its input's rows are kept and joined): a second
    column group, whose tiles cut that join and its kept rows."""
    best = None
    windows = segment_windows(sg, seg)
    for i in seg.ops:
        t = sg.operators[i].outputs[0]
        if i == seg.last or i in first:
            continue
        readers = [j for j in seg.ops if t in sg.operators[j].inputs]
        if len(readers) != 1 or readers[0] in first:
            continue
        if windows[readers[0]][0].kernel < 2:
            continue
        if best is None or sg.tensors[t].nbytes > sg.tensors[best[2]].nbytes:
            best = (i, readers[0], t)
    return best[:2] if best is not None else None


def _chain(groups: list[ColumnGroup]) -> ColumnGroup | None:
    """The groups as one chain in op order, or None when two share an op."""
    groups = sorted(groups, key=lambda g: g.first)
    if any(a.last >= b.first for a, b in zip(groups, groups[1:])):
        return None
    out = groups[0]
    for g in groups[1:]:
        out = out.followed_by(g)
    return out


def cached_steps(model: Model, peak_op: int, arena: int,
                 target: Target | None = None) -> Iterator[CachedStep]:
    """Row-strip caching steps over the segments the spatial tiler would try:
    strips of the exit (even and balanced), and strips paced by an inner
    tensor; each also with the widest layer's two ops in column tiles
    (`target` unused: segments are picked by tensor sizes alone)."""
    sg = model.main
    for _, seg in candidate_segments(model, peak_op, arena):
        if not cacheable(sg, seg):
            continue
        y = sg.tensors[seg.exit]
        span = source_span(sg, seg)
        windows = segment_windows(sg, seg)
        full = Grid(rows=((0, y.shape[1]),), cols=((0, y.shape[2]),))
        pace = pacing_tensor(sg, seg)
        pair = widest_pair(sg, seg)
        groups: list[tuple[ColumnGroup | None, tuple[int, int] | None]] = [(None, None)]
        named = lambda pr: tuple(sg.operators[i].origin if sg.operators[i].origin  # noqa: E731
                                 is not None else i for i in pr)
        if pair is not None:
            names = named(pair)
            groups += [(g, names) for g in (column_group(sg, seg, *pair, n)
                                            for n in COLUMN_TILES) if g is not None]
            other = second_pair(sg, seg, pair)
            second = column_group(sg, seg, *other, SECOND_COLUMN_TILES) if other else None
            if second is not None and len(groups) > 1:
                second = ColumnGroup(second.first, second.last, second.cols, names=named(other))
                firsts = [ColumnGroup(g.first, g.last, g.cols, names=n) for g, n in groups[1:]]
                for g in firsts:
                    chain = _chain([g, second])
                    if chain is not None:
                        groups.append((chain, chain.names))
        seen = set()
        for n in STRIP_COUNTS:
            if n > y.shape[1]:
                break
            cuts = balanced_cuts(sg, seg, n, windows)
            for rows in (even_splits(y.shape[1], n), tuple(zip(cuts, cuts[1:]))):
                if len(rows) < 2 or rows in seen:
                    continue
                seen.add(rows)
                yield CachedStep(segment=seg, grid=Grid(rows=rows, cols=((0, y.shape[2]),)),
                                 source_ops=span)
        if pace is None:
            continue
        h = sg.tensors[pace].shape[1]
        origin = next((sg.operators[i].origin for i in seg.ops
                       if sg.operators[i].outputs[0] == pace), None)
        # A count above the driver's height becomes one driver row per strip
        # (the thinnest strips, tried once).
        counts = list(dict.fromkeys(min(n, h) for n in PACED_STRIP_COUNTS))
        for n in counts:
            rows = even_splits(h, n)
            # Columns pay where the strips are thinnest: there the widest
            # layer's working rows are the head. There they replace the
            # full-width strips (whose head they beat): every large candidate
            # the beams keep is extended and planned again at each depth.
            for group, names in (groups[1:] or groups) if n == counts[-1] else groups[:1]:
                yield CachedStep(segment=seg, grid=full, source_ops=span, driver=pace,
                                 driver_rows=tuple(a for a, _ in rows) + (h,),
                                 driver_op=origin if origin is not None else pace,
                                 columns=group, columns_ops=names)
