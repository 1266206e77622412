"""Small shape helpers shared by the op families."""

from __future__ import annotations

from ..graph.ir import Operator, Subgraph, Tensor


def tensor(sg: Subgraph, op: Operator, which: str, i: int) -> Tensor | None:
    idx = (op.inputs if which == "in" else op.outputs)
    if i >= len(idx) or idx[i] < 0:
        return None
    return sg.tensors[idx[i]]


def inp(sg: Subgraph, op: Operator, i: int = 0) -> Tensor | None:
    return tensor(sg, op, "in", i)


def out(sg: Subgraph, op: Operator, i: int = 0) -> Tensor | None:
    return tensor(sg, op, "out", i)


def elements(t: Tensor | None) -> int:
    return t.num_elements if t is not None else 0


def dim(t: Tensor | None, axis: int, default: int = 1) -> int:
    if t is None or not t.shape:
        return default
    try:
        return max(t.shape[axis], 1)
    except IndexError:
        return default



def int_array_bytes(rank: int) -> int:
    """sizeof a TfLiteIntArray of `rank` entries: its size field and one int each."""
    return 4 + 4 * rank


def output_dims_copy(op: Operator, sg: Subgraph, target=None) -> list[int]:
    """The tail buffer a kernel's Prepare takes to rewrite its output's shape: TFLM's
    CreateWritableTensorDimsWithCopy moves the dims out of the flatbuffer."""
    y = out(sg, op, 0)
    return [] if y is None else [int_array_bytes(len(y.shape))]
