"""The write plan: which tensors, buffers and operator codes go where in the file.

Decided from the IR alone (plus the source's opcode list), before any byte is
built, so it can be tested without flatbuffers:

- tensors: those an operator, a subgraph input/output or a signature names,
  renumbered in order (all of them with `keep_unused`);
- buffers keep their indices: a source buffer nothing refers to any more is
  written empty in place, so weights are never duplicated and no index needs
  remapping; new constants (`Tensor.data`, equal ones shared) and an offline
  memory plan get new buffers at the end; an activation that points at data
  gets an empty buffer;
- operator codes: the used ones, in source order first, then new ones in
  order of first use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..read import dtypes
from ..errors import TinymemError
from ..graph.ir import Buffer, Model, Operator, Tensor
from ..read.file import offline_plan_words
from ..read.schema import (BUILTIN_CODES, BUILTIN_NAMES, CUSTOM_CODE, OFFLINE_PLAN_KEY,
                           UNKNOWN_PREFIX, custom_name)
from .validate import check_offline_plan

# (builtin code, custom code or None, version): what makes two OperatorCode entries the same.
OpcodeKey = tuple[int, "str | None", int]


@dataclass
class TensorPlan:
    kept: list[list[int]]  # per subgraph: the IR tensor indices written, in file order
    remap: list[dict[int, int]]  # per subgraph: IR index -> file index (-1 -> -1)
    dropped: int  # tensors left out over all subgraphs


@dataclass
class BufferPlan:
    n_source: int  # source buffers, written at their own indices
    keep: set[int]  # source buffers whose data is written
    new: list[bytes]  # data of the buffers appended after the source ones
    tensor_buffer: list[dict[int, int]]  # per subgraph: IR tensor index -> buffer index
    metadata: dict[str, int]  # metadata name -> buffer index

    @property
    def n_buffers(self) -> int:
        return self.n_source + len(self.new)

    def data_bytes(self, source_buffers: list[Buffer]) -> int:
        """Bytes of buffer data the file will hold."""
        kept = sum(source_buffers[i].size for i in self.keep if source_buffers[i].offset <= 1)
        return kept + sum(len(d) for d in self.new)


@dataclass
class OpcodePlan:
    entries: list[OpcodeKey]  # the OperatorCode table, in file order
    op_index: list[list[int]]  # per subgraph, per operator: its entry in `entries`


@dataclass
class WritePlan:
    tensors: TensorPlan
    buffers: BufferPlan
    opcodes: OpcodePlan
    offline: list[int] | None  # the offline plan written (one offset per IR tensor)


def plan_write(model: Model, offline: list[int] | None = None, keep_unused: bool = False,
               source_opcodes: list[OpcodeKey] = (), metadata_buffers: list[int] = (),
               stored_offline: list[int] | None = None) -> WritePlan:
    """Where everything of a checked model goes (see the module docstring).

    `source_opcodes` is the source file's OperatorCode list, `metadata_buffers`
    its metadata_buffer list, and `stored_offline` the offline plan the source
    file carries (kept for the renumbered tensors when no new one is given).
    Raises TinymemError for data or plans that do not fit the model.
    """
    tensors = plan_tensors(model, keep_unused)
    offline = _offline_plan(model, offline, stored_offline, tensors.dropped)
    buffers = plan_buffers(model, tensors, offline, metadata_buffers)
    return WritePlan(tensors=tensors, buffers=buffers,
                     opcodes=plan_opcodes(model, source_opcodes), offline=offline)


def plan_tensors(model: Model, keep_unused: bool = False) -> TensorPlan:
    kept_all: list[list[int]] = []
    remaps: list[dict[int, int]] = []
    dropped = 0
    for si, sg in enumerate(model.subgraphs):
        if keep_unused:
            kept = list(range(len(sg.tensors)))
        else:
            used = set(sg.inputs) | set(sg.outputs)
            for op in sg.operators:
                used.update(op.inputs)
                used.update(op.outputs)
                used.update(op.intermediates)
            for sig in model.signature_defs:
                if sig.subgraph == si:
                    used.update(v for _, v in sig.inputs + sig.outputs)
            used.discard(-1)
            kept = sorted(used)
        dropped += len(sg.tensors) - len(kept)
        remap = {old: new for new, old in enumerate(kept)}
        remap[-1] = -1
        kept_all.append(kept)
        remaps.append(remap)
    return TensorPlan(kept=kept_all, remap=remaps, dropped=dropped)


def _offline_plan(model: Model, offline: list[int] | None, stored: list[int] | None,
                  dropped: int) -> list[int] | None:
    """The offline plan to write: the given one, or the stored one when tensors
    were renumbered (it must then be rewritten for the new numbering)."""
    total = sum(len(sg.tensors) for sg in model.subgraphs)
    if offline is None and stored is not None:
        if len(stored) != total:
            raise TinymemError(f"writer: the model's {OFFLINE_PLAN_KEY} plan has {len(stored)} "
                               f"offsets but the model has {total} tensors; pass a new "
                               "offline_plan or remove the old one from model.metadata")
        if dropped:
            offline = stored
    if offline is not None:
        check_offline_plan(offline, total)
    return offline


def constant_bytes(si: int, t: Tensor) -> bytes:
    """The buffer data of a tensor's new constant (`Tensor.data`), checked against its type."""
    arr = np.asarray(t.data)
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


