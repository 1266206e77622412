"""Layouts better than TFLM's greedy one, for the same ops in the same order.

The greedy planner places largest-first; on graphs with skip connections
that leaves holes. Here several placement orders are tried (each placed
with the same first-fit rule), then a bounded local search swaps neighbours
in the best order. The live-set bound says when to stop: nothing can beat it.

In-place executions (`aliases.find_aliases`) are constraints of the same
search: each group of tensors placed inside one another (an element-wise op
over its input, a join over its chunks, a PAD over its input at its end) is
placed as one block (the union of their lifetimes) and each tensor gets the
block's offset plus its own, which also lowers the live-set bound the search
stops at.

The result is expressed as offsets for the tensors only: that is what an
OfflineMemoryAllocation plan can carry. Kernel scratch buffers stay online,
and the arena is re-measured by the real greedy planner with the tensors
pinned, so the figure reported is the one TFLM will allocate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


import numpy as np

from ..graph.ir import Model
from .aliases import Alias, Member, alias_groups, choose, find_aliases, merge, worthwhile
from .greedy import arena_size, greedy_offsets, place_in_order, time_overlaps
from .liveness import live_bytes_per_scope
from .planner import ArenaPlan, plan_model, with_tail
from .requests import BufferRequest, Requests


@dataclass
class Layout:
    offline: list[int]  # one offset per tensor over all subgraphs, -1 = online
    plan: ArenaPlan  # the arena TFLM plans with those offsets pinned
    aliases: tuple[Alias, ...] = ()  # the in-place executions the offsets rely on


def _orders(buffers: list[BufferRequest]) -> list[list[int]]:
    idx = list(range(len(buffers)))
    by = lambda key: sorted(idx, key=key)  # noqa: E731
    return [
        by(lambda i: (-buffers[i].aligned, buffers[i].first)),
        by(lambda i: (-buffers[i].aligned, -buffers[i].last)),
        by(lambda i: (-buffers[i].aligned * (buffers[i].last - buffers[i].first + 1), i)),
        by(lambda i: (-(buffers[i].last - buffers[i].first), -buffers[i].aligned)),
        by(lambda i: (buffers[i].first, -buffers[i].aligned)),
        by(lambda i: (-buffers[i].last, -buffers[i].aligned)),
    ]


# Each trial placement costs about n**2 for n buffers. Real models have a few
# hundred buffers and get every iteration; beyond this many the search would
# take seconds for an optimisation, so it is not tried.
MAX_SEARCH_BUFFERS = 2_000


def best_layout(model: Model, baseline: ArenaPlan | None = None, iterations: int = 300,
                seed: int = 0, in_place: bool = True,
                overwrite_inputs: bool = False) -> Layout | None:
    """A tensor layout whose TFLM arena is below the greedy one, or None if none is found.

    With `in_place`, ops the rules allow run over their inputs (model inputs
    only with `overwrite_inputs`); every alias found is honoured in the
    aliased layout (running in place costs nothing).
    """
    base = baseline or plan_model(model, offline=[])  # the host wheel unless a plan is given
    if not base.buffers:
        return None
    aliases = find_aliases(model, base.requests, overwrite_inputs) if in_place else []
    aliases = worthwhile(base.requests, aliases)
    # The placement heuristics are not monotone in the constraints: a layout
    # without the aliases is sometimes the smaller one, so both are tried.
    found = [_search(model, base, aliases, iterations, seed)]
    if aliases:
        found.append(_search(model, base, [], iterations, seed))
    found = [f for f in found if f is not None]
    return min(found, key=lambda f: f.plan.arena_bytes) if found else None


def _search(model: Model, base: ArenaPlan, aliases: list[Alias], iterations: int,
            seed: int) -> Layout | None:
    all_buffers = base.buffers
    groups = alias_groups(base.requests, aliases)
    buffers = merge(all_buffers, groups)
    bound = int(live_bytes_per_scope(buffers, base.requests.last_scope).max())
    if base.arena_bytes <= bound:
        return None  # greedy already meets the live-set bound
    if len(buffers) > MAX_SEARCH_BUFFERS:
        return None
    best_order, best_size = None, base.arena_bytes
    overlaps = time_overlaps(buffers)  # the same buffers are placed in every order
    for order in _orders(buffers):
        size = arena_size(buffers, place_in_order(buffers, order, overlaps))
        if size < best_size:
            best_order, best_size = order, size
    # Local search from the best start: move one buffer earlier in the order.
    rng = random.Random(seed)
    order = list(best_order or sorted(range(len(buffers)), key=lambda i: -buffers[i].aligned))
    cur = best_size
    placed = None  # the offsets of `order`, placed when first needed
    for _ in range(iterations):
        if cur <= bound or len(order) < 2:
            break
        i = rng.randrange(1, len(order))
        j = rng.randrange(0, i)
        cand = order[:j] + [order[i]] + order[j:i] + order[i + 1:]
        # Only a smaller arena is kept: a trial stops once it cannot be, and the
        # first j buffers are where `order` put them.
        if placed is None:
            placed = place_in_order(buffers, order, overlaps)
        offsets = place_in_order(buffers, cand, overlaps, (placed, j), below=cur)
        size = arena_size(buffers, offsets) if offsets is not None else cur
        if size < cur:
            order, cur, placed = cand, size, offsets
            if size < best_size:
                best_order, best_size = cand, size
    if best_order is None:
        return None
    offline = member_offsets(model, all_buffers, groups,
                             place_in_order(buffers, best_order, overlaps))
    plan = plan_model(model, offline=offline, target=base.target)
    if plan.arena_bytes >= base.arena_bytes:
        return None
    plan.offline = offline
    return Layout(offline=offline, plan=plan, aliases=tuple(aliases))


def member_offsets(model: Model, buffers: list[BufferRequest], groups: list[list[Member]],
                   group_offsets: list[int]) -> list[int]:
    """The offline vector that puts each group's block at its offset (each
    member at the block's offset plus its delta); scratch stays online."""
    offsets = [0] * len(buffers)
    for g, off in zip(groups, group_offsets):
        for m in g:
            offsets[m.buffer] = off + m.delta
    return _offline_vector(model, buffers, offsets)


