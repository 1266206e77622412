"""The `tinymem.profile/1` JSON document."""

from __future__ import annotations

import os

from .. import __version__
from ..memory.profile import Profile
from ..ops.support import Support, arena_to_set, deploy_document

SCHEMA = "tinymem.profile/2"


def profile_document(p: Profile, support: Support | None = None,
                     required_bytes: int | None = None) -> dict:
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
    doc = {
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
        "target": p.target.to_json(),
        "arena": p.plan.arena_json(),
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
                   "alive": [[int(g), int(t)] for g, t in alive]}
                  for k, (l, alive) in enumerate(zip(p.layers, p.alive_per_layer()))],
        "notes": p.notes,
    }
    if support is not None:
        doc["target"] = support.target.to_json()
        doc["support"] = support.to_json()
        # deploy.arena_size is the arena to set: null when the model does not run
        # (profile/2's arena.required_bytes goes through arena_to_set the same way).
        doc["deploy"] = deploy_document(m, support, required_bytes)
        doc["arena"]["required_bytes"] = arena_to_set(support, doc["arena"]["required_bytes"])
    return doc


def _io(sg, t: int) -> dict:
    ten = sg.tensors[t]
    return {"index": t, "name": ten.name, "shape": list(ten.shape), "dtype": ten.dtype,
            "bytes": ten.nbytes}


ERROR_SCHEMA = "tinymem.error/1"


def error_document(path: str, error: str) -> dict:
    """What `profile --json` prints for a model of several that could not be profiled."""
    return {"schema": ERROR_SCHEMA, "tinymem_version": __version__,
            "model": {"path": os.path.abspath(path)}, "error": error}
