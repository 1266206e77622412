"""Shared fixtures: the bundled sample models and the shared real-world models."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
SHARED = ROOT.parent / "shared" / "models"


def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.tflite"))


def shared_paths() -> list[Path]:
    return sorted(SHARED.glob("*.tflite")) if SHARED.is_dir() else []


def shared_manifest() -> dict[str, dict]:
    f = SHARED / "MANIFEST.tsv"
    if not f.exists():
        return {}
    with open(f, newline="") as fh:
        return {r["short_name"]: r for r in csv.DictReader(fh, delimiter="\t")}


def all_model_params():
    params = [pytest.param(p, id=f"sample:{p.stem}") for p in sample_paths()]
    params += [pytest.param(p, id=f"shared:{p.stem}") for p in shared_paths()]
    return params


@pytest.fixture(scope="session")
def mobilenet_035() -> Path:
    return SAMPLES / "mobilenet_v2_035_144_int8.tflite"
