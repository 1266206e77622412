"""What the TFLite schema says, as tflite_schema and dtypes state it: one rule a line."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
import tflite

from tinymem.read import dtypes
from tinymem.read.schema import (BUILTIN_CODES, BUILTIN_NAMES, CUSTOM_CODE, OPTIONS2_CODES,
                                   OPTIONS_CODES, custom_name, opcode_name, opcode_of)

CONV = tflite.BuiltinOperator.CONV_2D


def _operator_code(deprecated: int, builtin: int | None, custom: str | None = None):
    """A generated OperatorCode table as a file would hold it."""
    b = flatbuffers.Builder(64)
    name = b.CreateString(custom) if custom is not None else None
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, deprecated)
    if name is not None:
        tflite.OperatorCodeAddCustomCode(b, name)
    if builtin is not None:
        tflite.OperatorCodeAddBuiltinCode(b, builtin)
    b.Finish(tflite.OperatorCodeEnd(b))
    return tflite.OperatorCode.GetRootAs(b.Output(), 0)


@pytest.mark.parametrize("deprecated, builtin, custom, decoded", [
    (CONV, None, None, (CONV, None)),  # old files set only the deprecated int8 field
    (CONV, CONV, None, (CONV, None)),  # new files set both
    (127, tflite.BuiltinOperator.GELU, None, (tflite.BuiltinOperator.GELU, None)),  # saturated
    (CUSTOM_CODE, CUSTOM_CODE, "SignalRfft", (CUSTOM_CODE, "SignalRfft")),
    (CUSTOM_CODE, None, None, (CUSTOM_CODE, "?")),  # a custom op with no name
])
def test_opcode_of(deprecated, builtin, custom, decoded):
    assert opcode_of(_operator_code(deprecated, builtin, custom)) == decoded


@pytest.mark.parametrize("code, custom, name", [
    (CONV, None, "CONV_2D"),
    (CUSTOM_CODE, "TFLite_Detection_PostProcess", "CUSTOM:TFLite_Detection_PostProcess"),
    (CUSTOM_CODE, None, "CUSTOM:?"),
    (9999, None, "UNKNOWN_9999"),  # newer than the installed schema
])
def test_opcode_name(code, custom, name):
    assert opcode_name(code, custom) == name


@pytest.mark.parametrize("opcode, custom", [
    ("CUSTOM:SignalRfft", "SignalRfft"), ("CONV_2D", None), ("CUSTOM:", ""),
])
def test_custom_name(opcode, custom):
    assert custom_name(opcode) == custom


def test_builtin_names_and_codes_are_inverse():
    assert all(BUILTIN_CODES[name] == code for code, name in BUILTIN_NAMES.items())
    assert len(BUILTIN_NAMES) == len(BUILTIN_CODES)


@pytest.mark.parametrize("codes", [OPTIONS_CODES, OPTIONS2_CODES])
def test_options_unions_name_tables_not_none(codes):
    assert "NONE" not in codes and 0 not in codes.values()
    assert all(hasattr(tflite, name) for name in codes)


@pytest.mark.parametrize("name", sorted(dtypes.NUMPY_DTYPES))
def test_numpy_dtype_has_the_element_size_of_the_tensor_type(name):
    assert np.dtype(dtypes.NUMPY_DTYPES[name]).itemsize * 8 == dtypes.element_bits(name)


@pytest.mark.parametrize("name", sorted(dtypes.NUMPY_DTYPES))
def test_numpy_dtypes_are_little_endian(name):
    dt = np.dtype(dtypes.NUMPY_DTYPES[name])
    assert dt == dt.newbyteorder("<")  # the file's byte order, whatever the machine's
