"""Can a model run on a target's TFLM build? The support table, asked op by op.

Everything about an op comes from its rule (`OpRule.tflm`): whether TFLM
registers it, the dtypes each kernel set's kernel accepts and the Prepare
checks a model can fail. This module only walks the model and words the
answer, so a model that the firmware refuses is reported before anyone sets
an arena for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph.ir import Model, Operator, Subgraph
from ..targets import FIRMWARE_MODEL_MAX_BYTES, Target
from . import REGISTRY
from .memo import memoised


@dataclass(frozen=True)
class Problem:
    """Why one op (or the whole model, index None) cannot run."""

    index: int | None
    op: str | None
    reason: str
    subgraph: int = 0

    def text(self) -> str:
        if self.index is None:
            return self.reason
        where = f"{self.subgraph}:{self.index}" if self.subgraph else str(self.index)
        return f"op {where} {self.op}: {self.reason}"

    def to_json(self) -> dict:
        return {"index": self.index, "subgraph": self.subgraph, "op": self.op,
                "reason": self.reason}


@dataclass(frozen=True)
class Support:
    target: Target
    problems: tuple[Problem, ...]

    @property
    def runs(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"runs": self.runs, "problems": [p.to_json() for p in self.problems]}

    def brief(self, limit: int = 3) -> str:
        """The first few problems on one line (for an error message or a note)."""
        more = len(self.problems) - limit
        return "; ".join(p.text() for p in self.problems[:limit]) + (
            f"; and {more} more" if more > 0 else "")

    def headline(self) -> str:
        """The first line a summary prints when the model cannot run."""
        n = len(self.problems)
        ops = sum(1 for p in self.problems if p.index is not None)
        what = [f"{ops} op{'s' if ops != 1 else ''} TFLM cannot run"] if ops else []
        if ops < n:
            what.insert(0, "the model cannot be loaded")
        return f"does not run on {self.target.label()}: {', '.join(what)}"


def op_problem(op: Operator, sg: Subgraph, target: Target) -> str | None:
    """Why `target`'s TFLM build cannot run this op, or None when it can."""
    # Only "it runs" is kept: a reason names tensor indices, which a copy renumbers.
    if memoised(op, "runs", lambda: _problem(op, sg, target) is None, target, sg):
        return None
    return _problem(op, sg, target)


def _problem(op: Operator, sg: Subgraph, target: Target) -> str | None:
    dynamic = _unknown_dimension(op, sg)
    if dynamic:
        return dynamic
    rule = REGISTRY.get(op.opcode)
    if rule is None or rule.tflm is None:
        if op.is_custom:
            return (f"custom op {ascii(op.custom_code)} is not a kernel TFLM ships "
                    "(the application must register its own)")
        return f"TFLM has no kernel for {op.opcode}"
    if rule.tflm.needs:
        return f"needs {rule.tflm.needs}"
    k = rule.tflm.kernel(target.kernels)
    if k is None:
        return f"TFLM has no {target.kernels.value} kernel for {op.opcode}"
    reason = k.refuses(op, sg)
    return f"{reason} in {target.kernels.value}" if reason else None


def check_support(model: Model, target: Target) -> Support:
    """Every op of every subgraph that `target`'s kernels cannot run, and why."""
    problems = []
    if target.core.firmware and model.file_size >= FIRMWARE_MODEL_MAX_BYTES:
        problems.append(Problem(None, None, f"the model file is {model.file_size:,} B: the "
                                f"{target.core.name} firmware loads models under "
                                f"{FIRMWARE_MODEL_MAX_BYTES:,} B"))
    for sg in model.subgraphs:
        for op in sg.operators:
            reason = op_problem(op, sg, target)
            if reason:
                problems.append(Problem(op.index, _name(op), reason, sg.index))
    return Support(target, tuple(problems))


def _unknown_dimension(op: Operator, sg: Subgraph) -> str | None:
    # TFLM has no dynamic shapes: it sizes tensors by the file's `shape`, and an
    # unknown (-1) dimension there crashes Invoke (segfault in the wheel, BusFault on
    # Cortex-M, measured on a RESHAPE whose output is stored as [5, -1]).
    for t in (*op.real_inputs(), *(o for o in op.outputs if o >= 0)):
        ten = sg.tensors[t]
        if any(d < 0 for d in ten.shape):
            return (f"tensor #{t} has an unknown dimension {list(ten.shape)}: "
                    "TFLM has no dynamic shapes")
    return None


def check_ops(ops, sg: Subgraph, target: Target) -> list[Problem]:
    """The cheap check a schedule makes of the ops one step adds."""
    out = []
    for op in ops:
        reason = op_problem(op, sg, target)
        if reason:
            out.append(Problem(op.index, _name(op), reason, sg.index))
    return out


def resolver_calls(model: Model) -> list[str]:
    """The MicroMutableOpResolver methods the model needs, each once, in first-use order."""
    calls: list[str] = []
    for sg in model.subgraphs:
        for op in sg.operators:
            rule = REGISTRY.get(op.opcode)
            method = rule.tflm.resolver if rule is not None and rule.tflm is not None else None
            if method and method not in calls:
                calls.append(method)
    return calls


def arena_to_set(support: Support, required_bytes: int | None) -> int | None:
    """The kTensorArenaSize to paste, or None: no arena can be set for a model that
    does not run (a figure would read as a fit)."""
    return required_bytes if support.runs else None


def deploy_document(model: Model, support: Support, required_bytes: int | None) -> dict:
    """JSON `deploy`: the arena to set and the resolver calls, in TFLM's names."""
    return {"arena_size": arena_to_set(support, required_bytes),
            "resolver": resolver_calls(model)}


def deploy_snippet(model: Model, support: Support, required_bytes: int | None) -> str | None:
    """The C++ a TFLM user pastes, or None when the model does not run."""
    arena = arena_to_set(support, required_bytes)
    if arena is None:
        return None
    calls = resolver_calls(model)
    lines = [f"constexpr int kTensorArenaSize = {arena};",
             f"tflite::MicroMutableOpResolver<{len(calls)}> resolver;"]
    lines += [f"resolver.{c}();" for c in calls]
    return "\n".join(lines)


def _name(op: Operator) -> str:
    # A custom op's name comes from the file: never print its control characters raw.
    name = op.custom_code if op.is_custom else op.opcode
    return name if name.isprintable() else ascii(name)
