"""Read a .tflite flatbuffer into the graph IR, trusting nothing in the file.

Weights are never copied: constant tensors keep their buffer index and the
model keeps the raw bytes, so a 4 MB model reads in milliseconds. Every index
is range-checked and every failure of the flatbuffer library on a damaged
file becomes one ModelError with a readable reason.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from typing import Any

import flatbuffers
import numpy as np
import tflite

from . import dtypes, limits
from ..errors import ModelError, TinymemError
from .flatbuffer_check import Damaged, check_model
from ..graph.ir import Buffer, Model, Operator, Quantization, SignatureDef, Subgraph, Tensor
from .reflection import options_fields
from .schema import (ENUM_FIELDS, FILE_IDENTIFIER, OPTIONS2_NAMES, OPTIONS_NAMES,
                     opcode_name, opcode_of)

# No tensor of a real model (let alone one for a microcontroller) has more
# elements than this; a larger claim is a damaged file.
MAX_ELEMENTS = 1 << 40
# Constants up to this size are read at load time (paddings, axes, shapes).
SMALL_CONSTANT = 256
# The types whose small constants are read as values (the operands rules need).
_VALUE_TYPES = ("int32", "int64", "int16", "int8", "uint8", "float32")


def load_model(path: str | os.PathLike) -> Model:
    """Read a .tflite file. Raises ModelError for anything that is not a sound model."""
    path = os.fspath(path)
    check_model_file(path)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the check, opening
        # it must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ModelError(f"{path}: not a regular file")
            data = f.read(limits.MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse_model(data, path)


def check_model_file(path: str) -> None:
    """Refuse, before opening it, a path that is not a regular file of sane size:
    /dev/zero would be read forever, a FIFO would wait for a writer."""
    from ..fileio import check_input

    try:
        st = check_input(path)
    except TinymemError as e:  # the one rule for inputs, told as a model error
        raise ModelError(str(e)) from None
    if st.st_size > limits.MAX_FILE_BYTES:
        raise ModelError(f"{path}: {st.st_size:,} bytes is larger than any model tinymem reads "
                         f"(limit {limits.MAX_FILE_BYTES:,})")


def parse_model(data: bytes, path: str | None = None) -> Model:
    """Parse flatbuffer bytes into a Model. Raises ModelError on any damage."""
    where = path or "<model>"
    if len(data) == 0:
        raise ModelError(f"{where}: file is empty")
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ModelError(f"{where}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    if len(data) > limits.MAX_FILE_BYTES:
        raise ModelError(f"{where}: {len(data):,} bytes is larger than any model tinymem reads "
                         f"(limit {limits.MAX_FILE_BYTES:,})")
    try:
        return _Reader(data, path).model()
    except ModelError:
        raise
    except RecursionError:
        raise ModelError(f"{where}: corrupted flatbuffer (nested too deep)") from None
    except (struct.error, IndexError, ValueError, TypeError, UnicodeDecodeError,
            OverflowError, KeyError, MemoryError) as e:
        raise ModelError(f"{where}: corrupted or truncated flatbuffer ({type(e).__name__})") from None


class _Reader:
    def __init__(self, data: bytes, path: str | None):
        self.data = data
        self.path = path
        self.where = path or "<model>"
        # Bytes of strings and vectors taken out of the file so far (see limits.data_budget).
        self.spent = 0
        self.budget = limits.data_budget(len(data))

    def fail(self, msg: str) -> ModelError:
        return ModelError(f"{self.where}: {msg}")

    def length(self, n: int, what: str, elem: int = 1) -> int:
        # A damaged length can claim billions of entries; no real vector is
        # larger than the file holding it.
        if n < 0 or n * elem > len(self.data):
            raise self.fail(f"corrupted flatbuffer ({what} claims {n} entries)")
        self.spend(n * elem)
        return n

    def spend(self, nbytes: int) -> None:
        # Every vector and string read is charged, each time it is used: shared
        # tables cannot make a small file expand into gigabytes.
        self.spent += nbytes
        if self.spent > self.budget:
            raise self.fail(f"tables shared by many entries expand to more than "
                            f"{self.budget:,} bytes (a {len(self.data):,}-byte file): refused")

    def text(self, b: bytes | None) -> str:
        if b:
            self.spend(len(b))
        return _text(b)

    def model(self) -> Model:
        root = struct.unpack_from("<I", self.data, 0)[0]
        if root + 4 > len(self.data):
            raise self.fail("truncated flatbuffer (root table past end of file)")
        fb = tflite.Model.GetRootAs(self.data, 0)
        version = fb.Version()
        n_sub = self.length(fb.SubgraphsLength(), "subgraph list", 4)
        if n_sub == 0:
            raise self.fail("model has no subgraphs")
        self.check_counts(fb, n_sub)
        self.check_tables()
        buffers = self.buffers(fb)
        opcodes = self.opcodes(fb)
        subgraphs = [self.subgraph(fb.Subgraphs(i), i, opcodes, buffers) for i in range(n_sub)]
        for sg in subgraphs:
            self.check_subgraph_refs(sg, n_sub)
            self.check_operators(sg)
        self.check_calls(subgraphs)
        metadata: dict[str, int] = {}
        for i in range(self.length(fb.MetadataLength(), "metadata list", 4)):
            m = fb.Metadata(i)
            b = m.Buffer()
            if not 0 <= b < len(buffers):
                raise self.fail(f"metadata {i} points at buffer {b} of {len(buffers)}")
            metadata[self.text(m.Name()) or f"metadata_{i}"] = b
        sigs = []
        for i in range(self.length(fb.SignatureDefsLength(), "signature list", 4)):
            s = fb.SignatureDefs(i)
            sigs.append(SignatureDef(
                key=self.text(s.SignatureKey()),
                subgraph=s.SubgraphIndex(),
                inputs=tuple((self.text(s.Inputs(j).Name()), s.Inputs(j).TensorIndex())
                             for j in range(self.length(s.InputsLength(), "signature inputs", 4))),
                outputs=tuple((self.text(s.Outputs(j).Name()), s.Outputs(j).TensorIndex())
                              for j in range(self.length(s.OutputsLength(), "signature outputs", 4))),
            ))
        return Model(path=self.path, version=version, description=self.text(fb.Description()),
                     subgraphs=subgraphs, buffers=buffers, metadata=metadata,
                     signature_defs=sigs, file_size=len(self.data), raw=self.data)

    def check_counts(self, fb: Any, n_sub: int) -> None:
        """Refuse, before reading any tensor, more subgraphs, tensors or operators
        than a real model has (limits.py): the vector lengths say how many."""
        if n_sub > limits.MAX_SUBGRAPHS:
            raise self.fail(f"{n_sub:,} subgraphs (limit {limits.MAX_SUBGRAPHS:,})")
        n_t = n_op = 0
        for i in range(n_sub):
            sg = fb.Subgraphs(i)
            n_t += sg.TensorsLength()
            n_op += sg.OperatorsLength()
        if n_t > limits.MAX_TENSORS:
            raise self.fail(f"{n_t:,} tensors over {n_sub:,} subgraph(s) "
                            f"(limit {limits.MAX_TENSORS:,})")
        if n_op > limits.MAX_OPERATORS:
            raise self.fail(f"{n_op:,} operators over {n_sub:,} subgraph(s) "
                            f"(limit {limits.MAX_OPERATORS:,})")
        if fb.Subgraphs(0).OperatorsLength() == 0:
            raise self.fail("the main subgraph has no operators: nothing to run")

    def check_tables(self) -> None:
        # Every table, including the fields only the writer copies, lies in the file.
        try:
            check_model(self.data, limits.MAX_TABLES)
        except Damaged as e:
            raise self.fail(f"corrupted flatbuffer ({e})") from None

    def check_operators(self, sg: Subgraph) -> None:
        # An op cannot read the tensor it is writing (TFLM would read garbage;
        # every schedule orders ops by their data dependencies).
        for op in sg.operators:
            loop = set(t for t in op.outputs if t >= 0) & set(op.inputs)
            if loop:
                raise self.fail(f"subgraph {sg.index} operator {op.index} ({op.opcode}) reads "
                                f"its own output tensor {min(loop)}")

    def check_calls(self, subgraphs: list[Subgraph]) -> None:
        """Refuse control flow the planner cannot inline in bounded time.

        Walks the calls from the main subgraph without recursion: a subgraph
        that calls itself (directly or not), nesting deeper than
        MAX_CALL_DEPTH, or more than MAX_INLINED_STEPS op executions once every
        call is inlined (24 IFs whose branches both call the next: 2**24).
        """
        calls = [[(op.index, v) for op in sg.operators for k, v in op.options.items()
                  if k.endswith("subgraph_index") and isinstance(v, int)] for sg in subgraphs]
        steps: dict[int, int] = {}  # subgraph -> op executions, its calls inlined
        on_path: list[int] = [0]
        pending = [iter(calls[0])]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                pending.pop()
                g = on_path.pop()
                steps[g] = len(subgraphs[g].operators) + sum(steps[c] for _, c in calls[g])
                if steps[g] > limits.MAX_INLINED_STEPS:
                    raise self.fail(f"control flow from subgraph {g} inlines into more than "
                                    f"{limits.MAX_INLINED_STEPS:,} operator runs")
                continue
            op, callee = nxt
            if callee in on_path:
                raise self.fail(f"subgraph {on_path[-1]} operator {op} calls subgraph {callee}, "
                                "which is already running (recursive control flow)")
            if callee in steps:
                continue
            if len(on_path) >= limits.MAX_CALL_DEPTH:
                raise self.fail(f"control flow nests deeper than {limits.MAX_CALL_DEPTH} "
                                "subgraph calls")
            on_path.append(callee)
            pending.append(iter(calls[callee]))

    def check_subgraph_refs(self, sg: Subgraph, n_sub: int) -> None:
        # Control-flow ops name other subgraphs in options such as
        # then_subgraph_index / body_subgraph_index / init_subgraph_index.
        for op in sg.operators:
            for key, val in op.options.items():
                if key.endswith("subgraph_index") and isinstance(val, int):
                    if not 0 <= val < n_sub:
                        raise self.fail(f"subgraph {sg.index} operator {op.index} ({op.opcode}) "
                                        f"calls subgraph {val}, but there are {n_sub}")

    def buffers(self, fb: Any) -> list[Buffer]:
        out = []
        self.small: dict[int, bytes] = {}
        for i in range(self.length(fb.BuffersLength(), "buffer list", 4)):
            b = fb.Buffers(i)
            size = b.DataLength()
            offset = b.Offset()
            if offset > 1:
                size = b.Size()  # data stored after the flatbuffer
                if offset + size > len(self.data):
                    raise self.fail(f"buffer {i} lies past the end of the file")
            elif size:
                self.length(size, f"buffer {i}")
                if size <= SMALL_CONSTANT:
                    self.small[i] = b.DataAsNumpy().tobytes()
            out.append(Buffer(size=size, offset=offset))
        return out

    def opcodes(self, fb: Any) -> list[tuple[str, int, str | None, int]]:
        out = []
        for i in range(self.length(fb.OperatorCodesLength(), "operator code list", 4)):
            oc = fb.OperatorCodes(i)
            code, custom = opcode_of(oc)
            out.append((opcode_name(code, custom), code, custom, oc.Version()))
        return out

    def subgraph(self, fb: Any, index: int, opcodes: list, buffers: list[Buffer]) -> Subgraph:
        n_t = self.length(fb.TensorsLength(), "tensor list", 4)
        tensors = [self.tensor(fb.Tensors(i), i, buffers, index) for i in range(n_t)]
        ops = []
        for i in range(self.length(fb.OperatorsLength(), "operator list", 4)):
            ops.append(self.operator(fb.Operators(i), i, opcodes, n_t, index))
        inputs = self.indices(fb.InputsAsNumpy, fb.InputsLength, "subgraph inputs", n_t, index)
        outputs = self.indices(fb.OutputsAsNumpy, fb.OutputsLength, "subgraph outputs", n_t, index)
        return Subgraph(index=index, name=self.text(fb.Name()), tensors=tensors,
                        operators=ops, inputs=inputs, outputs=outputs)

    def indices(self, as_numpy, length, what: str, n_t: int, sg: int,
                optional_ok: bool = False) -> tuple[int, ...]:
        if self.length(length(), what, 4) == 0:
            return ()
        vals = tuple(int(v) for v in as_numpy())
        for v in vals:
            if v >= n_t or v < (-1 if optional_ok else 0):
                raise self.fail(f"subgraph {sg}: {what} refers to tensor {v}, "
                                f"but there are {n_t} tensors")
        return vals

    def tensor(self, fb: Any, index: int, buffers: list[Buffer], sg: int) -> Tensor:
        code = fb.Type()
        if not dtypes.is_known(code):
            raise self.fail(f"subgraph {sg} tensor {index}: unknown tensor type {code}")
        shape = ()
        if self.length(fb.ShapeLength(), "tensor shape", 4):
            shape = tuple(int(d) for d in fb.ShapeAsNumpy())
        if len(shape) > limits.MAX_RANK:
            raise self.fail(f"subgraph {sg} tensor {index}: {len(shape):,} dimensions "
                            f"(limit {limits.MAX_RANK})")
        if any(d < -1 for d in shape):
            raise self.fail(f"subgraph {sg} tensor {index}: invalid shape {list(shape)}")
        if math.prod(max(d, 1) for d in shape) > MAX_ELEMENTS:
            raise self.fail(f"subgraph {sg} tensor {index}: implausible shape {list(shape)}")
        sig = None
        if self.length(fb.ShapeSignatureLength(), "shape signature", 4):
            sig = tuple(int(d) for d in fb.ShapeSignatureAsNumpy())
        b = fb.Buffer()
        if not 0 <= b < len(buffers):
            raise self.fail(f"subgraph {sg} tensor {index} points at buffer {b} "
                            f"of {len(buffers)}")
        buf = buffers[b]
        has_data = b > 0 and (buf.size > 0 or buf.offset > 1)
        dtype = dtypes.dtype_name(code)
        value = None
        if has_data and b in self.small and dtype in _VALUE_TYPES:
            raw = self.small[b]
            np_type = np.dtype(dtypes.NUMPY_DTYPES[dtype])
            if len(raw) % np_type.itemsize == 0:
                value = np.frombuffer(raw, dtype=np_type)
        return Tensor(index=index, name=self.text(fb.Name()), shape=shape,
                      dtype=dtype, buffer=b, has_data=has_data,
                      is_variable=bool(fb.IsVariable()), shape_signature=sig,
                      quantization=self.quantization(fb.Quantization()), value=value)

    def quantization(self, q: Any) -> Quantization | None:
        if q is None:
            return None
        def vec(n_fn, np_fn, what):
            if self.length(n_fn(), what, 4) == 0:
                return ()
            return tuple(np_fn().tolist())
        scale = vec(q.ScaleLength, q.ScaleAsNumpy, "quantization scales")
        zp = vec(q.ZeroPointLength, q.ZeroPointAsNumpy, "zero points")
        mn = vec(q.MinLength, q.MinAsNumpy, "quantization min")
        mx = vec(q.MaxLength, q.MaxAsNumpy, "quantization max")
        if not (scale or zp or mn or mx):
            return None
        return Quantization(scale=tuple(float(s) for s in scale),
                            zero_point=tuple(int(z) for z in zp),
                            quantized_dimension=q.QuantizedDimension(), min=mn, max=mx)

    def operator(self, fb: Any, index: int, opcodes: list, n_t: int, sg: int) -> Operator:
        oi = fb.OpcodeIndex()
        if not 0 <= oi < len(opcodes):
            raise self.fail(f"subgraph {sg} operator {index} uses opcode {oi}, "
                            f"but there are {len(opcodes)}")
        name, code, custom, version = opcodes[oi]
        inputs = self.indices(fb.InputsAsNumpy, fb.InputsLength, f"operator {index} inputs",
                              n_t, sg, optional_ok=True)
        outputs = self.indices(fb.OutputsAsNumpy, fb.OutputsLength, f"operator {index} outputs",
                               n_t, sg, optional_ok=True)
        inter = self.indices(fb.IntermediatesAsNumpy, fb.IntermediatesLength,
                             f"operator {index} intermediates", n_t, sg, optional_ok=True)
        opts: dict[str, Any] = {}
        opts_type = None
        t = fb.BuiltinOptionsType()
        if t:
            opts_type = OPTIONS_NAMES.get(t)
            table = fb.BuiltinOptions()
            if opts_type and table is not None:
                opts = read_options(opts_type, table, self)
        t2 = fb.BuiltinOptions2Type()
        if t2:
            name2 = OPTIONS2_NAMES.get(t2)
            table = fb.BuiltinOptions2()
            if name2 and table is not None:
                opts.update(read_options(name2, table, self))
                opts_type = opts_type or name2
        custom_opts = None
        if custom is not None and self.length(fb.CustomOptionsLength(), "custom options"):
            custom_opts = fb.CustomOptionsAsNumpy().tobytes()
        return Operator(index=index, opcode=name, inputs=inputs, outputs=outputs,
                        options=opts, options_type=opts_type, version=version,
                        builtin_code=code, custom_code=custom, intermediates=inter,
                        origin=index, source_op=index, custom_options=custom_opts)


def _text(b: bytes | None) -> str:
    if not b:
        return ""
    return b.decode("utf-8", errors="replace")


def read_options(type_name: str, table: flatbuffers.table.Table, reader: _Reader) -> dict[str, Any]:
    cls, fields = options_fields(type_name)
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for key, meth, is_vec in fields:
        if is_vec:
            n = reader.length(getattr(obj, meth + "Length")(), f"option {key}", 4)
            as_numpy = getattr(obj, meth + "AsNumpy", None)
            if n and as_numpy is not None:
                val: Any = as_numpy().tolist()  # one copy, not one accessor call per entry
            else:
                val = [getattr(obj, meth)(j) for j in range(n)]
            if any(not isinstance(v, (int, float, bool)) for v in val):
                continue  # vectors of tables: not needed for analysis
        else:
            try:
                val = getattr(obj, meth)()
            except TypeError:
                continue  # accessor needing arguments (union helpers)
            if isinstance(val, bytes):
                val = reader.text(val)
            elif not isinstance(val, (int, float, bool)):
                continue  # nested tables
        if key in ENUM_FIELDS and isinstance(val, int):
            val = ENUM_FIELDS[key].get(val, val)
        out[key] = val
    return out
