"""In-place execution: an op's output sharing the memory of its inputs.

TFLite Micro's planner honours an OfflineMemoryAllocation plan that puts
tensors at overlapping offsets even while they are alive, so an op whose
kernel never writes over input bytes it has still to read (which ops, and
where each input must sit: `OpRule.in_place`) can run over inputs it uses
for the last time: an element-wise op over an input at the same offset, a
join over inputs placed as the chunks of its output, a PAD over an input
placed at its output's end. An alias places the input at a byte offset
inside the output; the aliases of a model join buffers into groups, each
laid out as one block. They are constraints the layout search places,
never a rewrite of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph.ir import Model
from ..ops import InPlaceMode, rule_for
from .requests import ALIGNMENT, BufferRequest, Requests, align


@dataclass(frozen=True)
class Alias:
    """Op `op` of subgraph `subgraph` writes tensor `output` over tensor `input`,
    which sits `offset` bytes into the output."""

    subgraph: int
    op: int
    output: int
    input: int
    offset: int = 0


def find_aliases(model: Model, requests: Requests, overwrite_inputs: bool = False) -> list[Alias]:
    """Every in-place execution the op rules and the lifetimes allow, in op order.

    Each input must be used for the last time by the op (so nothing reads it
    afterwards), must not be a model output, and must not be, or share memory
    with, a model input when the op writes - unless `overwrite_inputs`.
    Every tensor is placed inside at most one other. Only the main subgraph
    is considered: nested subgraphs exchange tensors with their caller.
    """
    sg = model.main
    index = {b.tensor: i for i, b in enumerate(requests.buffers)
             if b.subgraph == 0 and b.tensor is not None}
    protected_out = set(sg.outputs)
    # Buffers whose memory is (shared with) a model input, which writes must spare.
    holds_input = {index[t] for t in sg.inputs if t in index}
    used: set[int] = set()
    found: list[Alias] = []

    def free(in_t: int, op_scope: int, writes: bool) -> int | None:
        """The input's buffer, if the op may place it inside its output."""
        ib = index.get(in_t)
        if ib is None or ib in used or in_t in protected_out:
            return None
        xb = requests.buffers[ib]
        if xb.last != op_scope or xb.offline_offset is not None:
            return None
        if writes and ib in holds_input and not overwrite_inputs:
            return None
        return ib

    for step in requests.steps:
        if step.subgraph != 0:
            continue
        op = sg.operators[step.op]
        rule = rule_for(op).in_place
        if rule is None or not op.outputs or op.outputs[0] < 0:
            continue
        out_t = op.outputs[0]
        ob = index.get(out_t)
        if ob is None or requests.buffers[ob].first != step.scope \
                or requests.buffers[ob].offline_offset is not None:
            continue
        y = sg.tensors[out_t]
        placed = []  # (input tensor, its buffer, offset)
        if rule.mode is InPlaceMode.SAME_OFFSET:
            for k in rule.inputs:
                if k >= len(op.inputs) or op.inputs[k] < 0 or op.inputs[k] == out_t:
                    continue
                in_t = op.inputs[k]
                ib = free(in_t, step.scope, rule.writes)
                if ib is None:
                    continue
                x = sg.tensors[in_t]
                if x.dtype != y.dtype or requests.buffers[ib].size != requests.buffers[ob].size:
                    continue
                if rule.same_shape and tuple(x.shape) != tuple(y.shape):
                    continue
                placed.append((in_t, ib, 0))
                break
        else:
            for p in (rule.placement(op, sg) or []) if rule.placement else []:
                in_t = op.inputs[p.input]
                if in_t == out_t or sg.tensors[in_t].dtype != y.dtype:
                    continue
                ib = free(in_t, step.scope, rule.writes)
                if ib is None or p.highest + requests.buffers[ib].size > requests.buffers[ob].size:
                    continue
                placed.append((in_t, ib, _aligned_within(p.lowest, p.highest)))
        for in_t, ib, off in placed:
            found.append(Alias(subgraph=0, op=op.index, output=out_t, input=in_t, offset=off))
            used.add(ib)
            if ib in holds_input:
                holds_input.add(ob)
    return found


def in_place_floor(model: Model, requests: Requests, live: np.ndarray,
                   overwrite_inputs: bool = False) -> int:
    """The least head any layout of `requests` with in-place executions can have.

    An input placed inside its output shares bytes with it only at the op's
    scope (the input's last, the output's first), and never more than the
    input's bytes; nothing else may overlap. So the arena covers at least the
    live bytes at each scope less the inputs the op there may write over (all
    that `find_aliases` allows, a superset of what any layout honours). The
    explorer skips the in-place placement of candidates this rules out."""
    saved = np.zeros(len(live), dtype=np.int64)
    bufs = requests.buffers
    index = {b.tensor: i for i, b in enumerate(bufs) if b.subgraph == 0 and b.tensor is not None}
    for a in find_aliases(model, requests, overwrite_inputs):
        b = bufs[index[a.input]]
        if 0 <= b.last < len(saved):
            saved[b.last] += b.aligned
    return int((live - saved).max()) if len(live) else 0


def _aligned_within(lowest: int, highest: int) -> int:
    """The highest offset in [lowest, highest] on TFLM's 16-byte buffer
    alignment, else `highest`: aligned data suits every kernel's loads."""
    best = highest // ALIGNMENT * ALIGNMENT
    return best if best >= lowest else highest


