"""What a profile (and an exploration) says, in words: the one summary every view renders.

The terminal view and the HTML report both render a `ProfileSummary` built
here, so a figure, its wording and when it is shown have one home. A new
fact is one more `Line` (or `Card`) appended in `profile_summary`; the
renderers need no change. Text here is plain (never markup); each renderer
escapes it for its medium.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from .units import human_bytes, human_count, plural
from .names import short_name

if TYPE_CHECKING:
    from ..memory.profile import Profile
    from ..ops.support import Support
    from ..schedules.explore import Exploration, Option


class Tone(Enum):
    """How a figure should stand out; each renderer maps it to its own style."""

    PLAIN = "plain"
    STRONG = "strong"  # the headline figure
    GOOD = "good"  # fits, a saving
    BAD = "bad"  # over the budget, nothing fits
    PEAK = "peak"  # where the peak is
    NOTE = "note"  # remarks


@dataclass(frozen=True)
class Card:
    """A headline figure: a label, a short value and a line of detail."""

    label: str
    value: str
    detail: str = ""
    tone: Tone = Tone.PLAIN


@dataclass(frozen=True)
class Line:
    """One labelled fact of the summary.

    `note` explains the figure; `rows` is a small table that belongs to it
    (the tensors alive at the peak), each row a tuple of plain cells.
    """

    label: str
    text: str
    note: str = ""
    tone: Tone = Tone.PLAIN
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass
class ProfileSummary:
    name: str  # the model's file name
    path: str
    cards: list[Card]
    lines: list[Line]
    curve: list[int] = field(default_factory=list)  # live bytes per op, execution order
    # The C++ a TFLM user pastes (kTensorArenaSize and the op resolver), or None
    # when the model does not run on the target.
    code: str | None = None

    def line(self, label: str) -> Line | None:
        return next((l for l in self.lines if l.label == label), None)


def exact_bytes(n: int) -> str:
    """'311,040 B (303.8 KiB)', or '512 B'."""
    return f"{n:,} B ({human_bytes(n)})" if n >= 1024 else f"{n:,} B"


def macs_text(p: "Profile") -> str:
    """Total MACs, saying what is unknown rather than counting it as 0."""
    known = [l for l in p.layers if l.macs is not None]
    if not known and p.layers:
        return "unknown (" + ", ".join(p.unknown_mac_ops) + ")"
    text = f"{p.macs:,}"
    if p.unknown_mac_ops:
        text += f" + unknown for {', '.join(p.unknown_mac_ops)}"
    return text


def macs_short(p: "Profile") -> str:
    if p.layers and all(l.macs is None for l in p.layers):
        return "?"
    return human_count(p.macs) + ("+?" if p.unknown_mac_ops else "")


# At most this many failing ops are listed (a uint8 model fails on most of its ops).
MAX_PROBLEMS = 8


def profile_summary(p: "Profile", budget: int | None = None, support: "Support | None" = None,
                    deploy: str | None = None) -> ProfileSummary:
    """The summary of a profile: headline cards and labelled lines. With `support`,
    a model the target cannot run says so first, and no figure reads as an arena to
    set; `deploy` is the code to paste (ops.support.deploy_snippet)."""
    path = p.model.path or ""
    name = os.path.basename(path) if path else "model"
    runs = support is None or support.runs
    return ProfileSummary(name=name, path=path, cards=_cards(p, budget, runs),
                          lines=_support_lines(support) + _lines(p, runs),
                          curve=[l.live_bytes for l in p.layers],
                          code=deploy if runs else None)


def _support_lines(support: "Support | None") -> list[Line]:
    if support is None or support.runs:
        return []
    lines = [Line("does not run", support.headline(), tone=Tone.BAD)]
    lines += [Line("", prob.text(), tone=Tone.BAD) for prob in support.problems[:MAX_PROBLEMS]]
    if len(support.problems) > MAX_PROBLEMS:
        lines.append(Line("", f"... and {plural(len(support.problems) - MAX_PROBLEMS, 'more op')}",
                          tone=Tone.BAD))
    return lines


def _cards(p: "Profile", budget: int | None, runs: bool = True) -> list[Card]:
    label = "arena to set" if runs else "arena if it ran"
    cards = [Card(label, human_bytes(p.required_bytes),
                  f"{p.required_bytes:,} B on {p.target.label()}",
                  Tone.STRONG if runs else Tone.BAD),
             Card("head + tail", f"{human_bytes(p.head_bytes)} + {human_bytes(p.tail_bytes)}",
                  f"{p.head_bytes:,} + {p.tail_bytes:,} B"),
             Card("live-set peak", human_bytes(p.peak_bytes), f"{p.peak_bytes:,} B")]
    if budget is not None and runs:
        cards.append(budget_card(budget, p.required_bytes, "arena to set"))
    cards.append(Card("MACs", macs_short(p), plural(len(p.layers), "op")))
    cards.append(Card("weights", human_bytes(p.weights_bytes), f"{p.weights_bytes:,} B"))
    return cards


def budget_card(budget: int, arena: int, who: str, baseline: int | None = None) -> Card:
    """How `who`'s arena stands against the budget (and the baseline's, when given)."""
    def standing(name: str, n: int) -> str:
        return (f"{name}: {human_bytes(budget - n)} to spare" if n <= budget
                else f"{name}: {human_bytes(n - budget)} over")

    detail = standing(who, arena)
    if baseline is not None:
        detail += "; " + standing("baseline", baseline)
    return Card("SRAM budget", human_bytes(budget), detail,
                Tone.GOOD if arena <= budget else Tone.BAD)


def _peak_note(p: "Profile") -> str:
    if p.plan.has_offline_plan:
        return ("with the model's offline plan kept, its overlaps counted once: no placement "
                "of the other tensors needs less")
    return "no layout of this op order needs less, unless ops run in place"


def _lines(p: "Profile", runs: bool = True) -> list[Line]:
    if runs:
        lines = [Line("arena to set", exact_bytes(p.required_bytes),
                      f"kTensorArenaSize on {p.target.label()}", Tone.STRONG)]
    else:
        lines = [Line("arena if it ran", exact_bytes(p.required_bytes),
                      f"not an arena to set: the model does not run on {p.target.label()}")]
    lines += [Line("head", exact_bytes(p.head_bytes),
                   "tensors and kernel scratch, planned by TFLM's greedy planner"),
              Line("tail", exact_bytes(p.tail_bytes),
                   "persistent: kernel data, tensor and node structs"),
              Line("live-set peak", exact_bytes(p.peak_bytes), _peak_note(p))]
    if p.layout is not None:
        a = p.layout.plan.arena_bytes
        lines.append(Line("better layout", f"{exact_bytes(a)}, "
                          f"{-(p.arena_bytes - a) / p.arena_bytes:+.1%}",
                          "as an OfflineMemoryAllocation plan (tinymem explore writes it)",
                          Tone.GOOD))
    elif p.arena_bytes == p.peak_bytes:
        lines.append(Line("better layout", "none needed",
                          "the arena already meets the live-set bound"))
    lines.append(Line("MACs", macs_text(p)))
    lines.append(Line("weights", exact_bytes(p.weights_bytes)))
    pl = p.peak_layer
    if pl is not None:
        where = f"op {pl.index} {pl.op}, {human_bytes(pl.live_bytes)} alive"
        if pl.subgraph:
            where = f"subgraph {pl.subgraph}, " + where
        lines.append(Line("peak at", where, tone=Tone.PEAK))
        blk = p.blocks[pl.block] if pl.subgraph == 0 and pl.block < len(p.blocks) else None
        if blk is not None and len(p.blocks) > 1:
            lines.append(Line("peak block", f"block {blk.index}: ops {blk.first_op}-{blk.last_op}",
                              f"{plural(len(p.blocks), 'block')} in all"))
        tensors = sorted(p.peak_tensors, key=lambda t: (-t.bytes, t.index))
        if tensors:
            rows = tuple((human_bytes(t.bytes), f"{'x'.join(map(str, t.shape))} {t.dtype}",
                          f"#{t.index}", short_name(t.name, 64)) for t in tensors)
            total = sum(t.bytes for t in tensors)
            lines.append(Line("alive at peak", f"{plural(len(tensors), 'tensor')}, "
                              f"{human_bytes(total)}", rows=rows))
        if pl.scratch_bytes:
            lines.append(Line("scratch at peak", human_bytes(pl.scratch_bytes)))
    imb = p.imbalance()
    if imb and imb["ratio"]:
        head = "block 0" if imb["head_blocks"] == 1 else f"blocks 0-{imb['head_blocks'] - 1}"
        lines.append(Line("imbalance", f"{head} peak at "
                          f"{human_bytes(imb['head_peak_bytes'])}, the rest at "
                          f"{human_bytes(imb['tail_peak_bytes'])} ({imb['ratio']}x)"))
    for n in p.notes:
        lines.append(Line("note", n, tone=Tone.NOTE))
    return lines


# ---------------------------------------------------------------------------
# an exploration


@dataclass
class ExploreSummary:
    cards: list[Card]  # the recommended (or shown) option's figures, beside the baseline's
    headline: str  # the recommendation, or why nothing fits
    tone: Tone
    shown: "Option"  # the option whose memory over time the views draw


def option_to_show(ex: "Exploration", chosen: "Option | None" = None) -> "Option":
    """The option the pictures compare with the baseline: the one asked for, else the
    recommended one, else the lowest arena."""
    return chosen or ex.recommended or min(ex.options, key=lambda o: (o.required_bytes,
                                                                      o.mac_overhead))


def explore_summary(ex: "Exploration", chosen: "Option | None" = None) -> ExploreSummary:
    rec = ex.recommended
    shown = option_to_show(ex, chosen)
    base = ex.baseline.required_bytes
    what = ("recommended" if shown is rec else
            "chosen" if shown is chosen else "lowest arena")
    cards = [Card(f"{what}: {shown.id}", human_bytes(shown.required_bytes),
                  f"{shown.required_bytes:,} B to set on {ex.target.label()}, "
                  f"{_vs(shown.required_bytes, base)} vs baseline, "
                  f"{overhead_text(shown)} MACs", Tone.GOOD if shown.fits is not False
                  else Tone.BAD)]
    if ex.budget is not None:
        cards.append(budget_card(ex.budget, shown.required_bytes, shown.id,
                                 None if shown is ex.baseline else base))
    low = lowest_head(ex)
    if low.head_bytes < shown.head_bytes:
        # Activation-only figures (Vela's, papers') compare with this one.
        cards.append(Card(f"lowest head: {low.id}", human_bytes(low.head_bytes),
                          f"{low.head_bytes:,} B of tensors and scratch "
                          f"({low.required_bytes:,} B to set), {overhead_text(low)} MACs"))
    if rec is not None:
        headline = (f"recommended {rec.id}: arena to set {rec.required_bytes:,} B on "
                    f"{ex.target.label()} (head {rec.head_bytes:,} + tail {rec.tail_bytes:,}; "
                    f"{_vs(rec.required_bytes, base)} vs baseline {base:,} B), "
                    f"{overhead_text(rec)} MACs")
        tone = Tone.GOOD
    elif ex.budget is not None:
        headline, tone = no_fit_message(ex), Tone.BAD
    else:
        headline, tone = "", Tone.PLAIN
    return ExploreSummary(cards=cards, headline=headline, tone=tone, shown=shown)


def lowest_head(ex: "Exploration") -> "Option":
    """The option with the lowest head within the exploration's overhead limit."""
    from ..schedules.explore import Objective

    return ex.best_within(1e9 if ex.max_overhead is None else ex.max_overhead, Objective.HEAD)


