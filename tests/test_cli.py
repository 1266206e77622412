"""The command line as a user runs it: real processes, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import SAMPLES


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "tinymem.cli", *args], capture_output=True,
                          text=True, input=input, timeout=300)


def test_profile_json_schema(mobilenet_035):
    r = run("profile", str(mobilenet_035), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "tinymem.profile/2"
    for key in ("peak_bytes", "arena_bytes", "macs", "weights_bytes", "peak", "layers"):
        assert key in doc
    # The default target is the common deployment: Cortex-M4 with CMSIS-NN.
    assert doc["target"] == {"name": "cortex-m4", "kernels": "cmsis-nn"}
    assert doc["arena_bytes"] == doc["arena"]["head_bytes"] == 311_040
    assert doc["arena"]["required_bytes"] > doc["arena"]["head_bytes"] + doc["arena"]["tail_bytes"] - 16
    assert sum(l["persistent_bytes"] for l in doc["layers"]) < doc["arena"]["tail_bytes"]
    assert doc["peak"]["op"] == "DEPTHWISE_CONV_2D"
    assert {t["bytes"] for t in doc["peak"]["tensors"]} == {72 * 72 * 48, 36 * 36 * 48}
    assert len(doc["layers"]) == 65
    assert sum(l["macs"] for l in doc["layers"]) == doc["macs"]


def test_profile_table_mentions_the_peak(mobilenet_035):
    r = run("profile", str(mobilenet_035))
    assert r.returncode == 0, r.stderr
    assert "311,040" in r.stdout and "DEPTHWISE_CONV_2D" in r.stdout


@pytest.mark.parametrize("make", ["missing", "empty", "garbage", "truncated", "directory"])
def test_bad_input_is_one_line_exit_2(tmp_path, make):
    p = tmp_path / "m.tflite"
    if make == "empty":
        p.write_bytes(b"")
    elif make == "garbage":
        p.write_bytes(b"\x00" * 100)
    elif make == "truncated":
        p.write_bytes((SAMPLES / "ds_cnn_kws_int8.tflite").read_bytes()[:300])
    elif make == "directory":
        p = tmp_path
    r = run("profile", str(p))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinymem: error:")
    assert "Traceback" not in r.stderr
