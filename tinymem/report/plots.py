"""Pictures of memory: per-op bars, the schedules' Pareto front, two curves compared.

matplotlib is an optional extra (the `plots` extra, see extras.py); it is
imported only when a plot is drawn, so the core install and the CLI stay
light. Figures are built on matplotlib's object API with the Agg canvas,
never pyplot: no global figure registry, no backend switch, and every rc
setting lives in a context that is undone when the plot is written. Output
is deterministic: matplotlib's defaults (whatever the user's matplotlibrc
says), a fixed SVG hash salt, and no dates in the metadata.

Sizes are shown in KiB (1 KiB = 1024 B), as the rest of tinymem does.
"""

from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from .. import __version__
from ..errors import TinymemError
from ..fileio import atomic_write
from ..extras import Extra, install_hint
from .units import human_bytes, plural
from .safe_text import visible

if TYPE_CHECKING:
    from ..memory.profile import Profile
    from ..schedules.explore import Exploration

MISSING_MATPLOTLIB = f"plots need matplotlib: {install_hint(Extra.PLOTS)}"
FORMATS = {".svg": "svg", ".png": "png"}
PNG_DPI = 150

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
C_INPUTS = "#0072B2"
C_OUTPUTS = "#E69F00"
C_OTHER = "#B8B8B8"
C_SCRATCH = "#CC79A7"
C_PEAK = "#D55E00"
C_BUDGET = "#C0392B"
C_ARENA = "#444444"
C_FRONT = "#0072B2"
C_OPTION = "#009E73"
C_BASE = "#8C8C8C"

# Each source op gets at least this share of the comparison plot's x axis (in
# total), so ops without MACs (PAD, RESHAPE, CONCATENATION) stay visible.
MIN_OP_SHARE = 0.10

SEP = "  \u00b7  "  # between the numbers of a subtitle (SVG collapses runs of spaces)


# ---------------------------------------------------------------------------
# matplotlib access, rc settings, writing


def _require_matplotlib():
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise TinymemError(MISSING_MATPLOTLIB) from None
    return matplotlib


def have_matplotlib() -> bool:
    try:
        _require_matplotlib()
    except TinymemError:
        return False
    return True


def _rc(name: str) -> dict:
    return {
        # A salt per plot kind: the ids matplotlib derives from it (clip
        # paths, markers) then differ between plots inlined in one page.
        "svg.hashsalt": f"tinymem-{name}",
        "svg.fonttype": "none",  # real <text>: small, searchable, selectable
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "Liberation Sans"],
        "font.size": 9.0,
        "axes.titlesize": 11.0,
        "axes.titleweight": "bold",
        "axes.labelsize": 9.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.axisbelow": True,
        "axes.grid": False,
        "legend.fontsize": 8.5,
        "legend.frameon": False,
        "xtick.labelsize": 8.5,
        "ytick.labelsize": 8.5,
        "svg.image_inline": True,
        "path.simplify": True,
    }


@contextmanager
def _style(name: str) -> Iterator:
    """matplotlib with its defaults plus tinymem's settings, restored on exit."""
    mpl = _require_matplotlib()
    import matplotlib.style

    with matplotlib.style.context("default"), mpl.rc_context(_rc(name)):
        yield mpl


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def require(path: str | os.PathLike | None = None) -> None:
    """Fail early (before a long search) when a plot could not be written.

    Raises TinymemError when matplotlib is missing or `path` has a suffix
    other than .svg or .png.
    """
    if path is not None:
        _format_for(path)
    _require_matplotlib()


