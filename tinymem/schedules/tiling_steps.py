"""Candidate spatial-tiling steps for the explorer.

A step names a segment of the current graph and a grid; applying it gives a
new Model. Patch-based inference (MCUNetV2) is the case where the segment
starts at the model input; deeper segments are fused feature-map tiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..graph.ir import Model, Subgraph
from ..ops import rule_for
from ..targets import Target
from ..graph.cuts import light_points, narrow_points
from .segments import Segment, SegmentFinder, source_span
from .spatial import Grid, balanced_grid, tile_segment, tileable, uniform_grid
from .steps import SegmentStep, StepKind, step_label

# Grids tried for every segment: squares and their near-square neighbours.
# Grids tried for every segment, fewest tiles first: more tiles cost more
# recomputed halo, so a segment's sweep stops once the overhead is too high.
GRID_SHAPES = ((2, 1), (1, 2), (2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 3), (4, 4),
               (4, 5), (5, 4), (5, 5), (5, 6), (6, 5), (6, 6))
MAX_SEGMENT_OPS = 20
# Activations a segment across joins may read from outside (a block's input
# and a skip, a decoder's two inputs, ...).
MAX_ENTRIES = 3
# Segments across joins offered per state, lowest memory floor first.
MAX_JOINED_SEGMENTS = 4


@dataclass(frozen=True, kw_only=True)
class TilingStep(SegmentStep):
    """An explorer step: run `segment` tile by tile over `grid` (kind PATCH or
    SPATIAL; no channel parts, the JSON reads `grid` and `parts` of every step)."""

    segment: Segment
    grid: Grid = field()  # required (the base's default is None)

    @property
    def label(self) -> str:
        return step_label(self, self.grid.label + (" ragged" if self.grid.ragged else ""))

    def apply(self, model: Model) -> Model:
        return tile_segment(model, self.segment, self.grid)


def input_prologue(sg: Subgraph) -> int:
    """How many leading ops only convert the model input element by element (a
    uint8 input's QUANTIZE to int8): the patch stage may start after them, so its
    slices read the converted tensor, which the target has kernels for."""
    fed = set(sg.inputs)
    n = 0
    for op in sg.operators:
        rule = rule_for(op)
        if (op.inputs and op.inputs[0] in fed and rule.window is not None
                and rule.macs(op, sg) == 0 and len(op.outputs) == 1
                and sg.tensors[op.outputs[0]].shape == sg.tensors[op.inputs[0]].shape):
            fed.add(op.outputs[0])
            n += 1
        else:
            break
    return n


def _tiling_kind(first: int, seg: Segment, inputs: set[int], prologue: int) -> StepKind:
    """PATCH for a segment that starts at the model input (or right after the
    input's element-wise prologue), SPATIAL for a deeper one."""
    return StepKind.PATCH if (first == 0 and seg.entry in inputs) or 0 < first == prologue \
        else StepKind.SPATIAL


def candidate_segments(model: Model, peak_op: int, arena: int) -> Iterator[tuple[StepKind, Segment]]:
    """(kind, segment) for the tileable segments of the main subgraph that
    contain `peak_op` and could beat `arena`.

    Segments that cannot beat `arena` are skipped: while tiles run, the whole
    entry and exit tensors are alive, and at the final CONCATENATION the
    exit is alive twice (its tiles and itself).
    """
    sg = model.main
    finder = SegmentFinder(sg)
    n = len(sg.operators)
    inputs = set(sg.inputs)
    cuts = narrow_points(sg)
    # Segments start at the input or after a narrow point, and end at one
    # (or right after the peak op, the shortest segment that can help).
    prologue = input_prologue(sg)
    starts = [0, prologue] + [p + 1 for p in cuts if peak_op - MAX_SEGMENT_OPS <= p < peak_op]
    ends = sorted({p for p in cuts if peak_op <= p < peak_op + MAX_SEGMENT_OPS}
                  | {min(peak_op + 1, n - 1)})
    for first in sorted(set(starts)):
        for last in ends:
            if last - first >= MAX_SEGMENT_OPS or last < first:
                continue
            seg = finder.segment(first, last)
            if seg is None or not tileable(sg, seg):
                continue
            y = sg.tensors[seg.exit]
            x = sg.tensors[seg.entry]
            if 2 * y.nbytes >= arena or x.nbytes + y.nbytes >= arena:
                continue
            yield _tiling_kind(first, seg, inputs, prologue), seg


def joined_segments(model: Model, peak_op: int, arena: int) -> Iterator[tuple[StepKind, Segment]]:
    """(kind, segment) for tileable segments around `peak_op` that
    `candidate_segments` does not offer: cut where several tensors cross
    (a skip beside the main path), reading up to MAX_ENTRIES activations from
    outside, with tensors passing by untouched.

    While tiles run, every entry, the exit and the passing tensors are whole;
    at the final CONCATENATION the exit is alive twice. Segments whose fixed
    part alone reaches `arena` are skipped.
    """
    sg = model.main
    finder = SegmentFinder(sg)
    n = len(sg.operators)
    inputs = set(sg.inputs)
    light = light_points(sg)
    old = {seg for _, seg in candidate_segments(model, peak_op, arena)}
    prologue = input_prologue(sg)
    # A segment starts after a light point (or at the input, or just before the
    # peak) and ends at one (or at or just after the peak).
    starts = {0, prologue, max(peak_op - 1, 0), peak_op} | {
        p + 1 for p in light if peak_op - MAX_SEGMENT_OPS <= p < peak_op}
    ends = {peak_op, min(peak_op + 1, n - 1)} | {
        p for p in light if peak_op <= p < peak_op + MAX_SEGMENT_OPS}
    found = []
    for first in sorted(starts):
        for last in sorted(ends):
            if last - first >= MAX_SEGMENT_OPS or last < first:
                continue
            seg = finder.segment(first, last, max_entries=MAX_ENTRIES)
            if seg is None or seg in old or not tileable(sg, seg):
                continue
            passing = sum(sg.tensors[t].nbytes for t in finder.passing(seg))
            y = sg.tensors[seg.exit].nbytes
            entries = sum(sg.tensors[t].nbytes for t in seg.entries)
            floor = max(2 * y, entries + y) + passing
            if floor >= arena:
                continue
            found.append((floor, last - first, first, _tiling_kind(first, seg, inputs, prologue),
                          seg))
    # The lowest floors first, and only a few: every grid of every segment is
    # a model to build and plan, and cuts across joins are many.
    for *_, kind, seg in sorted(found, key=lambda f: f[:3])[:MAX_JOINED_SEGMENTS]:
        yield kind, seg


def spatial_steps(model: Model, peak_op: int, arena: int,
                  target: Target | None = None) -> Iterator[TilingStep]:
    """Tiling steps over segments of the main subgraph that contain `peak_op`
    (`target` unused: segments are picked by tensor sizes alone)."""
    yield from _grid_steps(model, candidate_segments(model, peak_op, arena))


def joined_steps(model: Model, peak_op: int, arena: int,
                 target: Target | None = None) -> Iterator[TilingStep]:
    """Tiling steps over the segments across joins that `spatial_steps` leaves out."""
    yield from _grid_steps(model, joined_segments(model, peak_op, arena))


def _grid_steps(model: Model, segments) -> Iterator[TilingStep]:
    sg = model.main
    for kind, seg in segments:
        y = sg.tensors[seg.exit]
        seen = set()
        tables: dict = {}  # the segment's cost tables, for all its balanced grids
        for ph, pw in GRID_SHAPES:
            if ph > y.shape[1] or pw > y.shape[2]:
                continue
            for grid in (uniform_grid(y.shape[1], y.shape[2], ph, pw),
                         balanced_grid(sg, seg, ph, pw, tables)):
                if grid.tiles < 2 or grid in seen:
                    continue
                seen.add(grid)
                yield TilingStep(kind=kind, segment=seg, grid=grid, source_ops=source_span(sg, seg))