class _BufferPlanner:
    """Hands out buffer indices: source ones, shared new constants, one empty buffer."""

    def __init__(self, model: Model):
        self.n_source = len(model.buffers)
        first = model.buffers[0] if model.buffers else None
        # The source's buffer 0 is the conventional empty one when it holds nothing.
        self.empty: int | None = (
            0 if first is not None and first.size == 0 and first.offset <= 1 else None)
        self.new: list[bytes] = []
        self.by_data: dict[bytes, int] = {}

    def append(self, data: bytes) -> int:
        self.new.append(data)
        return self.n_source + len(self.new) - 1

    def constant(self, data: bytes) -> int:
        b = self.by_data.get(data)
        if b is None:
            b = self.by_data[data] = self.append(data)
        return b

    def empty_buffer(self) -> int:
        if self.empty is None:
            self.empty = self.append(b"")
        return self.empty


def plan_buffers(model: Model, tensors: TensorPlan, offline: list[int] | None = None,
                 metadata_buffers: list[int] = ()) -> BufferPlan:
    bp = _BufferPlanner(model)
    keep = {0}
    tensor_buffer: list[dict[int, int]] = []
    for si, sg in enumerate(model.subgraphs):
        row = {}
        for ti in tensors.kept[si]:
            t = sg.tensors[ti]
            if t.data is not None:
                b = bp.constant(constant_bytes(si, t))
            elif not t.has_data and model.buffers[t.buffer].size > 0:
                # An activation must not point at data: give it an empty buffer.
                b = bp.empty_buffer()
            else:
                b = t.buffer
                keep.add(b)
            row[ti] = b
        tensor_buffer.append(row)
    metadata = dict(model.metadata)
    if offline is not None:
        offsets, base = [], 0
        for si, sg in enumerate(model.subgraphs):
            offsets += [int(offline[base + ti]) for ti in tensors.kept[si]]
            base += len(sg.tensors)
        metadata[OFFLINE_PLAN_KEY] = bp.append(offline_plan_words(len(model.subgraphs), offsets))
    keep.update(b for b in metadata.values() if b < bp.n_source)
    keep.update(b for b in metadata_buffers if 0 <= b < bp.n_source)
    return BufferPlan(n_source=bp.n_source, keep=keep, new=bp.new,
                      tensor_buffer=tensor_buffer, metadata=metadata)


def opcode_key(op: Operator) -> OpcodeKey:
    """The OperatorCode entry an IR operator needs."""
    custom = op.custom_code
    if custom is None:
        custom = custom_name(op.opcode)
    if custom is not None:
        return (CUSTOM_CODE, custom, int(op.version))
    code = BUILTIN_CODES.get(op.opcode)
    if code is None:
        # An op newer than the installed schema keeps the code it was read with.
        if op.opcode.startswith(UNKNOWN_PREFIX) or BUILTIN_NAMES.get(op.builtin_code) is None:
            code = op.builtin_code
        else:
            raise TinymemError(f"writer: unknown operator {op.opcode!r}")
    if code == CUSTOM_CODE:
        raise TinymemError(f"writer: operator {op.index} is CUSTOM but has no custom code")
    return (int(code), None, int(op.version))


def plan_opcodes(model: Model, source_opcodes: list[OpcodeKey] = ()) -> OpcodePlan:
    """The used OperatorCode entries, source order first, and each op's entry."""
    src_index: dict[OpcodeKey, int] = {}
    for i, key in enumerate(source_opcodes):
        src_index.setdefault(key, i)
    wanted: dict[OpcodeKey, tuple[int, int]] = {}  # key -> sort key
    per_op: list[list[OpcodeKey]] = []
    n_new = 0
    for sg in model.subgraphs:
        row = []
        for op in sg.operators:
            key = opcode_key(op)
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
    return OpcodePlan(entries=order, op_index=[[index[k] for k in row] for row in per_op])
