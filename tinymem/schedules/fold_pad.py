"""Folding an explicit PAD into the convolution after it (exact, costs nothing).

Converters from PyTorch (and some hand-written graphs) emit PAD + a VALID
convolution where TFLite's SAME padding would do. When the PAD adds exactly
the rows and columns SAME adds for that kernel, stride and dilation, and it
pads with the value SAME stands for (the input's zero point, 0.0 for float),
the convolution can read the unpadded tensor with SAME padding: the padded
elements contribute (zero point - zero point) x weight = 0 in both, so the
result is bit-identical, and the padded tensor is never allocated.
"""

from __future__ import annotations

from ..graph.ir import Model, Operator, Subgraph
from ..ops import Pad, SamePadding, rule_for
from ..ops.conv import same_pad_before
from ..ops.movement import constant_values, spatial_pads
from .edit import GraphEditor, clone

def _pad_value_is_zero_point(op: Operator, pad: Pad, sg: Subgraph) -> bool:
    """Does the PAD pad with what SAME padding means: the zero point (float: 0)?"""
    x, y = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
    if x.dtype != y.dtype or x.quantization != y.quantization:
        return False
    zp = x.quantization.zero_point[0] if x.quantization and x.quantization.zero_point else 0
    value = pad.value(op)
    if value is not None:  # a pad value of its own (PADV2's constant)
        v = constant_values(sg, value)
        return v is not None and getattr(v, "size", 0) == 1 and int(v.reshape(-1)[0]) == zp
    # TFLM's PAD pads int8/uint8 with the output's zero point, others with 0.
    return x.dtype in ("int8", "uint8") or zp == 0


def _same_as(pads, x_shape, y_shape, w_shape, options) -> bool:
    for axis, (before, after), s_key, d_key in ((1, pads[0], "stride_h", "dilation_h_factor"),
                                               (2, pads[1], "stride_w", "dilation_w_factor")):
        s = options.get(s_key, 1) or 1
        d = options.get(d_key, 1) or 1
        k = w_shape[axis]
        n, out = x_shape[axis], y_shape[axis]
        if out != -(-n // s):  # SAME's output size
            return False
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        lead = same_pad_before(n, out, k, s, d)
        if (before, after) != (lead, total - lead):
            return False
    return True


def foldable(sg: Subgraph) -> dict[int, int]:
    """PAD op index -> index of the VALID convolution it can be folded into."""
    consumers = sg.consumers()
    outputs = set(sg.outputs)
    found: dict[int, int] = {}
    for op in sg.operators:
        pad = rule_for(op).pad
        if pad is None or not op.outputs or op.outputs[0] < 0:
            continue
        y = op.outputs[0]
        readers = consumers.get(y, [])
        if y in outputs or len(readers) != 1 or not sg.is_activation(op.inputs[0]):
            continue
        conv = sg.operators[readers[0]]
        # Only where SAME pads with the zero point may the op's VALID become SAME.
        if rule_for(conv).same_padding != SamePadding.ZERO_POINT \
                or conv.options.get("padding") != "VALID" \
                or conv.inputs[0] != y or y in conv.inputs[1:]:
            continue
        pads = spatial_pads(op, sg)
        if pads is None or not _pad_value_is_zero_point(op, pad, sg):
            continue
        x, w, out = (sg.tensors[op.inputs[0]], sg.tensors[conv.inputs[1]],
                     sg.tensors[conv.outputs[0]])
        if len(w.shape) != 4 or len(out.shape) != 4 or \
                not _same_as(pads, x.shape, out.shape, w.shape, conv.options):
            continue
        found[op.index] = conv.index
    return found


def fold_pads(model: Model) -> tuple[Model, int] | None:
    """The model with every foldable PAD folded, and how many; None if none is."""
    sg = model.main
    folds = foldable(sg)
    if not folds:
        return None
    into = {conv: pad for pad, conv in folds.items()}
    ed = GraphEditor(model, 0)
    for op in sg.operators:
        origin = op.origin if op.origin is not None else op.index
        if op.index in folds:
            continue
        if op.index in into:
            src = sg.operators[into[op.index]].inputs[0]
            opts = dict(op.options, padding="SAME")
            ed.keep(clone(op, inputs=(src,) + tuple(op.inputs[1:]), options=opts, origin=origin))
        else:
            ed.keep(clone(op, origin=origin))
    return ed.finish(), len(folds)
