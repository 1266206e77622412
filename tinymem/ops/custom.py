"""Custom ops whose memory TFLite Micro's kernels are known to ask for."""

from __future__ import annotations

import tflite

from .. import dtypes
from ..ir import Operator, Subgraph
from .base import OpRule
from .shapes import dim, inp


def custom_options(op: Operator) -> dict:
    """The op's flexbuffer custom options as a dict (empty if absent or unreadable)."""
    if not op.custom_options:
        return {}
    try:
        from flatbuffers import flexbuffers

        val = flexbuffers.Loads(op.custom_options)
    except Exception:  # custom options are free-form; unreadable ones just give no figures
        return {}
    return val if isinstance(val, dict) else {}


# The element types SignalRfft's "T" option (a TensorType code) may name.
_RFFT_TYPES = {tflite.TensorType.INT16, tflite.TensorType.INT32, tflite.TensorType.FLOAT32}


def rfft_scratch(op: Operator, sg: Subgraph) -> list[int]:
    opts = custom_options(op)
    n, t = opts.get("fft_length"), opts.get("T")
    if not isinstance(n, int) or t not in _RFFT_TYPES:
        return []
    return [dtypes.nbytes(dtypes.dtype_name(t), n)]


def detection_postprocess_scratch(op: Operator, sg: Subgraph) -> list[int]:
    opts = custom_options(op)
    md, nc = opts.get("max_detections"), opts.get("num_classes")
    boxes, classes = inp(sg, op, 0), inp(sg, op, 1)
    if not isinstance(md, int) or not isinstance(nc, int) or boxes is None or classes is None:
        return []
    nb = dim(boxes, 1)
    return [nb, nb * 16, dim(classes, 1) * dim(classes, 2) * 4, nb * 4, nb * 4, md * nb * 4,
            md * nb * 4, nb * 4, md * nb * 4, max(nc, md) * nb * 4, min(nb, md) * nb * 4]


RULES = [
    OpRule("CUSTOM:SignalRfft", scratch=rfft_scratch),
    OpRule("CUSTOM:TFLite_Detection_PostProcess", scratch=detection_postprocess_scratch),
]
