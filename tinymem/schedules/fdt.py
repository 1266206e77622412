"""Fused depthwise tiling (FDT; Stahl et al. 2023, arXiv 2303.17878).

A path is a run of consecutive ops of the main subgraph that can be split
along channels with nothing recomputed. What each op may do is data in its
OpRule (`channels`, `out_split`, `channelwise`); this module names no op.

  * it starts with an op split by output channels (CONV_2D, FULLY_CONNECTED,
    TRANSPOSE_CONV, a DEPTHWISE_CONV_2D on a one-channel input) - weights,
    bias and per-channel quantization sliced, its kernel scratch shrinking
    with its output - reading its whole input; or at a channel-axis
    CONCATENATION whose inputs are taken as the parts (it never runs); or
    with a channel-wise op whose input is cut into channel slices
    (STRIDED_SLICE);
  * channel-wise ops follow, each partition on its own channels (depthwise
    convs with multiplier 1, pooling, activations, element-wise ops with
    sliced per-channel constants or sliced activation operands, PAD,
    reductions over other axes, and views that keep the channel axis last);
  * the partitions are merged by CONCATENATION on the channel (last) axis,
    exact for every type; or handed to the channel-axis CONCATENATION that
    read the path's exit, as its inputs (no merge op); or, for float
    models, by a CONV_2D / FULLY_CONNECTED split by input channels whose
    partial results are summed by a chain of ADDs (bias in the first part,
    the fused activation on the last ADD).

Ops are emitted partition by partition (part 0's ops, part 1's, ..., then
the merge), so TFLite Micro's planner sees short lifetimes: while part k
runs, only the path's input, the finished parts' outputs (or the running
sum) and part k's own tensors are alive.

Partitions are as even as possible; where LiteRT's optimised quantized
kernels treat channels in vector groups (depthwise conv: 8, MEAN: 16) the
boundaries fall on multiples of the group, so the rewritten model is bit
exact in LiteRT too, not only in TFLite Micro (see `_granularity`).

For int8 the sum-merge is not offered: TFLite Micro's CONV_2D and
FULLY_CONNECTED must output their input's type, so a partial sum can only
be materialised requantized (rounded) to int8/int16, and adding rounded
partials is not the rounding of the sum.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterator

import numpy as np

from ..read.dtypes import NUMPY_DTYPES
from ..graph.ir import Model, Operator, Quantization, Subgraph, Tensor, TensorKind
from ..memory.requests import align
from ..ops import Channels, OutSplit, rule_for
from ..read.file import buffer_bytes
from ..read.schema import Activation, BuiltinOp
from ..targets import Target
from .edit import GraphEditor, _stem, clone
from .segments import source_span
from .spatial import even_splits
from .steps import SegmentStep, StepKind, step_label

# Partition counts tried (moiopt's list).
FDT_PARTS = (2, 3, 4, 5, 7, 9, 12, 16, 20, 25)
# How far a path may reach before the peak op, and its longest length.
MAX_REACH = 12
MAX_PATH_OPS = 24
# Candidates yielded per call (the explorer measures each one).
MAX_CANDIDATES = 40
# TFLite Micro's CONCATENATION takes at most 10 inputs.
MAX_CONCAT_INPUTS = 10
# Keep partition boundaries where LiteRT's optimised kernels give bit-exact
# results too (see _granularity). TFLite Micro is exact either way; False
# allows finer splits of quantized depthwise convs and means.
EXACT_IN_LITERT = True

# The activations the sum-merge's last ADD can fuse (TFLM's ADD clamps to these).
_SUM_ACTS = (Activation.NONE, Activation.RELU, Activation.RELU6, Activation.RELU_N1_TO_1)


class Merge(StrEnum):
    """How the partitions of a path become its exit tensor again."""

    CONCAT = "concat"  # CONCATENATION of the parts' output channels
    SUM = "sum"  # ADD of partial sums (a conv/FC split by input channels)
    # The exit is read by one channel-axis CONCATENATION only: the parts take
    # its place among that op's inputs, so no merge op (and no second copy of
    # the exit) is added.
    JOIN = "join"


@dataclass(frozen=True)
class Path:
    """Ops [first, last] of a subgraph, split into channel partitions and merged."""

    subgraph: int
    first: int
    last: int
    merge: Merge = Merge.CONCAT

    @property
    def ops(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True, kw_only=True)
class FdtStep(SegmentStep):
    """An explorer step: split `segment` (a Path) into `parts` partitions."""

    segment: Path
    parts: int = field()  # required (the base's default is 0)
    kind: StepKind = StepKind.FDT

    @property
    def label(self) -> str:
        merge = {Merge.SUM: " sum-merge", Merge.JOIN: " into the concat"}.get(
            self.segment.merge, "")
        return step_label(self, f"{self.parts} parts{merge}")

    def apply(self, model: Model) -> Model:
        return fdt_split(model, self.segment, self.parts)


# ---------------------------------------------------------------------------
# Layouts: how a path tensor's last axis relates to the split channels.


@dataclass(frozen=True)
class ChannelLayout:
    """The last axis of a path tensor: its C `channels`, or (`positions` P set)
    P positions times C channels, channel fastest (a flattened NHWC tensor)."""

    channels: int
    positions: int | None = None

    @property
    def flat(self) -> bool:
        return self.positions is not None

    @property
    def width(self) -> int:
        """The length of the last axis."""
        return self.channels if self.positions is None else self.positions * self.channels

    def part_index(self, c0: int, c1: int) -> np.ndarray:
        """Positions on the last axis of channels [c0, c1)."""
        ch = np.arange(c0, c1)
        if self.positions is None:
            return ch
        return (np.arange(self.positions)[:, None] * self.channels + ch[None, :]).ravel()


class Role(StrEnum):
    """What an op of a path does with the split channels."""

    SPLIT_OUT = "split_out"  # starts the path: each part computes some output channels
    CHANNELWISE = "channelwise"  # computes each channel on its own
    SPLIT_IN = "split_in"  # ends a sum-merged path: each part reads some input channels
    # Starts the path: a channel-axis CONCATENATION, whose inputs are the parts
    # (it is never run; each part goes on from its own input).
    FROM_CONCAT = "from_concat"


@dataclass
class PathInfo:
    channels: int
    layouts: dict[int, ChannelLayout]  # path tensor -> layout
    roles: dict[int, Role]  # op index -> its role
    entries: tuple[int, ...]  # activations read from outside the path
    exit: int
    internal: tuple[int, ...]  # tensors produced in the path (not the exit)
    # Partition boundaries fall on multiples of this many channels.
    granularity: int = 1
    # The most parts the merge takes (a JOIN shares its CONCATENATION's inputs).
    max_parts: int = FDT_PARTS[-1]
    # A path from a CONCATENATION: the parts are its inputs' channel ranges.
    fixed: tuple[tuple[int, int], ...] | None = None

    def splits(self, parts: int) -> tuple[tuple[int, int], ...]:
        """Channel ranges of the parts: as even as the granularity allows; the
        channels beyond the last multiple of it go to the last part."""
        if self.fixed is not None:
            return self.fixed
        g = self.granularity
        out = [(a * g, b * g) for a, b in even_splits(self.channels // g, parts)]
        out[-1] = (out[-1][0], self.channels)
        return tuple(out)

    def part_counts(self) -> list[int]:
        """The partition counts this path can be split into."""
        if self.fixed is not None:
            ok = all(a % self.granularity == 0 for a, _ in self.fixed)
            return [len(self.fixed)] if ok and len(self.fixed) <= self.max_parts else []
        out = []
        for n in FDT_PARTS:
            if n > self.channels // self.granularity or n > self.max_parts:
                break
            out.append(n)
        return out


def _act_inputs(sg: Subgraph, op: Operator) -> list[int]:
    return [t for t in op.inputs if t >= 0 and sg.tensors[t].kind == TensorKind.ACTIVATION]


def _per_tensor(t: Tensor) -> bool:
    return t.quantization is None or not t.quantization.per_channel


def _const_ok(sg: Subgraph, t: int, width: int) -> bool:
    """A constant operand of an element-wise op: broadcast per channel or scalar."""
    ten = sg.tensors[t]
    if not ten.shape or ten.shape[-1] == 1:
        return True
    return ten.shape[-1] == width and _sliceable(ten, len(ten.shape) - 1)


def _sliceable(t: Tensor, axis: int) -> bool:
    """A constant whose data and quantization can be sliced along `axis`."""
    if not t.has_data or t.dtype not in NUMPY_DTYPES or len(t.shape) <= axis:
        return False
    q = t.quantization
    if q is None or not q.per_channel:
        return True
    # A 1-D tensor (a bias) has one axis whatever its quantized_dimension says
    # (person_detect labels its depthwise biases with dimension 3).
    return (q.quantized_dimension == axis or len(t.shape) == 1) and len(q.scale) == t.shape[axis]


def _split_out(op: Operator) -> OutSplit:
    """Where `op`'s data, weights and bias sit when it is split by output channels."""
    return rule_for(op).out_split or OutSplit()


