"""Trust at the edges (issue 12): outputs, untrusted text, verify's bounds, stdin and options.

Every CLI case runs tinymem as a user does (a real process, real files in
tmp_path, as root in CI) and checks the contract for bad input: exit 0, 1 or
2, at most one `tinymem: error:` line, no traceback, no raw control
character printed, no temporary file left, inputs and special files intact.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinymem import fileio

from tinymem.verify import runtimes
from tinymem.errors import TinymemError
from tinymem.report.safe_text import plain, visible
from tinymem.report.units import parse_fraction, parse_size

from .tiny_models import BO, BOOL, I8, I32, ModelBuilder, _opts

RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but the newline
HAVE_MPL = __import__("importlib").util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed")
needs_runtimes = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                    reason="needs ai-edge-litert and tflite-micro")


def run(*args, input=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinymem.cli", *map(os.fsencode, args)],
                          capture_output=True, input=input, timeout=timeout)


def assert_clean(r, codes=(0, 1, 2)):
    """The contract every run keeps, whatever the input."""
    out, err = r.stdout.decode("utf-8"), r.stderr.decode("utf-8")
    assert r.returncode in codes, (r.returncode, err)
    assert "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if ln.startswith("tinymem: error:")]) <= 1, err
    assert not RAW_CONTROL.search(out + err), repr(out + err)
    return out, err


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()
                  if p.name.startswith(fileio.TEMP_PREFIX) or p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- models


def fc_model(path: Path, sizes=(16, 8), n_in=8) -> Path:
    g = ModelBuilder()
    x = g.tensor([1, n_in])
    g.io([x], [g.fc_chain(x, sizes)])
    return g.save(path)


EVIL = ["[/x]", "[link=https://example.com]click[/link]", "\x1b[2J\x1b[31mred",
        "\x1b]8;;https://example.com\x1b\\osc8", "two\nlines", "bell\x07\x01", "rtl\u202eevil",
        "[bold]$x^2$[/bold]", "nul\x00"]


def evil_model(path: Path) -> Path:
    """Every untrusted string a model holds set to markup, escapes and controls."""
    g = ModelBuilder()
    x = g.tensor([1, 8], name=EVIL[0])
    h = g.tensor([1, 8], name=EVIL[1])
    g.op(BO.CUSTOM, [x], [h], custom="[/x]\x1b[2Jop")
    y = g.fc_chain(h, [16, 8])
    for k, t in enumerate(g.main.tensors[2:]):
        t.name = EVIL[(k + 2) % len(EVIL)]
    g.io([x], [y])
    g.model.description = "\x1b[2J[/x] description"
    return g.save(path)


def while_true_model(path: Path) -> Path:
    """WHILE whose condition (i == i) is always true: a model that never ends."""
    g = ModelBuilder()
    i0, x = g.tensor([1], I32), g.tensor([1, 4])
    i_out, x_out = g.tensor([1], I32), g.tensor([1, 4])
    g.op(BO.WHILE, [i0, x], [i_out, x_out], _opts("While", condSubgraphIndex=1, bodySubgraphIndex=2))
    g.io([i0, x], [x_out])
    sg = g.new_subgraph()
    ci, cx, flag = g.tensor([1], I32, sg=sg), g.tensor([1, 4], sg=sg), g.tensor([1], BOOL, sg=sg)
    g.op(BO.EQUAL, [ci, ci], [flag], sg=sg)
    g.io([ci, cx], [flag], sg=sg)
    sg = g.new_subgraph()
    bi, bx = g.tensor([1], I32, sg=sg), g.tensor([1, 4], sg=sg)
    g.io([bi, bx], [bi, g.fc(bx, 4, sg=sg)], sg=sg)
    return g.save(path)


def huge_input_model(path: Path) -> Path:
    """An int8 input of [1, 40000, 40000]: 1.6 GB of random input if allocated."""
    g = ModelBuilder()
    x = g.tensor([1, 40000, 40000], I8, scale=0.1)
    y = g.tensor([1, 40000, 40000], I8, scale=0.1)
    g.op(BO.RELU, [x], [y])
    g.io([x], [y])
    return g.save(path)


@pytest.fixture
def model(tmp_path) -> Path:
    return fc_model(tmp_path / "m.tflite")


# --------------------------------------------------------------------------- output safety


def _fifo(tmp_path: Path) -> Path:
    p = tmp_path / "pipe"
    os.mkfifo(p)
    return p


def _reader(path: Path, got: list) -> threading.Thread:
    def read():
        with open(path, "rb") as f:
            got.append(f.read())
    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


# (name, command builder, exit code, stderr fragment); the model is m.tflite in tmp_path.
OUTPUT_CASES = [
    ("html over the input", lambda m, d: ["profile", m, "--html", m], 2, "input"),
    ("html over a hard link to the input",
     lambda m, d: (os.link(m, d / "hard.html"), ["profile", m, "--html", d / "hard.html"])[1], 2,
     "input"),
    ("html over a symlink to the input",
     lambda m, d: (os.symlink(m, d / "soft.html"), ["profile", m, "--html", d / "soft.html"])[1], 2,
     "input"),
    ("-o over the input", lambda m, d: ["explore", m, "-o", m], 2, "input"),
    ("-o through ./ onto the input", lambda m, d: ["explore", m, "-o", d / "." / "m.tflite"], 2,
     "input"),
    ("html into a missing directory", lambda m, d: ["profile", m, "--html", d / "no" / "r.html"], 2,
     "does not exist"),
    ("html onto a directory", lambda m, d: ["profile", m, "--html", d], 2, "directory"),
    ("-o onto a directory", lambda m, d: ["explore", m, "-o", d], 2, "directory"),
    ("html under a regular file", lambda m, d: ["profile", m, "--html", d / "m.tflite" / "r.html"],
     2, "not a directory"),
    ("html through a dangling symlink",
     lambda m, d: (os.symlink(d / "nowhere", d / "dangling.html"),
                   ["profile", m, "--html", d / "dangling.html"])[1], 2, "symbolic link"),
    ("two outputs on one file",
     lambda m, d: ["explore", m, "--html", d / "x.svg", "--plot", d / "x.svg"], 2, "same file"),
    ("plot companion on the html",
     lambda m, d: ["explore", m, "--plot", d / "x.svg", "--html", d / "x.curve.svg"], 2,
     "same file"),
]


@pytest.mark.parametrize("name, args, code, fragment", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_unwritable_outputs_fail_before_any_work(tmp_path, model, name, args, code, fragment):
    before = model.read_bytes()
    r = run(*args(model, tmp_path))
    out, err = assert_clean(r, (code,))
    assert fragment in err
    assert out == ""  # refused before the profile or the search printed anything
    assert model.read_bytes() == before
    assert leftovers(tmp_path) == []


@needs_mpl
@pytest.mark.parametrize("option", ["--html", "--plot"])
def test_profile_refuses_to_overwrite_a_model_named_like_an_output(tmp_path, option):
    m = fc_model(tmp_path / "model.svg")  # a model file named like a plot
    before = m.read_bytes()
    assert_clean(run("profile", m, option, m), (2,))
    assert m.read_bytes() == before


@pytest.mark.parametrize("args", [["profile", "{m}", "--html", "/dev/null"],
                                  ["explore", "{m}", "-o", "/dev/null"],
                                  ["explore", "{m}", "--html", "/dev/null"]])
def test_dev_null_is_written_through_and_stays_a_device(model, args):
    r = run(*[a.format(m=model) for a in args])
    assert_clean(r, (0,))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dev_stdout_is_written_through_into_the_pipe(model):
    out, _ = assert_clean(run("profile", model, "--html", "/dev/stdout"), (0,))
    assert "<!DOCTYPE html>" in out


def test_a_read_fifo_is_written_through_and_stays_a_fifo(tmp_path, model):
    fifo, got = _fifo(tmp_path), []
    t = _reader(fifo, got)
    assert_clean(run("profile", model, "--html", fifo), (0,))
    t.join(30)
    assert got and got[0].startswith(b"<!DOCTYPE html>")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_nobody_reads_is_refused_not_waited_for(tmp_path, model):
    fifo = _fifo(tmp_path)
    _, err = assert_clean(run("profile", model, "--html", fifo, timeout=60), (2,))
    assert "FIFO no process is reading" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_output_replaces_its_target_and_keeps_the_link(tmp_path, model):
    target = tmp_path / "real.html"
    target.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    assert_clean(run("profile", model, "--html", link), (0,))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_an_existing_output_is_replaced_with_its_mode_kept(tmp_path, model):
    out = tmp_path / "r.html"
    out.write_text("old")
    out.chmod(0o600)
    assert_clean(run("profile", model, "--html", out), (0,))
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


# atomic_write itself, one rule a line: (what, setup -> (path, inputs), written bytes or error)
ATOMIC_CASES = [
    ("new file", lambda d: (d / "new.bin", []), b"data"),
    ("replace a file", lambda d: ((d / "old.bin").write_bytes(b"old") and d / "old.bin", []), b"data"),
    ("the input itself", lambda d: ((d / "in.bin").write_bytes(b"in") and d / "in.bin",
                                    [d / "in.bin"]), "input"),
    ("a directory", lambda d: (d, []), "directory"),
    ("a block device", lambda d: (_block_device(), []), "block device"),
    ("a missing directory", lambda d: (d / "no" / "x", []), "does not exist"),
    ("an empty path", lambda d: ("", []), "empty path"),
]


def _block_device() -> str:
    for p in ("/dev/loop0", "/dev/vda", "/dev/sda", "/dev/nvme0n1"):
        if os.path.exists(p) and stat.S_ISBLK(os.stat(p).st_mode):
            return p
    pytest.skip("no block device on this machine")


@pytest.mark.parametrize("name, setup, expected", ATOMIC_CASES, ids=[c[0] for c in ATOMIC_CASES])
def test_atomic_write_rules(tmp_path, name, setup, expected):
    path, inputs = setup(tmp_path)
    snapshot = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    if isinstance(expected, bytes):
        assert fileio.atomic_write(path, expected, inputs=inputs) == len(expected)
        assert Path(path).read_bytes() == expected
    else:
        with pytest.raises(TinymemError, match=expected):
            fileio.atomic_write(path, b"data", inputs=inputs)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == snapshot
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("use_tmpfile", [True, False])
def test_atomic_write_keeps_the_old_file_when_the_writer_or_check_fails(tmp_path, use_tmpfile,
                                                                         monkeypatch):
    monkeypatch.setattr(fileio, "USE_O_TMPFILE", use_tmpfile and fileio.USE_O_TMPFILE)
    out = tmp_path / "out.bin"
    out.write_bytes(b"keep")

    def broken(f):
        f.write(b"half")
        raise ValueError("writer failed")

    with pytest.raises(ValueError):
        fileio.atomic_write(out, broken)

    def refuse(data):
        raise TinymemError("check failed")

    with pytest.raises(TinymemError, match="check failed"):
        fileio.atomic_write(out, b"new", check=refuse)
    assert out.read_bytes() == b"keep"
    assert leftovers(tmp_path) == []


_SLOW_WRITER = r"""
import signal, sys, time
from tinymem import fileio
# The defaults, whatever the test run inherited (nohup and background jobs start
# with SIGHUP and SIGINT ignored, and an ignored signal stays ignored in a write).
signal.signal(signal.SIGINT, signal.default_int_handler)
for s in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
fileio.USE_O_TMPFILE = sys.argv[3] == "1" and fileio.USE_O_TMPFILE
def slow(f):
    f.write(b"x" * 100_000)
    f.flush()
    open(sys.argv[2], "w").close()  # now in the middle of the write
    time.sleep(120)
