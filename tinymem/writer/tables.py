"""Generic reading and building of flatbuffer tables, by reflection on `tflite`.

The writer rebuilds builtin options from the IR's dicts and copies the
tables the IR does not model (sparsity, quantization details, variant
types...) field by field. The field kinds come from the generated `tflite`
classes, as the reader's options do, so no table needs a hand-written list.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import flatbuffers
import numpy as np

from ..errors import TinymemError
from ..read.reader import options_fields
from ..read.schema import ENUM_VALUES, FORCE_ALIGN, UNION_CODES, UNION_ENUMS

# flatbuffers number type of a field -> the numpy dtype of its little-endian bytes.
_NP_TYPES = {
    "Bool": "u1", "Uint8": "u1", "Int8": "i1", "Uint16": "<u2", "Int16": "<i2",
    "Uint32": "<u4", "Int32": "<i4", "Uint64": "<u8", "Int64": "<i8",
    "Float32": "<f4", "Float64": "<f8",
}


# --------------------------------------------------------------------------
# Reflection on the generated flatbuffer classes


class Kind(StrEnum):
    """What a table field (or a vector's element) holds."""

    SCALAR = "scalar"
    STRING = "string"
    VECTOR = "vector"
    TABLE = "table"
    UNION = "union"


@dataclass(frozen=True)
class _Field:
    name: str  # accessor name in the generated class ("StrideW")
    kind: Kind
    prim: str | None  # flatbuffers number type of a scalar or vector element ("Int32")
    elem: Kind | None  # a vector's element kind: SCALAR, STRING or TABLE
    sub: str | None  # table type of a table field or table-vector element
    add: Any  # builder function <Type>Add<Name>
    align: int  # alignment of a vector's data
    vtable: int  # the field's offset in the table's vtable


def schema_module(type_name: str):
    return importlib.import_module(f"tflite.{type_name}")


@lru_cache(maxsize=None)
def table_fields(type_name: str) -> tuple[_Field, ...]:
    """The fields of a schema table, in slot order, with their kinds.

    Found by reading the generated code: builder functions give the fields and
    their scalar types, accessors tell strings, vectors, tables and unions apart.
    """
    mod = schema_module(type_name)
    cls = getattr(mod, type_name)
    prefix = f"{type_name}Add"
    found = []
    for fn_name, fn in vars(mod).items():
        if not fn_name.startswith(prefix) or not callable(fn):
            continue
        name = fn_name[len(prefix):]
        add_src = inspect.getsource(fn)
        slot = int(re.search(r"Slot\((\d+)", add_src).group(1))
        prim_m = re.search(r"Prepend(\w+)Slot", add_src)
        prim = prim_m.group(1) if prim_m else None
        kind, elem, sub, align = Kind.SCALAR, None, None, 1
        if prim == "UOffsetTRelative":
            acc = inspect.getsource(getattr(cls, name))
            sub_m = re.search(r"from tflite\.(\w+) import", acc)
            sub = sub_m.group(1) if sub_m else None
            prim = None
            if "_tab.Union(" in acc:
                kind = Kind.UNION
            elif "_tab.Vector(" in acc:
                kind = Kind.VECTOR
                if "Indirect(" in acc and sub:
                    elem = Kind.TABLE
                elif "_tab.String(" in acc:
                    elem = Kind.STRING
                else:
                    elem = Kind.SCALAR
                    prim = re.search(r"_tab\.Get\(flatbuffers\.number_types\.(\w+)Flags", acc).group(1)
                align = FORCE_ALIGN.get((type_name, name), 1)
            elif "_tab.String(" in acc:
                kind = Kind.STRING
            elif sub:
                kind = Kind.TABLE
            else:
                raise TinymemError(f"writer: cannot tell the kind of {type_name}.{name}")
        found.append((slot, _Field(name, kind, prim, elem, sub, fn, align, 4 + 2 * slot)))
    return tuple(f for _, f in sorted(found, key=lambda x: x[0]))


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


def _source_vector(obj: Any, field: _Field) -> np.ndarray | None:
    """A scalar vector of a generated reader object, as a numpy view of the file."""
    tab = obj._tab
    o = tab.Offset(field.vtable)
    if not o:
        return None
    dtype = np.dtype(_NP_TYPES[field.prim])
    start = tab.Vector(o)
    n = tab.VectorLen(o)
    return np.frombuffer(tab.Bytes, dtype=dtype, count=n, offset=start)


def _is_none(obj: Any, field: _Field) -> bool:
    return obj._tab.Offset(field.vtable) == 0


def union_table(obj: Any, field: _Field) -> tuple[str | None, Any]:
    """(member table name, reader object) of a union field, or (None, None)."""
    enum = UNION_ENUMS.get(field.name)
    code = getattr(obj, field.name + "Type")()
    table = getattr(obj, field.name)()
    if enum is None or not code or table is None:
        return None, None
    member = next((k for k, v in UNION_CODES[enum].items() if v == code and k != "NONE"), None)
    if member is None:
        return None, None
    cls = getattr(schema_module(member), member)
    inner = cls()
    inner.Init(table.Bytes, table.Pos)
    return member, inner


def _copy_offset_field(b: flatbuffers.Builder, obj: Any, f: _Field) -> int | None:
    """Deep-copy one non-scalar field of a source table; None when absent."""
    if _is_none(obj, f):
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
        arr = _source_vector(obj, f)
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
            if not vals and (source is None or _is_none(source, f)):
                continue
            try:
                arr = np.asarray(vals, dtype=_NP_TYPES[f.prim])
            except (TypeError, ValueError, OverflowError):
                raise TinymemError(f"writer: option {where} is not a list of numbers: {val!r}") from None
            offsets[meth] = numeric_vector(b, arr, arr.itemsize, f.align)
        elif f.kind == Kind.STRING:
            text = "" if val is None else str(val)
            if not text and (source is None or _is_none(source, f)):
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
