"""The builtin-options struct TFLite Micro's parser allocates in the tail for each op.

`MicroInterpreter` parses every operator's builtin options into a
`TfLite*Params` struct allocated from the arena's tail (alignment: the
struct's). Ops whose parser keeps no options allocate nothing. Read from
TFLM's `flatbuffer_conversions.cc` (90b983c2); the struct sizes per ABI live
in `memory/tail.py`.
"""

from __future__ import annotations

_POOL = "TfLitePoolParams"
_REDUCER = "TfLiteReducerParams"

BUILTIN_PARAMS: dict[str, str] = {
    "ADD": "TfLiteAddParams", "ARG_MAX": "TfLiteArgMaxParams", "ARG_MIN": "TfLiteArgMinParams",
    "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL, "L2_POOL_2D": _POOL,
    "BATCH_MATMUL": "TfLiteBatchMatMulParams", "CALL_ONCE": "TfLiteCallOnceParams",
    "CONCATENATION": "TfLiteConcatenationParams", "CONV_2D": "TfLiteConvParams",
    "CUMSUM": "TfLiteCumsumParams", "DEPTH_TO_SPACE": "TfLiteDepthToSpaceParams",
    "DEPTHWISE_CONV_2D": "TfLiteDepthwiseConvParams", "DIV": "TfLiteDivParams",
    "FULLY_CONNECTED": "TfLiteFullyConnectedParams", "L2_NORMALIZATION": "TfLiteL2NormParams",
    "LEAKY_RELU": "TfLiteLeakyReluParams", "LSTM": "TfLiteLSTMParams",
    "MIRROR_PAD": "TfLiteMirrorPaddingParams", "MUL": "TfLiteMulParams",
    "PACK": "TfLitePackParams", "RESHAPE": "TfLiteReshapeParams",
    "MEAN": _REDUCER, "SUM": _REDUCER, "REDUCE_ANY": _REDUCER, "REDUCE_ALL": _REDUCER,
    "REDUCE_MAX": _REDUCER, "REDUCE_MIN": _REDUCER, "REDUCE_PROD": _REDUCER,
    "RESIZE_BILINEAR": "TfLiteResizeBilinearParams",
    "RESIZE_NEAREST_NEIGHBOR": "TfLiteResizeNearestNeighborParams",
    "SHAPE": "TfLiteShapeParams", "SOFTMAX": "TfLiteSoftmaxParams",
    "SPACE_TO_DEPTH": "TfLiteSpaceToDepthParams", "SPLIT": "TfLiteSplitParams",
    "SPLIT_V": "TfLiteSplitVParams", "SQUEEZE": "TfLiteSqueezeParams",
    "STRIDED_SLICE": "TfLiteStridedSliceParams", "SUB": "TfLiteSubParams",
    "SVDF": "TfLiteSVDFParams", "TRANSPOSE_CONV": "TfLiteTransposeConvParams",
    "UNPACK": "TfLiteUnpackParams", "VAR_HANDLE": "TfLiteVarHandleParams",
    "CAST": "TfLiteCastParams",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "TfLiteUnidirectionalSequenceLSTMParams",
    "GATHER": "TfLiteGatherParams", "IF": "TfLiteIfParams", "WHILE": "TfLiteWhileParams",
}
