"""Mutated and truncated real models: a clean error or a valid profile, never a crash.

A few hundred seeded cases here; bench/fuzz.py runs thousands.
"""

from __future__ import annotations

import random

import pytest

import tinymem
from tinymem.errors import ModelError

from .conftest import sample_paths, shared_paths


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


@pytest.mark.parametrize("seed", range(6))
def test_mutated_models_never_crash(seed):
    rng = random.Random(seed)
    models = [p.read_bytes() for p in small_models()]
    for _ in range(50):
        data = mutate(rng.choice(models), rng)
        try:
            model = tinymem.parse_model(data, "fuzz.tflite")
            prof = tinymem.profile(model)
        except ModelError as e:
            assert "\n" not in str(e)
            continue
        assert prof.arena_bytes >= prof.peak_bytes >= 0
        tinymem.profile_json(prof)


def test_explore_survives_mutated_models():
    # Seed 5 reaches, at case 261, a model whose weights contradict their
    # shape: the schedule that would slice them must be dropped, not crash.
    from tinymem.schedules.explore import explore

    rng = random.Random(5)
    models = [p.read_bytes() for p in small_models()]
    explored = 0
    for i in range(262):
        data = mutate(rng.choice(models), rng)
        if i < 240:
            continue
        try:
            model = tinymem.parse_model(data, "fuzz.tflite")
        except ModelError:
            continue
        ex = explore(model)
        assert ex.baseline.arena_bytes >= 0
        explored += 1
    assert explored > 0
