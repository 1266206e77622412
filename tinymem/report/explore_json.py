"""The `tinymem.explore/2` JSON document."""

from __future__ import annotations

import os

from .. import __version__
from ..schedules.copies import bytes_copied
from ..schedules.explore import Exploration, Option

SCHEMA = "tinymem.explore/2"


def option_record(o: Option) -> dict:
    stage = o.stage_overhead()
    return {
        "id": o.id,
        "kind": o.kind,
        "description": o.description,
        "arena_bytes": o.arena_bytes,
        "head_bytes": o.head_bytes,
        "tail_bytes": o.tail_bytes,
        "required_bytes": o.required_bytes,
        "peak_bytes": o.peak_bytes,
        "macs": o.macs,
        "mac_overhead": round(o.mac_overhead, 6),
        "stage_mac_overhead": None if stage is None else round(stage, 6),
        "ops_added": o.ops_added,
        "bytes_copied": bytes_copied(o.model),
        "fits": o.fits,
        "pareto": o.pareto,
        "pareto_head": o.pareto_head,
        "recommended": o.recommended,
        "offline_plan": o.offline is not None,
        "steps": [{"kind": s.kind, "first_op": s.segment.first, "last_op": s.segment.last,
                   "grid": None if s.grid is None else {"rows": [list(r) for r in s.grid.rows],
                                                         "cols": [list(c) for c in s.grid.cols]},
                   "parts": s.parts or None}
                  for s in o.steps],
    }


def explore_document(ex: Exploration) -> dict:
    rec = ex.recommended
    return {
        "schema": SCHEMA,
        "tinymem_version": __version__,
        "model": {"path": os.path.abspath(ex.model.path) if ex.model.path else None},
        "target": ex.target.to_json(),
        "budget_bytes": ex.budget,
        "max_overhead": ex.max_overhead,
        "baseline": {"arena_bytes": ex.baseline.arena_bytes, "peak_bytes": ex.baseline.peak_bytes,
                     "macs": ex.baseline.macs, **ex.baseline.plan.arena_json()},
        "recommended": rec.id if rec else None,
        "options": [option_record(o) for o in ex.options],
        "diagnosis": ex.diagnosis.to_json() if ex.diagnosis else None,
        "notes": list(ex.notes),
        "search": {"seconds": round(ex.seconds, 3), "candidates_evaluated": ex.evaluated,
                   "objectives": [o.value for o in ex.objectives]},
    }
