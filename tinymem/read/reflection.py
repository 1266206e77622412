"""Reflection on the generated `tflite` classes: what fields a schema table has.

The reader reads every option of every op, the bounds check walks every
table of a file, and the writer copies and rebuilds tables, all without a
hand-written list per table: the fields, their kinds and types are read
from the generated classes (accessors and builder functions). Read-side
knowledge lives here; building tables is `writer/tables.py`.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
import tflite

from ..errors import TinymemError
from .schema import FORCE_ALIGN, union_member

# flatbuffers number type of a field -> the numpy dtype of its little-endian bytes.
NUMBER_TYPES = {
    "Bool": "u1", "Uint8": "u1", "Int8": "i1", "Uint16": "<u2", "Int16": "<i2",
    "Uint32": "<u4", "Int32": "<i4", "Uint64": "<u8", "Int64": "<i8",
    "Float32": "<f4", "Float64": "<f8",
}
# ... and its size in bytes.
NUMBER_SIZES = {name: np.dtype(dt).itemsize for name, dt in NUMBER_TYPES.items()}


class Kind(StrEnum):
    """What a table field (or a vector's element) holds."""

    SCALAR = "scalar"
    STRING = "string"
    VECTOR = "vector"
    TABLE = "table"
    UNION = "union"


@dataclass(frozen=True)
class Field:
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
def table_fields(type_name: str) -> tuple[Field, ...]:
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
                raise TinymemError(f"schema: cannot tell the kind of {type_name}.{name}")
        found.append((slot, Field(name, kind, prim, elem, sub, fn, align, 4 + 2 * slot)))
    return tuple(f for _, f in sorted(found, key=lambda x: x[0]))


def source_vector(obj: Any, field: Field) -> np.ndarray | None:
    """A scalar vector of a generated reader object, as a numpy view of the file."""
    tab = obj._tab
    o = tab.Offset(field.vtable)
    if not o:
        return None
    dtype = np.dtype(NUMBER_TYPES[field.prim])
    start = tab.Vector(o)
    n = tab.VectorLen(o)
    return np.frombuffer(tab.Bytes, dtype=dtype, count=n, offset=start)


def is_absent(obj: Any, field: Field) -> bool:
    return obj._tab.Offset(field.vtable) == 0


def union_table(obj: Any, field: Field) -> tuple[str | None, Any]:
    """(member table name, reader object) of a union field, or (None, None)."""
    code = getattr(obj, field.name + "Type")()
    table = getattr(obj, field.name)()
    member = union_member(field.name, code)
    if member is None or table is None:
        return None, None
    cls = getattr(schema_module(member), member)
    inner = cls()
    inner.Init(table.Bytes, table.Pos)
    return member, inner


# ---- options tables, as the IR's dicts name their keys -----------------------------

def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@lru_cache(maxsize=None)
def options_fields(type_name: str) -> tuple[type, tuple[tuple[str, str, bool], ...]]:
    """The generated reader class for an options table and its fields.

    Returns (class, ((snake_name, method_name, is_vector), ...)). Found by
    reflection on the `tflite` package, so every option of every op is read
    without a hand-written list per op.
    """
    cls = getattr(tflite, type_name)
    fields = []
    for attr in dir(cls):
        if not attr[:1].isupper() or attr in ("Init", "GetRootAs") or attr.startswith("GetRootAs"):
            continue
        if attr.endswith(("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")):
            continue
        is_vec = hasattr(cls, attr + "Length")
        fields.append((snake(attr), attr, is_vec))
    return cls, tuple(fields)