def _split_out_channels(sg: Subgraph, op: Operator) -> int | None:
    """Output channels of an op that can start a path by splitting its output."""
    rule = rule_for(op)
    sp = rule.out_split
    if sp is None or rule.channels not in (Channels.SPLIT_OUT, Channels.CHANNELWISE) \
            or len(op.outputs) != 1 or len(op.inputs) <= max(sp.data, sp.weights):
        return None
    x, w, y = (sg.tensors[op.inputs[sp.data]], sg.tensors[op.inputs[sp.weights]],
               sg.tensors[op.outputs[0]])
    if (x.kind != TensorKind.ACTIVATION or not w.has_data or w.dtype == "int4"
            or w.dtype not in NUMPY_DTYPES):
        return None
    bias = op.inputs[sp.bias] if sp.bias is not None and len(op.inputs) > sp.bias else -1
    if not _sliceable(w, sp.weights_axis) or (bias >= 0
                                              and not _sliceable(sg.tensors[bias], 0)):
        return None
    if not _per_tensor(x) or not _per_tensor(y) or not y.shape:
        return None
    if sp.out_shape is not None:
        shape = sg.tensors[op.inputs[sp.out_shape]] if len(op.inputs) > sp.out_shape else None
        if shape is None or not shape.has_data:
            return None
    if rule.channels == Channels.SPLIT_OUT:
        if op.options.get("weights_format", 0):
            return None  # shuffled FULLY_CONNECTED weights
        if len(w.shape) == 4 and (len(x.shape) != 4 or w.shape[3] != x.shape[3]):
            return None  # grouped convolution
        if len(w.shape) not in (2, 4):
            return None
        n = w.shape[sp.weights_axis]
        return n if y.shape[-1] == n else None
    # A channel-wise op on one input channel: output channel j is filter j on
    # the whole input.
    n = w.shape[sp.weights_axis]
    if len(w.shape) != 4 or len(x.shape) != 4 or x.shape[3] != 1 or y.shape[3] != n:
        return None
    return n


