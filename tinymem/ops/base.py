"""What tinymem knows about one op type, gathered in one record.

Every feature asks the registry instead of switching on op names: the
profiler asks for MACs and scratch buffers, the spatial tiler for the
receptive window, the channel splitter for how the op may be partitioned.
Adding an op is adding one `OpRule` in the family module it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable, Iterable, Mapping, Optional

from ..graph.ir import Operator, Subgraph
from ..targets import Target
from .tflm import Tflm

MacsFn = Callable[[Operator, Subgraph], Optional[int]]
# Scratch and persistent rules get the target: the kernel set picks the code
# path (CMSIS-NN's dispatch also depends on the CPU's DSP/MVE family).
ScratchFn = Callable[[Operator, Subgraph, Target], list[int]]
PersistentFn = Callable[[Operator, Subgraph, Target], list[int]]
# (op, subgraph) -> option changes under which the op computes the same output
# bit for bit but its optimised kernels pick a path with no scratch buffer; None
# when there are none.
ScratchFreeFn = Callable[[Operator, Subgraph], Optional[dict]]


def _unknown_macs(op: Operator, sg: Subgraph) -> int | None:
    return None


def _no_macs(op: Operator, sg: Subgraph) -> int | None:
    return 0


def _no_scratch(op: Operator, sg: Subgraph, target: Target) -> list[int]:
    return []


@dataclass(frozen=True)
class OpData:
    """Bytes the kernel's Init allocates in the tail (its OpData struct), per kernel set.

    sizeof(OpData) as requested (the allocator aligns each block to 16 bytes:
    where the tail is misaligned the raw size decides the padding), learnt from
    the 32-bit Cortex-M firmware's per-node trace and requested totals; where
    only the aligned figure is known it is given. `host` overrides for the
    64-bit wheel where the struct holds pointers.
    """

    reference: int = 0
    cmsis_nn: int | None = None  # None: the CMSIS-NN build uses the reference kernel's
    host: int | None = None  # None: as `reference`

    def bytes_for(self, target: Target) -> int:
        if target.cmsis_nn and self.cmsis_nn is not None:
            return self.cmsis_nn
        if target.pointer_bytes == 8 and self.host is not None:
            return self.host
        return self.reference


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

    def full_read(self, out_size: int, in_size: int) -> tuple[int, int]:
        """The padded input range of the whole output [0, out_size), ending at
        the input's end when fewer than a stride of input rows lie past it.

        Run VALID, a window drops those rows anyway (TFLM and LiteRT both size
        the output floor((in - span) / stride) + 1), so the op may read its
        input uncropped: a stride-2 3x3 pool over 64 columns reads 63 of them
        and needs no 63-column copy of its input.
        """
        lo, hi = self.padded_range(0, out_size)
        if lo >= 0 and 0 < in_size - hi < self.stride:
            hi = in_size
        return lo, hi


# Returns, for each spatial axis of the op's first input/output (H, W in NHWC),
# a Window; or None if the op cannot be tiled spatially.
WindowFn = Callable[[Operator, Subgraph], Optional[tuple[Window, Window]]]


class Channels(StrEnum):
    """How an op may be partitioned by channels (FDT, the channel splitter)."""

    SPLIT_OUT = "split_out"  # split by output channel: each part computes some of them (conv, FC)
    CHANNELWISE = "channelwise"  # each channel is computed on its own (depthwise, pool, activations)
    # Joins its inputs along the channel axis: channel partitions may start at
    # its inputs (never running it) or end in it (the parts become its inputs).
    CONCAT = "concat"
    NONE = "none"  # cannot be partitioned


# (op, subgraph, flat) -> may this CHANNELWISE op carry a channel partition of
# its first input? `flat`: that input's last axis is positions x channels (a
# flattened NHWC tensor), not the channels alone.
ChannelCheck = Callable[[Operator, Subgraph, bool], bool]


@dataclass(frozen=True)
class ChannelWise:
    """How a CHANNELWISE op computes a channel partition.

    `check` None: an element-wise op, whose output has its input's shape
    (the splitter then checks that every constant broadcasts per channel).
    Every constant input but the `params` is sliced with the channels.
    """

    check: ChannelCheck | None = None
    # Constant inputs that are parameters (paddings, axes), passed on unsliced.
    params: tuple[int, ...] = ()
    # The output is the input's bytes in another shape (RESHAPE and kin): the
    # partition goes on while the channel axis stays last or the tensor is flattened.
    view: bool = False
    # A view's constant input holding its output shape (rewritten per part).
    shape_input: int | None = None
    # LiteRT's optimised int8 kernel treats channels in vector groups of this
    # many and rounds the remainder differently: parts start at multiples of it.
    group: int = 1


@dataclass(frozen=True)
class OutSplit:
    """Where the operands of an op split by output channels (Channels.SPLIT_OUT) sit.

    Each part reads the whole `data` input and its own slice of the weights
    (along `weights_axis`) and bias; `out_shape`, when set, is a constant
    input holding the output's shape, whose last entry becomes the part's
    channel count. The weights' other axes must not mix output channels.
    """

    data: int = 0
    weights: int = 1
    weights_axis: int = 0
    bias: int | None = 2
    out_shape: int | None = None
    # LiteRT's optimised int8 kernel requantizes its sums in vector groups of
    # this many output channels and rounds the remainder differently: parts
    # start at multiples of it (as `ChannelWise.group`).
    group: int = 1


class InPlaceMode(StrEnum):
    """Where an input an op runs over sits inside the op's output."""

    # The input is the output's memory, byte for byte (element-wise ops,
    # views): the kernel reads element i before it writes element i.
    SAME_OFFSET = "same_offset"
    # Every input is a contiguous chunk of the output, in input order (a join
    # along an axis with only 1s before it): the kernel's copies land on themselves.
    INPUTS_AS_CHUNKS = "inputs_as_chunks"
    # The input sits at the output's end: the kernel writes the output front to
    # back and reads each input element before its bytes are written (PAD).
    INPUT_AT_TAIL = "input_at_tail"


