"""A report to share: one self-contained HTML file.

Everything is inline: the CSS, the plots (SVG, with real text), no scripts,
no fonts or images to fetch. A Content-Security-Policy in the page forbids
any network access, so a report that tried to load something would show an
error in the browser rather than quietly phone home. Every string that comes
from the model (tensor names, op names, the path) is escaped.
"""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import TinymemError
from ..units import human_bytes, human_count, short_bytes
from .names import short_name
from . import plots as _plots

if TYPE_CHECKING:
    from ..analysis import Profile
    from ..schedules.explore import Exploration, Option

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #e3e3e3; --band: #f6f7f9;
        --peak: #b34700; --peak-bg: #fff1e8; --ok: #00704f; --ok-bg: #e7f6f0;
        --bad: #b0281a; --bad-bg: #fdecea; --accent: #0072b2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
             sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 1.55rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 22px 0 8px; }
p { margin: 8px 0; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
              monospace; font-size: 0.88em; }
.sub { color: var(--muted); margin: 0; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px;
         margin: 18px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fff; }
.card .k { color: var(--muted); font-size: 0.8rem; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 1.35rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .d { color: var(--muted); font-size: 0.82rem; }
.card.bad { border-color: #f3c1bb; background: var(--bad-bg); }
.card.bad .v { color: var(--bad); }
.card.ok { border-color: #b9e3d3; background: var(--ok-bg); }
.card.ok .v { color: var(--ok); }
table { border-collapse: collapse; width: 100%; font-size: 0.86rem; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 7px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
th { position: sticky; top: 0; background: #fafafa; font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; }
table.kv { width: auto; font-size: 0.92rem; }
table.kv th { position: static; background: none; padding-right: 18px; color: var(--muted);
              font-weight: 500; white-space: nowrap; }
table.kv td { border-bottom-color: #f0f0f0; }
table.inner { width: auto; font-size: 0.86rem; }
table.inner td { border: none; padding: 0 10px 1px 0; }
td.tname { word-break: break-all; }
tr.peak td { background: var(--peak-bg); color: var(--peak); font-weight: 600; }
tr.peakblock td { background: #fffaf6; }
tr.dim td { color: #8a8f98; }
tr.rec td { background: var(--ok-bg); color: var(--ok); font-weight: 600; }
td.id { white-space: nowrap; }
td.name { max-width: 15em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { display: inline-block; height: 0.7em; background: var(--accent); border-radius: 2px;
       vertical-align: middle; }
tr.peak .bar { background: var(--peak); }
.tablewrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
.tablewrap table td:first-child, .tablewrap table th:first-child { padding-left: 12px; }
figure { margin: 14px 0 8px; }
figure svg.plot { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.86rem; margin-top: 4px; }
.note { color: var(--muted); font-size: 0.88rem; }
.callout { border-left: 4px solid var(--ok); background: var(--ok-bg); padding: 8px 12px;
           border-radius: 0 6px 6px 0; margin: 12px 0; }
.callout.bad { border-left-color: var(--bad); background: var(--bad-bg); }
.mark { font-weight: 700; }
details > summary { cursor: pointer; color: var(--accent); margin: 6px 0 10px; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.82rem; border-top: 1px solid var(--line);
         padding-top: 10px; }
@media print { main { max-width: none; padding: 0; } th { position: static; }
               .tablewrap { overflow: visible; border: none; } h2 { break-after: avoid; }
               figure { break-inside: avoid; } }
"""


def e(value) -> str:
    """HTML-escape anything for text and attribute values."""
    return html.escape(str(value), quote=True)


def profile_html(profile: "Profile", path: str | os.PathLike, budget: int | None = None,
                 exploration: "Exploration | None" = None, *, plots: bool = True) -> None:
    """Write the report for `profile` (and `exploration`, if given) to `path`.

    The plots need matplotlib (the `plots` extra); without it this raises
    TinymemError, unless `plots=False` asks for a report with tables only.
    Written atomically: a temporary file in the same directory, then renamed.
    """
    text = profile_html_text(profile, budget, exploration, with_plots=plots)
    _plots.atomic_write(path, text.encode("utf-8"))


def profile_html_text(profile: "Profile", budget: int | None = None,
                      exploration: "Exploration | None" = None, *,
                      with_plots: bool = True) -> str:
    """The report as a string (see `profile_html`)."""
    if with_plots and not _plots.have_matplotlib():
        raise TinymemError(_plots.MISSING_MATPLOTLIB)
    if budget is None and exploration is not None:
        budget = exploration.budget
    p = profile
    name = os.path.basename(p.model.path) if p.model.path else "model"
    parts = [_head(f"tinymem: {name}"), "<body>\n<main>"]
    parts.append(f'<header><h1>Activation memory of <code>{e(name)}</code></h1>\n'
                 f'<p class="sub">{e(p.model.path or "")}</p></header>')
    parts.append(_summary(p, budget))
    parts.append('<section id="memory"><h2>Memory per operator</h2>')
    if with_plots:
        svg = _plots.memory_plot_bytes(p, "svg", budget)
        parts.append("<figure>" + _plots.inline_svg(svg, "mem", f"Activation memory per op of {name}")
                     + "<figcaption>Live activation memory while each operator runs, split into "
                       "its inputs, its outputs, the other tensors still alive and its scratch "
                       "buffers. The peak operator is outlined and its block shaded; sizes in "
                       "KiB (1 KiB = 1024 B).</figcaption></figure>")
    else:
        parts.append('<p class="note">Plots left out: install matplotlib '
                     "(<code>pip install 'tinymem[plots]'</code>) to draw them.</p>")
    parts.append("</section>")
    if exploration is not None:
        parts.append(_exploration(p, exploration, budget, with_plots))
    parts.append(_layer_table(p))
    parts.append(f'<footer>Made by tinymem {e(__version__)}. TFLM arena: the bytes TensorFlow '
                 "Lite Micro's greedy planner needs for activations; live-set peak: the most "
                 "bytes alive at once, the least any layout of this op order can need. "
                 "k and KiB are 1024 bytes.</footer>")
    parts.append("</main>\n</body>\n</html>\n")
    return "\n".join(parts)


def _head(title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="tinymem {e(__version__)}">\n'
            f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>")


def _bytes(n: int) -> str:
    return f"{n:,} B ({human_bytes(n)})" if n >= 1024 else f"{n:,} B"


def _card(key: str, value: str, detail: str = "", cls: str = "") -> str:
    return (f'<div class="card {cls}"><div class="k">{e(key)}</div><div class="v">{e(value)}</div>'
            f'<div class="d">{e(detail)}</div></div>')


def _summary(p: "Profile", budget: int | None) -> str:
    cards = [_card("TFLM arena", human_bytes(p.arena_bytes), f"{p.arena_bytes:,} B"),
             _card("live-set peak", human_bytes(p.peak_bytes), f"{p.peak_bytes:,} B")]
    if budget is not None:
        fits = p.arena_bytes <= budget
        detail = (f"{human_bytes(budget - p.arena_bytes)} to spare" if fits
                  else f"{human_bytes(p.arena_bytes - budget)} over")
        cards.append(_card("SRAM budget", human_bytes(budget), detail, "ok" if fits else "bad"))
    n_ops = len(p.layers)
    cards.append(_card("MACs", human_count(p.macs), f"{n_ops} ops"))
    cards.append(_card("weights", human_bytes(p.weights_bytes), f"{p.weights_bytes:,} B"))

    rows: list[tuple[str, str]] = []  # (label, already-escaped HTML)
    rows.append(("TFLM arena", e(_bytes(p.arena_bytes)) + " &mdash; what TFLite Micro's greedy "
                 "planner allocates for activations"))
    rows.append(("live-set peak", e(_bytes(p.peak_bytes)) + " &mdash; no layout of this op order "
                 "needs less"))
    if p.layout is not None:
        a = p.layout.plan.arena_bytes
        rows.append(("better layout", e(f"{_bytes(a)}, {-(p.arena_bytes - a) / p.arena_bytes:+.1%}"
                                        " as an OfflineMemoryAllocation plan")))
    elif p.arena_bytes == p.peak_bytes:
        rows.append(("better layout", "none needed: TFLM&rsquo;s greedy layout meets the live-set "
                     "bound"))
    macs = f"{p.macs:,}"
    if p.unknown_mac_ops:
        macs += f" (+ unknown for {', '.join(p.unknown_mac_ops)})"
    rows.append(("MACs", e(macs)))
    rows.append(("weights", e(_bytes(p.weights_bytes))))
    if p.peak_layer is not None:
        pl = p.peak_layer
        blk = p.blocks[pl.block] if pl.block < len(p.blocks) else None
        where = f"op {pl.index} {pl.op}"
        if pl.subgraph:
            where = f"subgraph {pl.subgraph}, " + where
        where += f", {human_bytes(pl.live_bytes)} alive"
        rows.append(("peak at", e(where)))
        if blk is not None:
            rows.append(("peak block", e(f"block {blk.index}: ops {blk.first_op}-{blk.last_op}, "
                                         f"{len(p.blocks)} blocks in all")))
        tensors = sorted(p.peak_tensors, key=lambda t: (-t.bytes, t.index))
        if tensors:
            items = "".join(
                f'<tr><td class="n">{e(human_bytes(t.bytes))}</td>'
                f'<td class="mono">{e("x".join(map(str, t.shape)))} {e(t.dtype)}</td>'
                f'<td class="n mono">#{t.index}</td>'
                f'<td class="tname mono" title="{e(t.name)}">{e(short_name(t.name, 64))}</td></tr>'
                for t in tensors)
            rows.append(("alive at peak", f'<table class="inner">{items}</table>'))
        if pl.scratch_bytes:
            rows.append(("scratch at peak", e(human_bytes(pl.scratch_bytes))))
    imb = p.imbalance()
    if imb and imb["ratio"]:
        rows.append(("imbalance", e(f"blocks 0-{imb['head_blocks'] - 1} peak at "
                                    f"{human_bytes(imb['head_peak_bytes'])}, the rest at "
                                    f"{human_bytes(imb['tail_peak_bytes'])} ({imb['ratio']}x)")))
    for n in p.notes:
        rows.append(("note", e(n)))
    table = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return (f'<section id="summary"><div class="cards">{"".join(cards)}</div>\n'
            f'<h2>Summary</h2><table class="kv">{table}</table></section>')


def _exploration(p: "Profile", ex: "Exploration", budget: int | None, with_plots: bool) -> str:
    from ..analysis import profile_model
    from .explore_view import no_fit_message

    name = os.path.basename(ex.model.path) if ex.model.path else "model"
    out = ['<section id="schedules"><h2>Schedules that lower the peak</h2>']
    rec = ex.recommended
    base = ex.baseline.arena_bytes
    if rec is not None:
        out.append(f'<p class="callout">Recommended: <b>{e(rec.id)}</b>, '
                   f"{e(_bytes(rec.arena_bytes))} TFLM arena "
                   f"({rec.arena_bytes / base - 1:+.0%} vs the baseline&rsquo;s "
                   f"{e(human_bytes(base))}) for {rec.mac_overhead:+.1%} MACs. "
                   f"{e(rec.description)}.</p>")
    elif ex.budget is not None:
        out.append(f'<p class="callout bad">{e(no_fit_message(ex))}.</p>')
    if with_plots:
        svg = _plots.pareto_plot_bytes(ex, "svg")
        out.append("<figure>" + _plots.inline_svg(svg, "pareto", f"Schedules of {name}")
                   + "<figcaption>Each option&rsquo;s TFLM arena against the extra MACs it costs. "
                     "The step line is the Pareto front: the least SRAM reachable for a given "
                     "overhead.</figcaption></figure>")
    out.append(_options_table(ex))
    chosen = rec or min(ex.options, key=lambda o: (o.arena_bytes, o.mac_overhead))
    if with_plots:
        if chosen.model is ex.model:
            out.append(f'<p class="note">{e(chosen.id)} keeps the baseline&rsquo;s operators and '
                       "their order, so its memory over time is the baseline&rsquo;s.</p>")
        else:
            opt_prof = profile_model(chosen.model, search_layout=False)
            svg = _plots.curve_comparison_bytes(p, opt_prof, "svg", budget,
                                               labels=("baseline", chosen.id))
            what = "recommended" if chosen is rec else "lowest-arena"
            out.append("<figure>"
                       + _plots.inline_svg(svg, "curves", f"Memory over time, baseline vs {chosen.id}")
                       + f"<figcaption>Live memory through one inference for the baseline and the "
                         f"{what} option ({e(len(opt_prof.layers))} ops). The x axis is progress "
                         "in MACs, so the tiled schedule&rsquo;s extra operators line up with the "
                         "work they split.</figcaption></figure>")
    out.append(f'<p class="note">{len(ex.options)} options from {ex.evaluated} candidates '
               f"searched in {ex.seconds:.1f} s.</p></section>")
    return "\n".join(out)


def _options_table(ex: "Exploration") -> str:
    base = ex.baseline.arena_bytes
    head = ('<tr><th></th><th>id</th><th class="n">TFLM arena</th><th class="n">vs base</th>'
            '<th class="n">live bound</th><th class="n">MACs</th><th class="n">overhead</th>'
            '<th class="n">stage</th><th class="n">+ops</th><th>fits</th><th>schedule</th></tr>')
    rows = []
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.arena_bytes)):
        mark = ("→" if o.recommended else "") + ("★" if o.pareto else "")
        cls = "rec" if o.recommended else ("" if o.pareto else "dim")
        stage = o.stage_overhead()
        fits = "" if o.fits is None else ("yes" if o.fits else "no")
        rows.append(
            f'<tr class="{cls}"><td class="mark" title="'
            f'{"recommended, " if o.recommended else ""}{"Pareto" if o.pareto else "dominated"}">'
            f"{mark}</td><td class=\"mono id\">{e(o.id)}</td>"
            f'<td class="n">{o.arena_bytes:,}</td>'
            f'<td class="n">{(o.arena_bytes / base - 1 if base else 0):+.0%}</td>'
            f'<td class="n">{o.peak_bytes:,}</td><td class="n">{e(human_count(o.macs))}</td>'
            f'<td class="n">{o.mac_overhead:+.1%}</td>'
            f'<td class="n">{"" if stage is None else f"{stage:+.0%}"}</td>'
            f'<td class="n">{o.ops_added or ""}</td><td>{fits}</td><td>{e(o.description)}</td></tr>')
    caption = ("★ on the Pareto front (arena vs MAC overhead); → recommended: "
               + ("the lowest overhead that fits the budget." if ex.budget is not None
                  else "the lowest arena within the overhead limit."))
    if ex.budget is not None:
        caption += f" Budget {_bytes(ex.budget)}."
    return (f'<div class="tablewrap"><table id="options"><thead>{head}</thead><tbody>'
            f'{"".join(rows)}</tbody></table></div><p class="note">{e(caption)} Sizes in bytes.</p>')


def _layer_table(p: "Profile") -> str:
    top = max((l.live_bytes for l in p.layers), default=0) or 1
    peak = p.peak_layer
    head = ('<tr><th class="n">#</th><th>op</th><th>output</th><th>tensor</th>'
            '<th class="n">in</th><th class="n">out</th><th class="n">other</th>'
            '<th class="n">scratch</th><th class="n">live B</th><th></th>'
            '<th class="n">MACs</th><th class="n">weights</th><th class="n" title="block">blk</th></tr>')
    rows = []
    for l in p.layers:
        if peak is not None and l is peak:
            cls = "peak"
        elif peak is not None and l.subgraph == 0 and l.block == peak.block:
            cls = "peakblock"
        else:
            cls = ""
        idx = f"{l.subgraph}:{l.index}" if l.subgraph else str(l.index)
        width = 100 * l.live_bytes / top
        rows.append(
            f'<tr class="{cls}"><td class="n">{e(idx)}</td><td>{e(l.op)}</td>'
            f'<td class="mono">{e("x".join(str(d) for d in l.output_shape))}</td>'
            f'<td class="name mono" title="{e(l.name)}">{e(short_name(l.name, 30))}</td>'
            f'<td class="n">{short_bytes(l.input_bytes)}</td>'
            f'<td class="n">{short_bytes(l.output_bytes)}</td>'
            f'<td class="n">{short_bytes(l.other_live_bytes) if l.other_live_bytes else ""}</td>'
            f'<td class="n">{short_bytes(l.scratch_bytes) if l.scratch_bytes else ""}</td>'
            f'<td class="n">{l.live_bytes:,}</td>'
            f'<td style="width:80px;min-width:80px"><span class="bar" style="width:{width:.1f}%">'
            "</span></td>"
            f'<td class="n">{e(human_count(l.macs))}</td>'
            f'<td class="n">{short_bytes(l.weights_bytes) if l.weights_bytes else ""}</td>'
            f'<td class="n">{l.block}</td></tr>')
    return (f'<section id="layers"><h2>Per-layer table</h2><details open><summary>{len(p.layers)} '
            f'operators, in execution order (k = 1024 bytes)</summary><div class="tablewrap">'
            f'<table id="layer-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
            "</div></details></section>")
