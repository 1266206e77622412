"""Per-op results of the rules (scratch, MACs, tail bytes, support), kept on the op.

The explorer builds thousands of candidates that share most of their ops:
a rewrite keeps the ops outside its segment and only renumbers their tensors
(`GraphEditor.finish`). A rule's answer depends on the op and the tensors it
names, never on their indices, so it is kept with the op and carried over to
its renumbered copy. It is trusted only while the op still names the tensors
it was computed for (inputs, outputs, intermediates, the same options dict and
opcode): a copy that rewires an op, or changes its options, computes afresh.
Tensors are never changed in place (schedules make new ones), which is what
makes a tensor index of one subgraph stand for the same content.

Within `shared_answers()` (a search), ops of the same content share one set
of answers: a search emits the same tile ops again and again (the same split
applied to sibling states; 583,000 of the 597,000 new ops of a MobileNetV2-0.35
search repeat an earlier one), and each would otherwise compute its support,
scratch, tail and MACs afresh.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Callable

from ..graph.ir import Operator, Subgraph

_SLOT = "_rule_memo"


def _token(op: Operator) -> tuple:
    return (op.opcode, op.inputs, op.outputs, op.intermediates, op.options)


def _valid(op: Operator, memo) -> bool:
    # By identity: a copy that rewires the op or changes its options sets new
    # objects (even when equal), and is then computed afresh.
    if memo is None:
        return False
    t = memo[0]
    return (t[1] is op.inputs and t[2] is op.outputs and t[4] is op.options
            and t[0] is op.opcode and t[3] is op.intermediates)


def memoised(op: Operator, what: str, compute: Callable[[], Any], target: Any = None,
             sg: Subgraph | None = None) -> Any:
    """compute() for `op`, once per (op content, `what`, `target`); with `sg`
    (the op's subgraph) inside `shared_answers()`, once per content for all
    ops alike."""
    d = op.__dict__
    memo = d.get(_SLOT)
    # (_valid, inlined: this runs millions of times in a search.)
    if memo is not None:
        t = memo[0]
        if not (t[1] is d["inputs"] and t[2] is d["outputs"] and t[4] is d["options"]
                and t[0] is d["opcode"] and t[3] is d["intermediates"]):
            memo = None
    if memo is None:
        memo = d[_SLOT] = (_token(op), {} if _shared is None or sg is None
                           else _shared.answers(op, sg))
    cache = memo[1]
    # Targets are keyed by identity (hashing a frozen dataclass costs more than the
    # lookup saves); the entry holds the target, so its id cannot be reused.
    # The first target asked is keyed by `what` alone (a search asks for one);
    # others by (what, id).
    got = cache.get(what)
    if got is not None:
        if got[0] is target:
            return got[1]
        key = (what, id(target))
        got = cache.get(key)
        if got is not None and got[0] is target:
            return got[1]
    else:
        key = what
    value = compute()
    cache[key] = (target, value)
    return value


def carry(old: Operator, new: Operator) -> None:
    """`new` is `old` with its tensors renumbered (the same tensors): it keeps old's results."""
    memo = old.__dict__.get(_SLOT)
    if _valid(old, memo):
        new.__dict__[_SLOT] = (_token(new), memo[1])
    else:
        new.__dict__.pop(_SLOT, None)


class _SharedAnswers:
    """Content key -> the answers dict every op of that content shares.

    A content key names what the rules read: the op's code, version and
    options, and for each tensor it names its shape, type, quantization and,
    for a constant, its data (small ones by value, file constants by buffer).
    Quantizations are named by identity and held here, so no other object can
    take their id while the table lives. Ops naming a large created constant
    (sliced weights) are not shared: holding them all would cost memory.
    """

    SMALL_DATA = 256  # bytes: created constants (slice bounds, pads) compared by value

    def __init__(self) -> None:
        self.table: dict[tuple, dict] = {}
        self.held: dict[int, Any] = {}
        # Tensors keep their key with this table's number (not the table: a
        # model outliving the search must not keep its table alive).
        self.number = next(_numbers)

    def answers(self, op: Operator, sg: Subgraph) -> dict:
        try:
            key = self._key(op, sg)
            got = self.table.get(key)
        except (TypeError, _Unshared):
            # An option value that cannot be hashed, or a large created constant.
            return {}
        if got is None:
            got = self.table[key] = {}
        return got

    def _key(self, op: Operator, sg: Subgraph) -> tuple:
        tensors = sg.tensors
        of = self._tensor_key
        names = op.inputs + op.outputs + op.intermediates
        # Which slots name the same tensor (x + x), should a rule ever look.
        same = () if len(set(names)) == len(names) else tuple(names.index(t) for t in names)
        return (op.opcode, op.version, op.builtin_code, op.custom_code, op.options_type,
                op.custom_options, tuple(op.options.items()), len(op.inputs), len(op.outputs),
                tuple([None if t < 0 else of(tensors[t]) for t in names]), same)

    def _tensor_key(self, x) -> tuple:
        # Kept on the tensor, as its computed sizes are: tensors never change and
        # are copied only to renumber them (the index is not part of the key).
        key = x.__dict__.get(_TENSOR_SLOT)
        if key is not None and key[0] == self.number:
            return key[1]
        q = x.quantization
        if q is not None:
            self.held[id(q)] = q
        if x.has_data:
            d = x.data
            if d is None:
                what = ("buffer", x.buffer)  # the source model's data
            elif d.nbytes <= self.SMALL_DATA:
                what = (d.dtype.str, d.tobytes())
            else:
                raise _Unshared
        else:
            what = x.is_variable
        got = (x.shape, x.dtype, id(q), x.shape_signature, what)
        x.__dict__[_TENSOR_SLOT] = (self.number, got)
        return got


class _Unshared(Exception):
    pass


_TENSOR_SLOT = "_content_key"
_numbers = itertools.count()
_shared: _SharedAnswers | None = None


@contextmanager
def shared_answers():
    """Ops of the same content share their rules' answers while this runs (a
    search; the table is dropped at the end). A nested use gets a table of its
    own: file constants are keyed by buffer, which names data in one model only."""
    global _shared
    outer, _shared = _shared, _SharedAnswers()
    try:
        yield
    finally:
        _shared = outer
