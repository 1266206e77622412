"""In-place execution: an op's output sharing the memory of one of its inputs.

TFLite Micro's planner honours an OfflineMemoryAllocation plan that puts two
tensors at the same offset even while both are alive, so an op whose kernel
reads element i before writing element i (which ones: `OpRule.in_place`)
can run over an input it uses for the last time. An alias joins the two
buffers into one: it is a constraint the layout search places as a single
buffer, never a rewrite of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph.ir import Model
from ..ops import rule_for
from .requests import BufferRequest, Requests


@dataclass(frozen=True)
class Alias:
    """Op `op` of subgraph `subgraph` writes tensor `output` over tensor `input`."""

    subgraph: int
    op: int
    output: int
    input: int


def find_aliases(model: Model, requests: Requests, overwrite_inputs: bool = False) -> list[Alias]:
    """Every in-place execution the op rules and the lifetimes allow, in op order.

    The input must be used for the last time by the op (so nothing reads it
    afterwards), must not be a model output, and must not be, or share memory
    with, a model input when the op writes - unless `overwrite_inputs`.
    Only the main subgraph is considered: nested subgraphs exchange tensors
    with their caller.
    """
    sg = model.main
    index = {b.tensor: i for i, b in enumerate(requests.buffers)
             if b.subgraph == 0 and b.tensor is not None}
    protected_out = set(sg.outputs)
    # Buffers whose memory is (shared with) a model input, which writes must spare.
    holds_input = {index[t] for t in sg.inputs if t in index}
    used: set[int] = set()
    found: list[Alias] = []
    for step in requests.steps:
        if step.subgraph != 0:
            continue
        op = sg.operators[step.op]
        rule = rule_for(op).in_place
        if rule is None or not op.outputs or op.outputs[0] < 0:
            continue
        out_t = op.outputs[0]
        ob = index.get(out_t)
        if ob is None or requests.buffers[ob].first != step.scope:
            continue
        y = sg.tensors[out_t]
        for k in rule.inputs:
            if k >= len(op.inputs) or op.inputs[k] < 0 or op.inputs[k] == out_t:
                continue
            in_t = op.inputs[k]
            ib = index.get(in_t)
            if ib is None or ib in used or in_t in protected_out:
                continue
            x, xb = sg.tensors[in_t], requests.buffers[ib]
            if xb.last != step.scope or xb.offline_offset is not None \
                    or requests.buffers[ob].offline_offset is not None:
                continue
            if x.dtype != y.dtype or xb.size != requests.buffers[ob].size:
                continue
            if rule.same_shape and tuple(x.shape) != tuple(y.shape):
                continue
            if rule.writes and ib in holds_input and not overwrite_inputs:
                continue
            found.append(Alias(subgraph=0, op=op.index, output=out_t, input=in_t))
            used.add(ib)
            if ib in holds_input:
                holds_input.add(ob)
            break
    return found


def alias_groups(requests: Requests, aliases: list[Alias]) -> list[list[int]]:
    """Buffer indices joined by the aliases (chains, as each tensor is
    overwritten at most once and each op writes over one input); every
    buffer appears in exactly one group."""
    index = {(b.subgraph, b.tensor): i for i, b in enumerate(requests.buffers)
             if b.tensor is not None}
    parent = list(range(len(requests.buffers)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in aliases:
        i, o = index.get((a.subgraph, a.input)), index.get((a.subgraph, a.output))
        if i is not None and o is not None:
            parent[root(o)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(parent)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def merge(buffers: list[BufferRequest], groups: list[list[int]]) -> list[BufferRequest]:
    """One buffer per group: the largest size over the union of the lifetimes."""
    out = []
    for g in groups:
        if len(g) == 1:
            out.append(buffers[g[0]])
            continue
        bs = [buffers[i] for i in g]
        out.append(BufferRequest(size=max(b.aligned for b in bs), first=min(b.first for b in bs),
                                 last=max(b.last for b in bs), subgraph=bs[0].subgraph))
    return out
