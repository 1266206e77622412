"""Refusing a model the writer cannot serialise soundly, before anything is built.

Every index the file will hold (tensor -> buffer, op/subgraph/signature ->
tensor, metadata -> buffer) must point inside its list; a bad one is one
TinymemError naming the place.
"""

from __future__ import annotations

from ..read import dtypes
from ..errors import TinymemError
from ..graph.ir import Model, Subgraph


def check_model(model: Model) -> None:
    """Raise TinymemError for the first index or type of `model` that is out of place."""
    if not model.subgraphs:
        raise TinymemError("writer: the model has no subgraphs")
    n_buffers = len(model.buffers)
    for si, sg in enumerate(model.subgraphs):
        _check_tensors(si, sg, n_buffers)
        _check_subgraph_io(si, sg)
        _check_operators(si, sg)
    _check_signatures(model)
    for name, b in model.metadata.items():
        if not 0 <= b < n_buffers:
            raise TinymemError(f"writer: metadata {name!r} points at buffer {b}, "
                               f"but the model has {n_buffers}")


def _check_tensors(si: int, sg: Subgraph, n_buffers: int) -> None:
    for ti, t in enumerate(sg.tensors):
        if t.dtype not in dtypes.NAME_TO_CODE:
            raise TinymemError(f"writer: subgraph {si} tensor {ti} ({t.name}) has "
                               f"unknown type {t.dtype!r}")
        if t.data is None and not 0 <= t.buffer < n_buffers:
            raise TinymemError(f"writer: subgraph {si} tensor {ti} ({t.name}) points at "
                               f"buffer {t.buffer}, but the model has {n_buffers}")


def _check_subgraph_io(si: int, sg: Subgraph) -> None:
    n_t = len(sg.tensors)
    for what, idx in (("inputs", sg.inputs), ("outputs", sg.outputs)):
        for v in idx:
            if not 0 <= v < n_t:
                raise TinymemError(f"writer: subgraph {si} {what} name tensor {v}, "
                                   f"but there are {n_t}")


def _check_operators(si: int, sg: Subgraph) -> None:
    n_t = len(sg.tensors)
    for oi, op in enumerate(sg.operators):
        for what, idx in (("inputs", op.inputs), ("outputs", op.outputs),
                          ("intermediates", op.intermediates)):
            for v in idx:
                if not -1 <= v < n_t:  # -1: an optional input left out
                    raise TinymemError(
                        f"writer: subgraph {si} operator {oi} ({op.opcode}) {what} "
                        f"name tensor {v}, but there are {n_t}")


def _check_signatures(model: Model) -> None:
    for sig in model.signature_defs:
        if not 0 <= sig.subgraph < len(model.subgraphs):
            raise TinymemError(f"writer: signature {sig.key!r} names subgraph {sig.subgraph}")
        n_t = len(model.subgraphs[sig.subgraph].tensors)
        for _, v in sig.inputs + sig.outputs:
            if not 0 <= v < n_t:
                raise TinymemError(f"writer: signature {sig.key!r} names tensor {v}, "
                                   f"but there are {n_t}")


def check_offline_plan(offsets: list[int], total: int) -> None:
    """An offline plan has one offset per tensor over all subgraphs, each -1 or in int32."""
    if len(offsets) != total:
        raise TinymemError(f"writer: the offline plan has {len(offsets)} "
                           f"offsets, but the model has {total} tensors")
    for v in offsets:
        if not -1 <= int(v) < 2 ** 31:
            raise TinymemError(f"writer: offline plan offset {v} out of range")
