"""TFLite tensor element types: their schema codes, names, sizes in the arena and numpy types."""

from __future__ import annotations

import tflite

# TensorType value -> (name, bits per element). Sizes follow TFLite Micro's
# TfLiteTypeSizeOf; types with no fixed size (string, resource, variant) are 0
# and are reported as such rather than guessed.
_TYPES: dict[int, tuple[str, int]] = {
    tflite.TensorType.FLOAT32: ("float32", 32),
    tflite.TensorType.FLOAT16: ("float16", 16),
    tflite.TensorType.INT32: ("int32", 32),
    tflite.TensorType.UINT8: ("uint8", 8),
    tflite.TensorType.INT64: ("int64", 64),
    tflite.TensorType.STRING: ("string", 0),
    tflite.TensorType.BOOL: ("bool", 8),
    tflite.TensorType.INT16: ("int16", 16),
    tflite.TensorType.COMPLEX64: ("complex64", 64),
    tflite.TensorType.INT8: ("int8", 8),
    tflite.TensorType.FLOAT64: ("float64", 64),
    tflite.TensorType.COMPLEX128: ("complex128", 128),
    tflite.TensorType.UINT64: ("uint64", 64),
    # A resource handle is an int32 in TFLite Micro.
    tflite.TensorType.RESOURCE: ("resource", 32),
    tflite.TensorType.VARIANT: ("variant", 0),
    tflite.TensorType.UINT32: ("uint32", 32),
    tflite.TensorType.UINT16: ("uint16", 16),
    # TFLite Micro keeps int4 activations unpacked, one byte per element.
    tflite.TensorType.INT4: ("int4", 8),
    tflite.TensorType.BFLOAT16: ("bfloat16", 16),
}

NAME_TO_CODE = {name: code for code, (name, _) in _TYPES.items()}

# Type name -> the little-endian numpy dtype of its buffer data, for the types
# whose data numpy can hold element for element (not int4, string, ...).
NUMPY_DTYPES = {
    "float32": "<f4", "float16": "<f2", "float64": "<f8", "int8": "i1", "uint8": "u1",
    "int16": "<i2", "uint16": "<u2", "int32": "<i4", "uint32": "<u4", "int64": "<i8",
    "uint64": "<u8", "bool": "?", "complex64": "<c8", "complex128": "<c16",
}


def dtype_name(code: int) -> str:
    """Name of a TensorType code; raises KeyError for an unknown code."""
    return _TYPES[code][0]


def is_known(code: int) -> bool:
    return code in _TYPES


def element_bits(name: str) -> int:
    return _TYPES[NAME_TO_CODE[name]][1]


def nbytes(name: str, num_elements: int) -> int:
    """Bytes a tensor of `num_elements` elements of type `name` occupies."""
    return (num_elements * element_bits(name) + 7) // 8
