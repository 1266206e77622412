"""How big a model tinymem agrees to read: limits no real model reaches.

A flatbuffer can point many vector entries at one table, so a file of a few
kilobytes can describe millions of tensors, a name copied into every tensor,
or control flow that inlines into billions of steps. The reader refuses such
files up front, in bounded time and memory, so every later stage (planner,
explorer, writer, reports) only ever sees models of a sane size.

Each limit is far above the largest real model we know: the 25 published
models in ../shared/models and the bundled samples top out at a 4 MB file,
380 tensors, 163 operators, one subgraph, rank-4 shapes and 316-byte names.
"""

from __future__ import annotations

# The whole file is read into memory; TFLM models are at most a few MB.
MAX_FILE_BYTES = 256 << 20
# Over all subgraphs. Reading, planning and writing cost about 0.1-0.3 ms per
# tensor or operator in pure Python, so these also bound every stage to about
# a second; the first fit is quadratic in the tensors alive at once.
MAX_TENSORS = 5_000
MAX_OPERATORS = 2_500
MAX_SUBGRAPHS = 256
# Distinct flatbuffer tables (tensors, operators, buffers, quantization and
# options tables...); a real model has a few thousand at most.
MAX_TABLES = 100_000
# Dimensions of one tensor shape (TFLite kernels handle at most 6).
MAX_RANK = 16
# Nesting of control flow (IF / WHILE / CALL_ONCE calling subgraphs).
MAX_CALL_DEPTH = 64
# Operator executions once every called subgraph is inlined at its call:
# the planner's scope count. Without control flow it equals the op count.
MAX_INLINED_STEPS = 10_000


def data_budget(file_bytes: int) -> int:
    """Bytes of names, shapes, index lists and options the reader may take out of a file.

    A file whose tables are all distinct holds every such byte once, so it
    never spends more than its own size; only tables shared by many entries
    (one 800 KB name used by 5,000 tensors) can. The margin allows a little
    legitimate sharing (a writer deduplicating equal strings).
    """
    return 2 * file_bytes + (1 << 20)
