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
from dataclasses import replace
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import TinymemError
from ..fileio import atomic_write
from ..extras import Extra, install_hint
from .units import UNITS_LEGEND, human_count, plural, short_bytes
from .names import short_name
from . import plots as _plots
from .safe_text import visible
from .summary import (FRONTS_NOTE, Card, ExploreSummary, Line, ProfileSummary, Tone,
                      exact_bytes, explore_summary, front_mark, option_macs, overhead_text,
                      profile_summary)

if TYPE_CHECKING:
    from ..memory.profile import Profile
    from ..schedules.explore import Exploration

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
    """HTML-escape anything for text and attribute values, controls made visible."""
    return html.escape(visible(value), quote=True)


def profile_html(profile: "Profile", path: str | os.PathLike, budget: int | None = None,
                 exploration: "Exploration | None" = None, *, plots: bool = True,
                 shown_profile: "Profile | None" = None, support=None,
                 deploy: str | None = None) -> None:
    """Write the report for `profile` (and `exploration`, if given) to `path`.

    `shown_profile` is the profile of the option the report draws against the
    baseline (`summary.option_to_show`), planned with that option's own plan;
    the caller makes it, so this module only renders. The plots need
    matplotlib (the `plots` extra); without it this raises TinymemError,
    unless `plots=False` asks for a report with tables only. Written
    atomically: a temporary file in the same directory, then renamed.
    """
    text = profile_html_text(profile, budget, exploration, with_plots=plots,
                             shown_profile=shown_profile, support=support, deploy=deploy)
    sources = [profile.model.path, exploration.model.path if exploration else None]
    atomic_write(path, text.encode("utf-8"), inputs=sources)


def profile_html_text(profile: "Profile", budget: int | None = None,
                      exploration: "Exploration | None" = None, *,
                      with_plots: bool = True, shown_profile: "Profile | None" = None,
                      support=None, deploy: str | None = None) -> str:
    """The report as a string (see `profile_html`); `support` and `deploy` as for
    `summary.profile_summary`."""
    if with_plots and not _plots.have_matplotlib():
        raise TinymemError(_plots.MISSING_MATPLOTLIB)
    if budget is None and exploration is not None:
        budget = exploration.budget
    p = profile
    summary = profile_summary(p, budget, support=support, deploy=deploy)
    ex_summary = explore_summary(exploration) if exploration is not None else None
    name = summary.name
    parts = [_head(f"tinymem: {name}"), "<body>\n<main>"]
    parts.append(f'<header><h1>Activation memory of <code>{e(name)}</code></h1>\n'
                 f'<p class="sub">{e(summary.path)}</p></header>')
    parts.append(_summary(summary, ex_summary))
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
                     f"(<code>{e(install_hint(Extra.PLOTS))}</code>) to draw them.</p>")
    parts.append("</section>")
    if exploration is not None:
        parts.append(_exploration(p, exploration, ex_summary, budget, with_plots, shown_profile))
    parts.append(_layer_table(p))
    parts.append(f'<footer>Made by tinymem {e(__version__)}. TFLM arena: the bytes TensorFlow '
                 "Lite Micro's greedy planner needs for activations; live-set peak: the most "
                 "bytes alive at once, the least any layout of this op order can need. "
                 f"KiB are 1024 bytes; in the tables, {e(UNITS_LEGEND)}.</footer>")
    parts.append("</main>\n</body>\n</html>\n")
    return "\n".join(parts)


