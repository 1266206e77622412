"""The models benchmarks run on: the bundled samples and ../shared/models."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models"


def model_paths() -> list[Path]:
    paths = sorted((ROOT / "sample_models").glob("*.tflite"))
    if SHARED.is_dir():
        paths += sorted(SHARED.glob("*.tflite"))
    return paths