def _sum_merge_ok(sg: Subgraph, op: Operator, layout: ChannelLayout) -> bool:
    """A CONV_2D / FULLY_CONNECTED that can be split by input channels (float)."""
    rule = rule_for(op)
    if rule.channels != Channels.SPLIT_OUT or rule.out_split != OutSplit() \
            or len(op.outputs) != 1:
        return False
    if op.options.get("fused_activation_function", "NONE") not in _SUM_ACTS:
        return False
    x, w, y = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]], sg.tensors[op.outputs[0]]
    if x.dtype != "float32" or y.dtype != "float32" or w.dtype != "float32" or not w.has_data:
        return False
    if len(w.shape) == 4:  # a convolution
        return not layout.flat and len(x.shape) == 4 \
            and w.shape[3] == x.shape[3] == layout.channels
    if len(w.shape) != 2 or op.options.get("weights_format", 0):
        return False
    width = layout.width
    cin = w.shape[1]
    if not x.shape or x.shape[-1] != width:
        return False
    if cin == width:
        return True
    # FC flattens its input: a channels-last input whose trailing dims form Cin.
    if op.options.get("keep_num_dims") or layout.flat or cin % width:
        return False
    return len(x.shape) >= 2 and math.prod(x.shape[1:]) == cin


def _granularity(sg: Subgraph, op: Operator, channels: int) -> int:
    """Channels per partition unit that keep LiteRT's results unchanged.

    LiteRT's optimised quantized DEPTHWISE_CONV_2D requantizes its int32
    sums eight channels at a time with vector code, and the last `depth % 8`
    channels with scalar code; the two round exact ties differently (TFLite
    Micro's reference kernel rounds one way whatever the depth). A part that
    starts or ends elsewhere than at a multiple of 8 would send some channels
    down the other path and change values by one step. So such ops split at
    multiples of 8, the remainder going with the last part: every channel
    then takes the path it took in the whole. LiteRT's quantized MEAN does
    the same over 16 channels, and its int8 TRANSPOSE_CONV over 8 output
    channels (`OutSplit.group`). (TFLite Micro alone would be exact for any
    split; this keeps LiteRT a faithful check.)
    """
    rule = rule_for(op)
    if not EXACT_IN_LITERT or not op.inputs:
        return 1
    if rule.channels == Channels.CHANNELWISE:
        data, group = 0, rule.channelwise.group
    elif rule.channels == Channels.SPLIT_OUT and rule.out_split is not None:
        data, group = rule.out_split.data, rule.out_split.group
    else:
        return 1
    if len(op.inputs) <= data or op.inputs[data] < 0 \
            or sg.tensors[op.inputs[data]].dtype not in ("int8", "uint8"):
        return 1
    return group


