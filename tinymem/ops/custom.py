"""Custom ops whose memory TFLite Micro's kernels are known to ask for."""

from __future__ import annotations

import tflite

from ..read import dtypes
from ..graph.ir import Operator, Subgraph
from ..targets import Target
from .base import OpData, OpRule
from .shapes import dim, inp
from .tflm import Tflm, kernel, tflm


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


def rfft_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    opts = custom_options(op)
    n, t = opts.get("fft_length"), opts.get("T")
    if not isinstance(n, int) or t not in _RFFT_TYPES:
        return []
    return [dtypes.nbytes(dtypes.dtype_name(t), n)]


# kiss_fft's complex sample per SignalRfft element type: two of it.
_CPX_BYTES = {tflite.TensorType.INT16: 4, tflite.TensorType.INT32: 8,
              tflite.TensorType.FLOAT32: 8}
_KISS_FFT_STATE = 4 + 4 + 4 * 2 * 32  # nfft, inverse, factors[2 * MAXFACTORS]


def rfft_state(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    """The kiss_fftr state SignalRfft's Init allocates (kiss_fftr_alloc's size for
    fft_length): the real-FFT header (three pointers), the complex FFT of half the
    length (its header and half-length twiddles), then 3/4 of the length in super
    twiddles and work space."""
    opts = custom_options(op)
    n, t = opts.get("fft_length"), opts.get("T")
    if not isinstance(n, int) or n <= 0 or t not in _CPX_BYTES:
        return []
    cpx, half = _CPX_BYTES[t], n // 2
    pointer = target.pointer_bytes if target is not None else 8
    return [3 * pointer + _KISS_FFT_STATE + cpx * half + cpx * (half * 3 // 2)]


def detection_postprocess_scratch(op: Operator, sg: Subgraph, target: Target | None = None) -> list[int]:
    opts = custom_options(op)
    md, nc = opts.get("max_detections"), opts.get("num_classes")
    boxes, classes = inp(sg, op, 0), inp(sg, op, 1)
    if not isinstance(md, int) or not isinstance(nc, int) or boxes is None or classes is None:
        return []
    nb = dim(boxes, 1)
    return [nb, nb * 16, dim(classes, 1) * dim(classes, 2) * 4, nb * 4, nb * 4, md * nb * 4,
            md * nb * 4, nb * 4, md * nb * 4, max(nc, md) * nb * 4, min(nb, md) * nb * 4]


# Custom ops the firmware's resolver (as the tflite-micro wheel's) registers by name:
# the signal library and TFLM's own. Their types are not checked.
_SIGNAL = {
    "SignalDelay": "AddDelay", "SignalEnergy": "AddEnergy",
    "SignalFftAutoScale": "AddFftAutoScale", "SignalFilterBank": "AddFilterBank",
    "SignalFilterBankLog": "AddFilterBankLog",
    "SignalFilterBankSquareRoot": "AddFilterBankSquareRoot",
    "SignalFilterBankSpectralSubtraction": "AddFilterBankSpectralSubtraction",
    "SignalFramer": "AddFramer", "SignalIrfft": "AddIrfft", "SignalOverlapAdd": "AddOverlapAdd",
    "SignalPCAN": "AddPCAN", "SignalStacker": "AddStacker", "SignalWindow": "AddWindow",
    "CIRCULAR_BUFFER": "AddCircularBuffer", "TFLM_DECODE": "AddDecode",
}
_ANY = kernel("*->*")

# OpData bytes of the Signal ops, measured per node on the Cortex-M firmware.
_SIGNAL_OPDATA = {"SignalWindow": 8, "SignalEnergy": 16, "SignalFilterBank": 384,
                  "SignalFilterBankLog": 16, "SignalFilterBankSpectralSubtraction": 208,
                  "SignalPCAN": 16, "SignalFftAutoScale": 0, "SignalFilterBankSquareRoot": 0}
# On x86-64 (the wheel) the params structs that hold pointers are 16 B larger once aligned:
# FilterBank's config has five pointers and a work-area pointer (36 -> 64 B), spectral
# subtraction's a pointer and a size_t after a 36 B config (44 -> 64 B).
_SIGNAL_OPDATA_HOST = {"SignalFilterBank": 400, "SignalFilterBankSpectralSubtraction": 224}

RULES = [
    # Its params (four int32, a TfLiteType, two pointers, an int: 32 B on Arm EABI, 48 B on
    # x86-64), then the kiss_fftr state for its fft_length.
    OpRule("CUSTOM:SignalRfft", scratch=rfft_scratch,
           opdata=OpData(32, host=48), init=rfft_state,
           tflm=tflm("AddRfft", _ANY),
           ),
    # detection_postprocess.cc: float32 box encodings and class scores only.
    OpRule("CUSTOM:TFLite_Detection_PostProcess", scratch=detection_postprocess_scratch,
           opdata=OpData(112),  # its OpData: the parsed options and scratch indices
           tflm=tflm("AddDetectionPostprocess", kernel("float32->float32")),
           ),
    # Vela's output: an Ethos-U command stream. ethosu.cc outside an Ethos-U build is a
    # stub whose registration is null, so AddEthosU registers nothing.
    OpRule("CUSTOM:ethos-u",
           tflm=Tflm("AddEthosU", needs="an Ethos-U NPU build of TFLM (Vela output)"),
           ),
] + [
    # Signal front-end ops: their state lives in OpData (measured on the firmware).
    OpRule(f"CUSTOM:{name}",
           opdata=OpData(_SIGNAL_OPDATA.get(name, 0), host=_SIGNAL_OPDATA_HOST.get(name)),
           tflm=tflm(method, _ANY),
           )
    for name, method in _SIGNAL.items()
]
