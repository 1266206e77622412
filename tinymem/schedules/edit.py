"""Building a transformed copy of a subgraph: new tensors, constants and ops."""

from __future__ import annotations

import bisect
import copy
import dataclasses
from contextlib import contextmanager
from operator import is_
from typing import NamedTuple

import numpy as np

from ..graph.ir import Model, Operator, Rewrite, Subgraph, Tensor, TensorKind, own_name
from ..ops.memo import carry
from ..read.schema import BUILTIN_CODES, Activation, BuiltinOp


def _stem(name: str, index: int) -> str:
    """A short, readable base for derived tensor names (converter names run to
    hundreds of characters, and a rewritten model has hundreds of tile tensors)."""
    base = own_name(name).rstrip("/").split("/")[-1] if name else ""
    return (base[:24] or "t") + f"#{index}"


def clone(obj, **changes):
    """A shallow copy of a dataclass instance with some fields changed (fast)."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


def _top(op: Operator) -> int:
    """The highest tensor index the op names (-1 for none)."""
    return max(max(op.inputs, default=-1), max(op.outputs, default=-1),
               max(op.intermediates, default=-1))


class _Shared:
    """The renumbered copies of one source subgraph's ops and tensors, for every
    rewrite of it that drops the same tensors."""

    __slots__ = ("tensors_of", "dropped", "ops", "remap", "tensors", "fronts", "backs")

    def __init__(self, tensors_of: list, dropped: tuple[int, ...]):
        self.tensors_of, self.dropped = tensors_of, dropped  # (its tensor list: held)
        self.ops: dict[int, tuple[Operator, Operator]] = {}  # id(op) -> (op, its copy)
        self.remap: list[int] | None = None  # its tensors' new indices
        self.tensors: list[Tensor] = []  # its tensors from the first dropped one on, renumbered
        # The source's ops kept before the first op changed (by that op's index)
        # and after the last one left out (by the first of them), renumbered.
        self.fronts: dict[int, list[Operator]] = {}
        self.backs: dict[int, list[Operator]] = {}


# Inside `shared_renumbering()` (a search): the copies from the last rewrite of
# a source subgraph (one entry only, so it holds one model's ops at most; the
# ops are held, so their ids stay theirs). None: nothing is kept.
_renumbering: list | None = None


@contextmanager
def shared_renumbering():
    """The grids of one segment share the renumbered copies of the ops after it
    while this runs (a search; they are let go at the end, as on an error)."""
    global _renumbering
    outer, _renumbering = _renumbering, [None]
    try:
        yield
    finally:
        _renumbering = outer


def _renumbered_for(sg: Subgraph, dropped: tuple[int, ...]) -> _Shared:
    """The shared copies for a rewrite of `sg` that drops `dropped` of its tensors."""
    scope = _renumbering
    if scope is None:
        return _Shared(sg.tensors, dropped)  # outside a search: each rewrite renumbers afresh
    last = scope[0]
    if last is not None and last.tensors_of is sg.tensors and last.dropped == dropped:
        return last
    scope[0] = _Shared(sg.tensors, dropped)
    return scope[0]


def _reach(sg: Subgraph) -> list[int]:
    """For each op of `sg`, the highest tensor index it or an op before it names
    (kept with the subgraph: it never changes, and a search rewrites one state
    many times)."""
    got = sg.__dict__.get("_reach")
    if got is None or len(got) != len(sg.operators):
        got, top = [], -1
        for op in sg.operators:
            top = max(top, _top(op))
            got.append(top)
        sg.__dict__["_reach"] = got
    return got


# Constants' names, made only for a constant not made before (`const_int32`).
def _begin_name(values) -> str:
    return f"tinymem/slice_begin_{'_'.join(map(str, values))}"


def _end_name(values) -> str:
    return f"tinymem/slice_end_{'_'.join(map(str, values))}"


def _strides_name(values) -> str:
    return f"tinymem/slice_strides_{len(values)}"


def _pad_name(pads) -> str:
    return "tinymem/pad_" + "_".join(str(x) for row in pads for x in row)


class GraphEditor:
    """Collects the ops of a rewritten subgraph in execution order.

    Existing tensors are kept (so indices stay valid); new tensors are
    appended. `finish()` returns a new Model sharing everything else.
    """

    def __init__(self, model: Model, sg_index: int):
        self.model = model
        self.sg = model.subgraphs[sg_index]
        self.tensors: list[Tensor] = list(self.sg.tensors)
        self.ops: list[Operator] = []
        self._own: set[int] = set()  # ids of the ops this editor created (it may mutate them)
        self._consts: dict[tuple, int] = {}
        self._stems: dict[int, str] = {}  # id(tensor) -> the stem of names made after it
        self._finished = False

    def new_tensor(self, like: Tensor, shape: tuple[int, ...], suffix: str) -> int:
        stem = self._stems.get(id(like))  # (a tiler names many tensors after one)
        if stem is None:
            stem = self._stems[id(like)] = _stem(like.name, like.index)
        t = Tensor(index=len(self.tensors), name=f"{stem}/{suffix}", shape=tuple(shape),
                   dtype=like.dtype, buffer=0, quantization=like.quantization)
        self.tensors.append(t)
        return t.index

    def const_int32(self, values, name) -> int:
        """An int32 constant of `values` (ints, or rows of ints), made once per
        editor; `name` is its name, or a function of `values` giving it."""
        key = tuple(tuple(v) if isinstance(v, (tuple, list, np.ndarray)) else v for v in values)
        got = self._consts.get(key)
        if got is not None:
            return got
        arr = np.asarray(values, dtype=np.int32)
        t = Tensor(index=len(self.tensors), name=name if isinstance(name, str) else name(values),
                   shape=tuple(arr.shape), dtype="int32", buffer=-1, has_data=True, data=arr)
        self.tensors.append(t)
        self._consts[key] = t.index
        return t.index

    def keep(self, op: Operator) -> None:
        """Append an existing op unchanged."""
        self.ops.append(op)

    def keep_all(self, ops) -> None:
        """Append existing ops unchanged."""
        self.ops.extend(ops)

    def copy_op(self, op: Operator, inputs, outputs, tag: str, **option_changes) -> int:
        opts = dict(op.options)
        opts.update(option_changes)
        new = clone(op, inputs=tuple(inputs), outputs=tuple(outputs), options=opts, tag=tag,
                    origin=op.origin if op.origin is not None else op.index)
        self.ops.append(new)
        self._own.add(id(new))
        return len(self.ops) - 1

    def add_op(self, opcode: BuiltinOp, inputs, outputs, options_type: str | None, options: dict,
               tag: str, origin: int | None = None) -> None:
        new = Operator(index=-1, opcode=str(opcode), inputs=tuple(inputs),
                       outputs=tuple(outputs), options=options,
                       options_type=options_type, version=1,
                       builtin_code=BUILTIN_CODES[opcode], source_op=None,
                       origin=origin, tag=tag)
        self.ops.append(new)
        self._own.add(id(new))

    def strided_slice(self, src: int, begin, end, out: int, tag: str, origin=None) -> None:
        b = self.const_int32(begin, _begin_name)
        e = self.const_int32(end, _end_name)
        s = self.const_int32((1,) * len(begin), _strides_name)
        self.add_op(BuiltinOp.STRIDED_SLICE, (src, b, e, s), (out,), "StridedSliceOptions",
                    {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                     "shrink_axis_mask": 0, "offset": False}, tag, origin)

    def pad(self, src: int, pads, out: int, tag: str, origin=None, value: int | None = None) -> None:
        p = self.const_int32(pads, _pad_name)
        if value is None:
            self.add_op(BuiltinOp.PAD, (src, p), (out,), "PadOptions", {}, tag, origin)
        else:
            self.add_op(BuiltinOp.PADV2, (src, p, value), (out,), "PadV2Options", {}, tag, origin)

    def concat(self, srcs, axis: int, out: int, tag: str, origin=None) -> None:
        self.add_op(BuiltinOp.CONCATENATION, tuple(srcs), (out,), "ConcatenationOptions",
                    {"axis": axis, "fused_activation_function": str(Activation.NONE)}, tag, origin)

    def finish(self) -> Model:
        """The new Model. Activation tensors no op uses any more are dropped:
        TFLite Micro would still plan them (alive "before everything")."""
        if self._finished:  # (its own ops and tensors were renumbered in place)
            raise RuntimeError("a GraphEditor finishes once")
        self._finished = True
        src, src_ops, ops_all = self.sg, self.sg.operators, self.ops
        n_old, n_src, n_ops = len(src.tensors), len(src_ops), len(ops_all)
        # The source's ops this rewrite keeps as they are at its front and at its
        # back (a search's rewrites keep most of a model), found by identity: only
        # the ops between them are looked at one by one.
        same = list(map(is_, ops_all, src_ops))
        head = same.index(False) if False in same else len(same)
        limit = min(n_ops, n_src) - head
        same = list(map(is_, reversed(ops_all), reversed(src_ops)))[:limit]
        tail = same.index(False) if False in same else len(same)
        back_at, src_back = n_ops - tail, n_src - tail  # ops_all[back_at:] is src_ops[src_back:]
        uses = _uses(src)
        used_mid: set[int] = set()
        for op in ops_all[head:back_at]:
            used_mid.update(op.inputs, op.outputs, op.intermediates)
        # The source's tensors it drops: activations no op uses any more (of those
        # the left-out ops named, and those the source itself left unused), the
        # subgraph's inputs and outputs aside.
        maybe: set[int] = set(uses.unused)
        for op in src_ops[head:src_back]:
            maybe.update(op.inputs, op.outputs, op.intermediates)
        io = set(src.inputs) | set(src.outputs)
        first_use, last_use, activation = uses.first, uses.last, TensorKind.ACTIVATION
        dropped = tuple(sorted(
            t for t in maybe
            if t >= 0 and t not in used_mid and t not in io and first_use[t] >= head
            and last_use[t] < src_back and src.tensors[t].kind is activation))
        # The source's tensors and ops are renumbered alike by every rewrite that
        # drops the same tensors of it (the grids of one segment, tried one after
        # another): the copies are kept from the last such rewrite and shared.
        # The tensors this editor made are its own: they take their new index in place.
        shared = _renumbered_for(src, dropped)
        if shared.remap is None:
            shared.remap, shared.tensors = _renumber_source(src.tensors, dropped)
        moved = dropped[0] if dropped else len(self.tensors)  # renumbered from here on
        k = n_old - len(dropped)
        remap_new, own_tensors = [], []
        for t in self.tensors[n_old:]:
            if t.index in used_mid or t.kind is not activation:
                remap_new.append(k)
                own_tensors.append(t)
                k += 1
            else:
                remap_new.append(-1)
                moved = min(moved, t.index)
        # remap[old] = new index; its last slot maps -1 (an omitted input) to itself.
        remap = shared.remap + remap_new + [-1]
        at = remap.__getitem__

        def m(idx):
            return tuple(map(at, idx))

        tensors = src.tensors[:moved] + shared.tensors if dropped else list(src.tensors)
        for t in own_tensors:
            t.__dict__["index"] = remap[t.index]
        tensors += own_tensors
        # The front: the source's ops at their own index naming only tensors that
        # keep theirs are taken as they are; the rest of the ops kept before the
        # first one changed are renumbered once for every rewrite that keeps them.
        front = min(bisect.bisect_left(_reach(src), moved), head)
        renumbered = shared.ops
        before = shared.fronts.get(head)
        if before is None:
            before = shared.fronts[head] = [_renumbered(op, front + j, moved, m, renumbered)
                                            for j, op in enumerate(src_ops[front:head])]
        ops = src_ops[:front] + before
        # What the rewrite changed: the ops it made (its own, and any op handed
        # to keep() that is not the source's), and the source's ops it left out.
        created = []
        kept: set[int] = set()
        own, positions = self._own, uses.positions
        for i in range(head, back_at):
            op = ops_all[i]
            if id(op) in own:  # created here: renumbered in place, not copied again
                d = op.__dict__
                d["index"], d["inputs"], d["outputs"] = i, m(op.inputs), m(op.outputs)
                if op.intermediates:
                    d["intermediates"] = m(op.intermediates)
                ops.append(op)
                created.append(op)
                continue
            # (A source op kept a second time counts as made: it adds its work again.)
            p = positions.get(id(op))
            made = p is None or id(op) in kept or p < head or p >= src_back
            kept.add(id(op))
            ops.append(_renumbered(op, i, moved, m, renumbered))
            if made:
                created.append(ops[-1])
        # The back: the source's ops after the last one left out, renumbered once
        # for every rewrite that keeps the same of them.
        back = shared.backs.get(src_back)
        if back is None:
            back = shared.backs[src_back] = [_renumbered(op, back_at + j, moved, m, renumbered)
                                             for j, op in enumerate(src_ops[src_back:])]
        stale = bool(back) and back[0].index != back_at
        if stale and not _lazy[0]:
            back, stale = [clone(op, index=back_at + j) for j, op in enumerate(back)], False
        ops += back
        rewrite = Rewrite(source=id(src), created=tuple(created),
                          dropped=tuple(o for o in src_ops[head:src_back] if id(o) not in kept))
        sg = Subgraph(index=src.index, name=src.name, tensors=tensors,
                      operators=ops, inputs=m(src.inputs), outputs=m(src.outputs),
                      rewrite=rewrite)
        if stale:
            sg.__dict__["_stale_indices"] = True
        model = copy.copy(self.model)
        model.subgraphs = list(self.model.subgraphs)
        model.subgraphs[sg.index] = sg
        model.signature_defs = [
            dataclasses.replace(sd, inputs=tuple((n, remap[i]) for n, i in sd.inputs),
                                outputs=tuple((n, remap[i]) for n, i in sd.outputs))
            if sd.subgraph == sg.index else sd
            for sd in self.model.signature_defs]
        return model


def _renumbered(op: Operator, i: int, moved: int, m, renumbered: dict) -> Operator:
    """The source's op `op` at index `i` of the new subgraph, its tensors from
    `moved` on renumbered by `m` (a copy made once per source op and shared)."""
    got = renumbered.get(id(op))
    if got is not None and got[0] is op:
        new = got[1]
        return new if new.index == i else clone(new, index=i)
    if _top(op) < moved:
        # Its tensors stay: shared when its index does too, else a copy naming
        # the same tuples (so the rules' answers it holds still hold).
        return op if op.index == i else clone(op, index=i)
    new = clone(op, index=i, inputs=m(op.inputs), outputs=m(op.outputs),
                intermediates=m(op.intermediates))
    carry(op, new)  # the same tensors, renumbered: the rules' answers hold
    renumbered[id(op)] = (op, new)
    return new


def _renumber_source(tensors: list[Tensor], dropped: tuple[int, ...]
                     ) -> tuple[list[int], list[Tensor]]:
    """(old index -> new index, -1 for a dropped tensor; the kept tensors from
    the first dropped one on, renumbered) for a subgraph's `tensors`."""
    remap = list(range(len(tensors)))
    if not dropped:
        return remap, []
    drop, k, moved = set(dropped), dropped[0], []
    for t in tensors[dropped[0]:]:
        if t.index in drop:
            remap[t.index] = -1
            continue
        remap[t.index] = k
        moved.append(clone(t, index=k))
        k += 1
    return remap, moved