def _channelwise(sg: Subgraph, op: Operator,
                 layouts: dict[int, ChannelLayout]) -> ChannelLayout | None:
    """The output layout if `op` computes each channel of its path inputs on its own."""
    if rule_for(op).channels != Channels.CHANNELWISE or len(op.outputs) != 1 or op.intermediates:
        return None
    y = sg.tensors[op.outputs[0]]
    if y.kind != TensorKind.ACTIVATION or not _per_tensor(y) or not y.shape:
        return None
    acts = _act_inputs(sg, op)
    inside = [t for t in acts if t in layouts]
    if not inside:
        return None
    lay = layouts[inside[0]]
    if any(layouts[t] != lay or sg.tensors[t].shape != sg.tensors[inside[0]].shape for t in inside):
        return None
    x = sg.tensors[inside[0]]
    width = lay.width
    if not x.shape or x.shape[-1] != width:  # a scalar (damaged file) has no channels
        return None
    for t in acts:
        if t in layouts:
            continue
        # An activation from outside is cut into channel slices (or broadcast).
        ten = sg.tensors[t]
        if lay.flat or not ten.shape or ten.shape[-1] not in (1, width) \
                or not _per_tensor(ten) or len(ten.shape) > len(y.shape):
            return None
    how = rule_for(op).channelwise
    for p, t in enumerate(op.inputs):
        # Constants are sliced per channel (or broadcast), parameters passed on.
        if t >= 0 and sg.tensors[t].has_data and p not in how.params \
                and not _const_ok(sg, t, width):
            return None
    if how.view:
        # The same bytes in another shape: the channels stay last, or the
        # tensor is flattened (positions x channels).
        if math.prod(y.shape) != math.prod(x.shape):
            return None
        if y.shape[-1] == x.shape[-1]:
            return None if lay.flat and y.shape != x.shape else lay
        if not lay.flat and len(y.shape) == 2 and len(x.shape) >= 3 \
                and y.shape[0] == x.shape[0] and y.shape[1] == math.prod(x.shape[1:]):
            return ChannelLayout(width, positions=math.prod(x.shape[1:-1]))
        return None
    if how.check is not None:
        return lay if how.check(op, sg, lay.flat) else None
    # Element-wise: the output has the path input's shape.
    return lay if y.shape == x.shape else None


def _concat_parts(sg: Subgraph, op: Operator) -> tuple[tuple[int, int], ...] | None:
    """The channel range of each input of a CONCATENATION on the channel (last)
    axis of activations, or None for any other op."""
    if rule_for(op).channels != Channels.CONCAT or len(op.outputs) != 1 or len(op.inputs) < 2 \
            or op.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    y = sg.tensors[op.outputs[0]]
    if not y.shape or op.options.get("axis", 0) % len(y.shape) != len(y.shape) - 1 \
            or not _per_tensor(y) or y.kind != TensorKind.ACTIVATION:
        return None
    out, c = [], 0
    for t in op.inputs:
        x = sg.tensors[t] if t >= 0 else None
        if x is None or x.kind != TensorKind.ACTIVATION or x.shape[:-1] != y.shape[:-1] \
                or x.dtype != y.dtype or x.quantization != y.quantization or not x.shape[-1]:
            return None  # a part must be the concatenated channels exactly
        out.append((c, c + x.shape[-1]))
        c += x.shape[-1]
    return tuple(out) if c == y.shape[-1] and len(set(op.inputs)) == len(op.inputs) else None


