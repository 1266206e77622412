"""What a schedule's added data movement costs per inference.

Tiled schedules add slices, joins and pads; each writes its whole output
from input bytes. The sum over the ops a schedule created (they carry a tag)
is the bytes copied per inference: the price of cached row strips, and part
of the price of recomputing tiles too.
"""

from __future__ import annotations

from ..graph.ir import Model
from ..ops import rule_for


def bytes_copied(model: Model) -> int:
    """Bytes written per inference by the copy ops schedules added to `model`."""
    total = 0
    for sg in model.subgraphs:
        for op in sg.operators:
            if op.tag is not None and rule_for(op).copies:
                total += sum(sg.tensors[t].nbytes for t in op.outputs if t >= 0)
    return total
