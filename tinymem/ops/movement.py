"""Ops that move or reshape data without arithmetic."""

from __future__ import annotations

from .base import NO_MACS, OpRule

RULES = [
    OpRule(name, macs=NO_MACS)
    for name in (
        "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "PADV2", "MIRROR_PAD", "CONCATENATION",
        "SPLIT", "SPLIT_V", "SLICE", "STRIDED_SLICE", "TRANSPOSE", "GATHER", "GATHER_ND",
        "PACK", "UNPACK", "TILE", "BROADCAST_TO", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
        "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
        "FILL", "SHAPE", "RANK", "REVERSE_V2", "ONE_HOT", "RANGE", "SCATTER_ND",
        "DYNAMIC_UPDATE_SLICE", "BROADCAST_ARGS", "VAR_HANDLE", "READ_VARIABLE",
        "ASSIGN_VARIABLE", "EMBEDDING_LOOKUP", "IF", "WHILE", "CALL_ONCE",
    )
]
