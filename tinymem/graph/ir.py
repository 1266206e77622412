"""The graph IR: what tinymem knows about a model after reading it.

Plain dataclasses with no behaviour beyond simple derived facts. The reader
builds them from a flatbuffer, schedules build transformed copies, the memory
planner measures them and the writer serialises them; nobody else needs the
flatbuffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from ..read import dtypes
from ..read.schema import CUSTOM_CODE


class computed_once:
    """functools.cached_property without its lock (Python 3.11 takes one on every
    read until the value is stored): the value is stored in the instance's
    __dict__ on first read, where later reads find it before the descriptor.
    For facts derived from fields that never change (a frozen request's size)."""

    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


def own_name(name: str) -> str:
    """The part of a tensor name that names its own op: converters name the output of
    fused ops by joining the fused ops' names with ';', the producing op's first."""
    return name.split(";")[0]


class TensorKind(StrEnum):
    """What a tensor's memory is: the arena plans activations (and variables
    with an offline offset); constants live in the model's flash."""

    CONSTANT = "constant"  # its buffer holds data
    VARIABLE = "variable"  # state kept across invocations
    ACTIVATION = "activation"  # produced and consumed while the model runs


@dataclass(frozen=True)
class Quantization:
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    min: tuple[float, ...] = ()
    max: tuple[float, ...] = ()

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    buffer: int = 0
    has_data: bool = False  # a constant: its buffer holds data
    is_variable: bool = False
    shape_signature: tuple[int, ...] | None = None
    quantization: Quantization | None = None
    # Constant data created by a rewrite (sliced weights); None means the
    # data, if any, lives in the source model's buffer `buffer`.
    data: np.ndarray | None = None
    # The values of a small constant (<= 256 bytes) read from the file, for
    # rules that need operands such as paddings or axes. Not written back.
    value: np.ndarray | None = field(default=None, repr=False, compare=False)

    # Cached: tensors are never changed in place (schedules make new ones), and a
    # search asks every tensor of every candidate (6.5M times on a MobileNetV2).
    @computed_once
    def kind(self) -> TensorKind:
        if self.has_data:
            return TensorKind.CONSTANT
        if self.is_variable:
            return TensorKind.VARIABLE
        return TensorKind.ACTIVATION

    # Cached: tensors are never reshaped in place (schedules make new ones).
    @computed_once
    def num_elements(self) -> int:
        # Unknown (-1) dimensions count as 1, as the file's `shape` already does.
        return math.prod(max(d, 1) for d in self.shape) if self.shape else 1

    @computed_once
    def nbytes(self) -> int:
        return dtypes.nbytes(self.dtype, self.num_elements)


@dataclass
class Operator:
    index: int
    opcode: str  # builtin name ("CONV_2D") or "CUSTOM:<name>"
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    options_type: str | None = None  # flatbuffer options table name
    version: int = 1
    builtin_code: int = CUSTOM_CODE
    custom_code: str | None = None
    intermediates: tuple[int, ...] = ()
    # Index of the operator of the source model this one computes (part of),
    # for ops created by a schedule; equal to `index` for read ops.
    origin: int | None = None
    # Index of the operator in the source file whose serialised extras
    # (custom options, options2) the writer copies, if any.
    source_op: int | None = None
    # Set on ops a schedule created ("tile", "fdt", "merge"); schedules do not
    # re-split ops that carry a tag.
    tag: str | None = None
    # Raw custom options (flexbuffer) of custom ops, for rules that read them.
    custom_options: bytes | None = field(default=None, repr=False)

    @property
    def is_custom(self) -> bool:
        return self.custom_code is not None

    def real_inputs(self) -> tuple[int, ...]:
        if -1 not in self.inputs:
            return self.inputs
        return tuple(i for i in self.inputs if i >= 0)


@dataclass(frozen=True)
class Rewrite:
    """What the rewrite that made a subgraph changed in the one it rewrote: a
    search measures a candidate's MACs and support from these alone (every
    other op is the source's, at most renumbered)."""

    source: int  # id() of the subgraph rewritten (alive while the new one is measured)
    created: tuple["Operator", ...]  # the ops the rewrite made, as they are in the new subgraph
    dropped: tuple["Operator", ...]  # the source's ops it left out


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    # Set by a schedule's rewrite (GraphEditor.finish); None when read from a file.
    rewrite: Rewrite | None = field(default=None, repr=False, compare=False)

    def producers(self) -> dict[int, int]:
        """Tensor index -> index of the operator that writes it."""
        out: dict[int, int] = {}
        for op in self.operators:
            for t in op.outputs:
                if t >= 0:
                    out.setdefault(t, op.index)
        return out

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index -> indices of the operators that read it, in order."""
        out: dict[int, list[int]] = {}
        for op in self.operators:
            for t in op.real_inputs():
                lst = out.setdefault(t, [])
                if not lst or lst[-1] != op.index:
                    lst.append(op.index)
        return out

    def is_activation(self, t: int) -> bool:
        return t >= 0 and self.tensors[t].kind == TensorKind.ACTIVATION


@dataclass(frozen=True)
class Buffer:
    size: int  # bytes of data (0 for the empty buffers activations point at)
    offset: int = 0  # >1 for data stored after the flatbuffer (models > 2 GB)


@dataclass(frozen=True)
class SignatureDef:
    key: str
    subgraph: int
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]


@dataclass
class Model:
    path: str | None
    version: int
    description: str
    subgraphs: list[Subgraph]
    buffers: list[Buffer]
    metadata: dict[str, int]  # metadata name -> buffer index
    signature_defs: list[SignatureDef] = field(default_factory=list)
    file_size: int = 0
    # The raw flatbuffer, kept (not copied) so weights can be read lazily.
    raw: bytes | memoryview | None = field(default=None, repr=False)

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    def weights_bytes(self) -> int:
        """Bytes of constant data referenced by any tensor (each buffer once)."""
        used = {t.buffer for sg in self.subgraphs for t in sg.tensors if t.has_data}
        return sum(self.buffers[b].size for b in used if 0 <= b < len(self.buffers))
