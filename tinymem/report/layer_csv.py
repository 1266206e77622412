"""The per-layer table as CSV (`tinymem profile --csv FILE`), as tflite-tools users expect.

One row per executed op, in execution order; the columns are the JSON
document's layer keys, so a spreadsheet and a script read the same figures.
Sizes in bytes, MACs as a count (empty where unknown).
"""

from __future__ import annotations

import csv
import io
import os

from ..memory.profile import Profile
from ..fileio import atomic_write

COLUMNS = ("index", "subgraph", "op", "name", "output_shape", "input_bytes", "output_bytes",
           "scratch_bytes", "other_live_bytes", "live_bytes", "macs", "weights_bytes", "block")


def layer_csv_text(p: Profile) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for layer in p.layers:
        row = layer.to_json()
        row["output_shape"] = "x".join(str(d) for d in layer.output_shape)
        row["macs"] = "" if layer.macs is None else layer.macs
        w.writerow([_cell(row[c]) for c in COLUMNS])
    return buf.getvalue()


def _cell(value) -> str:
    # A name starting with = + - @ would be a formula to a spreadsheet: quote it as text.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_layer_csv(p: Profile, path: str | os.PathLike) -> None:
    atomic_write(path, layer_csv_text(p).encode("utf-8"), inputs=[p.model.path])
