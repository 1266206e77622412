"""What a new user meets first: the install hints, 80 columns, the summary's words, CSV,
per-step tensors and several models at once. One rule a test."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

import tinymem
from tinymem.targets import DEFAULT_TARGET
from tinymem import extras
from tinymem.memory.profile import profile_model
from tinymem.memory.requests import align
from tinymem.report import layer_csv
from tinymem.report.explore_view import explore_view
from tinymem.report.html import profile_html_text
from tinymem.report.profile_view import ALIVE_SHOWN, profile_view
from tinymem.report.summary import explore_summary, profile_summary
from tinymem.schedules.explore import _peak_op, explore
from tinymem.report.units import UNITS_LEGEND, human_bytes, human_count, plural, short_bytes

from .conftest import ROOT, SAMPLES, SHARED

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SMALL = SAMPLES / "conv1d_audio_int8.tflite"  # explores in half a second: baseline 48,000 B, fdt 32,000 B


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tinymem.cli", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def render(renderable, width=80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


# --------------------------------------------------------------------------- install


def test_distribution_name_is_not_the_unrelated_tinymem():
    assert PYPROJECT["project"]["name"] == extras.DISTRIBUTION != "tinymem"


def test_command_and_import_stay_tinymem():
    assert PYPROJECT["project"]["scripts"] == {"tinymem": "tinymem.cli:main"}
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["tinymem*"]


@pytest.mark.parametrize("extra", list(extras.Extra))
def test_hint_names_the_packages_the_extra_installs(extra):
    declared = [re.split(r"[<>=\[ ]", r)[0] for r in PYPROJECT["project"]["optional-dependencies"][extra.value]]
    assert list(extras.PACKAGES[extra]) == declared
    assert f"'.[{extra.value}]'" in extras.install_hint(extra)


def test_no_hint_names_the_package_index_tinymem():
    files = [*ROOT.joinpath("tinymem").rglob("*.py"), ROOT / "README.md", ROOT / ".ci" / "run"]
    assert [str(f) for f in files if "tinymem[" in f.read_text()] == []


def test_every_readme_pip_install_works_from_a_clone():
    extras_declared = set(PYPROJECT["project"]["optional-dependencies"])
    for cmd in re.findall(r"pip install ([^`\n&]+)", (ROOT / "README.md").read_text()):
        target = cmd.strip().strip("\"'")
        m = re.fullmatch(r"\.(?:\[(\w+)\])?", target)
        assert m and (m.group(1) is None or m.group(1) in extras_declared), cmd


# --------------------------------------------------------------------------- 80 columns


def _numbers_of(layer) -> list[str]:
    return [f"{layer.live_bytes:,}", short_bytes(layer.input_bytes), short_bytes(layer.output_bytes),
            human_count(layer.macs)]


@pytest.mark.parametrize("path", [SAMPLES / "mobilenet_v2_035_144_int8.tflite",
                                  SHARED / "tfm_keyword_scrambled_8bit.tflite",  # scratch (SVDF)
                                  SHARED / "mcunet_320kb_1mb_imagenet.tflite"],
                         ids=lambda p: p.stem)
def test_layer_table_at_80_columns_shows_every_number_whole(path):
    if not path.exists():
        pytest.skip(f"shared model {path.name} absent")
    p = tinymem.profile(path, search_layout=False)
    text = render(profile_view(p, width=80), 80)
    lines = text.splitlines()
    assert max(len(l) for l in lines) <= 80
    for layer in p.layers:
        idx = f"{layer.subgraph}:{layer.index}" if layer.subgraph else str(layer.index)
        row = next(l for l in lines if re.match(rf"\s*{re.escape(idx)}\s+\S", l))
        cells = row.split()
        for number in _numbers_of(layer):
            assert number in cells, (idx, number, row)
        if layer.scratch_bytes and "scratch" in lines[2]:
            assert short_bytes(layer.scratch_bytes) in cells
        assert not [c for c in cells if "…" in c and c[0].isdigit()]  # only names are shortened


def test_cli_piped_at_80_columns_fits_and_keeps_the_numbers(mobilenet_035):
    r = run("profile", str(mobilenet_035), env={**os.environ, "COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    assert max(len(l) for l in r.stdout.splitlines()) <= 80
    # The CLI's default target: Cortex-M4 with CMSIS-NN (its scratch sets live bytes).
    p = tinymem.profile(mobilenet_035, search_layout=False, target=DEFAULT_TARGET)
    for layer in p.layers:
        assert re.search(rf"\s{re.escape(f'{layer.live_bytes:,}')}\s", r.stdout)


@pytest.fixture(scope="module")
def small_ex():
    return explore(tinymem.load_model(str(SMALL)), budget=40_000)


def test_explore_table_at_80_columns_shows_every_figure_whole(small_ex):
    text = render(explore_view(small_ex, 80), 80)
    assert max(len(l) for l in text.splitlines()) <= 80
    for o in small_ex.options:
        row = next(l for l in text.splitlines() if f" {o.id} " in f" {l} ")
        assert f"{o.required_bytes:,}" in row.split() and f"{o.mac_overhead:+.1%}" in row.split()


def test_explore_at_80_columns_tells_each_schedule_below_the_table(small_ex):
    text = render(explore_view(small_ex, 80), 80)
    for o in small_ex.options:
        assert f"{o.id}: {o.description}" in " ".join(text.split())


# --------------------------------------------------------------------------- the summary's words


def test_terminal_and_html_render_the_same_summary_lines(mobilenet_035):
    p = profile_model(tinymem.load_model(str(mobilenet_035)))
    s = profile_summary(p)
    term = " ".join(render(profile_view(p, width=200, summary=s), 200).split())
    page = profile_html_text(p, with_plots=False)
    for line in s.lines:
        assert line.label in term and line.text in term, line
        assert f"<th>{line.label}</th>" in page and line.text in page, line


def test_html_renderer_runs_no_analysis():
    source = (ROOT / "tinymem" / "report" / "html.py").read_text()
    assert not re.findall(r"\b(profile_model|plan_model|best_layout|explore)\(", source)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.tflite")), ids=lambda p: p.stem)
def test_profile_and_search_agree_on_the_peak_op(path):
    p = tinymem.profile(path, search_layout=False)
    assert _peak_op(p.plan) == p.peak_layer.index


def test_peak_inside_a_call_is_reported_there_and_searched_at_its_caller(tmp_path):
    from . import tiny_models

    (path,) = tiny_models.build(tmp_path, ["if_b"])
    p = tinymem.profile(path, search_layout=False)
    assert p.peak_layer.subgraph == 2 and p.peak_layer.live_bytes == max(l.live_bytes for l in p.layers)
    assert p.model.main.operators[_peak_op(p.plan)].opcode == "IF"


def test_live_bound_with_an_offline_plan_never_exceeds_tflm(tmp_path):
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed")
    from tinymem.verify import runtimes

    from . import tiny_models

    for path in tiny_models.build_family("offline", tmp_path):
        p = tinymem.profile(path, search_layout=False)
        assert p.peak_bytes <= runtimes.tflm_arena(str(path)).head, path.stem


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.tflite")), ids=lambda p: p.stem)
def test_an_offline_plan_without_overlaps_keeps_the_bound_and_the_arena(path):
    from tinymem.memory.planner import plan_model

    model = tinymem.load_model(str(path))
    greedy = plan_model(model, offline=[])
    starts = [sum(len(sg.tensors) for sg in model.subgraphs[:g]) for g in range(len(model.subgraphs))]
    pinned = [-1] * sum(len(sg.tensors) for sg in model.subgraphs)
    for b, off in zip(greedy.buffers, greedy.offsets):
        if b.tensor is not None:
            pinned[starts[b.subgraph] + b.tensor] = off
    plan = plan_model(model, offline=pinned)  # every tensor where the greedy planner put it
    assert (plan.peak_bytes, plan.arena_bytes) == (greedy.peak_bytes, greedy.arena_bytes)


def test_live_bound_says_it_keeps_the_offline_plan(tmp_path):
    from . import tiny_models

    (path,) = tiny_models.build(tmp_path, ["off_all_at_0"])  # every tensor at offset 0
    s = profile_summary(tinymem.profile(path, search_layout=False))
    assert "offline plan" in s.line("live-set peak").note
    assert "no layout of this op order needs less" not in s.line("live-set peak").note


def _custom_only_model(tmp_path) -> Path:
    from . import tiny_models as tm

    g = tm.ModelBuilder()
    x, y = g.tensor([1, 64]), g.tensor([1, 64])
    g.op(tm.BO.CUSTOM, [x], [y], custom="ethos-u")
    g.io([x], [y])
    return g.save(tmp_path / "npu.tflite")


def test_unknown_macs_are_shown_as_unknown_not_zero(tmp_path):
    p = tinymem.profile(_custom_only_model(tmp_path), search_layout=False)
    s = profile_summary(p)
    assert s.line("MACs").text.startswith("unknown")
    assert next(c for c in s.cards if c.label == "MACs").value == "?"
    assert tinymem.profile_json(p)["macs"] is None


def test_one_op_is_one_op(tmp_path):
    s = profile_summary(tinymem.profile(_custom_only_model(tmp_path), search_layout=False))
    assert next(c for c in s.cards if c.label == "MACs").detail == "1 op"


@pytest.mark.parametrize("n, word, text", [(0, "op", "0 ops"), (1, "op", "1 op"),
                                           (2, "option", "2 options"), (1, "option", "1 option"),
                                           (1200, "tensor", "1,200 tensors")])
def test_plural(n, word, text):
    assert plural(n, word) == text


@pytest.mark.parametrize("name, shown", [("mlperf_ic_resnet8_int8", False),  # one block spans 13 of 16 ops
                                         ("tfm_micro_speech_quantized", False),  # the rest is a softmax
                                         ("mltk_kws_mobilenetv2", True)])
def test_imbalance_only_where_later_blocks_exist(name, shown):
    path = SHARED / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"shared model {name} absent")
    p = tinymem.profile(path, search_layout=False)
    assert (p.imbalance() is not None) is shown
    assert (profile_summary(p).line("imbalance") is not None) is shown


def _wide_peak_model(tmp_path, branches=7) -> Path:
    from . import tiny_models as tm

    g = tm.ModelBuilder()
    x = g.tensor([1, 10])
    parts = [g.fc(x, 100) for _ in range(branches)]
    y = g.tensor([1, 100 * branches])
    g.op(tm.BO.CONCATENATION, parts, [y], tm._opts("Concatenation", axis=1))
    g.io([x], [y])
    return g.save(tmp_path / "wide.tflite")


def test_alive_at_peak_says_how_many_are_not_listed(tmp_path):
    p = tinymem.profile(_wide_peak_model(tmp_path), search_layout=False)
    n = len(p.peak_tensors)
    assert n > ALIVE_SHOWN
    text = " ".join(render(profile_view(p, width=120), 120).split())
    assert f"{n} tensors" in text and f"+{n - ALIVE_SHOWN} more" in text


@pytest.mark.parametrize("n", [0, 1000, 1024, 62_208, 1_509_949, 3 * 1024 ** 3])
def test_byte_cells_use_binary_prefixes_and_counts_decimal_ones(n):
    assert not short_bytes(n).endswith(("k", "M", "G"))
    assert not human_count(n).endswith("i")


def test_tables_carry_the_unit_legend(mobilenet_035):
    p = tinymem.profile(mobilenet_035, search_layout=False)
    assert UNITS_LEGEND in " ".join(render(profile_view(p, width=200), 200).split())
    assert UNITS_LEGEND in profile_html_text(p, with_plots=False)


# --------------------------------------------------------------------------- the explore report


def test_explore_cards_show_the_recommended_option_beside_the_baseline(small_ex):
    rec = small_ex.recommended
    assert small_ex.baseline.required_bytes > 40_000 >= rec.required_bytes
    p = profile_model(small_ex.model, plan=small_ex.baseline.plan)
    page = profile_html_text(p, exploration=small_ex, with_plots=False)
    cards = page[page.index('<div class="cards">'):page.index("<h2>Summary")]
    assert f"recommended: {rec.id}" in cards and human_bytes(rec.required_bytes) in cards
    assert f"{rec.id}: {human_bytes(40_000 - rec.required_bytes)} to spare" in cards
    assert "card bad" not in cards  # the baseline's "over" is not the headline


def test_curve_and_pareto_give_one_figure_for_the_option(tmp_path, small_ex):
    pytest.importorskip("matplotlib", reason="matplotlib not installed")
    out = tmp_path / "p.svg"
    r = run("explore", str(SMALL), "--sram", "40000", "--plot", str(out), "--target", "host")
    assert r.returncode == 0, r.stderr
    shown = explore_summary(small_ex).shown
    figure = human_bytes(shown.required_bytes)

    def label(path, gid):
        el = next(e for e in ET.parse(path).getroot().iter() if e.get("id") == gid)
        return " ".join(" ".join(el.itertext()).split())

    assert figure in label(out, "recommended-label")
    assert f"{shown.id}: {figure} arena" in label(tmp_path / "p.curve.svg", "peak-label-option")


# --------------------------------------------------------------------------- CSV, steps, several models


def test_csv_has_one_row_per_layer_with_the_json_figures(tmp_path, mobilenet_035):
    out = tmp_path / "layers.csv"
    r = run("profile", str(mobilenet_035), "--csv", str(out), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == list(layer_csv.COLUMNS)
    assert [int(r["live_bytes"]) for r in rows] == [l["live_bytes"] for l in doc["layers"]]
    assert [r["op"] for r in rows] == [l["op"] for l in doc["layers"]]


def test_csv_never_replaces_the_input(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(SMALL.read_bytes())
    r = run("profile", str(model), "--csv", str(model))
    assert r.returncode == 2 and r.stderr.startswith("tinymem: error:")
    assert model.read_bytes() == SMALL.read_bytes()


def test_csv_cells_are_never_spreadsheet_formulas():
    assert layer_csv._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and layer_csv._cell("-3") == "-3"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.tflite")), ids=lambda p: p.stem)
def test_steps_list_the_tensors_whose_bytes_make_the_live_figure(path):
    doc = tinymem.profile_json(tinymem.profile(path, search_layout=False))
    model = tinymem.load_model(str(path))
    assert [s["index"] for s in doc["steps"]] == list(range(len(doc["layers"])))
    for step, layer in zip(doc["steps"], doc["layers"]):
        tensors = sum(align(model.subgraphs[g].tensors[t].nbytes) for g, t in step["alive"])
        assert tensors + layer["scratch_bytes"] == layer["live_bytes"], step["index"]


def test_several_models_one_row_each_and_an_error_that_hides_nothing(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    paths = [SMALL, SAMPLES / "ds_cnn_kws_int8.tflite", bad]
    r = run("profile", *map(str, paths), "--target", "host", env={**os.environ, "COLUMNS": "80"})
    assert r.returncode == 2
    assert [l for l in r.stderr.splitlines() if l.startswith("tinymem: error:")] == \
        ["tinymem: error: 1 of 3 models could not be profiled (see the table)"]
    for path in paths[:2]:
        row = next(l for l in r.stdout.splitlines() if l.startswith(path.name))
        assert f"{tinymem.profile(path, search_layout=False).required_bytes:,}" in row.split()
    assert any(l.startswith("bad.tflite") and "error" in l for l in r.stdout.splitlines())


def test_several_models_json_is_a_list_of_documents(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    r = run("profile", str(SMALL), str(bad), "--json")
    assert r.returncode == 2
    docs = json.loads(r.stdout)
    assert [d["schema"] for d in docs] == ["tinymem.profile/2", "tinymem.error/1"]
    assert docs[1]["model"]["path"] == str(bad) and docs[1]["error"]