def _format_for(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TinymemError(f"cannot tell the plot format of '{path}': name it .svg or .png")
    return FORMATS[suffix]


def _render(fig, fmt: str) -> bytes:
    from matplotlib.text import Text

    # Model strings reach many artists (titles, labels, legends): make every
    # one printable and valid XML 1.0 here, whichever way it came in.
    for artist in fig.findobj(Text):
        artist.set_text(visible(artist.get_text()))
    buf = io.BytesIO()
    if fmt == "svg":
        # No Date, no dc:type URI, no Creator URL: the same input gives the same bytes.
        meta = {"Date": None, "Type": None, "Format": None, "Creator": None}
        fig.savefig(buf, format="svg", metadata=meta)
    else:
        fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Software": f"tinymem {__version__}"})
    return buf.getvalue()


class _Unit:
    """The byte unit of an axis, chosen by the largest value it shows."""

    def __init__(self, top: int | float):
        if top < 2 * 1024:
            self.div, self.name = 1, "B"
        elif top < 4 * 1024 ** 2:
            self.div, self.name = 1024, "KiB"
        else:
            self.div, self.name = 1024 ** 2, "MiB"

    def __call__(self, n: int | float) -> float:
        return n / self.div


def _model_label(profile: "Profile") -> str:
    path = profile.model.path
    return visible(os.path.basename(path)) if path else "model"


def _text(ax, *args, **kw):
    """Text from model-provided strings: never parsed as mathtext ($...$)."""
    *where, text = args
    return ax.text(*where, visible(text), parse_math=False, **kw)


def _budget_line(ax, budget: int | None, u: _Unit):
    if budget is None:
        return None
    return ax.axhline(u(budget), color=C_BUDGET, lw=1.3, ls=(0, (6, 3)), zorder=4,
               label=f"SRAM budget {human_bytes(budget)}", gid="budget-line")


def _memory_axes(ax, u: _Unit, top: float, xlabel: str) -> None:
    """The y axis of a memory-over-time plot: live memory from 0 to a little above `top`
    (already in units of `u`), with a light grid."""
    ax.set_ylim(0, top * 1.22 if top else 1)
    ax.yaxis.grid(True, color="#E4E4E4", lw=0.8, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"live activation memory ({u.name})")


def _titles(fig, ax, title: str, subtitle: str) -> None:
    """A bold title over a grey line of key numbers, both flush left."""
    fig.suptitle(visible(title), x=0.008, ha="left", fontsize=11.5, fontweight="bold", parse_math=False)
    ax.set_title(visible(subtitle), loc="left", fontsize=8.5, color="#555555", fontweight="normal",
                 pad=6, parse_math=False)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Offsets (points) tried in turn for a label: beside the point first, then further out.
_NEAR = [(7, 7), (7, -7), (-7, 7), (-7, -7)]
_FAR = [(d * sx, d2 * sy) for d, d2 in ((18, 22), (30, 40), (50, 60))
        for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1))]


