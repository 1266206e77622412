"""Small files that describe huge or pathological models, built byte by byte.

A flatbuffer may point many vector entries at one table, so a few kilobytes
can describe 50,000 tensors, 25 million tensors over 5,000 subgraphs, or an
800 KB name used by every tensor. Each maker returns the bytes of one such
file; tests and bench/limits_bench.py feed them to tinymem, which must refuse
or handle them in bounded time and memory. Only the `flatbuffers` runtime and
the generated `tflite` builder functions are used (no tflite-micro needed).
"""

from __future__ import annotations

import importlib

import flatbuffers
import tflite

_OPCODE = {k: v for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTIONS = {k: v for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
FLOAT32, BOOL, INT32 = tflite.TensorType.FLOAT32, tflite.TensorType.BOOL, tflite.TensorType.INT32


def _fn(table: str, name: str):
    return getattr(importlib.import_module(f"tflite.{table}"), f"{table}{name}")


def _vector_of(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _ints(b: flatbuffers.Builder, values) -> int:
    values = list(values)
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def _bytes(b: flatbuffers.Builder, data: bytes) -> int:
    return b.CreateByteVector(data)


def tensor(b, shape=(1, 8), dtype=FLOAT32, name: int | str = "t") -> int:
    name_off = b.CreateString(name) if isinstance(name, str) else name
    shape_off = _ints(b, shape)
    _fn("Tensor", "Start")(b)
    _fn("Tensor", "AddShape")(b, shape_off)
    _fn("Tensor", "AddType")(b, dtype)
    _fn("Tensor", "AddBuffer")(b, 0)
    _fn("Tensor", "AddName")(b, name_off)
    return _fn("Tensor", "End")(b)


def options(b, kind: str, **fields) -> int:
    """A builtin options table, e.g. options(b, "IfOptions", ThenSubgraphIndex=1)."""
    vectors = {k: _ints(b, v) for k, v in fields.items() if isinstance(v, (list, tuple))}
    _fn(kind, "Start")(b)
    for k, v in fields.items():
        _fn(kind, f"Add{k}")(b, vectors.get(k, v))
    return _fn(kind, "End")(b)


def operator(b, opcode_index: int, inputs=(), outputs=(), opts: tuple[str, int] | None = None,
             custom_options: int | None = None) -> int:
    ins, outs = _ints(b, inputs), _ints(b, outputs)
    _fn("Operator", "Start")(b)
    _fn("Operator", "AddOpcodeIndex")(b, opcode_index)
    _fn("Operator", "AddInputs")(b, ins)
    _fn("Operator", "AddOutputs")(b, outs)
    if opts is not None:
        _fn("Operator", "AddBuiltinOptionsType")(b, _OPTIONS[opts[0]])
        _fn("Operator", "AddBuiltinOptions")(b, opts[1])
    if custom_options is not None:
        _fn("Operator", "AddCustomOptions")(b, custom_options)
    return _fn("Operator", "End")(b)


def subgraph(b, tensors: list[int], operators: list[int], inputs=(), outputs=()) -> int:
    t, o = _vector_of(b, tensors), _vector_of(b, operators)
    i, out = _ints(b, inputs), _ints(b, outputs)
    _fn("SubGraph", "Start")(b)
    _fn("SubGraph", "AddTensors")(b, t)
    _fn("SubGraph", "AddOperators")(b, o)
    _fn("SubGraph", "AddInputs")(b, i)
    _fn("SubGraph", "AddOutputs")(b, out)
    return _fn("SubGraph", "End")(b)


def finish(b, subgraphs: list[int], opcodes: list[str], custom: str | None = None) -> bytes:
    codes = []
    for name in opcodes:
        code = _OPCODE[name]
        custom_off = b.CreateString(custom) if name == "CUSTOM" and custom else None
        _fn("OperatorCode", "Start")(b)
        _fn("OperatorCode", "AddDeprecatedBuiltinCode")(b, min(code, 127))
        _fn("OperatorCode", "AddBuiltinCode")(b, code)
        _fn("OperatorCode", "AddVersion")(b, 1)
        if custom_off is not None:
            _fn("OperatorCode", "AddCustomCode")(b, custom_off)
        codes.append(_fn("OperatorCode", "End")(b))
    _fn("Buffer", "Start")(b)
    empty = _fn("Buffer", "End")(b)
    sgs, ocs, bufs = _vector_of(b, subgraphs), _vector_of(b, codes), _vector_of(b, [empty])
    _fn("Model", "Start")(b)
    _fn("Model", "AddVersion")(b, 3)
    _fn("Model", "AddOperatorCodes")(b, ocs)
    _fn("Model", "AddSubgraphs")(b, sgs)
    _fn("Model", "AddBuffers")(b, bufs)
    root = _fn("Model", "End")(b)
    b.Finish(root, file_identifier=b"TFL3")
    return bytes(b.Output())


# --------------------------------------------------------------------------- the hostile files


def call_chain(depth: int = 1500, opcode: str = "CALL_ONCE") -> bytes:
    """Subgraph i calls subgraph i + 1 (CALL_ONCE), `depth` deep; the last one runs an ADD."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    sgs = []
    for i in range(depth):
        opts = options(b, "CallOnceOptions", InitSubgraphIndex=i + 1)
        sgs.append(subgraph(b, [t], [operator(b, 0, opts=("CallOnceOptions", opts))]))
    add = operator(b, 1, inputs=(0, 0), outputs=(1,))
    sgs.append(subgraph(b, [t, t], [add], inputs=(0,), outputs=(1,)))
    return finish(b, sgs, [opcode, "ADD"])


def if_doubling(levels: int = 24) -> bytes:
    """Subgraph i runs an IF whose both branches are subgraph i + 1: 2**levels inlined calls."""
    b = flatbuffers.Builder(1024)
    cond = tensor(b, (1,), BOOL, "cond")
    x = tensor(b)
    sgs = []
    for i in range(levels):
        opts = options(b, "IfOptions", ThenSubgraphIndex=i + 1, ElseSubgraphIndex=i + 1)
        op = operator(b, 0, inputs=(0, 1), outputs=(2,), opts=("IfOptions", opts))
        sgs.append(subgraph(b, [cond, x, x], [op], inputs=(0, 1), outputs=(2,)))
    add = operator(b, 1, inputs=(1, 1), outputs=(2,))
    sgs.append(subgraph(b, [cond, x, x], [add], inputs=(0, 1), outputs=(2,)))
    return finish(b, sgs, ["IF", "ADD"])


def shared_tensor_table(n_tensors: int = 50_000, shape=(1, 8), name: int | str = "t") -> bytes:
    """One subgraph whose `n_tensors` entries all point at one tensor table (none used by an op:
    TFLM plans them all, overlapping, so the first-fit sees n buffers alive at once)."""
    b = flatbuffers.Builder(1024)
    t = tensor(b, shape, name=name)
    add = operator(b, 0, inputs=(0, 0), outputs=(1,))
    return finish(b, [subgraph(b, [t] * n_tensors, [add], inputs=(0,), outputs=(1,))], ["ADD"])


def shared_operator_table(n_ops: int = 20_000) -> bytes:
    """One ADD table used by `n_ops` operator entries (each reads tensor 0, writes tensor 1)."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    add = operator(b, 0, inputs=(0, 0), outputs=(1,))
    return finish(b, [subgraph(b, [t, t], [add] * n_ops, inputs=(0,), outputs=(1,))], ["ADD"])


def wide_fan_out(n_ops: int = 20_000) -> bytes:
    """`n_ops` distinct ops, each reading the input and writing its own tensor (one table per op:
    this is the honest, unshared shape of a very wide graph)."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    ops = [operator(b, 0, inputs=(0, 0), outputs=(i + 1,)) for i in range(n_ops)]
    return finish(b, [subgraph(b, [t] * (n_ops + 1), ops, inputs=(0,),
                               outputs=tuple(range(1, n_ops + 1)))], ["ADD"])


def long_shared_name(name_bytes: int = 800_000, n_tensors: int = 5_000) -> bytes:
    """An `name_bytes` name used by every one of `n_tensors` tensors (4 GB of text if copied)."""
    b = flatbuffers.Builder(1024)
    name = b.CreateString("n" * name_bytes)
    return _with_shared_tensor(b, tensor(b, name=name), n_tensors)


def _with_shared_tensor(b, t: int, n_tensors: int) -> bytes:
    add = operator(b, 0, inputs=(0, 0), outputs=(1,))
    return finish(b, [subgraph(b, [t] * n_tensors, [add], inputs=(0,), outputs=(1,))], ["ADD"])


def long_shared_option_vector(length: int = 200_000, n_ops: int = 5_000) -> bytes:
    """RESHAPE ops sharing one options table whose new_shape vector has `length` entries."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    opts = options(b, "ReshapeOptions", NewShape=[1] * length)
    op = operator(b, 0, inputs=(0,), outputs=(1,), opts=("ReshapeOptions", opts))
    return finish(b, [subgraph(b, [t, t], [op] * n_ops, inputs=(0,), outputs=(1,))], ["RESHAPE"])


def long_shared_custom_options(length: int = 800_000, n_ops: int = 5_000) -> bytes:
    """Custom ops sharing one `length`-byte custom_options blob."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    blob = _bytes(b, b"\0" * length)
    op = operator(b, 0, inputs=(0,), outputs=(1,), custom_options=blob)
    return finish(b, [subgraph(b, [t, t], [op] * n_ops, inputs=(0,), outputs=(1,))],
                  ["CUSTOM"], custom="Hostile")


def shared_subgraphs(n_subgraphs: int = 5_000, n_tensors: int = 5_000) -> bytes:
    """`n_subgraphs` entries pointing at one subgraph of `n_tensors` entries of one tensor."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    add = operator(b, 0, inputs=(0, 0), outputs=(1,))
    sg = subgraph(b, [t] * n_tensors, [add], inputs=(0,), outputs=(1,))
    return finish(b, [sg] * n_subgraphs, ["ADD"])


def huge_rank(rank: int = 100_000) -> bytes:
    """A tensor whose shape has `rank` dimensions of 1."""
    b = flatbuffers.Builder(1024)
    return _with_shared_tensor(b, tensor(b, shape=[1] * rank), 2)


def self_loop() -> bytes:
    """An ADD that reads its own output."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    ops = [operator(b, 0, inputs=(0, 1), outputs=(1,)), operator(b, 0, inputs=(1, 1), outputs=(2,)),
           operator(b, 0, inputs=(0, 2), outputs=(3,))]
    return finish(b, [subgraph(b, [t] * 4, ops, inputs=(0,), outputs=(3,))], ["ADD"])


def dependency_cycle() -> bytes:
    """ADD 0 reads tensor 3, which ADD 2 writes later; tensor 1 feeds two ops (a branch)."""
    b = flatbuffers.Builder(1024)
    t = tensor(b, (1, 8, 8, 4))
    ops = [operator(b, 0, inputs=(0, 3), outputs=(1,)), operator(b, 0, inputs=(1, 1), outputs=(2,)),
           operator(b, 0, inputs=(1, 2), outputs=(3,)), operator(b, 0, inputs=(3, 3), outputs=(4,))]
    return finish(b, [subgraph(b, [t] * 5, ops, inputs=(0,), outputs=(4,))], ["ADD"])


def empty_main_subgraph() -> bytes:
    """A main subgraph with tensors but no operators."""
    b = flatbuffers.Builder(1024)
    t = tensor(b)
    return finish(b, [subgraph(b, [t, t], [], inputs=(0,), outputs=(1,))], ["ADD"])


HOSTILE = {
    "call_once_chain_1500": lambda: call_chain(1500),
    "call_once_chain_200": lambda: call_chain(200),
    "if_doubling_24": lambda: if_doubling(24),
    "shared_tensor_table_50000": lambda: shared_tensor_table(50_000),
    "shared_operator_table_20000": lambda: shared_operator_table(20_000),
    "wide_fan_out_6000": lambda: wide_fan_out(6_000),
    "long_shared_name_800k_x5000": lambda: long_shared_name(),
    "long_shared_option_vector_200k_x2000": lambda: long_shared_option_vector(n_ops=2_000),
    "long_shared_custom_options_800k_x2000": lambda: long_shared_custom_options(n_ops=2_000),
    "shared_subgraphs_5000x5000": lambda: shared_subgraphs(),
    "rank_100000": lambda: huge_rank(),
    "op_reads_own_output": self_loop,
    "empty_main_subgraph": empty_main_subgraph,
}


def add_chain(n_ops: int = 2_500, shape=(1, 8)) -> bytes:
    """An honest (unshared) chain of `n_ops` ADDs, each reading the previous output twice."""
    b = flatbuffers.Builder(1024)
    t = tensor(b, shape)
    ops = [operator(b, 0, inputs=(i, i), outputs=(i + 1,)) for i in range(n_ops)]
    return finish(b, [subgraph(b, [t] * (n_ops + 1), ops, inputs=(0,), outputs=(n_ops,))], ["ADD"])


# The largest models the limits let through, for the benchmark: every stage must stay fast.
WITHIN_LIMITS = {
    "add_chain_2500 (op limit)": lambda: add_chain(2_500, (1, 8, 8, 4)),
    "shared_tensor_table_5000 (tensor limit, all alive at once)": lambda: shared_tensor_table(5_000),
    "if_doubling_12 (8,191 inlined runs)": lambda: if_doubling(12),
    "call_once_chain_63 (depth limit)": lambda: call_chain(63),
}