class _Uses(NamedTuple):
    """Where a subgraph's ops name each tensor (kept with the subgraph: a search
    rewrites one state many times)."""

    first: list[int]  # tensor -> the first op naming it (the op count if none)
    last: list[int]  # tensor -> the last op naming it (-1 if none)
    unused: tuple[int, ...]  # tensors no op names
    positions: dict[int, int]  # id(op) -> its position


def _uses(sg: Subgraph) -> _Uses:
    got = sg.__dict__.get("_uses")
    if got is None or len(got.positions) != len(sg.operators):
        n = len(sg.operators)
        first, last = [n] * len(sg.tensors), [-1] * len(sg.tensors)
        for i, op in enumerate(sg.operators):
            for t in (*op.inputs, *op.outputs, *op.intermediates):
                if t >= 0:
                    if first[t] == n:
                        first[t] = i
                    last[t] = i
        got = sg.__dict__["_uses"] = _Uses(
            first, last, tuple(t for t, f in enumerate(first) if f == n),
            {id(op): i for i, op in enumerate(sg.operators)})
    return got


# While set (`lazy_indices`), a rewrite may hand back the source's ops after
# the ones it changed, renumbered by an earlier rewrite, at the index they had
# there: the subgraph is marked, and `settle_indices` sets them.
_lazy = [False]


@contextmanager
def lazy_indices():
    """Rewrites made while this runs may leave their back ops' `index` stale
    (a search measures most candidates with rules that read an op's position,
    not its index, and settles the few it keeps)."""
    outer, _lazy[0] = _lazy[0], True
    try:
        yield
    finally:
        _lazy[0] = outer


def settle_indices(model: Model) -> Model:
    """`model` with every op's index its position again (in place; see `lazy_indices`)."""
    for sg in model.subgraphs:
        if sg.__dict__.pop("_stale_indices", False):
            ops = sg.operators
            for i, op in enumerate(ops):
                if op.index != i:
                    ops[i] = clone(op, index=i)
            sg.__dict__.pop("_uses", None)  # (it names the ops by identity)
    return model