class _Labeller:
    """Places annotations where they overlap nothing important.

    Obstacles are boxes in display space: "hard" ones (markers, placed labels,
    the legend) and "soft" ones (lines, weighted less). Each label takes the
    first offset with no overlap, else the least bad one; optional labels are
    dropped rather than written over something.
    """

    def __init__(self, fig, ax):
        fig.draw_without_rendering()  # settles the constrained layout
        self.fig, self.ax = fig, ax
        self.renderer = fig.canvas.get_renderer()
        self.axbox = ax.get_window_extent(self.renderer)
        self.hard: list[tuple[float, float, float, float]] = []
        self.soft: list[tuple[float, float, float, float]] = []
        leg = ax.get_legend()
        if leg is not None:
            self.hard.append(tuple(leg.get_window_extent(self.renderer).extents))

    def _display(self, x: float, y: float) -> tuple[float, float]:
        px, py = self.ax.transData.transform((x, y))
        return float(px), float(py)

    def point(self, x: float, y: float, radius: float = 5.0) -> None:
        px, py = self._display(x, y)
        self.hard.append((px - radius, py - radius, px + radius, py + radius))

    def segment(self, x0: float, y0: float, x1: float, y1: float, width: float = 1.5) -> None:
        (ax0, ay0), (ax1, ay1) = self._display(x0, y0), self._display(x1, y1)
        self.soft.append((min(ax0, ax1) - width, min(ay0, ay1) - width,
                          max(ax0, ax1) + width, max(ay0, ay1) + width))

    def box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        (ax0, ay0), (ax1, ay1) = self._display(x0, y0), self._display(x1, y1)
        self.hard.append((min(ax0, ax1), min(ay0, ay1), max(ax0, ax1), max(ay0, ay1)))

    def hline(self, y: float) -> None:
        _, py = self._display(0, y)
        self.soft.append((self.axbox.x0, py - 1.5, self.axbox.x1, py + 1.5))

    @staticmethod
    def _overlap(a, b) -> float:
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return w * h if w > 0 and h > 0 else 0.0

    def place(self, x: float, y: float, text: str, *, essential: bool = True,
              offsets=None, arrow: str | None = None, **kw):
        offsets = offsets or (_NEAR + _FAR)
        text = visible(text)
        best = None
        for dx, dy in offsets:
            ann = self.ax.annotate(
                text, xy=(x, y), xytext=(dx, dy), textcoords="offset points",
                ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                va="bottom" if dy > 0 else ("top" if dy < 0 else "center"),
                parse_math=False, annotation_clip=False,
                arrowprops=None if arrow is None else
                dict(arrowstyle="-", color=arrow, lw=0.8, shrinkA=0, shrinkB=5), **kw)
            ann.set_in_layout(False)
            ann.update_positions(self.renderer)
            bb = _text_extent(ann, self.renderer)
            # The text's box, plus what its bbox patch (if any) pads around it.
            pad = 2.0 + (0.4 * ann.get_fontsize() * self.fig.dpi / 72
                         if ann.get_bbox_patch() is not None else 0.0)
            box = (bb.x0 - pad, bb.y0 - pad, bb.x1 + pad, bb.y1 + pad)
            a = self.axbox
            outside = (box[2] - box[0]) * (box[3] - box[1]) - self._overlap(
                box, (a.x0, a.y0, a.x1, a.y1))
            hard = outside + sum(self._overlap(box, h) for h in self.hard)
            cost = hard * 10 + sum(self._overlap(box, s) for s in self.soft)
            if best is None or cost < best[0]:
                if best is not None:
                    best[2].remove()
                best = (cost, hard, ann, box)
            else:
                ann.remove()
            if cost == 0:
                break
        cost, hard, ann, box = best
        if hard > 0 and not essential:
            ann.remove()
            return None
        self.hard.append(box)
        return ann


def _text_extent(ann, renderer):
    from matplotlib.text import Text

    return Text.get_window_extent(ann, renderer)


# ---------------------------------------------------------------------------
# memory per op


def memory_plot(profile: "Profile", path: str | os.PathLike, budget: int | None = None) -> None:
    """Live memory per op as stacked bars, SVG or PNG by the suffix of `path`."""
    fmt = _format_for(path)
    atomic_write(path, memory_plot_bytes(profile, fmt, budget), inputs=[profile.model.path])


def memory_plot_bytes(profile: "Profile", fmt: str = "svg", budget: int | None = None) -> bytes:
    with _style("memory"):
        fig = _memory_figure(profile, budget)
        return _render(fig, fmt)


