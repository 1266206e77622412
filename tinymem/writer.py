"""Serialise a graph IR Model back to a .tflite flatbuffer.

The inverse of the reader. What the IR holds is authoritative (tensors,
operators and their builtin options, subgraph inputs and outputs, metadata,
signatures); what the IR does not hold is copied from the source file the
model was read from (`model.raw`): buffer data, sparsity, quantization
details, has_rank, custom options, builtin_options_2, mutating variable
inputs, the model's metadata_buffer.

Buffers keep their indices: a source buffer no tensor or metadata refers to
any more is written empty in place, so weights are never duplicated and no
index needs remapping. New constants (`Tensor.data`) and an offline memory
plan get new buffers at the end. Buffer data is written 16-byte aligned, as
TFLite Micro requires, by one slice copy per buffer.

Tables the IR does not model are copied generically: the field kinds are
found by reflection on the generated `tflite` classes, the same way the
reader reads builtin options.
"""

from __future__ import annotations

import os
import tempfile

import flatbuffers
import numpy as np
import tflite

from . import dtypes
from .errors import TinymemError
from .ir import Model, Operator, Quantization, Subgraph, Tensor
from .flatbuffer_tables import (build_options, bytes_vector, copy_table, int_vector,
                                numeric_vector, offsets_vector, options_keys, schema_module,
                                table_fields, union_table)
from .reader import parse_model
from .tflite_file import buffer_view, offline_plan_words
from .tflite_file import offline_plan as _stored_offline_plan
from .tflite_schema import (BUILTIN_CODES, BUILTIN_NAMES, CUSTOM_CODE, DATA_ALIGN,
                            DEPRECATED_CODE_MAX, FILE_IDENTIFIER, OFFLINE_PLAN_KEY,
                            OPTIONS2_CODES, OPTIONS2_NAMES, OPTIONS_CODES, OPTIONS_NAMES,
                            UNION_CODES, custom_name, opcode_name, opcode_of)


def serialize_model(model: Model, offline_plan: list[int] | None = None,
                    keep_unused: bool = False) -> bytes:
    """The .tflite flatbuffer of a model. Raises TinymemError for an inconsistent model.

    `offline_plan` has one offset per IR tensor over all subgraphs (-1 = plan
    online); it is written as OfflineMemoryAllocation metadata. Tensors no
    operator, subgraph input/output or signature refers to are left out
    (TFLite Micro would still plan unused activations, all at once), and the
    tensor indices renumbered, unless `keep_unused`.
    """
    return _Writer(model, offline_plan, keep_unused).run()


def write_model(model: Model, path: str | os.PathLike, offline_plan: list[int] | None = None,
                keep_unused: bool = False) -> int:
    """Write a model to `path` atomically; returns the bytes written.

    Refuses to overwrite the model's own input file. The bytes are written to
    a temporary file in the same directory, synced, read back and parsed,
    and only then renamed over `path`: a failure leaves no file behind.
    """
    path = os.fspath(path)
    if model.path and os.path.exists(path) and os.path.exists(model.path):
        if os.path.samefile(path, model.path):
            raise TinymemError(f"{path}: refusing to overwrite the input model; "
                               "write the rewritten model to another file")
    if os.path.isdir(path):
        raise TinymemError(f"{path}: is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TinymemError(f"{path}: directory {directory} does not exist")
    data = serialize_model(model, offline_plan, keep_unused)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except OSError as e:
        raise TinymemError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, _file_mode(path))
            with open(tmp, "rb") as f:
                back = f.read()
        except OSError as e:
            raise TinymemError(f"{path}: cannot write ({e.strerror or e})") from None
        if back != data:
            raise TinymemError(f"{path}: the written file differs from the model bytes")
        try:
            parse_model(back, path)
        except TinymemError as e:
            raise TinymemError(f"{path}: not written, the rewritten model does not read back: {e}") \
                from None
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise TinymemError(f"{path}: cannot write ({e.strerror or e})") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return len(data)


