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
"""

from __future__ import annotations

from typing import Any, Callable

from ..graph.ir import Operator

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


def memoised(op: Operator, what: str, compute: Callable[[], Any], target: Any = None) -> Any:
    """compute() for `op`, once per (op content, `what`, `target`)."""
    d = op.__dict__
    memo = d.get(_SLOT)
    # (_valid, inlined: this runs millions of times in a search.)
    if memo is not None:
        t = memo[0]
        if not (t[1] is d["inputs"] and t[2] is d["outputs"] and t[4] is d["options"]
                and t[0] is d["opcode"] and t[3] is d["intermediates"]):
            memo = None
    if memo is None:
        memo = d[_SLOT] = (_token(op), {})
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