def _memory_figure(p: "Profile", budget: int | None):
    from matplotlib.ticker import MaxNLocator

    layers = p.layers
    n = len(layers)
    u = _Unit(max([l.live_bytes for l in layers] + [budget or 0, p.arena_bytes]))
    fig = _new_figure(min(16.0, max(9.0, 6.0 + 0.07 * n)), 4.8)
    ax = fig.add_subplot()
    x = list(range(n))
    width = 0.8 if n <= 80 else 1.0
    parts = [("inputs", "inputs", C_INPUTS, [l.input_bytes for l in layers]),
             ("outputs", "outputs", C_OUTPUTS, [l.output_bytes for l in layers]),
             ("other", "other live tensors", C_OTHER, [l.other_live_bytes for l in layers]),
             ("scratch", "scratch", C_SCRATCH, [l.scratch_bytes for l in layers])]
    handles = []
    bottom = [0.0] * n
    for key, label, colour, values in parts:
        heights = [u(v) for v in values]
        bars = ax.bar(x, heights, width=width, bottom=bottom, color=colour, lw=0,
                      label=label, zorder=2)
        for i, rect in enumerate(bars):
            rect.set_gid(f"bar-{key}-{i}")
        handles.append(bars)
        bottom = [b + h for b, h in zip(bottom, heights)]

    top = max((l.live_bytes for l in layers), default=0)
    # Blocks: a faint band on every other one so the structure reads; the peak block in colour.
    peak = p.peak_layer
    peak_block = peak.block if peak is not None else None
    main_pos: dict[int, list[int]] = {}
    for i, l in enumerate(layers):
        if l.subgraph == 0:
            main_pos.setdefault(l.block, []).append(i)
    for b in p.blocks:
        ps = main_pos.get(b.index)
        if not ps:
            continue
        lo, hi = min(ps) - 0.5, max(ps) + 0.5
        if b.index == peak_block:
            handles.append(ax.axvspan(lo, hi, color=C_PEAK, alpha=0.10, lw=0, zorder=0,
                                      gid="peak-block", label=f"peak block {b.index}"))
            _text(ax, (lo + hi) / 2, 0.99, f"block {b.index}", transform=ax.get_xaxis_transform(),
                  ha="center", va="top", fontsize=8, color=C_PEAK, gid="peak-block-label")
        elif b.index % 2:
            ax.axvspan(lo, hi, color="#000000", alpha=0.035, lw=0, zorder=0)

    if p.arena_bytes > p.peak_bytes:
        handles.append(ax.axhline(u(p.arena_bytes), color=C_ARENA, lw=1.0, ls=":", zorder=3,
                                  label=f"TFLM head {human_bytes(p.arena_bytes)}",
                                  gid="arena-line"))
    if budget is not None:
        handles.append(_budget_line(ax, budget, u))

    ymax = max(top, budget or 0, p.arena_bytes if p.arena_bytes > p.peak_bytes else 0)
    _memory_axes(ax, u, u(ymax) if ymax else 0, "operator (execution order)")
    ax.set_xlim(-0.6, max(n, 1) - 0.4)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=20, integer=True))
    ax.yaxis.grid(True, color="#E4E4E4", lw=0.8, zorder=0)
    ax.set_xlabel("operator (execution order)")
    ax.set_ylabel(f"live activation memory ({u.name})")
    sub = [f"arena to set {human_bytes(p.required_bytes)} on {p.target.label()}",
           f"head {human_bytes(p.arena_bytes)}", f"live-set peak {human_bytes(p.peak_bytes)}"]
    if budget is not None:
        sub.append(f"budget {human_bytes(budget)}")
    sub.append(f"{plural(n, 'op')}, {plural(len(p.blocks), 'block')}")
    _titles(fig, ax, f"Activation memory per op: {_short(_model_label(p))}", SEP.join(sub))
    if n == 0:
        _text(ax, 0.5, 0.5, "no operators", transform=ax.transAxes, ha="center", va="center")
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles),
               handlelength=1.4, columnspacing=1.6)

    if peak is not None:
        xp = next(i for i, l in enumerate(layers) if l is peak)
        yp = u(peak.live_bytes)
        ax.bar([xp], [yp], width=width, fill=False, edgecolor=C_PEAK, lw=1.6, zorder=3,
               gid="peak-bar")
        lab = _Labeller(fig, ax)
        for i, l in enumerate(layers):
            if i != xp:
                lab.box(i - width / 2, 0, i + width / 2, u(l.live_bytes))
        lab.place(xp, yp, f"peak {human_bytes(peak.live_bytes)}\nop {peak.index} {peak.op}",
                  offsets=[(10, 2), (-10, 2), (10, 16), (-10, 16), (24, -20), (-24, -20)],
                  fontsize=8.5, color=C_PEAK, fontweight="bold", zorder=6, gid="peak-label",
                  bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="none", alpha=0.9))
    return fig


