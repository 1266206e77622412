"""Ops that move or reshape data without arithmetic."""

from __future__ import annotations

from ..ir import Operator, Subgraph
from .base import NO_MACS, Channels, OpRule, Window
from .shapes import inp, out


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


def mirror_pad_scratch(op: Operator, sg: Subgraph) -> list[int]:
    x = inp(sg, op, 0)
    return [len(x.shape) * 4] * 2 if x is not None else []


RULES = [
    OpRule("MIRROR_PAD", macs=NO_MACS, scratch=mirror_pad_scratch),
    OpRule("PAD", macs=NO_MACS, window=pad_window, channels=Channels.CHANNELWISE),
    OpRule("PADV2", macs=NO_MACS, window=pad_window, channels=Channels.CHANNELWISE),
] + [
    # Channel-wise when the channel axis stays last (the splitter checks).
    OpRule(name, macs=NO_MACS, channels=Channels.CHANNELWISE)
    for name in ("RESHAPE", "SQUEEZE")
] + [
    OpRule(name, macs=NO_MACS)
    for name in (
        "EXPAND_DIMS", "CONCATENATION",
        "SPLIT", "SPLIT_V", "SLICE", "STRIDED_SLICE", "TRANSPOSE", "GATHER", "GATHER_ND",
        "PACK", "UNPACK", "TILE", "BROADCAST_TO", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
        "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
        "FILL", "SHAPE", "RANK", "REVERSE_V2", "ONE_HOT", "RANGE", "SCATTER_ND",
        "DYNAMIC_UPDATE_SLICE", "BROADCAST_ARGS", "VAR_HANDLE", "READ_VARIABLE",
        "ASSIGN_VARIABLE", "EMBEDDING_LOOKUP", "IF", "WHILE", "CALL_ONCE",
    )
]
