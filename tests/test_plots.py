"""Plots (SVG/PNG) and the shareable HTML report, down to a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinymem.report.units import human_bytes

import tinymem
from tinymem.memory.profile import profile_model
from tinymem.errors import TinymemError
from tinymem.report import plots
from tinymem.report.html import profile_html, profile_html_text

from .conftest import SAMPLES, explored

needs_mpl = pytest.mark.skipif(not plots.have_matplotlib(), reason="matplotlib not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")

BUDGET = 120 * 1024
# Explore judges fits on the arena to set (head + tail): the 10%-overhead options of
# MobileNetV2-0.35 need about 230 KiB on the host wheel.
EXPLORE_BUDGET = 256 * 1024
EVIL = '<script>alert("tinymem")</script>&amp;'


@pytest.fixture(scope="module")
def model(mobilenet_035):
    return tinymem.load_model(str(mobilenet_035))


@pytest.fixture(scope="module")
def prof(model):
    return profile_model(model)


@pytest.fixture(scope="module")
def ex(mobilenet_035):
    return explored(mobilenet_035, budget=EXPLORE_BUDGET)


@pytest.fixture(scope="module")
def option_prof(ex):
    return profile_model(ex.recommended.model, search_layout=False, plan=ex.recommended.plan)


@pytest.fixture(scope="module")
def evil_prof():
    """A profile whose model-provided strings try to break out of HTML, SVG and mathtext."""
    m = tinymem.load_model(str(SAMPLES / "conv1d_audio_int8.tflite"))
    m.path = "/tmp/<b>bold</b> & $x^2$.tflite"
    p = profile_model(m, search_layout=False)
    sg = m.main
    peak_op = sg.operators[p.peak_layer.index]
    sg.tensors[peak_op.outputs[0]].name = EVIL
    sg.tensors[peak_op.real_inputs()[0]].name = "in$\\frac{1}{0}$<img src=x onerror=alert(1)>"
    p = profile_model(m, search_layout=False)
    p.peak_layer.op = "CUSTOM:<b>$\\alpha$</b>"  # ops and names appear in the plots' text
    return p


def svg_ids(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return {el.get("id"): el for el in root.iter() if el.get("id")}


def text_of(el: ET.Element) -> str:
    return " ".join(" ".join(el.itertext()).split())


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- plots


@needs_mpl
def test_memory_plot_svg_has_every_bar_and_the_markers(tmp_path, prof):
    out = tmp_path / "mem.svg"
    plots.memory_plot(prof, out, budget=BUDGET)
    ids = svg_ids(out)
    n = len(prof.layers)
    for part in ("inputs", "outputs", "other", "scratch"):
        bars = [i for i in ids if i.startswith(f"bar-{part}-")]
        assert len(bars) == n, part
        # each bar is drawn as one path
        assert all(ids[i].find("{http://www.w3.org/2000/svg}path") is not None for i in bars)
    pl = prof.peak_layer
    assert "peak-bar" in ids and "peak-block" in ids
    label = text_of(ids["peak-label"])
    assert "peak 303.8 KiB" in label and f"op {pl.index} {pl.op}" in label
    assert text_of(ids["peak-block-label"]) == f"block {pl.block}"
    assert "budget-line" in ids
    alltext = text_of(ET.parse(out).getroot())
    assert "SRAM budget 120.0 KiB" in alltext and "live activation memory (KiB)" in alltext
    # The bar heights add up to the live bytes (inputs + outputs + other + scratch).
    assert all(l.input_bytes + l.output_bytes + l.other_live_bytes + l.scratch_bytes
               == l.live_bytes for l in prof.layers)


@needs_mpl
def test_memory_plot_without_budget_has_no_budget_line(tmp_path, prof):
    out = tmp_path / "mem.svg"
    plots.memory_plot(prof, out)
    ids = svg_ids(out)
    assert "budget-line" not in ids and "peak-label" in ids


@needs_mpl
def test_memory_plot_png(tmp_path, prof):
    out = tmp_path / "mem.PNG"  # the suffix is matched case-insensitively
    plots.memory_plot(prof, out, budget=BUDGET)
    w, h = png_size(out)
    assert 1200 <= w <= 2600 and 500 <= h <= 1000
    assert out.stat().st_size > 20_000


@needs_mpl
def test_pareto_plot(tmp_path, ex):
    out = tmp_path / "pareto.svg"
    plots.pareto_plot(ex, out)
    ids = svg_ids(out)
    assert len([i for i in ids if re.fullmatch(r"option-\d+", i)]) == len(ex.options)
    assert "pareto-front" in ids and "budget-line" in ids and "recommended" in ids
    rec = ex.recommended
    label = text_of(ids["recommended-label"])
    assert f"recommended: {rec.id}" in label and f"{rec.mac_overhead:+.1%} MACs" in label
    # The front is a step line through every Pareto option.
    path = ids["pareto-front"].find(".//{http://www.w3.org/2000/svg}path")
    assert path is not None and path.get("d").count("L") >= 2 * sum(o.pareto for o in ex.options) - 1
    png = tmp_path / "pareto.png"
    plots.pareto_plot(ex, png)
    assert png_size(png)[0] >= 1000


@needs_mpl
def test_pareto_plot_when_nothing_fits(tmp_path, model):
    ex = explored(SAMPLES / "mobilenet_v2_035_144_int8.tflite", budget=1024)
    assert ex.recommended is None
    out = tmp_path / "p.svg"
    plots.pareto_plot(ex, out)
    ids = svg_ids(out)
    assert "recommended" not in ids
    assert "nothing fits" in text_of(ET.parse(out).getroot())


@needs_mpl
def test_curve_comparison(tmp_path, prof, option_prof, ex):
    out = tmp_path / "cmp.svg"
    plots.curve_comparison_plot(prof, option_prof, out, budget=BUDGET,
                                labels=("baseline", ex.recommended.id))
    ids = svg_ids(out)
    for key in ("baseline", "option"):
        assert f"curve-{key}" in ids and f"peak-{key}" in ids
    # Each curve is labelled with its profile's arena to set (the Pareto plot's figure).
    assert (f"{ex.recommended.id}: {human_bytes(option_prof.required_bytes)} arena"
            in text_of(ids["peak-label-option"]))
    assert f"baseline: {human_bytes(prof.required_bytes)} arena" in text_of(ids["peak-label-baseline"])


def test_progress_edges_span_the_axis(prof, option_prof):
    for p in (prof, option_prof):
        edges = plots.progress_edges(p, len(prof.layers), prof.macs)
        assert len(edges) == len(p.layers) + 1
        assert edges[0] == 0.0 and edges[-1] == 1.0
        assert all(b > a for a, b in zip(edges, edges[1:]))  # every op visible


@needs_mpl
def test_plots_are_deterministic_and_leave_no_global_state(tmp_path, prof, ex):
    import matplotlib

    before = dict(matplotlib.rcParams)
    had_pyplot = "matplotlib.pyplot" in sys.modules
    for fmt in ("svg", "png"):
        a = plots.memory_plot_bytes(prof, fmt, BUDGET)
        b = plots.memory_plot_bytes(prof, fmt, BUDGET)
        assert a == b, fmt
        assert plots.pareto_plot_bytes(ex, fmt) == plots.pareto_plot_bytes(ex, fmt)
    svg = plots.memory_plot_bytes(prof, "svg", BUDGET).decode()
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", svg)  # no date
    assert "<dc:date" not in svg and "matplotlib.org" not in svg
    assert dict(matplotlib.rcParams) == before
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


@needs_mpl
def test_model_strings_are_neither_markup_nor_mathtext(tmp_path, evil_prof):
    out = tmp_path / "evil.svg"
    plots.memory_plot(evil_prof, out)
    ids = svg_ids(out)  # well-formed XML
    assert "CUSTOM:<b>$\\alpha$</b>" in text_of(ids["peak-label"])
    assert "<b>" not in out.read_text().replace("&lt;b&gt;", "")


def test_unknown_suffix_and_unwritable_path(tmp_path, prof):
    with pytest.raises(TinymemError, match=r"\.svg or \.png"):
        plots.memory_plot(prof, tmp_path / "mem.jpg")
    if plots.have_matplotlib():
        with pytest.raises(TinymemError, match="cannot write"):
            plots.memory_plot(prof, tmp_path / "no" / "such" / "dir" / "mem.svg")


def test_missing_matplotlib_is_a_one_line_error(tmp_path, prof, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(TinymemError) as info:
        plots.memory_plot(prof, tmp_path / "mem.svg")
    assert str(info.value) == ("plots need matplotlib: pip install matplotlib "
                               "(in a clone of tinymem: pip install '.[plots]')")
    with pytest.raises(TinymemError):
        profile_html(prof, tmp_path / "r.html")
    assert not list(tmp_path.iterdir())
    # Tables only, when asked.
    profile_html(prof, tmp_path / "r.html", plots=False)
    assert "<svg" not in (tmp_path / "r.html").read_text()


# --------------------------------------------------------------------------- HTML


def external_refs(html: str) -> list[str]:
    """http(s) references other than XML namespace declarations."""
    stripped = re.sub(r'\sxmlns(:\w+)?="https?://[^"]*"', "", html)
    return re.findall(r"https?://[^\s\"'<>)]*", stripped)


@pytest.fixture(scope="module")
def report(tmp_path_factory, prof, ex, option_prof):
    if not plots.have_matplotlib():
        pytest.skip("matplotlib not installed")
    out = tmp_path_factory.mktemp("report") / "report.html"
    profile_html(prof, out, exploration=ex, shown_profile=option_prof)
    return out


@needs_mpl
def test_html_is_self_contained(report, ex):
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert external_refs(html) == []
    for bad in ("<script", "<link", "<iframe", "<img", "@import", " src="):
        assert bad not in html.lower(), bad
    # url(...) only for in-page references (SVG clip paths)
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html))
    assert "Content-Security-Policy" in html
    # three inline plots, and the ids stay unique across them
    assert html.count("<svg") == 3
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:url\(#|href="#)([^")]+)', html))
    assert refs <= set(ids)
    # summary, tables, marks
    for text in ("TFLM arena", "live-set peak", "MACs", "weights", "peak at", "imbalance",
                 'id="layer-table"', 'id="options"', f"recommended {ex.recommended.id}: "):
        assert text in html, text
    assert html.count('<tr class="peak">') == 1
    assert html.count('class="rec"') == 1
    assert html.count("★") >= sum(o.pareto for o in ex.options)


@needs_mpl
def test_html_escapes_model_strings(tmp_path, evil_prof):
    out = tmp_path / "evil.html"
    profile_html(evil_prof, out, budget=32 * 1024)
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;tinymem&quot;)&lt;/script&gt;&amp;amp;" in html
    assert "onerror=alert(1)&gt;" in html
    assert external_refs(html) == []
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        ET.fromstring(svg)  # each inline plot is still well-formed XML


def test_html_tables_only_and_atomic_write(tmp_path, prof):
    out = tmp_path / "r.html"
    out.write_text("old")
    profile_html(prof, out, budget=BUDGET, plots=False)
    html = out.read_text(encoding="utf-8")
    assert "<svg" not in html and "pip install matplotlib" in html and 'id="layer-table"' in html
    assert f"{human_bytes(prof.required_bytes - BUDGET)} over" in html  # the budget card
    # The wheel's head and tail for this model (measured with the tflite-micro wheel).
    assert (prof.head_bytes, prof.tail_bytes) == (311_040, 79_936)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temp file left
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(TinymemError, match="cannot write"):
        profile_html(prof, tmp_path / "missing" / "r.html", plots=False)


def test_html_text_is_deterministic(prof):
    assert profile_html_text(prof, with_plots=False) == profile_html_text(prof, with_plots=False)


# --------------------------------------------------------------------------- a real browser


def chromium(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         *extra, url],
        capture_output=True, text=True, timeout=180, cwd=tmp_path)


def console_problems(stderr: str) -> list[str]:
    """Console messages and uncaught errors from the page (any: the report has no scripts)."""
    return [line for line in stderr.splitlines()
            if re.search(r"CONSOLE[:(]", line) or "Uncaught" in line]


@needs_chromium
def test_console_check_catches_errors(tmp_path):
    """The harness itself: a page that logs an error must be caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><title>x</title><script>console.error('boom');"
                    "nothing();</script>")
    r = chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    problems = console_problems(r.stderr)
    assert any("boom" in p for p in problems) and any("Uncaught" in p for p in problems)