# ---------------------------------------------------------------------------
# schedules: arena against MAC overhead


def pareto_plot(exploration: "Exploration", path: str | os.PathLike) -> None:
    """Every option's arena to set against its MAC overhead, with the Pareto front."""
    fmt = _format_for(path)
    atomic_write(path, pareto_plot_bytes(exploration, fmt), inputs=[exploration.model.path])


def pareto_plot_bytes(exploration: "Exploration", fmt: str = "svg") -> bytes:
    with _style("pareto"):
        fig = _pareto_figure(exploration)
        return _render(fig, fmt)


def _pareto_figure(ex: "Exploration"):
    from matplotlib.ticker import PercentFormatter

    fig = _new_figure(9.0, 5.2)
    ax = fig.add_subplot()
    opts = list(ex.options)
    rec = ex.recommended
    u = _Unit(max([o.required_bytes for o in opts] + [ex.budget or 0]))
    xs = [o.mac_overhead * 100 for o in opts]
    ys = [u(o.required_bytes) for o in opts]
    xmax = max(xs + [1.0])
    ymax = max(ys + [u(ex.budget) if ex.budget else 0.0])
    xright = xmax * 1.08

    front = sorted((o for o in opts if o.pareto), key=lambda o: (o.mac_overhead, -o.required_bytes))
    fx = [o.mac_overhead * 100 for o in front] + ([xright] if front else [])
    fy = [u(o.required_bytes) for o in front] + ([u(front[-1].required_bytes)] if front else [])
    if front:
        ax.plot(fx, fy, drawstyle="steps-post", color=C_FRONT, lw=1.4, alpha=0.8, zorder=2,
                label="Pareto front", gid="pareto-front")
    if ex.budget is not None:
        ax.axhspan(u(ex.budget), ymax * 1.3 + 1, color=C_BUDGET, alpha=0.05, lw=0, zorder=0)
        _budget_line(ax, ex.budget, u)
    if ex.max_overhead is not None:
        ax.axvline(ex.max_overhead * 100, color=C_ARENA, lw=1.0, ls=":", zorder=1,
                   label=f"max overhead {ex.max_overhead:.0%}", gid="max-overhead-line")

    first_pareto = first_other = True
    for i, o in enumerate(opts):
        if o.pareto:
            kw = dict(marker="o", ms=7, mfc=C_FRONT, mec="white", mew=0.8,
                      label="Pareto option" if first_pareto else None)
            first_pareto = False
        else:
            kw = dict(marker="o", ms=6, mfc="white", mec=C_BASE, mew=1.2,
                      label="dominated option" if first_other else None)
            first_other = False
        ax.plot([xs[i]], [ys[i]], ls="none", zorder=4, gid=f"option-{i}", **kw)
    if rec is not None:
        i = opts.index(rec)
        ax.plot([xs[i]], [ys[i]], ls="none", marker="*", ms=17, mfc=C_OPTION, mec="white",
                mew=0.8, zorder=6, label="recommended", gid="recommended")

    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=None))
    ax.set_xlim(-0.04 * xmax, xright)
    ax.set_ylim(0, ymax * 1.18 if ymax else 1)
    ax.grid(True, color="#E4E4E4", lw=0.8, zorder=0)
    ax.set_xlabel("MAC overhead vs baseline")
    ax.set_ylabel(f"arena to set on {ex.target.label()} ({u.name})")
    name = os.path.basename(ex.model.path) if ex.model.path else "model"
    sub = [f"baseline {human_bytes(ex.baseline.required_bytes)}", plural(len(opts), "option")]
    if ex.budget is not None:
        sub.append(f"budget {human_bytes(ex.budget)}" + (": nothing fits" if rec is None else ""))
    _titles(fig, ax, f"Schedules: SRAM against extra compute: {_short(name)}", SEP.join(sub))
    ax.legend(loc="upper right", handlelength=1.6, numpoints=1)

    # Labels where they cover nothing: the recommended option first, then the
    # baseline and the Pareto options (dropped when there is no room).
    lab = _Labeller(fig, ax)
    for x, y in zip(xs, ys):
        lab.point(x, y)
    for k in range(len(fx) - 1):
        lab.segment(fx[k], fy[k], fx[k + 1], fy[k])
        lab.segment(fx[k + 1], fy[k], fx[k + 1], fy[k + 1])
    if ex.budget is not None:
        lab.hline(u(ex.budget))
    if rec is not None:
        i = opts.index(rec)
        lab.place(xs[i], ys[i], f"recommended: {rec.id}\n{human_bytes(rec.required_bytes)} arena, "
                  f"{rec.mac_overhead:+.1%} MACs", offsets=_FAR[4:] + _FAR[:4], arrow="#00704F",
                  fontsize=8.5, fontweight="bold", color="#00704F", zorder=7,
                  bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#00704F", lw=0.8),
                  gid="recommended-label")
    for i, o in enumerate(opts):
        if o is rec or not (o.pareto or o.kind == "baseline"):
            continue
        lab.place(xs[i], ys[i], o.id, essential=o.kind == "baseline", arrow="#999999",
                  fontsize=7.5, color="#333333", zorder=5, gid=f"option-label-{i}")
    return fig


