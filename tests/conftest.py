"""Shared fixtures: the bundled sample models and the shared real-world models.

The shared models (../shared/models) are not part of the repo. Tests over
them are always collected, one per model named in SHARED_MODELS, and are
skipped with a reason when the file is absent, so a machine without them
shows how much it did not check (see the summary line at the end of a run)
instead of quietly running fewer tests.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
# TINYMEM_SHARED_MODELS points elsewhere (or at nothing, to see what a clean machine runs).
SHARED = Path(os.environ.get("TINYMEM_SHARED_MODELS", ROOT.parent / "shared" / "models"))
SHARED_ABSENT = "../shared/models is absent"


def need_firmware(target) -> None:
    """Skip unless the target's firmware runner is there; beside ../shared the firmware is
    the judge, so its absence is a failure, never a quiet skip (a moved module once
    pointed the lookup elsewhere)."""
    from tinymem.verify import firmware

    why = firmware.missing(None, target)
    if why is not None:
        if SHARED.parent.is_dir():
            pytest.fail(why)
        pytest.skip(why)

# The published models of ../shared/models/MANIFEST.tsv, by short name.
SHARED_MODELS = (
    "arm_cnn_s_int8", "arm_ds_cnn_l_int8", "arm_ds_cnn_s_int8", "arm_mobilenet_v2_1.0_224_uint8",
    "mcunet_320kb_1mb_imagenet", "mlperf_ad01_int8", "mlperf_ic_resnet8_int8",
    "mlperf_kws_ref_model", "mlperf_str_ww_ref_model", "mlperf_vww_96_int8",
    "mltk_fingerprint_signature_generator", "mltk_kws_mobilenetv2", "mltk_rock_paper_scissors",
    "tfm_audio_preprocessor_int8", "tfm_dtln_noise_suppression", "tfm_hello_world_int8",
    "tfm_keyword_scrambled_8bit", "tfm_magic_wand", "tfm_micro_speech_quantized",
    "tfm_mobilenet_v2_pt_int8", "tfm_person_detect", "tfm_pr1341_id_model",
    "tinyengine_detection", "tinyengine_mcunetv2_large", "tinyengine_vww",
)


def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.tflite"))


def shared_paths() -> list[Path]:
    """The shared models present on this machine."""
    return sorted(SHARED.glob("*.tflite")) if SHARED.is_dir() else []


def shared_manifest() -> dict[str, dict]:
    f = SHARED / "MANIFEST.tsv"
    if not f.exists():
        return {}
    with open(f, newline="") as fh:
        return {r["short_name"]: r for r in csv.DictReader(fh, delimiter="\t")}


def shared_param(name: str, *values, id: str | None = None):
    """A pytest param for shared model `name` (its path first), skipped when absent."""
    path = SHARED / f"{name}.tflite"
    marks = [pytest.mark.shared_model]
    if not path.exists():
        marks.append(pytest.mark.skip(reason=SHARED_ABSENT))
    return pytest.param(path, *values, id=id or f"shared:{name}", marks=marks)


def all_model_params():
    params = [pytest.param(p, id=f"sample:{p.stem}") for p in sample_paths()]
    names = sorted(set(SHARED_MODELS) | {p.stem for p in shared_paths()})
    params += [shared_param(n) for n in names]
    return params


@pytest.fixture(scope="session")
def mobilenet_035() -> Path:
    return SAMPLES / "mobilenet_v2_035_144_int8.tflite"


# --------------------------------------------------------------------------
# One exploration per model and search, shared by every module in a session


_EXPLORED: dict[tuple, object] = {}


def explored(path, budget: int | None = None, max_overhead: float | None = None,
             fdt_only: bool = False):
    """explore(load_model(path), budget, max_overhead), computed once per session.

    The search depends on the budget (a state that fits is not extended) but
    not on the overhead cap, which only marks which options fit and which is
    recommended: one search per model and budget is re-marked for each caller,
    on copies, so no caller sees another's marks.
    """
    import tinymem
    from tinymem.schedules import explore as ex_mod
    from tinymem.schedules.fdt import fdt_steps

    key = (str(Path(path).resolve()), fdt_only, budget)
    if key not in _EXPLORED:
        sources = [fdt_steps] if fdt_only else None
        _EXPLORED[key] = ex_mod.explore(tinymem.load_model(path), budget=budget,
                                        sources=sources)
    ex = _EXPLORED[key]
    # _mark sets `recommended` on one option and never clears it: start clean.
    options = [dataclasses.replace(o, recommended=False) for o in ex.options]
    ex_mod._mark(options, budget, max_overhead)
    baseline = next(o for o in options if o.kind == "baseline")
    return dataclasses.replace(ex, baseline=baseline, options=options, budget=budget,
                               max_overhead=max_overhead)


# --------------------------------------------------------------------------
# How many shared-model tests ran


def pytest_configure(config):
    config.addinivalue_line("markers", "shared_model: a test of one model of ../shared/models")


def pytest_terminal_summary(terminalreporter):
    ran, absent, other_skip = set(), set(), set()
    for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
        for rep in terminalreporter.stats.get(outcome, []):
            if "shared_model" not in getattr(rep, "keywords", {}):
                continue
            if outcome != "skipped":
                ran.add(rep.nodeid)
            elif SHARED_ABSENT in str(rep.longrepr):
                absent.add(rep.nodeid)
            else:
                other_skip.add(rep.nodeid)
    if ran or absent or other_skip:
        terminalreporter.write_line(
            f"shared models: {len(ran - absent - other_skip)} tests ran, "
            f"{len(absent)} skipped because {SHARED_ABSENT}, "
            f"{len(other_skip)} skipped for another reason")