@needs_chromium
@needs_mpl
def test_network_access_would_be_caught(tmp_path, report):
    """The report's Content-Security-Policy turns any fetch into a console error."""
    page = tmp_path / "leaky.html"
    page.write_text(report.read_text(encoding="utf-8").replace(
        "<body>", '<body><img src="https://example.com/pixel.png" alt="">', 1), encoding="utf-8")
    r = chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    assert any("Content Security Policy" in p for p in console_problems(r.stderr))


@needs_chromium
@needs_mpl
def test_report_renders_in_chromium(tmp_path, report):
    r = chromium(report.as_uri(), tmp_path, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    for svg_id in ("mem-plot", "pareto-plot", "curves-plot"):
        assert re.search(rf'<svg[^>]*id="{svg_id}"', dom), svg_id
    assert dom.count("<svg") == 3
    assert 'id="mem-peak-label"' in dom and 'id="pareto-recommended-label"' in dom
    assert 'id="layer-table"' in dom
    assert console_problems(r.stderr) == []


@needs_chromium
@needs_mpl
def test_report_screenshot_shows_the_plots(tmp_path, report):
    from PIL import Image  # a matplotlib dependency

    shot = tmp_path / "shot.png"
    r = chromium(report.as_uri(), tmp_path, "--window-size=1280,3000", f"--screenshot={shot}")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert console_problems(r.stderr) == []
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 3000)
    colours = img.getcolors(maxcolors=1 << 20)
    counts = {rgb: n for n, rgb in colours}

    def pixels(hexcolour: str, tol: int = 6) -> int:
        want = tuple(int(hexcolour[i:i + 2], 16) for i in (1, 3, 5))
        return sum(n for rgb, n in counts.items()
                   if all(abs(a - b) <= tol for a, b in zip(rgb, want)))

    # The bars (inputs blue, outputs orange) and the recommended star (green) are painted.
    assert pixels(plots.C_INPUTS) > 5_000
    assert pixels(plots.C_OUTPUTS) > 5_000
    assert pixels(plots.C_OPTION) > 100
