"""What tinymem knows about one op type, gathered in one record.

Every feature asks the registry instead of switching on op names: the
profiler asks for MACs and scratch buffers, the spatial tiler for the
receptive window, the channel splitter for how the op may be partitioned.
Adding an op is adding one `OpRule` in the family module it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Optional

from ..ir import Operator, Subgraph

MacsFn = Callable[[Operator, Subgraph], Optional[int]]
ScratchFn = Callable[[Operator, Subgraph], list[int]]


def _unknown_macs(op: Operator, sg: Subgraph) -> int | None:
    return None


def _no_macs(op: Operator, sg: Subgraph) -> int | None:
    return 0


def _no_scratch(op: Operator, sg: Subgraph) -> list[int]:
    return []


@dataclass(frozen=True)
class Window:
    """How an op maps an output range on one spatial axis to its input range.

    Output rows [a, b) need input rows [a*stride - pad_before,
    (b-1)*stride - pad_before + dilation*(kernel-1) + 1), clipped to the input.
    A pointwise op is kernel 1, stride 1, no padding.
    """

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    pad_before: int = 0

    def input_range(self, a: int, b: int, in_size: int) -> tuple[int, int]:
        lo = a * self.stride - self.pad_before
        hi = (b - 1) * self.stride - self.pad_before + self.dilation * (self.kernel - 1) + 1
        return max(lo, 0), min(hi, in_size)

    def padded_range(self, a: int, b: int) -> tuple[int, int]:
        """The unclipped input range (may start below 0 or end past the input)."""
        lo = a * self.stride - self.pad_before
        hi = (b - 1) * self.stride - self.pad_before + self.dilation * (self.kernel - 1) + 1
        return lo, hi


# Returns, for each spatial axis of the op's first input/output (H, W in NHWC),
# a Window; or None if the op cannot be tiled spatially.
WindowFn = Callable[[Operator, Subgraph], Optional[tuple[Window, Window]]]


class Channels(StrEnum):
    """How an op may be partitioned by channels (FDT, the channel splitter)."""

    SPLIT_OUT = "split_out"  # split by output channel: each part computes some of them (conv, FC)
    CHANNELWISE = "channelwise"  # each channel is computed on its own (depthwise, pool, activations)
    NONE = "none"  # cannot be partitioned


@dataclass(frozen=True)
class OpRule:
    name: str
    macs: MacsFn = _unknown_macs
    # Bytes of each scratch buffer TFLite Micro's reference kernel requests in
    # the arena head during Prepare (planned with the op's lifetime).
    scratch: ScratchFn = _no_scratch
    # Spatial tiling: the op's receptive window per spatial axis, or None.
    window: WindowFn | None = None
    # Channel tiling (FDT): how the op may be partitioned by channels.
    channels: Channels = Channels.NONE


NO_MACS = _no_macs