def _file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Writer:
    def __init__(self, model: Model, offline_plan: list[int] | None, keep_unused: bool = False):
        self.model = model
        self.offline_plan = offline_plan
        self.keep_unused = keep_unused
        self.raw = model.raw
        self.src = None
        if self.raw is not None:
            try:
                self.src = tflite.Model.GetRootAs(self.raw, 0)
            except Exception:  # noqa: BLE001 - a damaged source only loses the extras
                self.src = None
        self.n_src_buffers = len(model.buffers)
        self.src_opcodes = self._source_opcodes()

    # ---- source lookups ------------------------------------------------------

    def _source_opcodes(self) -> list[tuple[int, str | None, int]]:
        if self.src is None:
            return []
        out = []
        for i in range(self.src.OperatorCodesLength()):
            oc = self.src.OperatorCodes(i)
            out.append((*opcode_of(oc), oc.Version()))
        return out

    def _source_subgraph(self, i: int):
        if self.src is None or i >= self.src.SubgraphsLength():
            return None
        return self.src.Subgraphs(i)

    def _source_tensors(self, sub) -> tuple[int, dict[bytes, int]]:
        if sub is None:
            return 0, {}
        n = sub.TensorsLength()
        names: dict[bytes, int] = {}
        dup = set()
        for j in range(n):
            name = sub.Tensors(j).Name() or b""
            if name in names:
                dup.add(name)
            names[name] = j
        for name in dup:
            del names[name]
        return n, names

    def _source_buffer_data(self, index: int) -> memoryview:
        if self.src is None:
            raise TinymemError(f"writer: buffer {index} holds weights but the model has no "
                               "source bytes to copy them from")
        buf = self.src.Buffers(index)
        if buf.Offset() > 1:
            raise TinymemError(f"writer: buffer {index} stores its data outside the flatbuffer "
                               "(a model over 2 GB); such models cannot be rewritten")
        return buffer_view(self.raw, buf)

    # ---- planning ------------------------------------------------------------

    def _check(self) -> None:
        m = self.model
        if not m.subgraphs:
            raise TinymemError("writer: the model has no subgraphs")
        for si, sg in enumerate(m.subgraphs):
            n_t = len(sg.tensors)
            for ti, t in enumerate(sg.tensors):
                if t.dtype not in dtypes.NAME_TO_CODE:
                    raise TinymemError(f"writer: subgraph {si} tensor {ti} ({t.name}) has "
                                       f"unknown type {t.dtype!r}")
                if t.data is None and not 0 <= t.buffer < self.n_src_buffers:
                    raise TinymemError(f"writer: subgraph {si} tensor {ti} ({t.name}) points at "
                                       f"buffer {t.buffer}, but the model has {self.n_src_buffers}")
            for what, idx in (("inputs", sg.inputs), ("outputs", sg.outputs)):
                for v in idx:
                    if not 0 <= v < n_t:
                        raise TinymemError(f"writer: subgraph {si} {what} name tensor {v}, "
                                           f"but there are {n_t}")
            for oi, op in enumerate(sg.operators):
                for what, idx in (("inputs", op.inputs), ("outputs", op.outputs),
                                  ("intermediates", op.intermediates)):
                    for v in idx:
                        if not -1 <= v < n_t:
                            raise TinymemError(
                                f"writer: subgraph {si} operator {oi} ({op.opcode}) {what} "
                                f"name tensor {v}, but there are {n_t}")
        for sig in m.signature_defs:
            if not 0 <= sig.subgraph < len(m.subgraphs):
                raise TinymemError(f"writer: signature {sig.key!r} names subgraph {sig.subgraph}")
            n_t = len(m.subgraphs[sig.subgraph].tensors)
            for _, v in sig.inputs + sig.outputs:
                if not 0 <= v < n_t:
                    raise TinymemError(f"writer: signature {sig.key!r} names tensor {v}, "
                                       f"but there are {n_t}")
        for name, b in m.metadata.items():
            if not 0 <= b < self.n_src_buffers:
                raise TinymemError(f"writer: metadata {name!r} points at buffer {b}, "
                                   f"but the model has {self.n_src_buffers}")
        self._plan_tensors()
        total = sum(len(sg.tensors) for sg in m.subgraphs)
        if self.offline_plan is None and OFFLINE_PLAN_KEY in m.metadata:
            old = _stored_offline_plan(m)
            if old is not None and len(old) != total:
                raise TinymemError(f"writer: the model's {OFFLINE_PLAN_KEY} plan has {len(old)} "
                                   f"offsets but the model has {total} tensors; pass a new "
                                   "offline_plan or remove the old one from model.metadata")
            if old is not None and self.dropped:
                self.offline_plan = old  # rewritten for the renumbered tensors
        if self.offline_plan is not None:
            if len(self.offline_plan) != total:
                raise TinymemError(f"writer: the offline plan has {len(self.offline_plan)} "
                                   f"offsets, but the model has {total} tensors")
            for v in self.offline_plan:
                if not -1 <= int(v) < 2 ** 31:
                    raise TinymemError(f"writer: offline plan offset {v} out of range")

    def _plan_tensors(self) -> None:
        """The tensors to write per subgraph, and IR index -> file index."""
        m = self.model
        self.kept: list[list[int]] = []
        self.remap: list[dict[int, int]] = []
        self.dropped = 0
        for si, sg in enumerate(m.subgraphs):
            if self.keep_unused:
                kept = list(range(len(sg.tensors)))
            else:
                used = set(sg.inputs) | set(sg.outputs)
                for op in sg.operators:
                    used.update(op.inputs)
                    used.update(op.outputs)
                    used.update(op.intermediates)
                for sig in m.signature_defs:
                    if sig.subgraph == si:
                        used.update(v for _, v in sig.inputs + sig.outputs)
                used.discard(-1)
                kept = sorted(used)
            self.dropped += len(sg.tensors) - len(kept)
            remap = {old: new for new, old in enumerate(kept)}
            remap[-1] = -1
            self.kept.append(kept)
            self.remap.append(remap)

    def _constant_bytes(self, si: int, t: Tensor) -> bytes:
        data = t.data
        arr = np.asarray(data)
        want = dtypes.NUMPY_DTYPES.get(t.dtype)
        where = f"subgraph {si} tensor {t.index} ({t.name})"
        if want is None:
            if arr.dtype.kind not in "uiSbV":
                raise TinymemError(f"writer: {where}: cannot store {arr.dtype} data "
                                   f"for a {t.dtype} tensor")
            return np.ascontiguousarray(arr).tobytes()
        want_dt = np.dtype(want)
        if arr.dtype.kind != want_dt.kind or arr.dtype.itemsize != want_dt.itemsize:
            raise TinymemError(f"writer: {where}: data is {arr.dtype}, tensor is {t.dtype}")
        n = int(np.prod(t.shape)) if t.shape else 1
        if arr.size != n:
            raise TinymemError(f"writer: {where}: data has {arr.size} elements, "
                               f"shape {t.shape} needs {n}")
        return np.ascontiguousarray(arr, dtype=want_dt).tobytes()

    def _plan_buffers(self) -> None:
        """Which source buffers keep their data, and the new buffers to append."""
        m = self.model
        keep = {0}
        first = m.buffers[0] if m.buffers else None
        self.empty_buffer: int | None = (
            0 if first is not None and first.size == 0 and first.offset <= 1 else None)
        self.new_buffers: list[bytes] = []
        new_index: dict[bytes, int] = {}
        self.tensor_buffer: list[dict[int, int]] = []
        for si, sg in enumerate(m.subgraphs):
            row = {}
            for ti in self.kept[si]:
                t = sg.tensors[ti]
                if t.data is not None:
                    data = self._constant_bytes(si, t)
                    b = new_index.get(data)
                    if b is None:
                        b = self.n_src_buffers + len(self.new_buffers)
                        self.new_buffers.append(data)
                        new_index[data] = b
                elif not t.has_data and m.buffers[t.buffer].size > 0:
                    # An activation must not point at data: give it an empty buffer.
                    b = self._empty()
                else:
                    b = t.buffer
                    keep.add(b)
                row[ti] = b
            self.tensor_buffer.append(row)
        self.metadata = dict(m.metadata)
        if self.offline_plan is not None:
            offsets, base = [], 0
            for si, sg in enumerate(m.subgraphs):
                offsets += [int(self.offline_plan[base + ti]) for ti in self.kept[si]]
                base += len(sg.tensors)
            self.metadata[OFFLINE_PLAN_KEY] = self.n_src_buffers + len(self.new_buffers)
            self.new_buffers.append(offline_plan_words(len(m.subgraphs), offsets))
        keep.update(b for b in self.metadata.values() if b < self.n_src_buffers)
        if self.src is not None and self.src.MetadataBufferLength():
            keep.update(int(b) for b in self.src.MetadataBufferAsNumpy()
                        if 0 <= b < self.n_src_buffers)
        self.keep = keep

    def _empty(self) -> int:
        if self.empty_buffer is None:
            self.empty_buffer = self.n_src_buffers + len(self.new_buffers)
            self.new_buffers.append(b"")
        return self.empty_buffer

    # ---- building ------------------------------------------------------------

    def run(self) -> bytes:
        self._check()
        self._plan_buffers()
        data_bytes = sum(self.model.buffers[i].size for i in self.keep
                         if self.model.buffers[i].offset <= 1)
        data_bytes += sum(len(d) for d in self.new_buffers)
        n_buffers = self.n_src_buffers + len(self.new_buffers)
        # Sized so that a model near its source's size is built without regrowing.
        b = flatbuffers.Builder(max(data_bytes, self.model.file_size) + 64 * 1024 + 32 * n_buffers)
        self.b = b
        buffers = self._buffers()
        opcode_list, op_codes = self._plan_opcodes()
        subgraphs = [self._subgraph(si, sg, op_codes) for si, sg in enumerate(self.model.subgraphs)]
        opcodes = self._opcodes(opcode_list)
        metadata = self._metadata()
        sigs = self._signatures()
        description = b.CreateString(self.model.description) if self.model.description else None
        metadata_buffer = None
        if self.src is not None and not self.src.MetadataBufferIsNone():
            metadata_buffer = int_vector(b, self.src.MetadataBufferAsNumpy())
        subgraphs_vec = offsets_vector(b, subgraphs)
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, self.model.version)
        tflite.ModelAddOperatorCodes(b, opcodes)
        tflite.ModelAddSubgraphs(b, subgraphs_vec)
        if description is not None:
            tflite.ModelAddDescription(b, description)
        tflite.ModelAddBuffers(b, buffers)
        if metadata_buffer is not None:
            tflite.ModelAddMetadataBuffer(b, metadata_buffer)
        if metadata is not None:
            tflite.ModelAddMetadata(b, metadata)
        if sigs is not None:
            tflite.ModelAddSignatureDefs(b, sigs)
        root = tflite.ModelEnd(b)
        b.Finish(root, file_identifier=FILE_IDENTIFIER)
        return b.Output()

    def _buffers(self) -> int:
        b = self.b
        n_total = self.n_src_buffers + len(self.new_buffers)
        data_off: dict[int, int] = {}
        # Data first: it ends up at the end of the file, after all the tables.
        for i in range(self.n_src_buffers):
            if i in self.keep and self.model.buffers[i].size > 0:
                data = self._source_buffer_data(i)
                if len(data):
                    data_off[i] = bytes_vector(b, data, DATA_ALIGN)
        for j, data in enumerate(self.new_buffers):
            if data:
                data_off[self.n_src_buffers + j] = bytes_vector(b, data, DATA_ALIGN)
        tables = []
        for i in range(n_total):
            tflite.BufferStart(b)
            if i in data_off:
                tflite.BufferAddData(b, data_off[i])
            tables.append(tflite.BufferEnd(b))
        return offsets_vector(b, tables)

    def _plan_opcodes(self) -> tuple[list[tuple[int, str | None, int]], dict[int, list[int]]]:
        """OperatorCode entries to write (used ones, source order first) and each op's index."""
        src_index: dict[tuple[int, str | None, int], int] = {}
        for i, key in enumerate(self.src_opcodes):
            src_index.setdefault(key, i)
        wanted: dict[tuple[int, str | None, int], tuple[int, int]] = {}  # key -> sort key
        per_op: list[list[tuple]] = []
        n_new = 0
        for sg in self.model.subgraphs:
            row = []
            for op in sg.operators:
                key = self._opcode_key(op)
                if key not in wanted:
                    if key in src_index:
                        wanted[key] = (0, src_index[key])
                    else:
                        wanted[key] = (1, n_new)
                        n_new += 1
                row.append(key)
            per_op.append(row)
        order = sorted(wanted, key=lambda k: wanted[k])
        index = {k: i for i, k in enumerate(order)}
        return order, {si: [index[k] for k in row] for si, row in enumerate(per_op)}

    @staticmethod
    def _opcode_key(op: Operator) -> tuple[int, str | None, int]:
        custom = op.custom_code
        if custom is None:
            custom = custom_name(op.opcode)
        if custom is not None:
            return (CUSTOM_CODE, custom, int(op.version))
        code = BUILTIN_CODES.get(op.opcode)
        if code is None:
            if op.opcode.startswith("UNKNOWN_") or BUILTIN_NAMES.get(op.builtin_code) is None:
                code = op.builtin_code
            else:
                raise TinymemError(f"writer: unknown operator {op.opcode!r}")
        if code == CUSTOM_CODE:
            raise TinymemError(f"writer: operator {op.index} is CUSTOM but has no custom code")
        return (int(code), None, int(op.version))

    def _opcodes(self, keys: list[tuple[int, str | None, int]]) -> int:
        b = self.b
        tables = []
        for code, custom, version in keys:
            name = b.CreateString(custom) if custom is not None else None
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, DEPRECATED_CODE_MAX))
            if name is not None:
                tflite.OperatorCodeAddCustomCode(b, name)
            tflite.OperatorCodeAddVersion(b, version)
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tables.append(tflite.OperatorCodeEnd(b))
        return offsets_vector(b, tables)

    def _subgraph(self, si: int, sg: Subgraph, op_codes: dict[int, list[int]]) -> int:
        b = self.b
        src_sg = self._source_subgraph(si)
        n_src_t, src_names = self._source_tensors(src_sg)
        remap = self.remap[si]
        tensors = []
        for ti in self.kept[si]:
            t = sg.tensors[ti]
            src_t = None
            if src_sg is not None:
                j = None
                name = t.name.encode("utf-8")
                if ti < n_src_t and (src_sg.Tensors(ti).Name() or b"") == name:
                    j = ti
                elif name in src_names:
                    j = src_names[name]
                if j is not None:
                    src_t = src_sg.Tensors(j)
            tensors.append(self._tensor(si, ti, t, src_t))
        ops = [self._operator(si, op, op_codes[si][oi], src_sg)
               for oi, op in enumerate(sg.operators)]
        tensors_vec = offsets_vector(b, tensors)
        ops_vec = offsets_vector(b, ops)
        inputs = int_vector(b, [remap[v] for v in sg.inputs])
        outputs = int_vector(b, [remap[v] for v in sg.outputs])
        name = b.CreateString(sg.name) if sg.name else None
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors_vec)
        tflite.SubGraphAddInputs(b, inputs)
        tflite.SubGraphAddOutputs(b, outputs)
        tflite.SubGraphAddOperators(b, ops_vec)
        if name is not None:
            tflite.SubGraphAddName(b, name)
        if src_sg is not None:
            tflite.SubGraphAddDebugMetadataIndex(b, src_sg.DebugMetadataIndex())
        return tflite.SubGraphEnd(b)

    def _tensor(self, si: int, ti: int, t: Tensor, src) -> int:
        b = self.b
        buffer = self.tensor_buffer[si][ti]
        name = b.CreateString(t.name)
        shapes = self.__dict__.setdefault("_shape_cache", {})
        if t.shape not in shapes:
            shapes[t.shape] = int_vector(b, t.shape)
        shape = shapes[t.shape]
        sig = int_vector(b, t.shape_signature) if t.shape_signature is not None else None
        quant = self._quantization(t.quantization, src.Quantization() if src is not None else None)
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
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, dtypes.NAME_TO_CODE[t.dtype])
        tflite.TensorAddBuffer(b, buffer)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tflite.TensorAddIsVariable(b, bool(t.is_variable))
        if sparsity is not None:
            tflite.TensorAddSparsity(b, sparsity)
        if sig is not None:
            tflite.TensorAddShapeSignature(b, sig)
        tflite.TensorAddHasRank(b, has_rank)
        if variants is not None:
            tflite.TensorAddVariantTensors(b, variants)
        return tflite.TensorEnd(b)

    def _quantization(self, q: Quantization | None, src) -> int | None:
        if q is None and src is None:
            return None
        # Tile tensors repeat their original's quantization hundreds of times:
        # one shared table serves them all (flatbuffers allow shared tables).
        key = None
        if q is not None and (src is None or not src.DetailsType()):
            key = (q.scale, q.zero_point, q.quantized_dimension, q.min, q.max)
            cache = self.__dict__.setdefault("_quant_cache", {})
            if key in cache:
                return cache[key]
        offset = self._new_quantization(q, src)
        if key is not None:
            self._quant_cache[key] = offset
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
        tflite.QuantizationParametersStart(b)
        if "Min" in vecs:
            tflite.QuantizationParametersAddMin(b, vecs["Min"])
        if "Max" in vecs:
            tflite.QuantizationParametersAddMax(b, vecs["Max"])
        if "Scale" in vecs:
            tflite.QuantizationParametersAddScale(b, vecs["Scale"])
        if "ZeroPoint" in vecs:
            tflite.QuantizationParametersAddZeroPoint(b, vecs["ZeroPoint"])
        if details is not None:
            tflite.QuantizationParametersAddDetailsType(b, details_type)
            tflite.QuantizationParametersAddDetails(b, details)
        if q is not None:
            tflite.QuantizationParametersAddQuantizedDimension(b, int(q.quantized_dimension))
        return tflite.QuantizationParametersEnd(b)

    def _operator(self, si: int, op: Operator, opcode_index: int, src_sg) -> int:
        b = self.b
        where = f"subgraph {si} operator {op.index} ({op.opcode})"
        src = None
        if (op.source_op is not None and src_sg is not None
                and 0 <= op.source_op < src_sg.OperatorsLength()):
            src = src_sg.Operators(op.source_op)
        src_name = None
        if src is not None and src.OpcodeIndex() < len(self.src_opcodes):
            code, custom, _ = self.src_opcodes[src.OpcodeIndex()]
            src_name = opcode_name(code, custom)

        # Builtin options: rebuilt from the IR dict, which is authoritative.
        t1 = t2 = None
        if op.options_type is not None:
            if op.options_type in OPTIONS_CODES:
                t1 = op.options_type
            elif op.options_type in OPTIONS2_CODES:
                t2 = op.options_type
            else:
                raise TinymemError(f"writer: {where}: unknown options type {op.options_type!r}")
        src_t2 = None
        if src is not None and src.BuiltinOptions2Type():
            src_t2 = OPTIONS2_NAMES.get(src.BuiltinOptions2Type())
            if t2 is None and src_name == op.opcode:
                t2 = src_t2
        allowed = set()
        for t in (t1, t2):
            if t is not None:
                allowed.update(options_keys(t))
        unknown = set(op.options) - allowed
        if unknown:
            raise TinymemError(f"writer: {where}: options {sorted(unknown)} do not belong to "
                               f"{op.options_type or 'an operator without options'}")
        opts1 = opts2 = None
        if t1 is not None:
            src_tab = self._source_options(src, t1, 1)
            # Tile copies of an op share one options table when it holds only
            # scalars and enum names (the source only matters for empty vectors
            # and strings).
            key = None
            if all(isinstance(v, (int, float, bool)) or (isinstance(v, str) and v)
                   for v in op.options.values()):
                key = (t1, tuple(sorted(op.options.items())))
            cache = self.__dict__.setdefault("_options_cache", {})
            if key is not None and key in cache:
                opts1 = cache[key]
            else:
                opts1 = build_options(b, t1, op.options, src_tab)
                if key is not None:
                    cache[key] = opts1
        if t2 is not None:
            src_tab = self._source_options(src, t2, 2)
            opts2 = build_options(b, t2, op.options, src_tab)

        remap = self.remap[si]
        inputs = int_vector(b, [remap[v] for v in op.inputs])
        outputs = int_vector(b, [remap[v] for v in op.outputs])
        inter = None
        if op.intermediates or (src is not None and not src.IntermediatesIsNone()
                                and src_name == op.opcode):
            inter = int_vector(b, [remap[v] for v in op.intermediates])
        custom = mutating = None
        custom_format = 0
        debug_index = -1
        if src is not None and src_name == op.opcode:
            if src.LargeCustomOptionsOffset() > 1:
                raise TinymemError(f"writer: {where}: custom options stored outside the "
                                   "flatbuffer (a model over 2 GB) cannot be rewritten")
            if not src.CustomOptionsIsNone():
                custom = bytes_vector(b, src.CustomOptionsAsNumpy().tobytes(), 16)
            custom_format = src.CustomOptionsFormat()
            n_mut = src.MutatingVariableInputsLength()
            if n_mut and n_mut == len(op.inputs):
                mutating = numeric_vector(b, src.MutatingVariableInputsAsNumpy().astype("u1"), 1)
            debug_index = src.DebugMetadataIndex()
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, opcode_index)
        tflite.OperatorAddInputs(b, inputs)
        tflite.OperatorAddOutputs(b, outputs)
        if opts1 is not None:
            tflite.OperatorAddBuiltinOptionsType(b, OPTIONS_CODES[t1])
            tflite.OperatorAddBuiltinOptions(b, opts1)
        if custom is not None:
            tflite.OperatorAddCustomOptions(b, custom)
        tflite.OperatorAddCustomOptionsFormat(b, custom_format)
        if mutating is not None:
            tflite.OperatorAddMutatingVariableInputs(b, mutating)
        if inter is not None:
            tflite.OperatorAddIntermediates(b, inter)
        if opts2 is not None:
            tflite.OperatorAddBuiltinOptions2Type(b, OPTIONS2_CODES[t2])
            tflite.OperatorAddBuiltinOptions2(b, opts2)
        tflite.OperatorAddDebugMetadataIndex(b, debug_index)
        return tflite.OperatorEnd(b)

    @staticmethod
    def _source_options(src, type_name: str, which: int):
        """The source op's options table of this type, to tell absent from empty vectors."""
        if src is None:
            return None
        if which == 1:
            if OPTIONS_NAMES.get(src.BuiltinOptionsType()) != type_name:
                return None
            table = src.BuiltinOptions()
        else:
            if OPTIONS2_NAMES.get(src.BuiltinOptions2Type()) != type_name:
                return None
            table = src.BuiltinOptions2()
        if table is None:
            return None
        obj = getattr(schema_module(type_name), type_name)()
        obj.Init(table.Bytes, table.Pos)
        return obj

    def _metadata(self) -> int | None:
        if not self.metadata:
            return None
        b = self.b
        tables = []
        for name, buf in self.metadata.items():
            s = b.CreateString(name)
            tflite.MetadataStart(b)
            tflite.MetadataAddName(b, s)
            tflite.MetadataAddBuffer(b, buf)
            tables.append(tflite.MetadataEnd(b))
        return offsets_vector(b, tables)

    def _signatures(self) -> int | None:
        sigs = self.model.signature_defs
        if not sigs:
            return None
        b = self.b
        tables = []
        for sig in sigs:
            remap = self.remap[sig.subgraph]
            maps = []
            for pairs in (sig.inputs, sig.outputs):
                entries = []
                for name, tensor in pairs:
                    s = b.CreateString(name)
                    tflite.TensorMapStart(b)
                    tflite.TensorMapAddName(b, s)
                    tflite.TensorMapAddTensorIndex(b, remap[tensor])
                    entries.append(tflite.TensorMapEnd(b))
                maps.append(offsets_vector(b, entries))
            key = b.CreateString(sig.key)
            tflite.SignatureDefStart(b)
            tflite.SignatureDefAddInputs(b, maps[0])
            tflite.SignatureDefAddOutputs(b, maps[1])
            tflite.SignatureDefAddSignatureKey(b, key)
            tflite.SignatureDefAddSubgraphIndex(b, sig.subgraph)
            tables.append(tflite.SignatureDefEnd(b))
        return offsets_vector(b, tables)