def front_mark(o: "Option") -> str:
    """★ on the front of the arena to set vs MAC overhead; ☆ on the head's front only."""
    return "★" if o.pareto else ("☆" if o.pareto_head else " ")


FRONTS_NOTE = ("★ Pareto front (arena to set vs MAC overhead); ☆ on the front of the head "
               "(tensors and scratch, the figure Vela's SRAM counts) only")


def overhead_text(o: "Option") -> str:
    """An option's MAC overhead, or '?' when the model's MACs are unknown (custom ops only)."""
    return f"{o.mac_overhead:+.1%}" if o.base_macs else "?"


def option_macs(o: "Option") -> str:
    return human_count(o.macs) if o.base_macs else "?"


def _vs(arena: int, base: int) -> str:
    return f"{arena / base - 1:+.0%}" if base else "n/a"


def no_fit_message(ex: "Exploration") -> str:
    allowed = [o for o in ex.options
               if ex.max_overhead is None or o.mac_overhead <= ex.max_overhead + 1e-12]
    best = min(allowed or ex.options, key=lambda o: (o.required_bytes, o.mac_overhead))
    limit = "" if ex.max_overhead is None else f" within {ex.max_overhead:.0%} MAC overhead"
    return (f"nothing fits {ex.budget:,} B{limit}: the best achievable arena to set is "
            f"{best.required_bytes:,} B "
            f"({best.id}, {overhead_text(best)} MACs)")
