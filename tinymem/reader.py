"""Read a .tflite flatbuffer into the graph IR, trusting nothing in the file.

Weights are never copied: constant tensors keep their buffer index and the
model keeps the raw bytes, so a 4 MB model reads in milliseconds. Every index
is range-checked and every failure of the flatbuffer library on a damaged
file becomes one ModelError with a readable reason.
"""

from __future__ import annotations

import math
import os
import re
import struct
from functools import lru_cache
from typing import Any

import flatbuffers
import numpy as np
import tflite

from . import dtypes
from .errors import ModelError
from .ir import Buffer, Model, Operator, Quantization, SignatureDef, Subgraph, Tensor
from .tflite_schema import (ENUM_FIELDS, FILE_IDENTIFIER, OPTIONS2_NAMES, OPTIONS_NAMES,
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
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a directory, not a .tflite file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse_model(data, path)


def parse_model(data: bytes, path: str | None = None) -> Model:
    """Parse flatbuffer bytes into a Model. Raises ModelError on any damage."""
    where = path or "<model>"
    if len(data) == 0:
        raise ModelError(f"{where}: file is empty")
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ModelError(f"{where}: not a TFLite flatbuffer (no 'TFL3' identifier)")
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

    def fail(self, msg: str) -> ModelError:
        return ModelError(f"{self.where}: {msg}")

    def length(self, n: int, what: str, elem: int = 1) -> int:
        # A damaged length can claim billions of entries; no real vector is
        # larger than the file holding it.
        if n < 0 or n * elem > len(self.data):
            raise self.fail(f"corrupted flatbuffer ({what} claims {n} entries)")
        return n

    def model(self) -> Model:
        root = struct.unpack_from("<I", self.data, 0)[0]
        if root + 4 > len(self.data):
            raise self.fail("truncated flatbuffer (root table past end of file)")
        fb = tflite.Model.GetRootAs(self.data, 0)
        version = fb.Version()
        buffers = self.buffers(fb)
        opcodes = self.opcodes(fb)
        n_sub = self.length(fb.SubgraphsLength(), "subgraph list", 4)
        if n_sub == 0:
            raise self.fail("model has no subgraphs")
        subgraphs = [self.subgraph(fb.Subgraphs(i), i, opcodes, buffers) for i in range(n_sub)]
        for sg in subgraphs:
            self.check_subgraph_refs(sg, n_sub)
        metadata: dict[str, int] = {}
        for i in range(self.length(fb.MetadataLength(), "metadata list", 4)):
            m = fb.Metadata(i)
            b = m.Buffer()
            if not 0 <= b < len(buffers):
                raise self.fail(f"metadata {i} points at buffer {b} of {len(buffers)}")
            metadata[_text(m.Name()) or f"metadata_{i}"] = b
        sigs = []
        for i in range(self.length(fb.SignatureDefsLength(), "signature list", 4)):
            s = fb.SignatureDefs(i)
            sigs.append(SignatureDef(
                key=_text(s.SignatureKey()),
                subgraph=s.SubgraphIndex(),
                inputs=tuple((_text(s.Inputs(j).Name()), s.Inputs(j).TensorIndex())
                             for j in range(self.length(s.InputsLength(), "signature inputs", 4))),
                outputs=tuple((_text(s.Outputs(j).Name()), s.Outputs(j).TensorIndex())
                              for j in range(self.length(s.OutputsLength(), "signature outputs", 4))),
            ))
        return Model(path=self.path, version=version, description=_text(fb.Description()),
                     subgraphs=subgraphs, buffers=buffers, metadata=metadata,
                     signature_defs=sigs, file_size=len(self.data), raw=self.data)

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
        return Subgraph(index=index, name=_text(fb.Name()), tensors=tensors,
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
        return Tensor(index=index, name=_text(fb.Name()), shape=shape,
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


def read_options(type_name: str, table: flatbuffers.table.Table, reader: _Reader) -> dict[str, Any]:
    cls, fields = options_fields(type_name)
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for key, meth, is_vec in fields:
        if is_vec:
            n = reader.length(getattr(obj, meth + "Length")(), f"option {key}", 1)
            val: Any = [getattr(obj, meth)(j) for j in range(n)]
            if any(not isinstance(v, (int, float, bool)) for v in val):
                continue  # vectors of tables: not needed for analysis
        else:
            try:
                val = getattr(obj, meth)()
            except TypeError:
                continue  # accessor needing arguments (union helpers)
            if isinstance(val, bytes):
                val = _text(val)
            elif not isinstance(val, (int, float, bool)):
                continue  # nested tables
        if key in ENUM_FIELDS and isinstance(val, int):
            val = ENUM_FIELDS[key].get(val, val)
        out[key] = val
    return out