@dataclass(frozen=True)
class Member:
    """One buffer of an alias group, `delta` bytes from the group's start."""

    buffer: int
    delta: int


def alias_groups(requests: Requests, aliases: list[Alias]) -> list[list[Member]]:
    """The buffers the aliases join, each with its offset in its group's block;
    every buffer appears in exactly one group (most alone, at delta 0).

    Each tensor sits inside at most one other, so a group is a tree whose
    root (the last output) is at delta 0 and every member lies within the
    bytes of the one it is placed in.
    """
    index = {(b.subgraph, b.tensor): i for i, b in enumerate(requests.buffers)
             if b.tensor is not None}
    parent: dict[int, tuple[int, int]] = {}  # buffer -> (buffer it sits in, offset there)
    for a in aliases:
        i, o = index.get((a.subgraph, a.input)), index.get((a.subgraph, a.output))
        if i is not None and o is not None:
            parent[i] = (o, a.offset)

    def place(i: int) -> tuple[int, int]:
        root, delta = i, 0
        while root in parent:
            root, off = parent[root]
            delta += off
        return root, delta

    groups: dict[int, list[Member]] = {}
    for i in range(len(requests.buffers)):
        root, delta = place(i)
        groups.setdefault(root, []).append(Member(i, delta))
    return list(groups.values())


def merge(buffers: list[BufferRequest], groups: list[list[Member]]) -> list[BufferRequest]:
    """One buffer per group: as large as the bytes its members reach (each
    member's aligned size, as TFLM plans it, from its delta), over the union
    of their lifetimes."""
    out = []
    for g in groups:
        if len(g) == 1 and g[0].delta == 0:
            out.append(buffers[g[0].buffer])
            continue
        bs = [buffers[m.buffer] for m in g]
        out.append(BufferRequest(size=align(max(m.delta + b.aligned for m, b in zip(g, bs))),
                                 first=min(b.first for b in bs), last=max(b.last for b in bs),
                                 subgraph=bs[0].subgraph))
    return out


def worthwhile(requests: Requests, aliases: list[Alias], live: np.ndarray | None = None
               ) -> list[Alias]:
    """The aliases that do not raise the live bytes where they change them (see `choose`)."""
    return choose(requests, aliases, live)[0]


def choose(requests: Requests, aliases: list[Alias], live: np.ndarray | None = None
           ) -> tuple[list[Alias], np.ndarray]:
    """The aliases worth honouring, and the live bytes per scope with their groups joined.

    Placing an input inside its output reserves the output's bytes from the
    input's birth on: a join's early chunk (rows kept across tiles) can cost
    more there than the copy it saves. The ops are taken in order, each with
    all its aliases; while they would raise the most bytes alive over the
    scopes they change, the input born first is left out (copied as before).
    `live`: the requests' live bytes per scope, if already known.
    """
    bufs = requests.buffers
    if live is None:
        from .liveness import live_bytes_per_scope
        live = live_bytes_per_scope(bufs, requests.last_scope)
    if not aliases:
        return [], live
    index = {(b.subgraph, b.tensor): i for i, b in enumerate(bufs) if b.tensor is not None}
    live = live.astype(np.int64)  # a copy: changed in place below
    blocks: dict[int, _Block] = {}  # root buffer -> its group so far

    def block(i: int) -> _Block:
        if i not in blocks:
            b = bufs[i]
            blocks[i] = _Block([Member(i, 0)], max(b.first, 0), b.last, b.aligned)
        return blocks[i]

    kept: list[Alias] = []
    for op_aliases in _by_op(aliases):
        pairs = [(a, index.get((a.subgraph, a.input)), index.get((a.subgraph, a.output)))
                 for a in op_aliases]
        pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
        while pairs:
            out_block = block(pairs[0][2])
            parts = [(block(i), a.offset) for a, i, _ in pairs]
            joined = out_block.join(parts, bufs)
            lo, hi = joined.first, joined.last + 1  # every part lies within
            change = np.zeros(hi - lo, dtype=np.int64)
            for b in [out_block] + [b for b, _ in parts]:
                change[b.first - lo:b.last + 1 - lo] -= b.size
            change += joined.size
            window = live[lo:hi]
            if int((window + change).max()) <= int(window.max()):
                window += change
                for _, i, _ in pairs:
                    del blocks[i]
                blocks[pairs[0][2]] = joined
                kept.extend(a for a, _, _ in pairs)
                break
            # Leave out the input born first: it reserves the output longest.
            pairs.remove(min(pairs, key=lambda p: bufs[p[1]].first))
    return kept, live


@dataclass
class _Block:
    """A group being joined: its members, lifetime (from scope 0 on) and aligned size."""

    members: list[Member]
    first: int
    last: int
    size: int

    def join(self, parts: list[tuple["_Block", int]], bufs: list[BufferRequest]) -> "_Block":
        """This (output) block with each part's members placed at its offset."""
        members = list(self.members)
        for b, off in parts:
            members.extend(Member(m.buffer, m.delta + off) for m in b.members)
        return _Block(members, min([self.first] + [b.first for b, _ in parts]),
                      max([self.last] + [b.last for b, _ in parts]),
                      align(max(m.delta + bufs[m.buffer].aligned for m in members)))


def _by_op(aliases: list[Alias]) -> list[list[Alias]]:
    out: dict[tuple[int, int], list[Alias]] = {}
    for a in aliases:
        out.setdefault((a.subgraph, a.op), []).append(a)
    return list(out.values())