@dataclass(frozen=True)
class Placement:
    """Where input `input` may sit inside the output: any byte offset in
    [lowest, highest] keeps the kernel from writing over bytes it still reads."""

    input: int
    lowest: int
    highest: int


# (op, subgraph) -> where each input that may be overwritten sits in the output,
# or None when the op's shapes, types or quantisation rule running in place out.
PlacementFn = Callable[[Operator, Subgraph], Optional[list[Placement]]]


@dataclass(frozen=True)
class InPlace:
    """The op's output may take the memory of one of its inputs (or several).

    SAME_OFFSET: only for kernels that read element i before they write
    element i, in TFLite Micro's reference and CMSIS-NN kernels alike,
    broadcast paths included (checked in their sources; the partner of a
    broadcast is never the aliased operand, since the alias needs the
    output's size). The other modes say through `placement` where each input
    sits. The planner adds the usual conditions: same dtype (and byte size
    for SAME_OFFSET), the input's last use is this op, and it is no model
    input unless the user allows it.
    """

    # Input positions that may be overwritten, in order of preference (SAME_OFFSET).
    inputs: tuple[int, ...] = (0,)
    # The aliased input must have the output's shape (element-wise ops);
    # False: only the byte size must match (RESHAPE views the same bytes).
    same_shape: bool = True
    # False when running in place leaves the bytes as they were (RESHAPE skips
    # its copy, EXPAND_DIMS copies each byte onto itself): a model input may
    # then be aliased without the user's leave, its contents stay intact.
    writes: bool = True
    mode: InPlaceMode = InPlaceMode.SAME_OFFSET
    # The modes other than SAME_OFFSET: where the inputs go, from the op's shapes.
    placement: PlacementFn | None = None


class SamePadding(StrEnum):
    """What the op's SAME padding stands for at the input's border."""

    # The border reads as the input's zero point (0.0 for float): an explicit
    # PAD with the zero point and a VALID copy of the op compute the same, bit
    # for bit (convolutions), so tilers pad their tiles and a PAD may fold in.
    ZERO_POINT = "zero_point"
    # Border cells are left out of the window (pooling: an average divides by
    # the cells inside, a max ignores the rest): no explicit pad reproduces it,
    # so a tile must not need border padding.
    EXCLUDED = "excluded"
    NONE = "none"  # the op has no padding option