def _offline_vector(model: Model, buffers: list[BufferRequest], offsets: list[int]) -> list[int]:
    starts, total = [], 0
    for sg in model.subgraphs:
        starts.append(total)
        total += len(sg.tensors)
    vec = [-1] * total
    for b, off in zip(buffers, offsets):
        if b.tensor is not None:
            vec[starts[b.subgraph] + b.tensor] = int(off)
    return vec


def aliased_plan(model: Model, plan: ArenaPlan, overwrite_inputs: bool = False,
                 chosen: tuple[list[Alias], np.ndarray] | None = None,
                 exact_live: bool = True) -> Layout | None:
    """`plan`'s schedule with its in-place executions: the alias groups placed
    as blocks by TFLM's own greedy rule, every tensor pinned there, and the
    arena re-measured as TFLM plans that offline vector (kernel scratch
    online). None when no alias lowers the head.

    The cheap figure the search judges a candidate by; `best_layout` searches
    further. `plan` is a head plan without an offline plan of its own (its
    tail is not needed); the plan returned has its tail. `chosen`: what
    `aliases.choose` gives for `plan`, if known. Without `exact_live` the
    plan's live bytes are those the blocks reserve (an upper bound of what
    its tensors cover, cheaper to know; `settle_live` makes them exact).
    """
    req = plan.requests
    if chosen is None:
        chosen = choose(req, find_aliases(model, req, overwrite_inputs), plan.live)
    aliases, joined_live = chosen
    if not aliases or int(joined_live.max()) >= plan.arena_bytes:
        return None  # no placement of the blocks can beat the plan
    groups = alias_groups(req, aliases)
    merged = merge(req.buffers, groups)
    offline = member_offsets(model, req.buffers, groups, greedy_offsets(merged))
    pinned = pin(model, req, offline)
    offsets = greedy_offsets(pinned.buffers)
    head = arena_size(pinned.buffers, offsets)
    if head >= plan.arena_bytes:
        return None
    got = ArenaPlan(requests=pinned, offsets=offsets, arena_bytes=head,
                    live=joined_live, target=plan.target, offline=offline)
    if exact_live:
        settle_live(got)
    return Layout(offline=offline, plan=with_tail(model, got, plan.target, offline),
                  aliases=tuple(aliases))


def settle_live(plan: ArenaPlan) -> None:
    """Give a plan from `aliased_plan(exact_live=False)` the live bytes
    `plan_model` would give it: those its pinned tensors cover."""
    plan.live = live_bytes_per_scope(plan.buffers, plan.requests.last_scope)


def pin(model: Model, requests: Requests, offline: list[int]) -> Requests:
    """`requests` with the tensors `offline` places pinned there: what
    `build_requests(model, offline)` gives, without walking the graph again."""
    starts, total = {}, 0
    for sg in model.subgraphs:
        starts[sg.index] = total
        total += len(sg.tensors)
    buffers = []
    for b in requests.buffers:
        off = offline[starts[b.subgraph] + b.tensor] if b.tensor is not None else -1
        buffers.append(BufferRequest(b.size, b.first, b.last, b.subgraph, b.tensor, b.op, off)
                       if off >= 0 else b)
    return Requests(buffers=buffers, steps=requests.steps, last_scope=requests.last_scope,
                    planned_count=requests.planned_count)
