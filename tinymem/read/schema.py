"""What the TFLite schema says, in one place for the reader, the writer and the schedules.

Operator codes and their names, the options tables and their union codes,
the enums the IR keeps by name, and how an OperatorCode table is decoded.
Everything is taken from the generated `tflite` package, so a newer schema
brings its new ops and options without an edit here. Tensor element types
(codes, sizes, numpy types) are `dtypes`.
"""

from __future__ import annotations

from enum import StrEnum

import tflite

# The four bytes at offset 4 of every .tflite file.
FILE_IDENTIFIER = b"TFL3"


def _enum(cls: type) -> dict[str, int]:
    """name -> value of a generated schema enum (no NONE member)."""
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and k != "NONE"}


# ---- operator codes ---------------------------------------------------------

BUILTIN_CODES: dict[str, int] = _enum(tflite.BuiltinOperator)
BUILTIN_NAMES: dict[int, str] = {v: k for k, v in BUILTIN_CODES.items()}
# The builtin op types by name, for code that creates ops (the schedules'
# rewrites say BuiltinOp.PAD, not a string literal: a typo fails at import).
BuiltinOp = StrEnum("BuiltinOp", {name: name for name in BUILTIN_CODES})
CUSTOM_CODE = tflite.BuiltinOperator.CUSTOM  # 32: the op is named by its custom_code string
CUSTOM_PREFIX = "CUSTOM:"  # the IR names a custom op "CUSTOM:<custom_code>"
UNKNOWN_PREFIX = "UNKNOWN_"  # ... and a code newer than the installed schema "UNKNOWN_<code>"
# The deprecated int8 opcode field saturates here; the real code is in builtin_code.
DEPRECATED_CODE_MAX = 127


def opcode_of(oc) -> tuple[int, str | None]:
    """(builtin code, custom code or None) of a generated OperatorCode table.

    Old files only set the deprecated int8 field; new ones set both, with
    the deprecated one saturated at 127 for codes above it: the larger of
    the two is the real code. A custom op without a name is named "?".
    """
    code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
    if code != CUSTOM_CODE:
        return code, None
    raw = oc.CustomCode()
    return code, raw.decode("utf-8", errors="replace") if raw else "?"


def opcode_name(code: int, custom: str | None = None) -> str:
    """The IR's name of an op: "CONV_2D", "CUSTOM:<name>", or "UNKNOWN_<code>"
    for a code newer than the installed schema."""
    if code == CUSTOM_CODE:
        return CUSTOM_PREFIX + (custom or "?")
    return BUILTIN_NAMES.get(code, f"{UNKNOWN_PREFIX}{code}")


def custom_name(opcode: str) -> str | None:
    """The custom code of an IR op name "CUSTOM:<name>", or None for a builtin."""
    return opcode[len(CUSTOM_PREFIX):] if opcode.startswith(CUSTOM_PREFIX) else None


# ---- options tables -----------------------------------------------------------

# An operator's options live in one of two unions: BuiltinOptions (the
# original one) or BuiltinOptions2 (added when the first ran out of codes).
OPTIONS_CODES: dict[str, int] = _enum(tflite.BuiltinOptions)
OPTIONS2_CODES: dict[str, int] = _enum(tflite.BuiltinOptions2)
OPTIONS_NAMES: dict[int, str] = {v: k for k, v in OPTIONS_CODES.items()}
OPTIONS2_NAMES: dict[int, str] = {v: k for k, v in OPTIONS2_CODES.items()}

# Union fields of the tables copied generically, and the enum naming their members.
UNION_ENUMS = {
    "BuiltinOptions": "BuiltinOptions",
    "BuiltinOptions2": "BuiltinOptions2",
    "Details": "QuantizationDetails",
    "ArraySegments": "SparseIndexVector",
    "ArrayIndices": "SparseIndexVector",
}
UNION_CODES: dict[str, dict[str, int]] = {
    enum: {k: v for k, v in vars(getattr(tflite, enum)).items() if not k.startswith("_")}
    for enum in set(UNION_ENUMS.values())
}
_UNION_MEMBERS: dict[str, dict[int, str]] = {
    enum: {code: member for member, code in codes.items() if member != "NONE"}
    for enum, codes in UNION_CODES.items()
}


def union_member(field: str, code: int) -> str | None:
    """The table a union field (`UNION_ENUMS`) holds for its type code; None
    for NONE, an unknown code, or a field that is no union copied generically."""
    enum = UNION_ENUMS.get(field)
    return None if enum is None else _UNION_MEMBERS[enum].get(code)


# Vectors the schema declares force_align: 16 (the generated Python ignores it).
FORCE_ALIGN = {("Buffer", "Data"): 16, ("CustomQuantization", "Custom"): 16}
# TFLite Micro wants constant data 16-byte aligned.
DATA_ALIGN = 16

# ---- enums the IR keeps by name -------------------------------------------------

PADDING_NAMES: dict[int, str] = {v: k for k, v in vars(tflite.Padding).items()
                                 if not k.startswith("_")}
ACTIVATION_NAMES: dict[int, str] = {
    v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")
}
# The fused activations by the names the IR keeps them under.
Activation = StrEnum("Activation", {name: name for name in ACTIVATION_NAMES.values()})
# Option fields stored as enum names in the IR, for readable JSON and rules.
ENUM_FIELDS: dict[str, dict[int, str]] = {"padding": PADDING_NAMES,
                                          "fused_activation_function": ACTIVATION_NAMES}
ENUM_VALUES: dict[str, dict[str, int]] = {
    key: {name: val for val, name in names.items()} for key, names in ENUM_FIELDS.items()}

# ---- metadata ---------------------------------------------------------------------

# The metadata entry TFLite Micro reads a precomputed arena plan from.
OFFLINE_PLAN_KEY = "OfflineMemoryAllocation"
