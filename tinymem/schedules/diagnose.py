"""Why no schedule lowers a model's arena, in one line, and what would help.

Read off the baseline plan at its peak: what is alive there says which wall
the search hit. The checks go from the most specific to the most general.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..graph.ir import Model
from ..memory.aliases import alias_groups, find_aliases, merge, worthwhile
from ..memory.liveness import live_bytes_per_scope
from ..memory.planner import ArenaPlan
from ..ops import Channels, rule_for
from ..ops.support import check_support


class Wall(enum.Enum):
    MODEL_UNSUPPORTED = "model_unsupported"  # the target's kernels cannot run the model at all
    TAIL_DOMINATES = "tail_dominates"  # the arena to set is mostly the tail, which splits add to
    # Some option lowers the head, but the ops it adds grow the tail by more.
    HEAD_ONLY = "head_only"
    PEAK_IS_INPUT = "peak_is_input"  # the model input dominates the peak
    PEAK_IS_SCRATCH = "peak_is_scratch"  # a kernel's scratch buffer dominates it
    PEAK_OP_UNSPLITTABLE = "peak_op_unsplittable"  # no rule to split the op at the peak
    AT_LIVE_SET_BOUND = "at_live_set_bound"  # the tensors at the peak must coexist


@dataclass(frozen=True)
class LowerHead:
    """The option with the lowest head, where it is below the baseline's head
    but not below its arena to set (explore's figures, for the one line)."""

    kind: str
    head: int
    required: int
    mac_overhead: float


@dataclass(frozen=True)
class Diagnosis:
    wall: Wall
    text: str  # one line: why, then what would help

    def to_json(self) -> dict:
        return {"reason": self.wall.value, "text": self.text}


def diagnose(model: Model, plan: ArenaPlan, overwrite_inputs: bool = False,
             lower_head: LowerHead | None = None) -> Diagnosis:
    """Why the explorer found nothing below `plan` (the baseline) for `model`;
    `lower_head`: the option that did lower the head, if any."""
    support = check_support(model, plan.target) if plan.target is not None else None
    if support is not None and not support.runs:
        return Diagnosis(Wall.MODEL_UNSUPPORTED,
                         f"the model {support.headline()} ({support.brief(1)}), so no rewrite "
                         f"of it can be offered; would help: a model in types the target's "
                         f"kernels run (int8 rather than uint8, say) or another kernel set")
    tail = plan.required_bytes - plan.arena_bytes
    if tail > plan.arena_bytes:
        return Diagnosis(Wall.TAIL_DOMINATES,
                         f"the arena to set ({plan.required_bytes:,} B) is mostly the tail "
                         f"({tail:,} B of kernel state, tensor structs and allocator "
                         f"bookkeeping) and the head is only {plan.arena_bytes:,} B: every op a "
                         f"split adds brings its own tail, more than it takes off the head; "
                         f"would help: fewer, larger ops (fused activations), or kernels "
                         f"with less per-op state")
    if lower_head is not None:
        # The peak can be split; what the split adds to the tail is the wall.
        return Diagnosis(Wall.HEAD_ONLY,
                         f"the best split ({lower_head.kind}, {lower_head.mac_overhead:+.1%} MACs) "
                         f"lowers the head from {plan.arena_bytes:,} to {lower_head.head:,} B, "
                         f"but the ops it adds bring their own tail and raise the arena to set "
                         f"from {plan.required_bytes:,} to {lower_head.required:,} B; would help: "
                         f"fewer, larger tiles (fewer added ops), or kernels with less per-op state")
    # The live set as a layout running ops in place would see it; where it
    # ties, the op that cannot be split is the one to name (every peak must fall).
    req = plan.requests
    groups = alias_groups(req, worthwhile(req, find_aliases(model, req, overwrite_inputs)))
    live = live_bytes_per_scope(merge(req.buffers, groups), req.last_scope)
    peak = int(live.max()) if live.size else 0
    sg = model.main
    at_peak = [s for s in req.steps if s.subgraph == 0 and live[s.scope] == peak]
    step = next((s for s in at_peak if _unsplittable(sg.operators[s.op])),
                at_peak[0] if at_peak else None)
    scope = step.scope if step is not None else int(live.argmax())
    alive = [b for b in plan.buffers if b.first <= scope <= b.last]
    op = sg.operators[step.op] if step is not None else None
    where = f"at op {op.index} {op.opcode}" if op is not None else f"at scope {scope}"
    inputs = [b for b in alive if b.subgraph == 0 and b.tensor in sg.inputs]
    in_bytes = sum(b.aligned for b in inputs)
    scratch = [b for b in alive if b.tensor is None]
    scratch_bytes = sum(b.aligned for b in scratch)
    if inputs and 2 * in_bytes >= peak:
        in_place = rule_for(op).in_place if op is not None else None
        if in_place is not None and in_place.writes and not overwrite_inputs:
            help_ = f"--overwrite-inputs, so that {op.opcode} may run over it"
        else:
            help_ = "feeding the input in slices (a streaming front end) or a smaller input"
        return Diagnosis(Wall.PEAK_IS_INPUT,
                         f"the peak ({peak:,} B {where}) is mostly the model input "
                         f"({in_bytes:,} B), which must be in the arena whole before the first "
                         f"op runs; would help: {help_}")
    if scratch and 2 * scratch_bytes >= peak:
        owner_op = sg.operators[scratch[0].op] if scratch[0].op is not None else None
        owner = owner_op.opcode if owner_op is not None else "a kernel"
        if owner_op is not None and rule_for(owner_op).channels == Channels.SPLIT_OUT:
            help_ = (f"a kernel set that needs less scratch ({owner} split by output channels "
                     f"lowers no arena: its scratch does not shrink with the parts' outputs, or "
                     f"the parts' own tail outweighs it)")
        else:
            help_ = (f"splitting {owner} (by output channels) so each part asks for a fraction, "
                     f"or a kernel set that needs less scratch")
        return Diagnosis(Wall.PEAK_IS_SCRATCH,
                         f"the peak ({peak:,} B {where}) is mostly {owner}'s kernel scratch "
                         f"({scratch_bytes:,} B), which it asks for whole; would help: {help_}")
    if op is not None and _unsplittable(op):
        return Diagnosis(Wall.PEAK_OP_UNSPLITTABLE,
                         f"the peak op ({op.opcode} #{op.index}, {peak:,} B alive) cannot be "
                         f"split: tinymem has no spatial window or channel rule for it; would "
                         f"help: a split rule in {op.opcode}'s OpRule, or a splittable op in "
                         f"its place")
    sizes = ", ".join(f"{b.aligned:,}" for b in sorted(alive, key=lambda b: -b.aligned)[:4])
    bound = "at its live-set bound" if plan.arena_bytes <= peak else \
        f"{plan.arena_bytes - peak:,} B above its live-set bound, which no layout closed,"
    # A peak that recurs at many ops needs them all split at once (one split
    # lowers one stretch of the chain; the next op is as high).
    ops = sorted({s.op for s in at_peak})
    again = len(ops) - 1
    recurs = f", and as high at {again} more op{'s' if again != 1 else ''}" if again > 0 else ""
    if again > 0:
        # Every layer of a chain of equal-sized layers holds its input and output:
        # lowering the peak means splitting across all of them in one segment,
        # whose halos (recomputed) or added ops (tail) cost more than it saves.
        help_ = (f"one split across ops {ops[0]}-{ops[-1]} at once (a split of one stretch "
                 f"leaves the next op as high), which needs a larger MAC overhead allowance "
                 f"or costs more tail than it saves; or narrower layers there")
    elif op is not None and all(b.tensor is None or b.tensor in op.inputs or b.tensor in op.outputs
                                for b in alive):
        # A split keeps its segment's entry and exit whole: these are the op's own.
        help_ = (f"a narrower layer or a smaller input: the buffers are {op.opcode}'s own "
                 f"input and output, which stay whole around any split of it")
    else:
        help_ = "a larger MAC overhead allowance, a narrower layer at the peak, or another op order"
    return Diagnosis(Wall.AT_LIVE_SET_BOUND,
                     f"the model is {bound} ({peak:,} B {where}{recurs}: buffers of {sizes} B "
                     f"must coexist) and no split within the MAC caps lowers it; would help: {help_}")


def _unsplittable(op) -> bool:
    rule = rule_for(op)
    return rule.window is None and rule.channels == Channels.NONE
