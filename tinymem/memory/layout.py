"""Layouts better than TFLM's greedy one, for the same ops in the same order.

The greedy planner places largest-first; on graphs with skip connections
that leaves holes. Here several placement orders are tried (each placed
with the same first-fit rule), then a bounded local search swaps neighbours
in the best order. The live-set bound says when to stop: nothing can beat it.

In-place executions (`aliases.find_aliases`) are constraints of the same
search: each chain of tensors an op may overwrite is placed as one buffer
(the union of their lifetimes) and its tensors get one offset, which also
lowers the live-set bound the search stops at.

The result is expressed as offsets for the tensors only: that is what an
OfflineMemoryAllocation plan can carry. Kernel scratch buffers stay online,
and the arena is re-measured by the real greedy planner with the tensors
pinned, so the figure reported is the one TFLM will allocate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


from ..graph.ir import Model
from .aliases import Alias, alias_groups, find_aliases, merge
from .greedy import arena_size, place_in_order, time_overlaps
from .liveness import live_bytes_per_scope
from .planner import ArenaPlan, plan_model
from .requests import BufferRequest


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
    groups = alias_groups(base.requests, aliases) if aliases else [[i] for i in range(len(all_buffers))]
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
    group_offsets = place_in_order(buffers, best_order, overlaps)
    offsets = [0] * len(all_buffers)
    for g, off in zip(groups, group_offsets):
        for i in g:
            offsets[i] = off
    offline = _offline_vector(model, all_buffers, offsets)
    plan = plan_model(model, offline=offline, target=base.target)
    if plan.arena_bytes >= base.arena_bytes:
        return None
    return Layout(offline=offline, plan=plan, aliases=tuple(aliases))


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