# ---------------------------------------------------------------------------
# one option's memory over time against the baseline's


def curve_comparison_plot(base_profile: "Profile", option_profile: "Profile",
                          path: str | os.PathLike, budget: int | None = None, *,
                          labels: Sequence[str] = ("baseline", "option")) -> None:
    """The option's live memory over the inference drawn over the baseline's.

    The x axis is progress through the inference: cumulative MACs, with each
    source op (found through `op.origin`) guaranteed a small share so ops
    without MACs still show. Both curves run from 0 to 100%.
    """
    fmt = _format_for(path)
    atomic_write(path, curve_comparison_bytes(base_profile, option_profile, fmt, budget,
                                              labels=labels), inputs=[base_profile.model.path])


def curve_comparison_bytes(base_profile: "Profile", option_profile: "Profile",
                           fmt: str = "svg", budget: int | None = None, *,
                           labels: Sequence[str] = ("baseline", "option")) -> bytes:
    with _style("curves"):
        fig = _curves_figure(base_profile, option_profile, budget, tuple(labels))
        return _render(fig, fmt)


def progress_edges(profile: "Profile", base_ops: int, base_macs: int) -> list[float]:
    """Op boundaries on a 0..1 axis: MACs, plus a floor per source op shared by its parts."""
    floor = MIN_OP_SHARE * base_macs / base_ops if base_ops and base_macs else 1.0
    groups: dict[tuple[int, int], int] = {}
    keys = []
    for l in profile.layers:
        op = profile.model.subgraphs[l.subgraph].operators[l.index]
        key = (l.subgraph, op.origin if op.origin is not None else l.index)
        keys.append(key)
        groups[key] = groups.get(key, 0) + 1
    widths = [(l.macs or 0) + floor / groups[k] for l, k in zip(profile.layers, keys)]
    total = sum(widths) or 1.0
    edges = [0.0]
    for w in widths:
        edges.append(edges[-1] + w / total)
    edges[-1] = 1.0
    return edges


