"""The `tinymem.profile/1` JSON document."""

from __future__ import annotations

import os

from .. import __version__
from ..analysis import Profile

SCHEMA = "tinymem.profile/1"


def profile_document(p: Profile) -> dict:
    m = p.model
    main = m.main
    peak = None
    if p.peak_layer is not None:
        pl = p.peak_layer
        peak = {
            "op_index": pl.index, "subgraph": pl.subgraph, "op": pl.op,
            "live_bytes": pl.live_bytes, "block": pl.block,
            "tensors": [t.to_json() for t in p.peak_tensors],
            "scratch_bytes": pl.scratch_bytes,
        }
    layout = None
    if p.layout is not None:
        layout = {"arena_bytes": p.layout.plan.arena_bytes,
                  "saving_bytes": p.arena_bytes - p.layout.plan.arena_bytes,
                  "delivery": "OfflineMemoryAllocation metadata"}
    return {
        "schema": SCHEMA,
        "tinymem_version": __version__,
        "model": {
            "path": os.path.abspath(m.path) if m.path else None,
            "file_bytes": m.file_size,
            "description": m.description,
            "subgraphs": len(m.subgraphs),
            "operators": sum(len(sg.operators) for sg in m.subgraphs),
            "inputs": [_io(main, t) for t in main.inputs],
            "outputs": [_io(main, t) for t in main.outputs],
        },
        "peak_bytes": p.peak_bytes,
        "arena_bytes": p.arena_bytes,
        "better_layout": layout,
        "macs": p.macs if any(l.macs is not None for l in p.layers) or not p.layers else None,
        "unknown_mac_ops": p.unknown_mac_ops,
        "weights_bytes": p.weights_bytes,
        "peak": peak,
        "blocks": [{"index": b.index, "first_op": b.first_op, "last_op": b.last_op,
                    "peak_bytes": b.peak_bytes} for b in p.blocks],
        "imbalance": p.imbalance(),
        "layers": [l.to_json() for l in p.layers],
        "steps": [{"index": k, "subgraph": l.subgraph, "op_index": l.index,
                   "alive": [list(t) for t in l.alive]} for k, l in enumerate(p.layers)],
        "notes": p.notes,
    }


def _io(sg, t: int) -> dict:
    ten = sg.tensors[t]
    return {"index": t, "name": ten.name, "shape": list(ten.shape), "dtype": ten.dtype,
            "bytes": ten.nbytes}


ERROR_SCHEMA = "tinymem.error/1"


def error_document(path: str, error: str) -> dict:
    """What `profile --json` prints for a model of several that could not be profiled."""
    return {"schema": ERROR_SCHEMA, "tinymem_version": __version__,
            "model": {"path": os.path.abspath(path)}, "error": error}
