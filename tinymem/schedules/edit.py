"""Building a transformed copy of a subgraph: new tensors, constants and ops."""

from __future__ import annotations

import bisect
import copy
import dataclasses
from contextlib import contextmanager

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


# Inside `shared_renumbering()` (a search): the renumbered copies of one source
# subgraph's ops and tensors from the last rewrite of it, as [(its tensor list,
# the tensors it dropped, id(op) -> (op, copy), tensor index -> copy)]. One entry
# only, so it holds one model's ops at most; the ops are held, so their ids stay
# theirs. None: nothing is kept.
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


def _renumbered_for(sg: Subgraph, dropped: tuple[int, ...]) -> tuple[dict, dict]:
    """(id(op) -> (op, its copy), tensor index -> its copy) for a rewrite of `sg`
    that drops `dropped` of its tensors."""
    scope = _renumbering
    if scope is None:
        return {}, {}  # outside a search: each rewrite renumbers afresh
    last = scope[0]
    if last is not None and last[0] is sg.tensors and last[1] == dropped:
        return last[2], last[3]
    scope[0] = (sg.tensors, dropped, {}, {})
    return scope[0][2], scope[0][3]


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
        self._finished = False

    def new_tensor(self, like: Tensor, shape: tuple[int, ...], suffix: str) -> int:
        t = Tensor(index=len(self.tensors), name=f"{_stem(like.name, like.index)}/{suffix}",
                   shape=tuple(shape),
                   dtype=like.dtype, buffer=0, quantization=like.quantization)
        self.tensors.append(t)
        return t.index

    def const_int32(self, values, name: str) -> int:
        arr = np.asarray(values, dtype=np.int32)
        key = (arr.shape, arr.tobytes())
        if key in self._consts:
            return self._consts[key]
        t = Tensor(index=len(self.tensors), name=name, shape=tuple(arr.shape), dtype="int32",
                   buffer=-1, has_data=True, data=arr)
        self.tensors.append(t)
        self._consts[key] = t.index
        return t.index

    def keep(self, op: Operator) -> None:
        """Append an existing op unchanged."""
        self.ops.append(op)

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
        b = self.const_int32(begin, f"tinymem/slice_begin_{'_'.join(map(str, begin))}")
        e = self.const_int32(end, f"tinymem/slice_end_{'_'.join(map(str, end))}")
        s = self.const_int32([1] * len(begin), f"tinymem/slice_strides_{len(begin)}")
        self.add_op(BuiltinOp.STRIDED_SLICE, (src, b, e, s), (out,), "StridedSliceOptions",
                    {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                     "shrink_axis_mask": 0, "offset": False}, tag, origin)

    def pad(self, src: int, pads, out: int, tag: str, origin=None, value: int | None = None) -> None:
        p = self.const_int32(pads, "tinymem/pad_" + "_".join(str(x) for row in pads for x in row))
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
        used: set[int] = set(self.sg.inputs) | set(self.sg.outputs)
        for op in self.ops:
            used.update(op.inputs, op.outputs, op.intermediates)
        # remap[old] = new index; its last slot maps -1 (an omitted input) to
        # itself, since remap[-1] reads that slot.
        n_all, n_old = len(self.tensors), len(self.sg.tensors)
        remap = [-1] * (n_all + 1)
        moved = n_all  # tensors from this index on are renumbered
        dropped: list[int] = []  # the source's tensors no op uses any more
        k = 0
        activation = TensorKind.ACTIVATION
        for t in self.tensors:
            i = t.index
            if i in used or t.kind != activation:
                remap[i] = k
                k += 1
            else:
                if moved == n_all:
                    moved = i
                if i < n_old:
                    dropped.append(i)
        at = remap.__getitem__

        def m(idx):
            return tuple(map(at, idx))

        # The source's own ops and tensors are renumbered alike by every rewrite
        # that drops the same tensors of it (the grids of one segment, tried one
        # after another): their renumbered copies are kept from the last such
        # rewrite and shared. The tensors this editor made are its own: they
        # take their new index in place.
        renumbered, renumbered_tensors = _renumbered_for(self.sg, tuple(dropped))
        tensors = self.tensors[:moved]
        for t in self.tensors[moved:]:
            i = t.index
            j = remap[i]
            if j < 0:
                continue
            if i >= n_old:
                t.__dict__["index"] = j
                tensors.append(t)
                continue
            new_t = renumbered_tensors.get(i)
            if new_t is None:
                new_t = renumbered_tensors[i] = clone(t, index=j)
            tensors.append(new_t)
        # The source's ops kept at its front, at their own index and naming only
        # tensors that keep theirs, are taken as they are (a search's rewrites
        # keep most of a model: this is the part that needs no look).
        src_ops = self.sg.operators
        front = min(bisect.bisect_left(_reach(self.sg), moved), len(self.ops))
        for i in range(front):
            if self.ops[i] is not src_ops[i]:
                front = i
                break
        ops = src_ops[:front]
        # What the rewrite changed: the ops it made (its own, and any op handed
        # to keep() that is not the source's), and the source's ops it left out.
        created = []
        source = {id(op) for op in src_ops}
        kept: set[int] = set(map(id, ops))
        own = self._own
        for i in range(front, len(self.ops)):
            op = self.ops[i]
            if id(op) in own:  # created here: renumbered in place, not copied again
                d = op.__dict__
                d["index"], d["inputs"], d["outputs"] = i, m(op.inputs), m(op.outputs)
                if op.intermediates:
                    d["intermediates"] = m(op.intermediates)
                ops.append(op)
                created.append(op)
                continue
            # (A source op kept a second time counts as made: it adds its work again.)
            made = id(op) not in source or id(op) in kept
            kept.add(id(op))
            got = renumbered.get(id(op))
            if got is not None and got[0] is op:
                new = got[1]
                ops.append(new if new.index == i else clone(new, index=i))
            elif _top(op) < moved:
                # Its tensors stay: shared when its index does too, else a copy
                # naming the same tuples (so the rules' answers it holds still hold).
                ops.append(op if op.index == i else clone(op, index=i))
            else:
                new = clone(op, index=i, inputs=m(op.inputs), outputs=m(op.outputs),
                            intermediates=m(op.intermediates))
                carry(op, new)  # the same tensors, renumbered: the rules' answers hold
                renumbered[id(op)] = (op, new)
                ops.append(new)
            if made:
                created.append(ops[-1])
        rewrite = Rewrite(source=id(self.sg), created=tuple(created),
                          dropped=tuple(o for o in src_ops if id(o) not in kept))
        sg = Subgraph(index=self.sg.index, name=self.sg.name, tensors=tensors,
                      operators=ops, inputs=m(self.sg.inputs), outputs=m(self.sg.outputs),
                      rewrite=rewrite)
        model = copy.copy(self.model)
        model.subgraphs = list(self.model.subgraphs)
        model.subgraphs[sg.index] = sg
        model.signature_defs = [
            dataclasses.replace(sd, inputs=tuple((n, remap[i]) for n, i in sd.inputs),
                                outputs=tuple((n, remap[i]) for n, i in sd.outputs))
            if sd.subgraph == sg.index else sd
            for sd in self.model.signature_defs]
        return model
