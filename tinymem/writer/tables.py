"""Building flatbuffer tables, by reflection on `tflite`.

The writer rebuilds builtin options from the IR's dicts and copies the
tables the IR does not model (sparsity, quantization details, variant
types...) field by field. What fields a table has comes from
`read/reflection.py`, as the reader's options do, so no table needs a
hand-written list.
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np

from ..errors import TinymemError
from ..read.reflection import (NUMBER_TYPES, Field, Kind, is_absent, options_fields, schema_module,
                               source_vector, table_fields, union_table)
from ..read.schema import ENUM_VALUES, UNION_CODES, UNION_ENUMS


def numeric_vector(b: flatbuffers.Builder, arr: np.ndarray, elem_size: int, align: int = 1) -> int:
    """Write a vector of scalars from a contiguous little-endian array, by one copy."""
    raw = memoryview(np.ascontiguousarray(arr)).cast("B")
    n = raw.nbytes // elem_size
    b.StartVector(elem_size, n, max(align, elem_size))
    b.head = b.head - raw.nbytes
    b.Bytes[b.head: b.head + raw.nbytes] = raw
    return b.EndVector()


def bytes_vector(b: flatbuffers.Builder, data, align: int) -> int:
    n = len(data)
    b.StartVector(1, n, align)
    b.head = b.head - n
    b.Bytes[b.head: b.head + n] = data
    return b.EndVector()


def offsets_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def int_vector(b: flatbuffers.Builder, values, dtype: str = "<i4") -> int:
    arr = np.asarray(values, dtype=dtype)
    return numeric_vector(b, arr, arr.itemsize)


def _copy_offset_field(b: flatbuffers.Builder, obj: Any, f: Field) -> int | None:
    """Deep-copy one non-scalar field of a source table; None when absent."""
    if is_absent(obj, f):
        return None
    if f.kind == Kind.STRING:
        return b.CreateString(getattr(obj, f.name)())
    if f.kind == Kind.TABLE:
        return copy_table(b, f.sub, getattr(obj, f.name)())
    if f.kind == Kind.UNION:
        member, inner = union_table(obj, f)
        return None if member is None else copy_table(b, member, inner)
    n = getattr(obj, f.name + "Length")()
    if f.elem == Kind.SCALAR:
        arr = source_vector(obj, f)
        return numeric_vector(b, arr, arr.itemsize, f.align)
    if f.elem == Kind.STRING:
        offs = [b.CreateString(getattr(obj, f.name)(j)) for j in range(n)]
    else:
        offs = [copy_table(b, f.sub, getattr(obj, f.name)(j)) for j in range(n)]
    return offsets_vector(b, offs)


def copy_table(b: flatbuffers.Builder, type_name: str, obj: Any) -> int:
    """Deep-copy a table read from a source file into the builder."""
    fields = table_fields(type_name)
    union_types = {f.name + "Type" for f in fields if f.kind == Kind.UNION}
    offsets: dict[str, int] = {}
    for f in fields:
        if f.kind == Kind.SCALAR:
            continue
        off = _copy_offset_field(b, obj, f)
        if off is not None:
            offsets[f.name] = off
            if f.kind == Kind.UNION:
                member, _ = union_table(obj, f)
                offsets[f.name + "Type"] = UNION_CODES[UNION_ENUMS[f.name]][member]
    mod = schema_module(type_name)
    getattr(mod, f"{type_name}Start")(b)
    for f in fields:
        if f.name in offsets:
            f.add(b, offsets[f.name])
        elif f.kind == Kind.SCALAR and f.name not in union_types:
            f.add(b, getattr(obj, f.name)())
    return getattr(mod, f"{type_name}End")(b)


def options_keys(type_name: str) -> dict[str, str]:
    """snake_case key (as the reader names it) -> accessor name, for an options table."""
    _, fields = options_fields(type_name)
    return {key: meth for key, meth, _ in fields}


def build_options(b: flatbuffers.Builder, type_name: str, values: dict[str, Any],
                  source: Any = None) -> int:
    """Build an options table from a dict as the reader produces it (the inverse of read_options).

    Keys missing from `values` take the schema default. An empty vector or
    string is written only when the source table had one.
    """
    keys = options_keys(type_name)
    fields = {f.name: f for f in table_fields(type_name)}
    offsets: dict[str, int] = {}
    scalars: dict[str, Any] = {}
    for key, meth in keys.items():
        if key not in values:
            continue
        f = fields[meth]
        val = values[key]
        where = f"{type_name}.{key}"
        if f.kind == Kind.VECTOR:
            if f.elem != Kind.SCALAR:
                continue
            vals = list(val) if val is not None else []
            if not vals and (source is None or is_absent(source, f)):
                continue
            try:
                arr = np.asarray(vals, dtype=NUMBER_TYPES[f.prim])
            except (TypeError, ValueError, OverflowError):
                raise TinymemError(f"writer: option {where} is not a list of numbers: {val!r}") from None
            offsets[meth] = numeric_vector(b, arr, arr.itemsize, f.align)
        elif f.kind == Kind.STRING:
            text = "" if val is None else str(val)
            if not text and (source is None or is_absent(source, f)):
                continue
            offsets[meth] = b.CreateString(text)
        elif f.kind == Kind.SCALAR:
            scalars[meth] = _scalar(val, f.prim, key, where)
        # tables and unions inside options: none in the schema; the reader skips them
    mod = schema_module(type_name)
    getattr(mod, f"{type_name}Start")(b)
    for meth, val in scalars.items():
        fields[meth].add(b, val)
    for meth, off in offsets.items():
        fields[meth].add(b, off)
    return getattr(mod, f"{type_name}End")(b)


def _scalar(val: Any, prim: str, key: str, where: str) -> Any:
    if isinstance(val, str):
        enum = ENUM_VALUES.get(key)
        if enum is None or val not in enum:
            raise TinymemError(f"writer: option {where} has unknown value {val!r}")
        val = enum[val]
    if prim == "Bool":
        return bool(val)
    if prim.startswith("Float"):
        return float(val)
    if isinstance(val, float) and not val.is_integer():
        raise TinymemError(f"writer: option {where} must be an integer, not {val!r}")
    try:
        return int(val)
    except (TypeError, ValueError):
        raise TinymemError(f"writer: option {where} must be a number, not {val!r}") from None


# --------------------------------------------------------------------------
# The writer
