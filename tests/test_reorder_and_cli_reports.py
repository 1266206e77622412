"""Operator reordering on a branching graph, and the CLI's pictures and report."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinymem
from tinymem.verify import runtimes
from tinymem.schedules.explore import explore
from tinymem.verify.compare import verify_models
from tinymem.writer import write_option

from .conftest import SAMPLES

tiny_models = pytest.importorskip("tests.tiny_models")


def two_branch_model(path):
    """x -> (A1 -> A2) and (B1 -> B2) -> ADD, stored interleaved (A1, B1, A2, B2).

    In file order both 2000-wide hidden tensors are alive together; running
    one branch to its end first needs only one of them at a time.
    """
    rng = np.random.default_rng(0)
    g = tiny_models.ModelBuilder()
    x = g.tensor([1, 64])

    def fc(inp, n_in, n_out):
        w = g.tensor([n_out, n_in], data=rng.standard_normal((n_out, n_in)) * 0.1)
        y = g.tensor([1, n_out])
        g.op(tiny_models.BO.FULLY_CONNECTED, [inp, w, -1], [y],
             tiny_models._opts("FullyConnected"))
        return y

    a1 = fc(x, 64, 2000)
    b1 = fc(x, 64, 2000)
    a2 = fc(a1, 2000, 8)
    b2 = fc(b1, 2000, 8)
    out = g.tensor([1, 8])
    g.add(a2, b2, out)
    g.io([x], [out])
    return g.save(path)


@pytest.mark.skipif(not (runtimes.have_tflm() and runtimes.have_litert()),
                    reason="needs the runtimes")
def test_reordering_lowers_the_peak_and_is_exact(tmp_path):
    src = two_branch_model(tmp_path / "branches.tflite")
    ex = explore(tinymem.load_model(src))
    reordered = [o for o in ex.options if o.kind == "reorder"]
    assert reordered, [o.id for o in ex.options]
    o = reordered[0]
    assert o.arena_bytes < ex.baseline.arena_bytes and o.mac_overhead == 0
    out = tmp_path / "reordered.tflite"
    write_option(o, out)
    report = verify_models(str(src), str(out))
    assert report.ok, report.results
    assert report.arena_original == ex.baseline.arena_bytes
    assert report.arena_rewritten == o.arena_bytes


def run(*args):
    return subprocess.run([sys.executable, "-m", "tinymem.cli", *args], capture_output=True,
                          text=True, timeout=600)


def test_cli_writes_plots_and_report(tmp_path):
    pytest.importorskip("matplotlib")
    model = str(SAMPLES / "resnet_skip_int8.tflite")
    r = run("profile", model, "--sram", "32k", "--plot", str(tmp_path / "mem.svg"),
            "--html", str(tmp_path / "p.html"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mem.svg").read_text().lstrip().startswith("<?xml")
    r = run("explore", model, "--sram", "48k", "--plot", str(tmp_path / "pareto.png"),
            "--html", str(tmp_path / "e.html"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "pareto.curve.png").exists()
    html = (tmp_path / "e.html").read_text()
    assert "<svg" in html and "Pareto" in html


def test_cli_rejects_a_plot_format_before_working(tmp_path):
    pytest.importorskip("matplotlib")
    r = run("profile", str(SAMPLES / "ds_cnn_kws_int8.tflite"), "--plot", str(tmp_path / "m.jpg"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.jpg").exists()
