"""Bounds-check every table of a .tflite flatbuffer before anything reads it.

The reader reads the fields the IR holds; the writer later copies the rest
(sparsity, has_rank, variant tensors, quantization details, signature and
metadata tables...) straight from the source bytes. A damaged offset in a
field only the writer touches used to surface there as a struct.error. This
walk visits every field of every table reachable from the root, by
reflection on the generated `tflite` classes (the field kinds of
reflection.table_fields), and checks that each offset, vector and
string lies inside the file, so a file that passes can be read by any stage.

Each (table type, position) is visited once, however many entries share it;
the reader has bounded the entry counts (limits.py) before this runs.
"""

from __future__ import annotations

import struct

from .reflection import NUMBER_SIZES, Kind, table_fields
from .schema import union_member


class Damaged(Exception):
    """A table, vector or string that does not fit in the file (the message says which)."""


def check_model(data: bytes, max_tables: int) -> None:
    """Raise Damaged if any table reachable from the Model root lies outside `data`,
    or if there are more than `max_tables` distinct tables."""
    root = _u32(data, 0, "root offset")
    _Walk(data, max_tables).table("Model", root)


def _u32(data: bytes, pos: int, what: str) -> int:
    if pos < 0 or pos + 4 > len(data):
        raise Damaged(f"{what} at byte {pos} lies past the end of the file")
    return struct.unpack_from("<I", data, pos)[0]


class _Walk:
    def __init__(self, data: bytes, max_tables: int):
        self.data = data
        self.n = len(data)
        self.seen: set[tuple[str, int]] = set()
        self.max_tables = max_tables

    def table(self, type_name: str, pos: int) -> None:
        if (type_name, pos) in self.seen:
            return
        self.seen.add((type_name, pos))
        if len(self.seen) > self.max_tables:
            raise Damaged(f"more than {self.max_tables:,} tables (limit)")
        data, n = self.data, self.n
        if pos < 0 or pos + 4 > n:
            raise Damaged(f"{type_name} table at byte {pos} lies past the end of the file")
        vtable = pos - struct.unpack_from("<i", data, pos)[0]
        if vtable < 0 or vtable + 4 > n:
            raise Damaged(f"{type_name} table at byte {pos} has its vtable outside the file")
        vt_size, tab_size = struct.unpack_from("<HH", data, vtable)
        if vt_size < 4 or vtable + vt_size > n or pos + tab_size > n:
            raise Damaged(f"{type_name} table at byte {pos} runs past the end of the file")
        values: dict[str, int] = {}
        for f in table_fields(type_name):
            if f.vtable + 2 > vt_size:
                continue  # a field newer than the writer of the file: absent
            off = struct.unpack_from("<H", data, vtable + f.vtable)[0]
            if not off:
                continue
            size = NUMBER_SIZES.get(f.prim, 4) if f.kind == Kind.SCALAR else 4
            if off + size > tab_size:
                raise Damaged(f"{type_name}.{f.name} at byte {pos} lies outside its table")
            loc = pos + off
            if f.kind == Kind.SCALAR:
                if f.name.endswith("Type") and size == 1:
                    values[f.name] = data[loc]
                continue
            target = loc + _u32(data, loc, f"{type_name}.{f.name}")
            if f.kind == Kind.TABLE:
                self.table(f.sub, target)
            elif f.kind == Kind.UNION:
                member = union_member(f.name, values.get(f.name + "Type", -1))
                if member:
                    self.table(member, target)
            else:
                self.vector(type_name, f, target)

    def vector(self, type_name: str, f, target: int) -> None:
        what = f"{type_name}.{f.name}"
        length = _u32(self.data, target, what)
        elem = NUMBER_SIZES.get(f.prim, 1) if f.kind == Kind.VECTOR and f.elem == Kind.SCALAR else 4
        if f.kind == Kind.STRING:
            elem = 1
        if target + 4 + length * elem > self.n:
            raise Damaged(f"{what} ({length:,} entries) runs past the end of the file")
        if f.kind == Kind.VECTOR and f.elem in (Kind.TABLE, Kind.STRING):
            for j in range(length):
                at = target + 4 + 4 * j
                child = at + _u32(self.data, at, what)
                if f.elem == Kind.TABLE:
                    self.table(f.sub, child)
                else:
                    n = _u32(self.data, child, what)
                    if child + 4 + n > self.n:
                        raise Damaged(f"a string of {what} runs past the end of the file")
