"""Spatial pooling: AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph
from ..targets import Target
from . import cmsis_nn as cm
from .base import Channels, ChannelWise, OpData, OpRule, SamePadding, Window
from .conv import same_pad_before
from .shapes import dim, elements, inp, out, output_dims_copy
from .tflm import input_rank, same_types


def pool_window(op: Operator, sg: Subgraph) -> tuple[Window, Window] | None:
    x, y = inp(sg, op, 0), out(sg, op, 0)
    if x is None or y is None or len(x.shape) != 4:
        return None
    o = op.options
    wins = []
    for axis, k_key, s_key in ((1, "filter_height", "stride_h"), (2, "filter_width", "stride_w")):
        k = o.get(k_key, 1) or 1
        s = o.get(s_key, 1) or 1
        pad = same_pad_before(dim(x, axis), dim(y, axis), k, s, 1) if o.get("padding") == "SAME" else 0
        wins.append(Window(kernel=k, stride=s, pad_before=pad))
    return wins[0], wins[1]


def pool_macs(op: Operator, sg: Subgraph) -> int | None:
    # One accumulate (or compare) per window element per output.
    o = op.options
    return elements(out(sg, op, 0)) * (o.get("filter_height", 1) or 1) * (o.get("filter_width", 1) or 1)


def avgpool_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    x = inp(sg, op, 0)
    if cm.uses_cmsis(target) and x is not None and x.dtype in ("int8", "int16"):
        n = cm.avgpool(target.isa, dim(x, -1))
        return [n] if n else []
    return []


# pooling_common.cc / cmsis_nn/pooling.cc: float32, int8, int16 ("Type not supported"
# otherwise); l2_pool_2d.cc: float32 only, 4-D.
_POOL_TFLM = {
    "AVERAGE_POOL_2D": same_types("AddAveragePool2D", "float32", "int8", "int16"),
    "MAX_POOL_2D": same_types("AddMaxPool2D", "float32", "int8", "int16"),
    "L2_POOL_2D": same_types("AddL2Pool2D", "float32", checks=(input_rank("4-D", 4, 4),)),
}

def pool_channels(op: Operator, sg: Subgraph, flat: bool) -> bool:
    # Each output channel pools its own input channel over H and W.
    x, y = inp(sg, op, 0), out(sg, op, 0)
    return not flat and x is not None and y is not None and len(x.shape) == 4 \
        and y.shape[-1:] == x.shape[-1:]


_POOL_CHANNELS = ChannelWise(check=pool_channels)

RULES = [
    OpRule("AVERAGE_POOL_2D", macs=pool_macs, window=pool_window, same_padding=SamePadding.EXCLUDED,
           channels=Channels.CHANNELWISE,
           channelwise=_POOL_CHANNELS,
           scratch=avgpool_scratch,
           opdata=OpData(32, cmsis_nn=36),
           tflm=_POOL_TFLM["AVERAGE_POOL_2D"],
           ),
    OpRule("MAX_POOL_2D", macs=pool_macs, window=pool_window, same_padding=SamePadding.EXCLUDED,
           channels=Channels.CHANNELWISE,
           channelwise=_POOL_CHANNELS,
           opdata=OpData(32, cmsis_nn=36),
           tflm=_POOL_TFLM["MAX_POOL_2D"],
           ),
    # l2_pool_2d.cc has no Init; its Prepare moves the output's dims to the tail.
    OpRule("L2_POOL_2D", macs=pool_macs, window=pool_window, same_padding=SamePadding.EXCLUDED,
           channels=Channels.CHANNELWISE,
           channelwise=_POOL_CHANNELS,
           persistent=output_dims_copy,
           tflm=_POOL_TFLM["L2_POOL_2D"],
           ),
]
