"""What the explorer chains: steps, each a rewrite of one segment of the graph.

Four modules propose steps (tiling_steps: spatial tiles; row_cache: cached
row strips; fdt: channel splits; scratch_free: kernels without scratch); the explorer only needs what `Step` lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from ..graph.ir import Model

if TYPE_CHECKING:
    from .spatial import Grid


class StepKind(StrEnum):
    """How a step rewrites its segment; an option's kind joins its steps' kinds
    in this order ("patch+fdt")."""

    PATCH = "patch"  # spatial tiles of a segment that starts at the model input (MCUNetV2)
    SPATIAL = "spatial"  # spatial tiles of a deeper segment, halos recomputed
    CACHED = "cached"  # row strips that keep their halo rows instead of recomputing them
    FDT = "fdt"  # channel partitions of a path (fused depthwise tiling)
    # Ops given options that keep their results but make the target's kernel
    # take a path with no scratch buffer (schedules/scratch_free.py).
    KERNEL = "kernel"


class Step(Protocol):
    """A candidate rewrite the explorer can apply and describe."""

    kind: StepKind
    grid: Grid | None  # spatial tiles or row strips; None for channel splits
    parts: int  # channel partitions; 0 for tiles and strips
    # The segment's span in the source model's op numbering (ops of an
    # already-rewritten graph keep their origin), for people to read.
    source_ops: tuple[int, int] | None

    @property
    def segment(self): ...  # the rewritten segment (schedules.segments.Segment or fdt.Path)

    @property
    def label(self) -> str: ...  # "patch ops 0-6 2x2": what the step does, for people

    def apply(self, model: Model) -> Model: ...


@dataclass(frozen=True, kw_only=True)
class SegmentStep:
    """The fields of a step that rewrites one segment (spatial tiles, cached
    strips, channel splits): each tiler's step adds its own and `label` and
    `apply`. Keyword-only, so a subclass may give a field a default or none."""

    segment: Any  # schedules.segments.Segment, or an fdt.Path for channel splits
    kind: StepKind
    grid: Grid | None = None  # tiles or strips; None for channel splits
    parts: int = 0  # channel partitions; 0 for tiles and strips
    # The segment's span in the source model's op numbering (ops of an
    # already-rewritten graph keep their origin), for people to read.
    source_ops: tuple[int, int] | None = None


def step_label(step: Step, what: str) -> str:
    """How every step names itself: "<kind> ops <first>-<last> <what>", the ops
    numbered as in the source model."""
    first, last = step.source_ops or (step.segment.first, step.segment.last)
    return f"{step.kind} ops {first}-{last} {what}"

