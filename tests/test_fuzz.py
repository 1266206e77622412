"""Mutated and truncated real models: a clean error or a valid profile, never a crash.

A few hundred seeded cases here; bench/fuzz.py runs thousands.
"""

from __future__ import annotations

import random

import pytest

import tinymem
from tinymem.errors import ModelError

from .conftest import SAMPLES, SHARED_ABSENT, SHARED_MODELS, sample_paths, shared_paths


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:  # truncate
        return bytes(b[: rng.randrange(len(b))])
    if kind == 1:  # flip random bytes, mostly in the flatbuffer tables near the ends
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b)) if rng.random() < 0.3 else rng.choice(
                [rng.randrange(min(len(b), 4096)), len(b) - 1 - rng.randrange(min(len(b), 4096))])
            b[i] = rng.randrange(256)
        return bytes(b)
    if kind == 2:  # overwrite a 32-bit word with an extreme value
        i = rng.randrange(0, max(len(b) - 4, 1))
        b[i:i + 4] = rng.choice([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\xff\xff\xff\xff",
                                 b"\x00\x00\x00\x00", b"\x01\x00\x00\x00"])
        return bytes(b)
    # splice: duplicate a slice
    i, j = sorted(rng.randrange(len(b)) for _ in range(2))
    return bytes(b[:j] + b[i:j] + b[j:])


def small_models():
    paths = sample_paths() + shared_paths()
    return [p for p in paths if p.stat().st_size < 400_000]


STAGES = ("profile", "explore", "write")


def run_case(data: bytes, stages=STAGES) -> str:
    """One fuzz case through the library: "valid", "refused" (a clean ModelError from
    the reader) or "rejected" (a clean TinymemError from a later stage). Any other
    exception propagates: that is a bug in tinymem."""
    from tinymem.errors import TinymemError
    from tinymem.report.explore_json import explore_document
    from tinymem.schedules.explore import explore
    from tinymem.writer import serialize_model

    try:
        model = tinymem.parse_model(data, "fuzz.tflite")
    except ModelError as e:
        assert "\n" not in str(e)
        return "refused"
    try:
        if "profile" in stages:
            prof = tinymem.profile(model)
            assert prof.arena_bytes >= prof.peak_bytes
            tinymem.profile_json(prof)
        if "explore" in stages:
            ex = explore(model)
            explore_document(ex)
            candidates = [ex.baseline] + ex.options
        else:
            candidates = []
        if "write" in stages:
            # The reader's model as it stands, and every schedule the explorer measured:
            # each must serialise to a file the reader takes back.
            written = [serialize_model(model)]
            written += [serialize_model(o.model, offline_plan=o.offline) for o in candidates]
            for out in written:
                tinymem.parse_model(out, "written.tflite")
    except TinymemError as e:
        assert "\n" not in str(e)
        return "rejected"
    return "valid"


@pytest.mark.parametrize("seed", range(6))
def test_mutated_models_never_crash(seed):
    rng = random.Random(seed)
    models = [p.read_bytes() for p in small_models()]
    outcomes = [run_case(mutate(rng.choice(models), rng), stages=("profile", "write"))
                for _ in range(50)]
    assert "valid" in outcomes  # the fuzzer still reaches the later stages


# Cases the library fuzzer (bench/fuzz.py) once crashed on, rebuilt from the
# bundled samples alone (sample_models/ ships with the repo), so a clean machine
# reaches every one. (sample model, seed, case index): the seed's rng draws the
# model and the mutation exactly as bench/fuzz.py does.
FOUND_BY_FUZZER = [
    # Tensor.has_rank points past the end of the file: only the writer read it
    # (struct.error); the reader's table check now refuses the file.
    ("cnn_float32", 1, 6),
    # The graph input's shape vector emptied: FDT took a scalar's last axis (IndexError).
    ("conv1d_audio_int8", 1, 5),
]


def _sample_case(name: str, seed: int, index: int) -> bytes:
    rng = random.Random(seed)
    data = (SAMPLES / f"{name}.tflite").read_bytes()
    for _ in range(index):
        mutate(data, rng)
    return mutate(data, rng)


@pytest.mark.parametrize("name,seed,index", FOUND_BY_FUZZER)
def test_fuzzer_findings_stay_fixed(name, seed, index):
    data = _sample_case(name, seed, index)
    assert data != (SAMPLES / f"{name}.tflite").read_bytes()  # the mutation is reproduced
    assert run_case(data) in ("valid", "refused", "rejected")


def test_explore_survives_a_dependency_cycle():
    # An op reading a tensor a later op writes (TFLM allows it: the value is
    # whatever the arena held) closes a cycle; reordering must leave it alone.
    from . import hostile_models as H

    assert run_case(H.dependency_cycle()) == "valid"


@pytest.mark.parametrize("seed", range(2))
def test_mutated_samples_survive_explore_and_writer(seed):
    # Seeded mutations of the bundled samples only: deterministic on any machine.
    rng = random.Random(1000 + seed)
    models = [p.read_bytes() for p in sample_paths() if p.stat().st_size < 120_000]
    outcomes = [run_case(mutate(rng.choice(models), rng)) for _ in range(12)]
    assert "valid" in outcomes


@pytest.mark.shared_model
@pytest.mark.skipif(len(shared_paths()) < len(SHARED_MODELS), reason=SHARED_ABSENT)
def test_explore_drops_a_schedule_whose_weights_contradict_their_shape():
    # Seed 5, case 261 over samples and shared models (the pool the rng draws from):
    # a model whose weights contradict their shape; the schedule that would slice
    # them must be dropped, not crash.
    rng = random.Random(5)
    models = [p.read_bytes() for p in small_models()]
    for _ in range(261):
        mutate(rng.choice(models), rng)
    assert run_case(mutate(rng.choice(models), rng), stages=("explore",)) in (
        "valid", "refused", "rejected")
