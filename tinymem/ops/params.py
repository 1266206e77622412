"""The builtin-options struct TFLite Micro's parser allocates in the tail for each op.

`MicroInterpreter` parses every operator's builtin options into a
`TfLite*Params` struct allocated from the arena's tail (alignment: the
struct's). Ops whose parser keeps no options allocate nothing. Read from
TFLM's `flatbuffer_conversions.cc` (90b983c2); the struct sizes per ABI live
in `memory/tail.py`.
"""

from __future__ import annotations

from .tflm import camel_case


def _named(*ops: str) -> dict[str, str]:
    """Ops whose struct TFLM names after them: ADD -> TfLiteAddParams."""
    return {op: f"TfLite{camel_case(op)}Params" for op in ops}


def _shared(struct: str, *ops: str) -> dict[str, str]:
    return dict.fromkeys(ops, struct)


BUILTIN_PARAMS: dict[str, str] = {
    **_named("ADD", "ARG_MAX", "ARG_MIN", "CALL_ONCE", "CAST", "CONCATENATION", "CUMSUM",
             "DEPTH_TO_SPACE", "DIV", "FULLY_CONNECTED", "GATHER", "IF", "LEAKY_RELU", "MUL",
             "PACK", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "SHAPE",
             "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQUEEZE", "STRIDED_SLICE", "SUB",
             "TRANSPOSE_CONV", "UNPACK", "VAR_HANDLE", "WHILE"),
    **_shared("TfLitePoolParams", "AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"),
    **_shared("TfLiteReducerParams", "MEAN", "SUM", "REDUCE_ANY", "REDUCE_ALL", "REDUCE_MAX",
              "REDUCE_MIN", "REDUCE_PROD"),
    # Spelt otherwise than the op.
    "BATCH_MATMUL": "TfLiteBatchMatMulParams", "CONV_2D": "TfLiteConvParams",
    "DEPTHWISE_CONV_2D": "TfLiteDepthwiseConvParams", "L2_NORMALIZATION": "TfLiteL2NormParams",
    "LSTM": "TfLiteLSTMParams", "MIRROR_PAD": "TfLiteMirrorPaddingParams",
    "SVDF": "TfLiteSVDFParams",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "TfLiteUnidirectionalSequenceLSTMParams",
}
