"""Ops that move or reshape data without arithmetic."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..read import dtypes
from ..targets import Target
from .base import (Channels, ChannelWise, NO_MACS, InPlace, InPlaceMode, OpData, OpRule, Pad,
                   Placement, Window, rules)
from .shapes import inp, int_array_bytes, out, output_dims_copy
from .tflm import constant_input, input_rank, kernel, same_types, tflm


def constant_values(sg: Subgraph, t: int):
    """The values of a small constant operand (paddings, axes, shapes), or None."""
    ten = sg.tensors[t] if t >= 0 else None
    if ten is None or not ten.has_data:
        return None
    return ten.data if ten.data is not None else ten.value


def spatial_pads(op: Operator, sg: Subgraph):
    """((top, bottom), (left, right)) of a PAD on an NHWC tensor that pads only H and W."""
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or len(x.shape) != 4 or len(op.inputs) < 2:
        return None
    pads = constant_values(sg, op.inputs[1])
    if pads is None or getattr(pads, "size", 0) != 8:
        return None
    p = pads.reshape(4, 2).tolist()
    if p[0] != [0, 0] or p[3] != [0, 0] or min(min(r) for r in p) < 0:
        return None
    return (p[1][0], p[1][1]), (p[2][0], p[2][1])


def pad_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    pads = spatial_pads(op, sg)
    if pads is None:
        return None
    # Output row r reads input row r - top: a 1x1 window shifted by the padding.
    return Window(pad_before=pads[0][0]), Window(pad_before=pads[1][0])


def concat_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    """A join along channels (inception, fire, a UNet decoder's skip): every
    output row and column is its inputs' same row and column side by side, so
    a tile of it is the concatenation of its inputs' same tiles. Joins along
    H or W, and constant operands (they would need slicing), do not tile."""
    y = out(sg, op, 0)
    if y is None or len(y.shape) != 4:
        return None
    if op.options.get("axis") not in (3, -1):
        return None
    for t in op.real_inputs():
        x = sg.tensors[t]
        if x.has_data or len(x.shape) != 4 or x.shape[:3] != y.shape[:3]:
            return None
    return Window(), Window()


def reshape_output_bytes(op: Operator, sg: Subgraph) -> int | None:
    """A -1 in the output's shape is resolved from the input's size in Prepare."""
    y, x = out(sg, op, 0), inp(sg, op, 0)
    if y is None or x is None or -1 not in y.shape:
        return None
    known = 1
    for d in y.shape:
        if d != -1:
            known *= max(d, 1)
    n = x.num_elements // known if known else 0
    return dtypes.nbytes(y.dtype, n * known)


def reshape_persistent(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    # reshape_common.cc: an output shape with a -1 is resolved in Prepare, on dims
    # moved to the tail first.
    y = out(sg, op, 0)
    return [int_array_bytes(len(y.shape))] if y is not None and -1 in y.shape else []


def embedding_lookup_persistent(op: Operator, sg: Subgraph,
                                target: Target | None = None) -> list[int]:
    # embedding_lookup.cc Prepare: the output's dims, then OpData (a float scale and a
    # size_t column count).
    size_t = target.pointer_bytes if target is not None else 8
    return output_dims_copy(op, sg, target) + [2 * size_t]
def _same_quantisation(a, b) -> bool:
    qa, qb = a.quantization, b.quantization
    if qa is None or qb is None:
        return (qa is None or not qa.scale) and (qb is None or not qb.scale)
    return tuple(qa.scale) == tuple(qb.scale) and tuple(qa.zero_point) == tuple(qb.zero_point)


def concat_chunks(op: Operator, sg: Subgraph) -> list[Placement] | None:
    """Each input of a join as a contiguous chunk of the output, in input order.

    reference_ops::Concatenation (kernels/internal/reference/concatenation.h,
    which TFLM's concatenation.cc calls for every type, with no CMSIS-NN
    variant) copies, for each of `outer_size` = the product of the axes before
    the join axis, each input's slab with one memcpy, in input order. With
    outer_size 1 input i is one memcpy to the output at the bytes of the inputs
    before it: placed there, the copy is onto itself. TFLM's kernel never
    rescales (its Prepare refuses int8 inputs whose scale or zero point differ
    from the output's); LiteRT's does, so equal quantisation is asked of every
    input: then no kernel has anything to change.
    """
    y = out(sg, op, 0)
    if y is None or not y.shape:
        return None
    axis = op.options.get("axis", 0)
    axis = axis + len(y.shape) if axis < 0 else axis
    if not 0 <= axis < len(y.shape) or any(d != 1 for d in y.shape[:axis]):
        return None
    places, at = [], 0
    for k, t in enumerate(op.inputs):
        if t < 0:
            return None
        x = sg.tensors[t]
        if x.dtype != y.dtype or len(x.shape) != len(y.shape) or not _same_quantisation(x, y):
            return None
        places.append(Placement(k, at, at))
        at += x.nbytes
    return places if at == y.nbytes else None


def pad_tail(op: Operator, sg: Subgraph) -> list[Placement] | None:
    """Where PAD's input may sit inside its output: at its end, or up to the
    bytes written after the last input element earlier.

    Both kernels write the output front to back. reference_ops::PadImpl (the
    reference kernel, and CMSIS-NN's for all but int8) copies element by
    element, reading input k just before writing it; CMSIS-NN's int8 kernel
    (arm_pad_s8) memsets each run of padding and memcpys each input row
    forward, to an address at or below the row's. Input element k lands at
    output element p(k) = k + (pad elements before it), which grows with k.
    With the input at byte offset o, a write at output byte b destroys input
    byte b - o; every input element is read before that as long as o is at
    least the padding before the last element: out - in - (padding after it).
    """
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or x.dtype != y.dtype or len(op.inputs) < 2:
        return None
    pads = constant_values(sg, op.inputs[1])
    rank = len(x.shape)
    if pads is None or rank == 0 or getattr(pads, "size", 0) != 2 * rank \
            or len(y.shape) != rank or x.num_elements == 0:
        return None
    p = pads.reshape(rank, 2).tolist()
    if min(min(r) for r in p) < 0:
        return None
    if any(x.shape[d] + p[d][0] + p[d][1] != y.shape[d] for d in range(rank)):
        return None
    # Output element of the input's last element, in row-major order.
    last, stride = 0, 1
    for d in reversed(range(rank)):
        last += (p[d][0] + x.shape[d] - 1) * stride
        stride *= y.shape[d]
    width = y.nbytes // y.num_elements
    after = y.num_elements - 1 - last
    spare = y.num_elements - x.num_elements
    return [Placement(0, (spare - after) * width, spare * width)]


def mirror_pad_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x = inp(sg, op, 0)
    return [len(x.shape) * 4] * 2 if x is not None else []


_IDX = ("float32", "int8", "int16", "int32")
_4D = input_rank("4-D", 4, 4)

# What TFLM registers for each op: the data types its kernel switches on and the
# Prepare checks a model can fail (pad_common.cc, strided_slice_common.cc, fill.cc,
# split.cc, resize_*.cc, expand_dims.cc, broadcast_to.cc: "Non-constant >x< tensor is
# not supported"). TILE, RANK, ONE_HOT, RANGE and SCATTER_ND have no TFLM kernel;
# RESHAPE, SQUEEZE, the variable and control-flow ops copy or route any type.
TFLM = {
    "MIRROR_PAD": same_types("AddMirrorPad", "float32", "int8"),
    "PAD": same_types("AddPad", *_IDX, checks=(constant_input(1, "paddings"),
                                               input_rank("at most 5-D", 0, 5))),
    "PADV2": same_types("AddPadV2", *_IDX, checks=(constant_input(1, "paddings"),
                                                   input_rank("at most 5-D", 0, 5))),
    "RESHAPE": tflm("AddReshape", kernel("*->*")),
    "SQUEEZE": tflm("AddSqueeze", kernel("*->*")),
    "EXPAND_DIMS": same_types("AddExpandDims", "float32", "int8", "int16",
                              checks=(constant_input(1, "axis"),)),
    "CONCATENATION": same_types("AddConcatenation", *_IDX, "int64", "bool"),
    "SPLIT": tflm("AddSplit", kernel(*(f"{d}->{d}" for d in _IDX), data=1,
                                     checks=(constant_input(0, "axis"),))),
    "SPLIT_V": same_types("AddSplitV", *_IDX, checks=(constant_input(2, "axis"),)),
    "SLICE": same_types("AddSlice", *_IDX, "bool", checks=(input_rank("at most 5-D", 0, 5),)),
    "STRIDED_SLICE": same_types("AddStridedSlice", *_IDX, "bool", checks=(
        constant_input(1, "begin"), constant_input(2, "end"), constant_input(3, "strides"),
        input_rank("at most 4-D", 0, 4))),
    "TRANSPOSE": same_types("AddTranspose", "float32", "int8", "int16",
                            checks=(input_rank("at most 5-D", 0, 5),)),
    "GATHER": same_types("AddGather", "float32", "int8"),
    "GATHER_ND": same_types("AddGatherNd", "float32", "int8"),
    "PACK": same_types("AddPack", *_IDX, "int64"),
    "UNPACK": same_types("AddUnpack", *_IDX),
    "BROADCAST_TO": tflm("AddBroadcastTo", kernel("*->*", checks=(constant_input(1, "shape"),))),
    "SPACE_TO_DEPTH": same_types("AddSpaceToDepth", "float32", "int8", checks=(_4D,)),
    "DEPTH_TO_SPACE": same_types("AddDepthToSpace", "float32", "int8", checks=(_4D,)),
    "SPACE_TO_BATCH_ND": same_types("AddSpaceToBatchNd", "float32", "int8",
                                    checks=(input_rank("3-D or 4-D", 3, 4),)),
    "BATCH_TO_SPACE_ND": same_types("AddBatchToSpaceNd", "float32", "int8",
                                    checks=(input_rank("3-D or 4-D", 3, 4),)),
    "RESIZE_NEAREST_NEIGHBOR": same_types("AddResizeNearestNeighbor", "float32", "int8", "int16",
                                          checks=(_4D, constant_input(1, "size"))),
    "RESIZE_BILINEAR": same_types("AddResizeBilinear", "float32", "int8",
                                  checks=(_4D, constant_input(1, "size"))),
    # fill.cc: the value (input 1) gives the type; the dims must be a constant.
    "FILL": tflm("AddFill", kernel("float32->float32", "int32->int32", "int8->int8", data=1,
                                   checks=(constant_input(0, "dims"),))),
    "SHAPE": tflm("AddShape", kernel("*->int32")),
    "REVERSE_V2": same_types("AddReverseV2", *_IDX, "int64", "bool", "uint8"),
    "DYNAMIC_UPDATE_SLICE": same_types("AddDynamicUpdateSlice", *_IDX),
    "BROADCAST_ARGS": same_types("AddBroadcastArgs", "int32", "int64"),
    "VAR_HANDLE": tflm("AddVarHandle", kernel("*->*")),
    "READ_VARIABLE": tflm("AddReadVariable", kernel("*->*")),
    "ASSIGN_VARIABLE": tflm("AddAssignVariable", kernel("*->*")),
    # embedding_lookup.cc: float32 or int8 values (input 1); int8 values may dequantize.
    "EMBEDDING_LOOKUP": tflm("AddEmbeddingLookup", kernel(
        "float32->float32", "int8->int8", "int8->float32", data=1)),
    "IF": tflm("AddIf", kernel("*->*")),
    "WHILE": tflm("AddWhile", kernel("*->*")),
    "CALL_ONCE": tflm("AddCallOnce", kernel("*->*")),
}

def pad_channels(op: Operator, sg: Subgraph, flat: bool) -> bool:
    # Pads other axes only: each channel is padded on its own (with the same value).
    x = inp(sg, op, 0)
    pads = constant_values(sg, op.inputs[1]) if len(op.inputs) > 1 else None
    if flat or x is None or pads is None or getattr(pads, "size", 0) != 2 * len(x.shape):
        return False
    return pads.reshape(-1, 2)[-1].tolist() == [0, 0]


_PAD_CHANNELS = ChannelWise(check=pad_channels, params=(1, 2))
# The shape operand is rewritten per part (the last entry is the part's width).
_VIEW = ChannelWise(view=True, params=(1,), shape_input=1)

# PAD overwrites its input as it goes (a model input only with the user's leave).
_PAD_IN_PLACE = InPlace((0,), mode=InPlaceMode.INPUT_AT_TAIL, placement=pad_tail)
# A join's copies leave every input's bytes as they were.
_CONCAT_IN_PLACE = InPlace(mode=InPlaceMode.INPUTS_AS_CHUNKS, placement=concat_chunks,
                           writes=False)

RULES = [
    # MIRROR_PAD reads its input backwards at the far borders: never in place.
    OpRule("MIRROR_PAD", macs=NO_MACS, scratch=mirror_pad_scratch,
           opdata=OpData(20),  # five ints: dims, sizes and an offset
           tflm=TFLM["MIRROR_PAD"],
           ),
    OpRule("PAD", macs=NO_MACS, window=pad_window, channels=Channels.CHANNELWISE, copies=True,
           channelwise=_PAD_CHANNELS,
           in_place=_PAD_IN_PLACE, pad=Pad(),
           opdata=OpData(56),
           tflm=TFLM["PAD"],
           ),
    # PADV2 runs PAD's kernels (pad.cc registers both), the value a constant.
    OpRule("PADV2", macs=NO_MACS, window=pad_window, channels=Channels.CHANNELWISE, copies=True,
           channelwise=_PAD_CHANNELS,
           in_place=_PAD_IN_PLACE, pad=Pad(value_input=2),
           opdata=OpData(56),
           tflm=TFLM["PADV2"],
           ),
] + [
    # Channel-wise when the channel axis stays last (the splitter checks).
    # TFLM's RESHAPE copies only when input and output differ in memory
    # (reshape.cc); SQUEEZE always memcpy()s, which is undefined on one buffer.
    OpRule("RESHAPE", macs=NO_MACS, channels=Channels.CHANNELWISE, channelwise=_VIEW,
           in_place=InPlace((0,), same_shape=False, writes=False),
           persistent=reshape_persistent, output_bytes=reshape_output_bytes,
           tflm=TFLM["RESHAPE"],
           ),
    OpRule("SQUEEZE", macs=NO_MACS, channels=Channels.CHANNELWISE,
           channelwise=ChannelWise(view=True),
           tflm=TFLM["SQUEEZE"],
           ),
    # EXPAND_DIMS copies element by element (output[i] = input[i]): a no-op in place.
    OpRule("EXPAND_DIMS", macs=NO_MACS, channels=Channels.CHANNELWISE,
           channelwise=ChannelWise(view=True, params=(1,)),
           in_place=InPlace((0,), same_shape=False, writes=False),
           tflm=TFLM["EXPAND_DIMS"],
           ),
] + [
    # OpData is ConcatenationParams (six 4-byte fields, 24 B on the firmware); the wheel's
    # build (USE_TFLM_COMPRESSION) adds kMaxInputNum scratch indices: 40 + 40 B on x86-64.
    OpRule("CONCATENATION", macs=NO_MACS, copies=True, channels=Channels.CONCAT,
           window=concat_window, in_place=_CONCAT_IN_PLACE,
           opdata=OpData(24, host=80),
           tflm=TFLM.get("CONCATENATION"),
           ),
    # StridedSliceParams (3 x (count + 5 int32), 5 masks, offset): 84 B.
    OpRule("STRIDED_SLICE", macs=NO_MACS, copies=True,
           opdata=OpData(84),
           tflm=TFLM.get("STRIDED_SLICE"),
           ),
] + rules((
    # Their Prepare writes the output's shape, on dims it first moves to the tail.
    "GATHER", "GATHER_ND", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
), TFLM, macs=NO_MACS, persistent=output_dims_copy) + [
    OpRule("EMBEDDING_LOOKUP", macs=NO_MACS, persistent=embedding_lookup_persistent,
           tflm=TFLM["EMBEDDING_LOOKUP"]),
] + rules((
    "SPLIT", "SPLIT_V", "SLICE", "TRANSPOSE",
    "PACK", "UNPACK", "TILE", "BROADCAST_TO", "BATCH_TO_SPACE_ND", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
    "FILL", "SHAPE", "RANK", "REVERSE_V2", "ONE_HOT", "RANGE", "SCATTER_ND",
    "DYNAMIC_UPDATE_SLICE", "BROADCAST_ARGS", "READ_VARIABLE", "ASSIGN_VARIABLE",
), TFLM, macs=NO_MACS) + [
    # SpaceToBatchParams: the output's zero point.
    OpRule("SPACE_TO_BATCH_ND", macs=NO_MACS, opdata=OpData(4), tflm=TFLM["SPACE_TO_BATCH_ND"]),
    OpRule("VAR_HANDLE", macs=NO_MACS, makes_resource=True, tflm=TFLM["VAR_HANDLE"]),
    # Control flow: the subgraphs each calls, by option key.
    OpRule("IF", macs=NO_MACS, calls=("then_subgraph_index", "else_subgraph_index"),
           tflm=TFLM["IF"]),
    OpRule("WHILE", macs=NO_MACS, calls=("cond_subgraph_index", "body_subgraph_index"),
           tflm=TFLM["WHILE"]),
    OpRule("CALL_ONCE", macs=NO_MACS, calls=("init_subgraph_index",), tflm=TFLM["CALL_ONCE"]),
]