class PathFinder:
    """Answers "which paths start at op `first`?" for one subgraph."""

    def __init__(self, sg: Subgraph):
        self.sg = sg
        self.n = len(sg.operators)
        self.outputs = set(sg.outputs)
        self.last_use: dict[int, int] = {}
        for op in sg.operators:
            for t in op.real_inputs():
                self.last_use[t] = op.index
        for t in sg.outputs:
            self.last_use[t] = self.n
        self.consumers = sg.consumers()

    def join_room(self, exit_: int) -> int:
        """How many parts can replace `exit_` among the inputs of the one
        channel-axis CONCATENATION that reads it (0: no such op)."""
        sg = self.sg
        users = self.consumers.get(exit_, [])
        if exit_ in self.outputs or len(users) != 1:
            return 0
        op = sg.operators[users[0]]
        y = sg.tensors[op.outputs[0]] if len(op.outputs) == 1 else None
        if rule_for(op).channels != Channels.CONCAT or y is None or not y.shape \
                or op.tag is not None \
                or list(op.inputs).count(exit_) != 1 \
                or op.options.get("fused_activation_function", "NONE") != "NONE":
            return 0
        rank = len(y.shape)
        if op.options.get("axis", 0) % rank != rank - 1:
            return 0
        return MAX_CONCAT_INPUTS - (len(op.inputs) - 1)

    def paths_from(self, first: int, max_ops: int = MAX_PATH_OPS,
                   allow_sum: bool = True) -> Iterator[tuple[Path, PathInfo]]:
        """Every valid path starting at `first`, shortest first."""
        sg = self.sg
        op0 = sg.operators[first]
        if op0.tag is not None or len(op0.outputs) != 1 or op0.intermediates:
            return
        y0 = op0.outputs[0]
        roles = {first: Role.SPLIT_OUT}
        c = _split_out_channels(sg, op0)
        fixed = None
        if c is not None:
            entries = [op0.inputs[_split_out(op0).data]]
        elif (fixed := _concat_parts(sg, op0)) is not None:
            c = fixed[-1][1]
            roles[first] = Role.FROM_CONCAT
            entries = list(op0.inputs)
        else:
            # A channel-wise op whose activation inputs all come from outside.
            acts = _act_inputs(sg, op0)
            y = sg.tensors[y0]
            if not acts or not y.shape:
                return
            c = y.shape[-1]
            lay = _channelwise(sg, op0, {t: ChannelLayout(c) for t in acts})
            if lay is None or any(sg.tensors[t].shape[-1] != c for t in acts):
                return
            roles[first] = Role.CHANNELWISE
            entries = list(acts)
        if c < 2 or sg.tensors[y0].kind != TensorKind.ACTIVATION:
            return
        layouts = {y0: ChannelLayout(c)}
        produced = [y0]
        gran = _granularity(sg, op0, c) if fixed is None else 1
        for last in range(first, min(first + max_ops, self.n)):
            op = sg.operators[last]
            if last > first:
                if op.tag is not None:
                    return
                # Sum merge: this op splits by input channels and ends the path.
                ins = _act_inputs(sg, op)
                if allow_sum and len(ins) == 1 and ins[0] in layouts \
                        and _sum_merge_ok(sg, op, layouts[ins[0]]) \
                        and not op.intermediates and self._closed(produced, -1, last):
                    r = dict(roles)
                    r[last] = Role.SPLIT_IN
                    yield Path(sg.index, first, last, Merge.SUM), PathInfo(
                        c, dict(layouts), r, tuple(dict.fromkeys(entries)), op.outputs[0],
                        tuple(produced), gran, fixed=fixed)
                lay = _channelwise(sg, op, layouts)
                if lay is None:
                    return
                roles[last] = Role.CHANNELWISE
                gran = max(gran, _granularity(sg, op, c))
                out = op.outputs[0]
                layouts[out] = lay
                produced.append(out)
                entries.extend(t for t in _act_inputs(sg, op) if t not in layouts)
            out = op.outputs[0]
            # One op alone is worth splitting for its scratch (which grows with
            # its output) or when its parts feed a concatenation directly.
            if layouts[out].flat or not self._closed(produced, out, last):
                continue
            info = PathInfo(c, dict(layouts), dict(roles), tuple(dict.fromkeys(entries)), out,
                            tuple(t for t in produced if t != out), gran, fixed=fixed)
            if last > first or roles[first] == Role.SPLIT_OUT:
                yield Path(sg.index, first, last, Merge.CONCAT), info
            room = self.join_room(out)
            if room >= 2:
                yield Path(sg.index, first, last, Merge.JOIN), dataclasses.replace(
                    info, max_parts=room)

    def _closed(self, produced: list[int], exit_: int, last: int) -> bool:
        """Every tensor produced in the path but the exit is read only inside it."""
        for t in produced:
            if t == exit_:
                continue
            if t in self.outputs or self.last_use.get(t, -1) > last:
                return False
        return True


def analyse_path(sg: Subgraph, path: Path) -> PathInfo | None:
    """The path's split facts, or None if it cannot be split."""
    for p, info in PathFinder(sg).paths_from(path.first, path.last - path.first + 1):
        if p == path:
            return info
    return None


# ---------------------------------------------------------------------------
# The transform


def const_array(model: Model, t: Tensor) -> np.ndarray:
    """A constant tensor's values, shaped."""
    if t.data is not None:
        return np.asarray(t.data).reshape(t.shape)
    raw = buffer_bytes(model, t.buffer)
    if raw is None:
        raise ValueError(f"tensor {t.name}: no data to slice")
    return np.frombuffer(raw, dtype=NUMPY_DTYPES[t.dtype]).reshape(t.shape)


def _sliced_quant(q: Quantization | None, idx: np.ndarray, axis: int,
                  rank: int) -> Quantization | None:
    if q is None or not q.per_channel or (q.quantized_dimension != axis and rank != 1):
        return q
    zp = q.zero_point
    return Quantization(scale=tuple(q.scale[i] for i in idx),
                        zero_point=tuple(zp[i] for i in idx) if len(zp) == len(q.scale) else zp,
                        quantized_dimension=q.quantized_dimension)