@dataclass(frozen=True)
class Pad:
    """The op is an explicit constant pad of its first input (the paddings a
    constant input): a tiler pads its tiles' borders itself in its place, and
    a SAME-padded op after it may absorb it."""

    # The input holding the pad value; None: the kernel pads with the output's
    # zero point (int8/uint8) or 0, which is what SAME padding means.
    value_input: int | None = None

    def value(self, op: Operator) -> int | None:
        """The tensor the op pads with, None when it pads with the zero point."""
        i = self.value_input
        if i is None or len(op.inputs) <= i or op.inputs[i] < 0:
            return None
        return op.inputs[i]


@dataclass(frozen=True)
class OpRule:
    name: str
    macs: MacsFn = _unknown_macs
    # Bytes of each scratch buffer the target's kernel requests in the arena
    # head during Prepare (planned with the op's lifetime).
    scratch: ScratchFn = _no_scratch
    # Spatial tiling: the op's receptive window per spatial axis, or None.
    window: WindowFn | None = None
    # What its SAME padding stands for (tilers and the PAD fold ask).
    same_padding: SamePadding = SamePadding.NONE
    # The op is an explicit constant pad (see `Pad`); None: it is not.
    pad: Pad | None = None
    # Channel tiling (FDT): how the op may be partitioned by channels.
    channels: Channels = Channels.NONE
    # Where a SPLIT_OUT op's data, weights and bias are; a CHANNELWISE op
    # with one also starts a partition when its input has one channel (a
    # depthwise conv's output channels are then its filters).
    out_split: OutSplit | None = None
    # How a CHANNELWISE op computes a partition (ignored otherwise).
    channelwise: ChannelWise = ChannelWise()
    # May the output share the memory of an input (see `InPlace`)? None: no.
    in_place: InPlace | None = None
    # The op writes its whole output as a copy of input bytes (slices, joins,
    # pads): what a schedule's added ops cost per inference (schedules/copies.py).
    copies: bool = False
    # Tail: the kernel's OpData (Init), then any further buffers its Init
    # allocates from the op's options (SignalRfft's FFT state) ...
    opdata: OpData = OpData()
    init: PersistentFn = _no_scratch
    # ... and the buffers its Prepare keeps (per-channel arrays, LUTs, kernel
    # sums), each 16-byte aligned by the allocator.
    persistent: PersistentFn = _no_scratch
    # Options that route the op to a kernel with no scratch, same results (see
    # ScratchFreeFn); None: the op has no such variant.
    scratch_free: ScratchFreeFn | None = None
    # The builtin-options struct the parser allocates (ops/params.py), or None.
    params: str | None = None
    # Control flow: the option keys naming the subgraphs the op calls, in the
    # order it calls them (each nests a lifetime scope, memory/requests.py).
    calls: tuple[str, ...] = ()
    # The op creates a resource variable by its `shared_name` (VAR_HANDLE): the
    # interpreter keeps one variable per name in the tail, and Prepare points the
    # op's output at the resource handle, so the output is not planned in the head.
    makes_resource: bool = False
    # Bytes of output 0 once Prepare has resolved its shape, where that differs
    # from the file's (a RESHAPE output with a -1); None: the file's shape holds.
    output_bytes: Callable[[Operator, Subgraph], Optional[int]] | None = None
    # What TFLite Micro registers for the op (its MicroMutableOpResolver method) and
    # what each kernel set's kernel accepts (tinymem/ops/tflm.py); None: no kernel.
    tflm: Tflm | None = None


NO_MACS = _no_macs


def rules(names: Iterable[str], kernels: Mapping[str, Tflm], **fields: Any) -> list[OpRule]:
    """One rule per op of `names`, all alike but for their TFLM kernel, which
    `kernels` gives by name (None where it lists none)."""
    return [OpRule(name, tflm=kernels.get(name), **fields) for name in names]

