"""The file a model was read from, as the writer consults it.

What the IR does not hold (buffer data, sparsity, quantization details,
custom options, ...) is copied from the source flatbuffer. This module finds
those tables: the source tensor of an IR tensor, the source operator of an
IR operator and its options tables.
"""

from __future__ import annotations

import tflite

from ..errors import TinymemError
from ..read.reflection import schema_module
from ..graph.ir import Model
from ..read.file import buffer_view
from ..read.schema import OPTIONS2_NAMES, OPTIONS_NAMES, opcode_name, opcode_of
from .plan import OpcodeKey


class SourceModel:
    """The source flatbuffer of a model, or an empty stand-in for a model built in memory."""

    def __init__(self, model: Model):
        self.raw = model.raw
        self.fb = None
        if self.raw is not None:
            try:
                self.fb = tflite.Model.GetRootAs(self.raw, 0)
            except Exception:  # noqa: BLE001 - a damaged source only loses the extras
                self.fb = None
        self.opcodes: list[OpcodeKey] = self._opcodes()

    def _opcodes(self) -> list[OpcodeKey]:
        if self.fb is None:
            return []
        out = []
        for i in range(self.fb.OperatorCodesLength()):
            oc = self.fb.OperatorCodes(i)
            out.append((*opcode_of(oc), oc.Version()))
        return out

    def opcode_name(self, opcode_index: int) -> str | None:
        """The IR name of a source opcode entry, None for an index past the list."""
        if not 0 <= opcode_index < len(self.opcodes):
            return None
        code, custom, _ = self.opcodes[opcode_index]
        return opcode_name(code, custom)

    def subgraph(self, i: int) -> SourceSubgraph | None:
        if self.fb is None or i >= self.fb.SubgraphsLength():
            return None
        return SourceSubgraph(self.fb.Subgraphs(i))

    def buffer_data(self, index: int) -> memoryview:
        if self.fb is None:
            raise TinymemError(f"writer: buffer {index} holds weights but the model has no "
                               "source bytes to copy them from")
        buf = self.fb.Buffers(index)
        if buf.Offset() > 1:
            raise TinymemError(f"writer: buffer {index} stores its data outside the flatbuffer "
                               "(a model over 2 GB); such models cannot be rewritten")
        return buffer_view(self.raw, buf)

    def metadata_buffers(self) -> list[int]:
        """The model's metadata_buffer list (buffers kept for metadata readers)."""
        if self.fb is None or not self.fb.MetadataBufferLength():
            return []
        return [int(b) for b in self.fb.MetadataBufferAsNumpy()]

    def has_metadata_buffer(self) -> bool:
        return self.fb is not None and not self.fb.MetadataBufferIsNone()


class SourceSubgraph:
    """One source subgraph, with its tensors found by index or by name."""

    def __init__(self, fb):
        self.fb = fb
        self.n_tensors = fb.TensorsLength()
        names: dict[bytes, int] = {}
        dup = set()
        for j in range(self.n_tensors):
            name = fb.Tensors(j).Name() or b""
            if name in names:
                dup.add(name)
            names[name] = j
        for name in dup:
            del names[name]
        self.unique_names = names

    def tensor(self, ti: int, name: str):
        """The source tensor an IR tensor came from: the same index with the same
        name, else the one tensor of that name; None when there is none."""
        raw_name = name.encode("utf-8")
        if ti < self.n_tensors and (self.fb.Tensors(ti).Name() or b"") == raw_name:
            return self.fb.Tensors(ti)
        j = self.unique_names.get(raw_name)
        return None if j is None else self.fb.Tensors(j)

    def operator(self, source_op: int | None):
        if source_op is None or not 0 <= source_op < self.fb.OperatorsLength():
            return None
        return self.fb.Operators(source_op)

    def debug_metadata_index(self) -> int:
        return self.fb.DebugMetadataIndex()


def options_table(src_op, type_name: str, which: int):
    """The source op's options table of this type (`which` union: 1 or 2), or None.

    Only used to tell an absent vector or string from an empty one.
    """
    if src_op is None:
        return None
    if which == 1:
        if OPTIONS_NAMES.get(src_op.BuiltinOptionsType()) != type_name:
            return None
        table = src_op.BuiltinOptions()
    else:
        if OPTIONS2_NAMES.get(src_op.BuiltinOptions2Type()) != type_name:
            return None
        table = src_op.BuiltinOptions2()
    if table is None:
        return None
    obj = getattr(schema_module(type_name), type_name)()
    obj.Init(table.Bytes, table.Pos)
    return obj