class _Splitter:
    def __init__(self, model: Model, path: Path, info: PathInfo, parts: int):
        self.model = model
        self.path = path
        self.info = info
        self.sg = model.subgraphs[path.subgraph]
        self.ed = GraphEditor(model, path.subgraph)
        self.splits = info.splits(parts)
        self.tag = "fdt"
        self._arrays: dict[int, np.ndarray] = {}
        self._zero_bias: int | None = None

    def array(self, t: int) -> np.ndarray:
        if t not in self._arrays:
            self._arrays[t] = const_array(self.model, self.sg.tensors[t])
        return self._arrays[t]

    def const(self, like: Tensor, arr: np.ndarray, suffix: str,
              quant: Quantization | None) -> int:
        ed = self.ed
        t = Tensor(index=len(ed.tensors), name=f"{_stem(like.name, like.index)}/{suffix}",
                   shape=tuple(int(d) for d in arr.shape), dtype=like.dtype, buffer=-1,
                   has_data=True, data=np.ascontiguousarray(arr), quantization=quant)
        ed.tensors.append(t)
        return t.index

    def take(self, t: int, idx: np.ndarray, axis: int, suffix: str) -> int:
        ten = self.sg.tensors[t]
        arr = np.take(self.array(t), idx, axis=axis)
        return self.const(ten, arr, suffix,
                          _sliced_quant(ten.quantization, idx, axis, len(ten.shape)))

    def part_tensor(self, t: int, n: int, suffix: str) -> int:
        ten = self.sg.tensors[t]
        return self.ed.new_tensor(ten, tuple(ten.shape[:-1]) + (n,), suffix)

    def run(self) -> Model:
        sg, path, info, ed = self.sg, self.path, self.info, self.ed
        for op in sg.operators[: path.first]:
            ed.keep(op)
        last_op = sg.operators[path.last]
        origin = last_op.origin if last_op.origin is not None else last_op.index
        done: list[int] = []  # finished part outputs (concat) awaiting a merge
        chunks: list[int] = []
        acc = None
        nparts = len(self.splits)
        for k, (c0, c1) in enumerate(self.splits):
            out = self.emit_part(k, c0, c1)
            if path.merge == Merge.SUM:
                if acc is None:
                    acc = out
                else:
                    final = k == nparts - 1
                    dst = info.exit if final else ed.new_tensor(
                        sg.tensors[info.exit], sg.tensors[info.exit].shape, f"fdt_sum{k}")
                    act = (last_op.options.get("fused_activation_function", "NONE")
                           if final else "NONE")
                    ed.add_op(BuiltinOp.ADD, (acc, out), (dst,), "AddOptions",
                              {"fused_activation_function": act}, self.tag, origin)
                    acc = dst
                continue
            done.append((out, c1 - c0))
            # More parts than one CONCATENATION takes: merge them in chunks.
            if path.merge == Merge.CONCAT and nparts > MAX_CONCAT_INPUTS and (len(done) == MAX_CONCAT_INPUTS or k == nparts - 1):
                width = sum(w for _, w in done)
                chunk = self.part_tensor(info.exit, width, f"fdt_cat{len(chunks)}")
                self.concat([t for t, _ in done], chunk, origin)
                chunks.append((chunk, width))
                done = []
        if path.merge == Merge.CONCAT:
            self.concat([t for t, _ in (chunks or done)], info.exit, origin)
        for op in sg.operators[path.last + 1:]:
            if path.merge == Merge.JOIN and info.exit in op.inputs:
                inputs = []
                for t in op.inputs:
                    inputs.extend([p for p, _ in done] if t == info.exit else [t])
                # Not tagged: the same CONCATENATION, with more inputs (a later
                # step may join another path into it).
                ed.keep(clone(op, inputs=tuple(inputs)))
            else:
                ed.keep(op)
        return ed.finish()

    def concat(self, srcs: list[int], dst: int, origin: int) -> None:
        rank = len(self.sg.tensors[self.info.exit].shape)
        self.ed.concat(srcs, rank - 1, dst, self.tag, origin=origin)

    def emit_part(self, k: int, c0: int, c1: int) -> int:
        sg, info, ed = self.sg, self.info, self.ed
        cur: dict[int, int] = {}
        sliced: dict[int, int] = {}
        nch = c1 - c0
        for i in self.path.ops:
            op = sg.operators[i]
            role = info.roles[i]
            y = op.outputs[0]
            inputs = list(op.inputs)
            changes: dict = {}
            if role == Role.FROM_CONCAT:
                cur[y] = op.inputs[k]
                continue
            if role == Role.SPLIT_OUT:
                idx = np.arange(c0, c1)
                sp = _split_out(op)
                inputs[sp.weights] = self.take(op.inputs[sp.weights], idx, sp.weights_axis,
                                               f"fdt{k}_w")
                if sp.bias is not None and len(inputs) > sp.bias and inputs[sp.bias] >= 0:
                    inputs[sp.bias] = self.take(op.inputs[sp.bias], idx, 0, f"fdt{k}_b")
                if sp.out_shape is not None:
                    shape = list(sg.tensors[y].shape[:-1]) + [nch]
                    inputs[sp.out_shape] = ed.const_int32(
                        shape, "tinymem/shape_" + "_".join(map(str, shape)))
                if "depth_multiplier" in op.options:  # a one-channel depthwise conv
                    changes["depth_multiplier"] = nch
                out = self.part_tensor(y, nch, f"fdt{k}")
            elif role == Role.SPLIT_IN:
                x = op.inputs[0]
                lay = info.layouts[x]
                idx = lay.part_index(c0, c1)
                if len(sg.tensors[op.inputs[1]].shape) == 2:  # a FULLY_CONNECTED
                    cin = sg.tensors[op.inputs[1]].shape[1]
                    if cin != lay.width:  # FC flattens a (.., C) input
                        c = lay.width
                        idx = (np.arange(cin // c)[:, None] * c + idx[None, :]).ravel()
                    inputs[1] = self.take(op.inputs[1], idx, 1, f"fdt{k}_w")
                else:
                    inputs[1] = self.take(op.inputs[1], idx, 3, f"fdt{k}_w")
                inputs[0] = cur[x]
                if k > 0 and len(inputs) > 2 and inputs[2] >= 0:
                    inputs[2] = self.zero_bias(op.inputs[2])
                changes["fused_activation_function"] = "NONE"
                out = ed.new_tensor(sg.tensors[y], sg.tensors[y].shape, f"fdt_part{k}")
            else:
                how = rule_for(op).channelwise
                lay = info.layouts[y]
                idx = lay.part_index(c0, c1)
                width = lay.width
                for p, t in enumerate(op.inputs):
                    if t < 0:
                        continue
                    ten = sg.tensors[t]
                    if t in cur:
                        inputs[p] = cur[t]
                    elif ten.kind == TensorKind.ACTIVATION:
                        if ten.shape[-1] == 1:
                            continue  # broadcast over channels
                        if t not in sliced:
                            sliced[t] = self.part_tensor(t, nch, f"fdt{k}_in")
                            rank = len(ten.shape)
                            ed.strided_slice(t, (0,) * (rank - 1) + (c0,),
                                             tuple(ten.shape[:-1]) + (c1,), sliced[t],
                                             self.tag, origin=op.origin if op.origin is not None
                                             else op.index)
                        inputs[p] = sliced[t]
                    elif ten.has_data and p == how.shape_input:
                        shape = list(sg.tensors[y].shape[:-1]) + [len(idx)]
                        inputs[p] = ed.const_int32(shape, "tinymem/shape_" +
                                                   "_".join(map(str, shape)))
                    elif ten.has_data and ten.shape and ten.shape[-1] == width and width > 1 \
                            and p not in how.params:
                        inputs[p] = self.take(t, idx, len(ten.shape) - 1, f"fdt{k}_c{p}")
                if how.shape_input is not None and "new_shape" in op.options:
                    changes["new_shape"] = list(sg.tensors[y].shape[:-1]) + [len(idx)]
                out = self.part_tensor(y, len(idx), f"fdt{k}")
            ed.copy_op(op, inputs, [out], self.tag, **changes)
            cur[y] = out
        return cur[info.exit]

    def zero_bias(self, t: int) -> int:
        if self._zero_bias is None:
            ten = self.sg.tensors[t]
            self._zero_bias = self.const(ten, np.zeros(ten.shape, dtype=NUMPY_DTYPES[ten.dtype]),
                                         "fdt_zero_bias", ten.quantization)
        return self._zero_bias


def dense_constants(model: Model, path: Path) -> bool:
    """Every constant the path's ops read is stored densely (sparse or
    otherwise encoded buffers cannot be sliced)."""
    sg = model.subgraphs[path.subgraph]
    for i in path.ops:
        for t in sg.operators[i].inputs:
            ten = sg.tensors[t] if t >= 0 else None
            if ten is None or not ten.has_data or ten.data is not None:
                continue
            if not 0 <= ten.buffer < len(model.buffers) \
                    or model.buffers[ten.buffer].size != ten.nbytes:
                return False
    return True


def fdt_split(model: Model, path: Path, parts: int) -> Model:
    """`model` with `path` run in `parts` channel partitions, merged by path.merge."""
    sg = model.subgraphs[path.subgraph]
    info = analyse_path(sg, path)
    if info is None or not dense_constants(model, path):
        raise ValueError(f"ops {path.first}-{path.last} cannot be split by channels "
                         f"({path.merge} merge)")
    if parts not in info.part_counts():
        raise ValueError(f"{parts} parts for {info.channels} channels "
                         f"(in groups of {info.granularity})")
    return _Splitter(model, path, info, parts).run()


# ---------------------------------------------------------------------------
# Discovery


def fdt_steps(model: Model, peak_op: int, arena: int, target: Target,
              max_candidates: int | None = MAX_CANDIDATES) -> Iterator[FdtStep]:
    """FDT steps for paths through the main subgraph's peak (moiopt's discovery),
    on `target` (its kernels' scratch is part of what stacks up).

    What stacks up at `peak_op` decides: a path must divide something alive
    there - a tensor it produces, or the scratch of one of its ops (which
    grows with the op's output) - and begin (and, unless its parts join a
    concatenation, end) at tensors smaller than the largest thing it divides.
    No size threshold: each path's live set is estimated from the lifetimes
    the split will have, and the paths whose estimate beats `arena` are
    yielded best first with every partition count (fewest parts first), for
    the explorer to measure exactly: the estimate ranks paths, it does not
    pick the count (TFLM's greedy layout makes the exact arena hard to foresee).
    """
    sg = model.main
    n = len(sg.operators)
    if n == 0:
        return
    finder = PathFinder(sg)
    producer = sg.producers()
    first_use = {t: producer.get(t, -1) for t in range(len(sg.tensors))}
    last_use = finder.last_use
    acts = [t for t in range(len(sg.tensors)) if sg.is_activation(t) and sg.tensors[t].nbytes > 0
            and (t in producer or t in sg.inputs)]
    # Aligned live bytes per op, the target's kernel scratch included (what
    # TFLM's planner sees on it): the scratch picks which paths divide the
    # peak and ranks them; each candidate is then measured exactly.
    scratch = np.zeros(n + 1, dtype=np.int64)
    for op in sg.operators:
        scratch[op.index] = sum(align(b) for b in rule_for(op).scratch(op, sg, target)
                                if b > 0)
    live = scratch.copy()
    for t in acts:
        a, b = max(first_use[t], 0), min(last_use.get(t, first_use[t]), n)
        live[a:b + 1] += align(sg.tensors[t].nbytes)
    alive = {t: sg.tensors[t].nbytes for t in acts
             if first_use[t] <= peak_op <= last_use.get(t, first_use[t]) and t in producer}

    found: list[tuple] = []
    for first in range(max(0, peak_op - MAX_REACH), peak_op + 1):
        for path, info in finder.paths_from(first):
            if path.last < peak_op:
                continue
            split = [alive[t] for t in info.internal if t in alive]
            if int(scratch[peak_op]) > 0 and peak_op in info.roles \
                    and info.roles[peak_op] != Role.SPLIT_IN:
                split.append(int(scratch[peak_op]))
            if not split:
                continue
            limit = max(split)
            entry = sum(sg.tensors[t].nbytes for t in info.entries)
            exit_b = sg.tensors[info.exit].nbytes
            # (A path from a CONCATENATION reads its inputs where they are.)
            if (entry >= limit and info.fixed is None) \
                    or (exit_b >= limit and path.merge != Merge.JOIN) \
                    or not dense_constants(model, path):
                continue
            ests = _estimates(sg, path, info, live, scratch, first_use, last_use)
            best = min((e for _, e in ests), default=arena)
            if best < arena:
                found.append((best, path.last - path.first, path, [p for p, _ in ests]))
    found.sort(key=lambda f: (f[0], f[1], f[2].first, f[2].merge))
    budget = max_candidates if max_candidates is not None else 1 << 30
    for _, _, path, counts in found:
        if budget <= 0:
            break
        span = source_span(sg, path)
        for parts in counts[:budget]:
            yield FdtStep(segment=path, parts=parts, source_ops=span)
        budget -= len(counts)


def _estimates(sg: Subgraph, path: Path, info: PathInfo, live: np.ndarray,
               scratch: np.ndarray, first_use: dict,
               last_use: dict) -> list[tuple[int, int]]:
    """(parts, estimated peak live bytes) for every partition count that fits.

    The split schedule's live bytes: everything alive outside the path
    (unchanged), the entries (alive through all parts), the finished parts'
    outputs or the running sum, and one part's share of the path's own
    tensors; at a concat merge the exit twice, at a sum merge three times
    (running sum, partial, new sum); a join adds no merge (its
    CONCATENATION was there before). The path ops' scratch is split with them.
    """
    n_ops = len(sg.operators)
    ops = list(path.ops)
    own = set(info.internal) | {info.exit}
    entries = set(info.entries)
    exit_b = align(sg.tensors[info.exit].nbytes)
    entry_b = sum(align(sg.tensors[t].nbytes) for t in entries)
    # Live bytes of the path's own tensors and of its entries, per path op.
    own_live = np.zeros(len(ops), dtype=np.int64)
    ent_live = np.zeros(len(ops), dtype=np.int64)
    for group, arr in ((own, own_live), (entries, ent_live)):
        for t in group:
            a, b = max(first_use[t], 0), last_use.get(t, n_ops)
            for j, i in enumerate(ops):
                if a <= i <= b:
                    arr[j] += align(sg.tensors[t].nbytes)
    for j, i in enumerate(ops):
        own_live[j] += scratch[i] if info.roles[i] != Role.SPLIT_IN else 0
    background = int((live[path.first: path.last + 1] - own_live - ent_live).max())
    outside = np.concatenate([live[: path.first], live[path.last + 1: n_ops]])
    outside_max = int(outside.max()) if outside.size else 0
    if path.merge == Merge.SUM:
        own_live[-1] -= exit_b  # the partial sums are counted apart
    work = int(own_live.max())
    entries_after = entry_b if any(last_use.get(t, n_ops) > path.last for t in entries) else 0
    out: list[tuple[int, int]] = []
    for parts in info.part_counts():
        if path.merge in (Merge.CONCAT, Merge.JOIN):
            during = background + entry_b + exit_b * (parts - 1) // parts + work // parts
            merge = background + 2 * exit_b + entries_after if path.merge == Merge.CONCAT \
                else 0
        else:
            during = background + entry_b + 2 * exit_b + work // parts
            merge = background + 3 * exit_b + entries_after
        out.append((parts, max(during, merge, outside_max)))
    return out
