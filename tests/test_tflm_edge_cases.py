"""Edge cases of TFLite Micro's arena planning, on tiny models built at test time.

Each model in tests/tiny_models.py isolates one planner rule (control-flow
scopes, odd lifetimes, variables, offline plans, tie-breaking, every kernel
that requests scratch). tinymem's arena figure must equal, byte for byte, the
head the real TFLM allocates for it.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tflite_micro", reason="tflite-micro not installed")

import tinymem  # noqa: E402
from tinymem.verify import runtimes  # noqa: E402

from . import tiny_models  # noqa: E402

CASE_NAMES = list(tiny_models.CASES)
MIN_COMPARED = 0.8  # share of the cases TFLM must set up for the run to count

# name -> "match" | "mismatch" | "refused", filled in by the parametrised test.
_outcomes: dict[str, str] = {}


@pytest.fixture(scope="session")
def tiny_model_paths(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_models")
    return {p.stem: p for p in tiny_models.build_all(out)}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_arena_matches_tflm(name, tiny_model_paths):
    path = tiny_model_paths[name]
    prof = tinymem.profile(path, search_layout=False)
    json.dumps(tinymem.profile_json(prof))
    try:
        real = runtimes.tflm_arena(str(path), timeout=60)
    except RuntimeError as e:
        _outcomes[name] = "refused"
        pytest.skip(f"TFLM cannot set this model up: {e}")
    _outcomes[name] = "match" if prof.arena_bytes == real.head else "mismatch"
    assert prof.arena_bytes == real.head, f"{name}: tinymem {prof.arena_bytes} B, TFLM head {real.head} B"


def test_most_cases_were_compared():
    if set(_outcomes) != set(CASE_NAMES):
        pytest.skip("only runs after every edge case has (e.g. not under -k or xdist)")
    compared = sum(v != "refused" for v in _outcomes.values())
    assert compared >= MIN_COMPARED * len(CASE_NAMES), \
        f"TFLM set up only {compared} of {len(CASE_NAMES)} cases: " \
        f"{sorted(n for n, v in _outcomes.items() if v == 'refused')}"


def test_families_cover_the_planner_rules():
    fams = tiny_models.families()
    assert {"control_flow", "lifetimes", "variables", "offline", "ties", "scratch", "kernels"} <= set(fams)
    assert len(CASE_NAMES) == len(set(CASE_NAMES))