def _curves_figure(base: "Profile", opt: "Profile", budget: int | None, labels: tuple):
    from matplotlib.ticker import PercentFormatter

    fig = _new_figure(9.0, 4.8)
    ax = fig.add_subplot()
    base_label, opt_label = [visible(s) for s in (list(labels) + ["baseline", "option"])[:2]]
    n_base = len(base.layers)
    u = _Unit(max([l.live_bytes for l in base.layers + opt.layers] + [budget or 0]))
    series = [(base, base_label, C_BASE, "baseline"), (opt, opt_label, C_OPTION, "option")]
    drawn = []
    for prof, label, colour, key in series:
        if not prof.layers:
            continue
        edges = [100 * e for e in progress_edges(prof, n_base, base.macs)]
        values = [u(l.live_bytes) for l in prof.layers]
        ax.stairs(values, edges, fill=True, color=colour, alpha=0.30 if key == "baseline" else 0.22,
                  lw=0, zorder=2, gid=f"curve-{key}-fill")
        ax.stairs(values, edges, color=colour, lw=1.3, zorder=3,
                  label=f"{label}: arena to set {human_bytes(prof.required_bytes)}", gid=f"curve-{key}")
        k = max(range(len(values)), key=values.__getitem__)
        drawn.append((edges, values, (edges[k] + edges[k + 1]) / 2, values[k], key, label, prof))
    _budget_line(ax, budget, u)
    for _, _, x, y, key, _, _ in drawn:
        ax.plot([x], [y], ls="none", marker="o", ms=4.5, zorder=5, gid=f"peak-{key}",
                mfc=C_OPTION if key == "option" else C_ARENA, mec="white", mew=0.6)
    ymax = max([d[3] for d in drawn] + [u(budget) if budget else 0.0])
    _memory_axes(ax, u, ymax, "progress through the inference (cumulative MACs)")
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.yaxis.grid(True, color="#E4E4E4", lw=0.8, zorder=0)
    ax.set_xlabel("progress through the inference (cumulative MACs)")
    ax.set_ylabel(f"live activation memory ({u.name})")
    sub = [f"{base_label}: {plural(n_base, 'op')}", f"{opt_label}: {plural(len(opt.layers), 'op')}"]
    if budget is not None:
        sub.append(f"budget {human_bytes(budget)}")
    _titles(fig, ax, f"Memory over one inference: {_short(base_label, 30)} vs "
            f"{_short(opt_label, 40)}", SEP.join(sub))
    if drawn:
        ax.legend(loc="upper right", handlelength=1.6)

    lab = _Labeller(fig, ax)
    for edges, values, *_ in drawn:
        for k, v in enumerate(values):
            lab.segment(edges[k], v, edges[k + 1], v)
            if k:
                lab.segment(edges[k], values[k - 1], edges[k], v)
    if budget is not None:
        lab.hline(u(budget))
    for _, _, x, y, key, label, prof in drawn:
        # The arena of the profile's own plan: the figure the Pareto plot and
        # the tables give for this option (the curve's top is the live-set peak).
        lab.place(x, y, f"{_short(label, 40)}: {human_bytes(prof.required_bytes)} arena\n"
                  f"live peak {human_bytes(prof.peak_bytes)}",
                  arrow="#999999", fontsize=8.5, fontweight="bold",
                  color="#00704F" if key == "option" else "#444444", zorder=6,
                  bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85),
                  gid=f"peak-label-{key}")
    return fig


# ---------------------------------------------------------------------------
# SVG for inlining in HTML


_ID = re.compile(r'(?<=\s)id="([^"]+)"')


def inline_svg(svg: bytes | str, prefix: str, label: str) -> str:
    """An SVG document made fit to sit inside an HTML page.

    Drops the XML prolog and DOCTYPE, makes it scale with the page (the
    viewBox stays), prefixes every id (and the references to it) so several
    plots can share a page, and labels it for screen readers. The root
    element's id becomes `<prefix>-plot`.
    """
    import html

    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    start = text.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    text = text[start:]
    ids = set(_ID.findall(text))

    def fix_ref(m: re.Match) -> str:
        ref = m.group(2)
        return f"{m.group(1)}{prefix}-{ref}" if ref in ids else m.group(0)

    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'(url\(#|href="#)([^")]+)', fix_ref, text)
    head_end = text.find(">")
    head = text[:head_end]
    head = re.sub(r'\s(width|height|id)="[^"]*"', "", head)
    head += (f' id="{prefix}-plot" role="img" aria-label="{html.escape(visible(label))}" class="plot"'
             ' preserveAspectRatio="xMidYMid meet"')
    return head + text[head_end:]
