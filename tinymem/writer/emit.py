"""Building the flatbuffer of a planned model, table by table.

What the IR holds is authoritative (tensors, operators and their builtin
options, subgraph inputs and outputs, metadata, signatures); what it does
not hold is copied from the source file (buffer data, sparsity,
quantization details, has_rank, custom options, builtin_options_2,
mutating variable inputs, the metadata_buffer list). Tables the IR does not
model are copied generically by `flatbuffer_tables`.

Tile copies of an op repeat its shapes, quantization and options hundreds
of times: each is built once and shared (flatbuffers allow shared tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import tflite

from ..read import dtypes
from ..errors import TinymemError
from ..read.reflection import table_fields, union_table
from .tables import (build_options, bytes_vector, copy_table, int_vector, numeric_vector,
                     offsets_vector, options_keys)
from ..graph.ir import Model, Operator, Quantization, Subgraph, Tensor
from ..read.schema import (DATA_ALIGN, DEPRECATED_CODE_MAX, FILE_IDENTIFIER, OPTIONS2_CODES,
                             OPTIONS2_NAMES, OPTIONS_CODES, UNION_CODES)
from .plan import OpcodeKey, WritePlan
from .source import SourceModel, SourceSubgraph, options_table


@dataclass
class _SourceExtras:
    """What an operator keeps from its source op when it is still the same op type."""

    custom: int | None = None  # custom options vector
    custom_format: int = 0
    mutating: int | None = None  # mutating_variable_inputs vector
    debug_index: int = -1


def emit_model(model: Model, plan: WritePlan, source: SourceModel) -> bytes:
    """The .tflite bytes of `model` laid out as `plan` says."""
    return _Emitter(model, plan, source).build()


class _Emitter:
    def __init__(self, model: Model, plan: WritePlan, source: SourceModel):
        self.model = model
        self.plan = plan
        self.source = source
        n_buffers = plan.buffers.n_buffers
        data_bytes = plan.buffers.data_bytes(model.buffers)
        # Sized so that a model near its source's size is built without regrowing.
        self.b = flatbuffers.Builder(max(data_bytes, model.file_size) + 64 * 1024
                                     + 32 * n_buffers)
        # Tables shared by every tensor or op that needs the same one.
        self.shapes: dict[tuple[int, ...], int] = {}
        self.quantizations: dict[tuple, int] = {}
        self.options: dict[tuple, int] = {}

    def build(self) -> bytes:
        b, m = self.b, self.model
        buffers = self.buffers()
        subgraphs = [self.subgraph(si, sg) for si, sg in enumerate(m.subgraphs)]
        opcodes = self.opcodes(self.plan.opcodes.entries)
        metadata = self.metadata()
        sigs = self.signatures()
        description = b.CreateString(m.description) if m.description else None
        metadata_buffer = None
        if self.source.has_metadata_buffer():
            metadata_buffer = int_vector(b, self.source.fb.MetadataBufferAsNumpy())
        subgraphs_vec = offsets_vector(b, subgraphs)
        root = _table(b, "Model", Version=m.version, OperatorCodes=opcodes,
                      Subgraphs=subgraphs_vec, Description=description, Buffers=buffers,
                      MetadataBuffer=metadata_buffer, Metadata=metadata, SignatureDefs=sigs)
        b.Finish(root, file_identifier=FILE_IDENTIFIER)
        return b.Output()

    # ---- buffers and operator codes ----------------------------------------------

    def buffers(self) -> int:
        b, bp = self.b, self.plan.buffers
        data_off: dict[int, int] = {}
        # Data first: it ends up at the end of the file, after all the tables.
        for i in range(bp.n_source):
            if i in bp.keep and self.model.buffers[i].size > 0:
                data = self.source.buffer_data(i)
                if len(data):
                    data_off[i] = bytes_vector(b, data, DATA_ALIGN)
        for j, data in enumerate(bp.new):
            if data:
                data_off[bp.n_source + j] = bytes_vector(b, data, DATA_ALIGN)
        tables = [_table(b, "Buffer", Data=data_off.get(i)) for i in range(bp.n_buffers)]
        return offsets_vector(b, tables)

    def opcodes(self, keys: list[OpcodeKey]) -> int:
        b = self.b
        tables = []
        for code, custom, version in keys:
            name = b.CreateString(custom) if custom is not None else None
            tables.append(_table(b, "OperatorCode",
                                 DeprecatedBuiltinCode=min(code, DEPRECATED_CODE_MAX),
                                 CustomCode=name, Version=version, BuiltinCode=code))
        return offsets_vector(b, tables)

    # ---- subgraphs and tensors -----------------------------------------------------

    def subgraph(self, si: int, sg: Subgraph) -> int:
        b = self.b
        src_sg = self.source.subgraph(si)
        remap = self.plan.tensors.remap[si]
        tensors = []
        for ti in self.plan.tensors.kept[si]:
            t = sg.tensors[ti]
            src_t = src_sg.tensor(ti, t.name) if src_sg is not None else None
            tensors.append(self.tensor(si, ti, t, src_t))
        op_codes = self.plan.opcodes.op_index[si]
        ops = [self.operator(si, op, op_codes[oi], src_sg) for oi, op in enumerate(sg.operators)]
        tensors_vec = offsets_vector(b, tensors)
        ops_vec = offsets_vector(b, ops)
        inputs = int_vector(b, [remap[v] for v in sg.inputs])
        outputs = int_vector(b, [remap[v] for v in sg.outputs])
        name = b.CreateString(sg.name) if sg.name else None
        return _table(b, "SubGraph", Tensors=tensors_vec, Inputs=inputs, Outputs=outputs,
                      Operators=ops_vec, Name=name,
                      DebugMetadataIndex=(src_sg.debug_metadata_index()
                                          if src_sg is not None else None))

    def shape(self, shape: tuple[int, ...]) -> int:
        if shape not in self.shapes:
            self.shapes[shape] = int_vector(self.b, shape)
        return self.shapes[shape]

    def tensor(self, si: int, ti: int, t: Tensor, src) -> int:
        b = self.b
        buffer = self.plan.buffers.tensor_buffer[si][ti]
        name = b.CreateString(t.name)
        shape = self.shape(t.shape)
        sig = int_vector(b, t.shape_signature) if t.shape_signature is not None else None
        quant = self.quantization(t.quantization, src.Quantization() if src is not None else None)
        sparsity = None
        variants = None
        has_rank = True
        if src is not None:
            if src.Sparsity() is not None and t.data is None and src.Buffer() == t.buffer:
                sparsity = copy_table(b, "SparsityParameters", src.Sparsity())
            if src.VariantTensorsLength() and dtypes.dtype_name(src.Type()) == t.dtype:
                variants = offsets_vector(b, [copy_table(b, "VariantSubType", src.VariantTensors(k))
                                               for k in range(src.VariantTensorsLength())])
            if src.ShapeLength() == len(t.shape):
                has_rank = bool(src.HasRank())
        return _table(b, "Tensor", Shape=shape, Type=dtypes.NAME_TO_CODE[t.dtype], Buffer=buffer,
                      Name=name, Quantization=quant, IsVariable=bool(t.is_variable),
                      Sparsity=sparsity, ShapeSignature=sig, HasRank=has_rank,
                      VariantTensors=variants)

    def quantization(self, q: Quantization | None, src) -> int | None:
        if q is None and src is None:
            return None
        # Only a table with no source details can be shared: details are copied per tensor.
        key = None
        if q is not None and (src is None or not src.DetailsType()):
            key = (q.scale, q.zero_point, q.quantized_dimension, q.min, q.max)
            if key in self.quantizations:
                return self.quantizations[key]
        offset = self._new_quantization(q, src)
        if key is not None:
            self.quantizations[key] = offset
        return offset

    def _new_quantization(self, q: Quantization | None, src) -> int | None:
        b = self.b
        vecs = {}
        if q is not None:
            for meth, vals, dt in (("Min", q.min, "<f4"), ("Max", q.max, "<f4"),
                                   ("Scale", q.scale, "<f4"), ("ZeroPoint", q.zero_point, "<i8")):
                if len(vals):
                    vecs[meth] = int_vector(b, vals, dt)
        details = details_type = None
        if src is not None and src.DetailsType():
            f = next(f for f in table_fields("QuantizationParameters") if f.name == "Details")
            member, inner = union_table(src, f)
            if member is not None:
                details = copy_table(b, member, inner)
                details_type = UNION_CODES["QuantizationDetails"][member]
        return _table(b, "QuantizationParameters", **vecs, DetailsType=details_type,
                      Details=details,
                      QuantizedDimension=int(q.quantized_dimension) if q is not None else None)

    # ---- operators ---------------------------------------------------------------

    def operator(self, si: int, op: Operator, opcode_index: int,
                 src_sg: SourceSubgraph | None) -> int:
        b = self.b
        where = f"subgraph {si} operator {op.index} ({op.opcode})"
        src = src_sg.operator(op.source_op) if src_sg is not None else None
        # Source extras belong to the op only while it is still the same op type.
        same_type = src is not None and self.source.opcode_name(src.OpcodeIndex()) == op.opcode
        t1, t2 = _options_types(op, src, same_type, where)
        opts1 = self._options1(t1, op, src) if t1 is not None else None
        opts2 = (build_options(b, t2, op.options, options_table(src, t2, 2))
                 if t2 is not None else None)
        remap = self.plan.tensors.remap[si]
        inputs = int_vector(b, [remap[v] for v in op.inputs])
        outputs = int_vector(b, [remap[v] for v in op.outputs])
        inter = None
        if op.intermediates or (same_type and not src.IntermediatesIsNone()):
            inter = int_vector(b, [remap[v] for v in op.intermediates])
        extras = self._source_extras(src, op, where) if same_type else _SourceExtras()
        return _table(b, "Operator", OpcodeIndex=opcode_index, Inputs=inputs, Outputs=outputs,
                      BuiltinOptionsType=OPTIONS_CODES[t1] if opts1 is not None else None,
                      BuiltinOptions=opts1, CustomOptions=extras.custom,
                      CustomOptionsFormat=extras.custom_format,
                      MutatingVariableInputs=extras.mutating, Intermediates=inter,
                      BuiltinOptions2Type=OPTIONS2_CODES[t2] if opts2 is not None else None,
                      BuiltinOptions2=opts2, DebugMetadataIndex=extras.debug_index)

    def _options1(self, type_name: str, op: Operator, src) -> int:
        """The BuiltinOptions table, rebuilt from the IR dict (which is authoritative)."""
        # Tile copies of an op share one options table when it holds only
        # scalars and enum names (the source only matters for empty vectors
        # and strings).
        key = None
        if all(isinstance(v, (int, float, bool)) or (isinstance(v, str) and v)
               for v in op.options.values()):
            key = (type_name, tuple(sorted(op.options.items())))
            if key in self.options:
                return self.options[key]
        table = build_options(self.b, type_name, op.options, options_table(src, type_name, 1))
        if key is not None:
            self.options[key] = table
        return table

    def _source_extras(self, src, op: Operator, where: str) -> _SourceExtras:
        b = self.b
        if src.LargeCustomOptionsOffset() > 1:
            raise TinymemError(f"writer: {where}: custom options stored outside the "
                               "flatbuffer (a model over 2 GB) cannot be rewritten")
        extras = _SourceExtras(custom_format=src.CustomOptionsFormat(),
                               debug_index=src.DebugMetadataIndex())
        if not src.CustomOptionsIsNone():
            extras.custom = bytes_vector(b, src.CustomOptionsAsNumpy().tobytes(), 16)
        n_mut = src.MutatingVariableInputsLength()
        if n_mut and n_mut == len(op.inputs):
            extras.mutating = numeric_vector(b, src.MutatingVariableInputsAsNumpy().astype("u1"), 1)
        return extras

    # ---- model-level tables ---------------------------------------------------------

    def metadata(self) -> int | None:
        entries = self.plan.buffers.metadata
        if not entries:
            return None
        b = self.b
        tables = []
        for name, buf in entries.items():
            s = b.CreateString(name)
            tables.append(_table(b, "Metadata", Name=s, Buffer=buf))
        return offsets_vector(b, tables)

    def signatures(self) -> int | None:
        sigs = self.model.signature_defs
        if not sigs:
            return None
        b = self.b
        tables = []
        for sig in sigs:
            remap = self.plan.tensors.remap[sig.subgraph]
            maps = [self._tensor_maps(pairs, remap) for pairs in (sig.inputs, sig.outputs)]
            key = b.CreateString(sig.key)
            tables.append(_table(b, "SignatureDef", Inputs=maps[0], Outputs=maps[1],
                                 SignatureKey=key, SubgraphIndex=sig.subgraph))
        return offsets_vector(b, tables)

    def _tensor_maps(self, pairs, remap: dict[int, int]) -> int:
        b = self.b
        entries = []
        for name, tensor in pairs:
            s = b.CreateString(name)
            entries.append(_table(b, "TensorMap", Name=s, TensorIndex=remap[tensor]))
        return offsets_vector(b, entries)


def _table(b: flatbuffers.Builder, name: str, **fields) -> int:
    """Build one `name` table from its fields, in the order given (which fixes the
    bytes); a field that is None is left out (the reader sees the schema default)."""
    getattr(tflite, f"{name}Start")(b)
    for field, value in fields.items():
        if value is not None:
            getattr(tflite, f"{name}Add{field}")(b, value)
    return getattr(tflite, f"{name}End")(b)


def _options_types(op: Operator, src, same_type: bool, where: str) -> tuple[str | None, str | None]:
    """The BuiltinOptions and BuiltinOptions2 table types the op is written with.

    The IR names one type; an op that is still its source op's type also
    keeps the source's BuiltinOptions2 (StableHLO ops carry both). Options
    keys that belong to neither are refused.
    """
    t1 = t2 = None
    if op.options_type is not None:
        if op.options_type in OPTIONS_CODES:
            t1 = op.options_type
        elif op.options_type in OPTIONS2_CODES:
            t2 = op.options_type
        else:
            raise TinymemError(f"writer: {where}: unknown options type {op.options_type!r}")
    if t2 is None and same_type and src.BuiltinOptions2Type():
        t2 = OPTIONS2_NAMES.get(src.BuiltinOptions2Type())
    allowed = set()
    for t in (t1, t2):
        if t is not None:
            allowed.update(options_keys(t))
    unknown = set(op.options) - allowed
    if unknown:
        raise TinymemError(f"writer: {where}: options {sorted(unknown)} do not belong to "
                           f"{op.options_type or 'an operator without options'}")
    return t1, t2