fileio.atomic_write(sys.argv[1], slow)
"""

# (signal, O_TMPFILE?, the child's fate): the default SIGTERM/SIGHUP are re-delivered after clean-up.
SIGNAL_CASES = [
    (signal.SIGINT, False, "KeyboardInterrupt"),
    (signal.SIGTERM, False, -signal.SIGTERM),
    (signal.SIGHUP, False, -signal.SIGHUP),
    (signal.SIGINT, True, "KeyboardInterrupt"),
    (signal.SIGTERM, True, -signal.SIGTERM),
    (signal.SIGKILL, True, -signal.SIGKILL),  # nothing to clean: the file never had a name
]


@pytest.mark.parametrize("sig, use_tmpfile, fate", SIGNAL_CASES,
                         ids=[f"{s.name}-{'tmpfile' if t else 'named'}" for s, t, _ in SIGNAL_CASES])
def test_a_signal_during_a_write_leaves_no_temporary_file(tmp_path, sig, use_tmpfile, fate):
    if use_tmpfile and not fileio.USE_O_TMPFILE:
        pytest.skip("no O_TMPFILE on this system")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "r.html").write_bytes(b"old")
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(out_dir / "r.html"),
                              str(ready), "1" if use_tmpfile else "0"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
        time.sleep(0.02)
    if not use_tmpfile:  # the named temporary file exists mid-write...
        assert len(leftovers(out_dir)) == 1
    child.send_signal(sig)
    try:
        _, err = child.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f"the child did not end after {sig.name}: {child.communicate()[1]!r}")
    if isinstance(fate, int):
        assert child.returncode == fate, err
    else:
        assert fate in err.decode(), err
    assert leftovers(out_dir) == []  # ...and is gone after the signal
    assert (out_dir / "r.html").read_bytes() == b"old"


def test_signal_handlers_are_restored_after_a_write(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    fileio.atomic_write(tmp_path / "x", b"x")
    assert {s: signal.getsignal(s) for s in before} == before


# --------------------------------------------------------------------------- injection


@pytest.mark.parametrize("text, shown", [
    ("\x1b[2J", "\\x1b[2J"),
    ("a\nb", "a\\x0ab"),
    ("\x07\x00\x7f\x9b", "\\x07\\x00\\x7f\\x9b"),
    ("rtl\u202e", "rtl\\u202e"),
    ("m\udcff.tflite", "m\\xff.tflite"),  # a non-UTF-8 byte of a file name (surrogateescape)
    ("[/x] $a$ <b> ü 名前", "[/x] $a$ <b> ü 名前"),  # printable text is left alone
])
def test_visible(text, shown):
    assert visible(text) == shown


def test_plain_is_never_markup():
    from rich.console import Console

    c = Console(file=__import__("io").StringIO(), width=200, color_system=None)
    c.print(plain("[/x] [link=https://e.com]x[/link] \x1b[2J"))
    assert c.file.getvalue().strip() == "[/x] [link=https://e.com]x[/link] \\x1b[2J"


@pytest.mark.parametrize("args", [["profile", "{m}"], ["profile", "{m}", "--json"],
                                  ["explore", "{m}"], ["explore", "{m}", "--json"]])
def test_untrusted_names_print_as_text(tmp_path, args):
    m = evil_model(tmp_path / "evil.tflite")
    r = run(*[a.format(m=m) for a in args])
    out, _ = assert_clean(r, (0,))
    if "--json" in args:
        json.loads(out)
    elif args[0] == "profile":
        assert "[/x]" in out  # shown literally, not taken as a closing tag


@needs_mpl
def test_plots_and_html_of_untrusted_names_are_well_formed(tmp_path):
    m = evil_model(tmp_path / "evil\x1b[31m.tflite")
    svg, html = tmp_path / "mem.svg", tmp_path / "r.html"
    assert_clean(run("profile", m, "--plot", svg, "--html", html), (0,))
    ET.parse(svg)  # well-formed XML 1.0
    for f in (svg, html):
        text = f.read_text(encoding="utf-8")
        assert not RAW_CONTROL.search(text.replace("\t", "").replace("\r", ""))
    exp = tmp_path / "exp.svg"
    assert_clean(run("explore", m, "--plot", exp, "--html", tmp_path / "e.html"), (0,))
    ET.parse(exp)


@needs_mpl
def test_file_names_that_are_not_utf8_work_for_plot_and_html(tmp_path):
    d = os.fsencode(tmp_path)
    m = os.fsdecode(d + b"/m\xff\xfe.tflite")
    fc_model(Path(m))
    svg, html = os.fsdecode(d + b"/p\xff.svg"), os.fsdecode(d + b"/r\xff.html")
    out, err = assert_clean(run("profile", m, "--plot", svg, "--html", html), (0,))
    assert "\\xff" in out + err
    ET.parse(svg)
    assert "m\\xff\\xfe.tflite" in Path(html).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["a\nb.tflite", "tinymem: error: forged\n.tflite", "\x1b[2J.tflite",
                                  "[/x].tflite"])
def test_an_error_about_a_path_is_one_line(tmp_path, path):
    r = run("profile", tmp_path / path)
    _, err = assert_clean(r, (2,))
    assert err.count("\n") == 1 and err.startswith("tinymem: error:")


def test_verify_view_escapes_runtime_error_text():
    import io

    from rich.console import Console

    from tinymem.report.verify_view import verify_view
    from tinymem.verify.compare import RuntimeResult, VerifyReport

    rep = VerifyReport("[/x]a.tflite", "b\x1b[2J.tflite", 1,
                       [RuntimeResult("litert", None, error="[/x] Didn't find op \x1b]8;;x\x07")],
                       notes=["[bold]note\n"])
    c = Console(file=io.StringIO(), width=300, color_system=None)
    c.print(verify_view(rep))
    text = c.file.getvalue()
    assert "[/x] Didn't find op \\x1b]8;;x\\x07" in text and "[/x]a.tflite" in text
    assert not RAW_CONTROL.search(text)


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("runs", ["0", "-3"])
def test_verify_needs_at_least_one_run(model, runs):
    _, err = assert_clean(run("verify", model, model, "--runs", runs), (2,))
    assert "--runs" in err


@needs_runtimes
def test_verify_unrelated_models_say_output_shapes_differ_in_valid_json(tmp_path):
    a = fc_model(tmp_path / "a.tflite", sizes=(16, 8))
    b = fc_model(tmp_path / "b.tflite", sizes=(16, 5))
    out, _ = assert_clean(run("verify", a, b, "--json", "--runs", "1"), (1,))
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert not doc["ok"]
    assert all("output shapes differ" in (rt["error"] or "") for rt in doc["runtimes"])


@needs_runtimes
def test_verify_refuses_huge_inputs_before_allocating(tmp_path):
    m = huge_input_model(tmp_path / "huge.tflite")
    _, err = assert_clean(run("verify", m, m), (2,))
    assert "MiB" in err


@needs_runtimes
def test_verify_a_model_that_never_ends_stops_at_the_budget_and_fails(tmp_path):
    m = while_true_model(tmp_path / "forever.tflite")
    t0 = time.monotonic()
    _, err = assert_clean(run("verify", m, m, "--timeout", "4", "--runs", "1"), (1,))
    assert "not verified" in err and "budget" in err
    assert time.monotonic() - t0 < 60  # a bound on the bound (the budget is 4 s), not a benchmark


@needs_runtimes
def test_verify_a_runtime_that_cannot_run_the_model_exits_1(tmp_path):
    g = ModelBuilder()  # a custom op no runtime has
    x, y = g.tensor([1, 8]), g.tensor([1, 8])
    g.op(BO.CUSTOM, [x], [y], custom="NoSuchOp")
    g.io([x], [y])
    m = g.save(tmp_path / "custom.tflite")
    _, err = assert_clean(run("verify", m, m, "--runs", "1"), (1,))
    assert "not verified" in err and "did not run" in err


@needs_runtimes
def test_verify_unknown_dimensions_run_as_one(tmp_path):
    g = ModelBuilder()
    x = g.tensor([-1, 8])
    g.io([x], [g.fc(x, 4)])
    m = g.save(tmp_path / "dyn.tflite")
    assert_clean(run("verify", m, m, "--runs", "1"))


# --------------------------------------------------------------------------- stdin and options


def _doc(model: Path, **model_fields) -> str:
    fields = {"path": str(model), "file_bytes": model.stat().st_size, **model_fields}
    return json.dumps({"schema": "tinymem.profile/1", "model": fields})


# (what, stdin text from the model path, stderr fragment)
STDIN_CASES = [
    ("model is a string", lambda m: json.dumps({"schema": "tinymem.profile/1", "model": "x"}),
     "model file"),
    ("path is a list", lambda m: _doc(m, path=[str(m)]), "model file"),
    ("not an object", lambda m: "[1, 2]", "not a tinymem profile JSON document"),
    ("200,000 nested brackets", lambda m: "[" * 200_000 + "]" * 200_000, "not a tinymem profile JSON document"),
    ("not JSON", lambda m: "\x1b[2J", "not a tinymem profile JSON document"),
    ("path is a FIFO", lambda m: (os.mkfifo(m.parent / "f.tflite"),
                                  _doc(m, path=str(m.parent / "f.tflite"), file_bytes=None))[1],
     "not a regular file"),
    ("path is /dev/zero", lambda m: _doc(m, path="/dev/zero", file_bytes=None), "not a regular file"),
    ("file changed since", lambda m: _doc(m, file_bytes=m.stat().st_size + 1), "profile it again"),
    ("file_bytes not a number", lambda m: _doc(m, file_bytes="12"), "profile it again"),
]


@pytest.mark.parametrize("name, text, fragment", STDIN_CASES, ids=[c[0] for c in STDIN_CASES])
def test_explore_stdin_documents(model, name, text, fragment):
    r = run("explore", input=text(model).encode(), timeout=60)
    _, err = assert_clean(r, (2,))
    assert fragment in err


def test_explore_stdin_document_that_matches_its_file_is_used(model):
    out, _ = assert_clean(run("explore", "--json", input=_doc(model).encode()), (0,))
    assert json.loads(out)["schema"] == "tinymem.explore/2"


OPTION_CASES = [
    (["explore", "{m}", "--max-overhead", "nan"], "finite"),
    (["explore", "{m}", "--max-overhead", "inf"], "finite"),
    (["explore", "{m}", "--max-overhead", "1e999"], "finite"),
    (["explore", "{m}", "--max-overhead", "10"], "10%"),
    (["explore", "{m}", "--sram", "0.0001k"], "less than one byte"),
    (["explore", "{m}", "--sram", "9" * 400], "finite"),
    (["explore", "{m}", "--option", "x"], "-o"),
    (["profile", "{m}", "--rows", "-1"], "--rows"),
    (["profile", "{m}", "--sram", "256k"], "--plot or --html"),
    (["verify", "{m}", "{m}", "--seed", "-1"], "--seed"),
    (["verify", "{m}", "{m}", "--timeout", "0"], "--timeout"),
]


@pytest.mark.parametrize("args, fragment", OPTION_CASES, ids=[" ".join(c[0][2:]) for c in OPTION_CASES])
def test_options_out_of_range_are_refused(model, args, fragment):
    _, err = assert_clean(run(*[a.format(m=model) for a in args]), (2,))
    assert fragment in err


@pytest.mark.parametrize("text, value", [("10%", 0.10), ("0.1", 0.1), ("1", 1.0), ("150%", 1.5),
                                         ("0", 0.0)])
def test_parse_fraction_accepts(text, value):
    assert parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "10", "1.5", "nan%", "-1%"])
def test_parse_fraction_refuses(text):
    with pytest.raises(TinymemError):
        parse_fraction(text)


@pytest.mark.parametrize("text", ["0.0001k", "0.4", "0.0000001M"])
def test_parse_size_refuses_sizes_that_round_to_nothing(text):
    with pytest.raises(TinymemError, match="less than one byte"):
        parse_size(text)


def test_json_output_is_never_nan_or_infinity():
    from tinymem.cli import _finite

    assert json.dumps(_finite({"a": [float("nan"), 1.5, {"b": float("inf")}]}),
                      allow_nan=False) == '{"a": [null, 1.5, {"b": null}]}'