def _head(title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="tinymem {e(__version__)}">\n'
            f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>")


_CARD_CLASS = {Tone.GOOD: "ok", Tone.BAD: "bad"}


def _card(c: Card) -> str:
    return (f'<div class="card {_CARD_CLASS.get(c.tone, "")}"><div class="k">{e(c.label)}</div>'
            f'<div class="v">{e(c.value)}</div><div class="d">{e(c.detail)}</div></div>')


def _line_html(line: Line) -> str:
    value = e(line.text)
    if line.note:
        value += " &mdash; " + e(line.note)
    if line.rows:
        cls = ["n", "mono", "n mono", "tname mono"]
        items = "".join("<tr>" + "".join(f'<td class="{cls[min(k, 3)]}">{e(c)}</td>'
                                         for k, c in enumerate(row)) + "</tr>"
                        for row in line.rows)
        value += f'<table class="inner">{items}</table>'
    return f"<tr><th>{e(line.label)}</th><td>{value}</td></tr>"


def _summary(s: ProfileSummary, ex: "ExploreSummary | None") -> str:
    cards = list(s.cards)
    if ex is not None:
        # The option's figures beside the baseline's; its budget card replaces the baseline's.
        cards = [c for c in cards if c.label != "SRAM budget" or not any(
            x.label == "SRAM budget" for x in ex.cards)]
        cards[0] = replace(cards[0], label="baseline arena")
        cards[1:1] = ex.cards
    table = "".join(_line_html(l) for l in s.lines)
    code = (f'<h2>Paste into your app</h2><pre class="mono">{e(s.code)}</pre>' if s.code else "")
    return (f'<section id="summary"><div class="cards">{"".join(_card(c) for c in cards)}</div>\n'
            f'<h2>Summary</h2><table class="kv">{table}</table>{code}</section>')


def _exploration(p: "Profile", ex: "Exploration", summary: "ExploreSummary",
                 budget: int | None, with_plots: bool, shown_profile: "Profile | None") -> str:
    name = os.path.basename(ex.model.path) if ex.model.path else "model"
    out = ['<section id="schedules"><h2>Schedules that lower the peak</h2>']
    rec = ex.recommended
    if summary.headline:
        detail = f" {e(rec.description)}." if rec is not None else ""
        cls = "callout bad" if summary.tone is Tone.BAD else "callout"
        out.append(f'<p class="{cls}">{e(summary.headline)}.{detail}</p>')
    if with_plots:
        svg = _plots.pareto_plot_bytes(ex, "svg")
        out.append("<figure>" + _plots.inline_svg(svg, "pareto", f"Schedules of {name}")
                   + "<figcaption>Each option&rsquo;s arena to set against the extra MACs it costs. "
                     "The step line is the Pareto front: the least SRAM reachable for a given "
                     "overhead.</figcaption></figure>")
    out.append(_options_table(ex))
    shown = summary.shown
    if with_plots and shown is not ex.baseline and shown_profile is not None:
        svg = _plots.curve_comparison_bytes(p, shown_profile, "svg", budget,
                                           labels=("baseline", shown.id))
        what = "recommended" if shown is rec else "lowest-arena"
        out.append("<figure>"
                   + _plots.inline_svg(svg, "curves", f"Memory over time, baseline vs {shown.id}")
                   + f"<figcaption>Live memory through one inference for the baseline and the "
                     f"{what} option ({e(plural(len(shown_profile.layers), 'op'))}). The x axis "
                     "is progress in MACs, so the tiled schedule&rsquo;s extra operators line up "
                     "with the work they split.</figcaption></figure>")
    out.append(f'<p class="note">{e(plural(len(ex.options), "option"))} from '
               f'{e(plural(ex.evaluated, "candidate"))} searched in {ex.seconds:.1f} s.</p>'
               "</section>")
    return "\n".join(out)


def _options_table(ex: "Exploration") -> str:
    base = ex.baseline.required_bytes
    head = ('<tr><th></th><th>id</th><th class="n">arena to set</th><th class="n">head</th>'
            '<th class="n">vs base</th>'
            '<th class="n">live bound</th><th class="n">MACs</th><th class="n">overhead</th>'
            '<th class="n">stage</th><th class="n">+ops</th><th>fits</th><th>schedule</th></tr>')
    rows = []
    for o in sorted(ex.options, key=lambda o: (o.mac_overhead, o.required_bytes)):
        mark = ("→" if o.recommended else "") + front_mark(o).strip()
        cls = "rec" if o.recommended else ("" if o.pareto or o.pareto_head else "dim")
        front = ("Pareto" if o.pareto else "Pareto by head" if o.pareto_head else "dominated")
        stage = o.stage_overhead()
        fits = "" if o.fits is None else ("yes" if o.fits else "no")
        rows.append(
            f'<tr class="{cls}"><td class="mark" title="'
            f'{"recommended, " if o.recommended else ""}{front}">'
            f"{mark}</td><td class=\"mono id\">{e(o.id)}</td>"
            f'<td class="n">{o.required_bytes:,}</td><td class="n">{o.head_bytes:,}</td>'
            f'<td class="n">{(o.required_bytes / base - 1 if base else 0):+.0%}</td>'
            f'<td class="n">{o.peak_bytes:,}</td><td class="n">{e(option_macs(o))}</td>'
            f'<td class="n">{e(overhead_text(o))}</td>'
            f'<td class="n">{"" if stage is None else f"{stage:+.0%}"}</td>'
            f'<td class="n">{o.ops_added or ""}</td><td>{fits}</td><td>{e(o.description)}</td></tr>')
    caption = (FRONTS_NOTE + "; → recommended: "
               + ("the lowest overhead that fits the budget." if ex.budget is not None
                  else "the lowest arena to set within the overhead limit."))
    if ex.budget is not None:
        caption += f" Budget {exact_bytes(ex.budget)}."
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
    return (f'<section id="layers"><h2>Per-layer table</h2><details open><summary>'
            f'{e(plural(len(p.layers), "operator"))}, in execution order ({e(UNITS_LEGEND)})</summary><div class="tablewrap">'
            f'<table id="layer-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
            "</div></details></section>")
