"""The writer's plan: which tensors, buffers and operator codes go where (no flatbuffers).

Models are built from the IR dataclasses alone; one row states one rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinymem.errors import TinymemError
from tinymem.graph.ir import Buffer, Model, Operator, SignatureDef, Subgraph, Tensor
from tinymem.read.schema import BUILTIN_CODES, CUSTOM_CODE, OFFLINE_PLAN_KEY
from tinymem.writer.plan import opcode_key, plan_opcodes, plan_write
from tinymem.writer.validate import check_model

RELU, ADD, CONV = BUILTIN_CODES["RELU"], BUILTIN_CODES["ADD"], BUILTIN_CODES["CONV_2D"]


def _t(i, name, buffer=0, has_data=False, data=None, dtype="int8", shape=(1, 4)):
    return Tensor(index=i, name=name, shape=shape, dtype=dtype, buffer=buffer,
                  has_data=has_data, data=data)


def _op(i, opcode, inputs, outputs, **kw):
    code = BUILTIN_CODES.get(opcode, CUSTOM_CODE)
    return Operator(index=i, opcode=opcode, inputs=inputs, outputs=outputs, builtin_code=code,
                    **kw)


def _model(tensors, ops, inputs=(0,), outputs=None, buffers=(0, 16), metadata=None, sigs=()):
    outputs = outputs if outputs is not None else (ops[-1].outputs[0],)
    sg = Subgraph(index=0, name="main", tensors=list(tensors), operators=list(ops),
                  inputs=inputs, outputs=outputs)
    return Model(path=None, version=3, description="", subgraphs=[sg],
                 buffers=[Buffer(size=s) for s in buffers], metadata=dict(metadata or {}),
                 signature_defs=list(sigs))


def _chain():
    """x -> RELU -> y, plus an activation nobody uses and a weight on buffer 1."""
    return _model([_t(0, "x"), _t(1, "y"), _t(2, "unused"), _t(3, "w", buffer=1, has_data=True)],
                  [_op(0, "RELU", (0,), (1,))])


# ---- tensors -------------------------------------------------------------------------

@pytest.mark.parametrize("keep_unused, kept, remap", [
    (False, [0, 1], {0: 0, 1: 1, -1: -1}),  # unused activation and weight are left out
    (True, [0, 1, 2, 3], {0: 0, 1: 1, 2: 2, 3: 3, -1: -1}),
])
def test_tensors_written(keep_unused, kept, remap):
    plan = plan_write(_chain(), keep_unused=keep_unused)
    assert plan.tensors.kept == [kept]
    assert plan.tensors.remap == [remap]
    assert plan.tensors.dropped == 4 - len(kept)


def test_a_tensor_only_a_signature_names_is_kept():
    m = _chain()
    m.signature_defs = [SignatureDef(key="s", subgraph=0, inputs=(("x", 0),),
                                     outputs=(("u", 2),))]
    assert plan_write(m).tensors.kept == [[0, 1, 2]]


def test_kept_tensors_are_renumbered_in_order():
    m = _model([_t(0, "gap"), _t(1, "x"), _t(2, "y")], [_op(0, "RELU", (1, -1), (2,))],
               inputs=(1,))
    assert plan_write(m).tensors.remap == [{1: 0, 2: 1, -1: -1}]


# ---- buffers -------------------------------------------------------------------------

def test_buffers_keep_their_indices_and_new_constants_go_at_the_end():
    c = np.arange(4, dtype=np.int8)
    m = _model([_t(0, "x"), _t(1, "w", buffer=1, has_data=True),
                _t(2, "c", buffer=-1, has_data=True, data=c),
                _t(3, "c2", buffer=-1, has_data=True, data=c.copy()), _t(4, "y")],
               [_op(0, "ADD", (0, 1), (4,)), _op(1, "ADD", (2, 3), (4,))],
               buffers=(0, 16, 8))
    bp = plan_write(m).buffers
    assert bp.n_source == 3
    assert bp.keep == {0, 1}  # buffer 2: referred to by nobody, written empty in place
    assert bp.new == [c.tobytes()]  # equal constants share one new buffer
    assert bp.tensor_buffer == [{0: 0, 1: 1, 2: 3, 3: 3, 4: 0}]
    assert bp.n_buffers == 4
    assert bp.data_bytes(m.buffers) == 16 + 4


@pytest.mark.parametrize("buffer0, empty", [
    (0, 0),  # the source's empty buffer 0 serves activations that pointed at data
    (8, 2),  # no empty buffer in the source: one is appended
])
def test_an_activation_pointing_at_data_gets_an_empty_buffer(buffer0, empty):
    m = _model([_t(0, "x", buffer=1), _t(1, "y")], [_op(0, "RELU", (0,), (1,))],
               buffers=(buffer0, 16))
    bp = plan_write(m).buffers
    assert bp.tensor_buffer[0][0] == empty
    assert bp.new == ([] if empty < 2 else [b""])


def test_metadata_buffers_are_kept():
    m = _chain()
    m.buffers.append(Buffer(size=4))
    m.metadata = {"meta": 2}
    assert plan_write(m).buffers.keep == {0, 2}
    assert plan_write(_chain(), metadata_buffers=[1, 99]).buffers.keep == {0, 1}


def test_an_offline_plan_is_appended_for_the_written_tensors():
    plan = plan_write(_chain(), offline=[0, 16, 32, -1])
    words = np.frombuffer(plan.buffers.new[-1], dtype="<i4").tolist()
    assert words == [1, 1, 2, 0, 16]  # version, subgraphs, offsets of tensors 0 and 1
    assert plan.buffers.metadata == {OFFLINE_PLAN_KEY: 2}


def test_a_stored_offline_plan_follows_renumbered_tensors():
    plan = plan_write(_chain(), stored_offline=[0, 16, 32, -1])
    assert plan.offline == [0, 16, 32, -1]
    kept_all = plan_write(_chain(), keep_unused=True, stored_offline=[0, 16, 32, -1])
    assert kept_all.offline is None  # nothing renumbered: the stored plan is copied as is


@pytest.mark.parametrize("kw, message", [
    ({"offline": [0, 0]}, "offline plan has 2 offsets"),
    ({"offline": [0, 0, 0, 2 ** 31]}, "out of range"),
    ({"stored_offline": [0]}, "pass a new offline_plan"),
])
def test_offline_plans_that_do_not_fit_are_refused(kw, message):
    with pytest.raises(TinymemError, match=message):
        plan_write(_chain(), **kw)


@pytest.mark.parametrize("dtype, data, message", [
    ("int8", np.zeros(4, np.int16), "data is int16, tensor is int8"),
    ("int8", np.zeros(3, np.int8), "has 3 elements, shape"),
    ("int4", np.zeros(2, np.float32), "cannot store float32 data"),
])
def test_new_constants_must_match_their_tensor(dtype, data, message):
    m = _model([_t(0, "x"), _t(1, "c", buffer=-1, has_data=True, data=data, dtype=dtype),
                _t(2, "y")], [_op(0, "ADD", (0, 1), (2,))])
    with pytest.raises(TinymemError, match=message):
        plan_write(m)


# ---- operator codes ---------------------------------------------------------------------

@pytest.mark.parametrize("op, key", [
    (_op(0, "RELU", (0,), (1,)), (RELU, None, 1)),
    (_op(0, "CONV_2D", (0,), (1,), version=3), (CONV, None, 3)),
    (_op(0, "CUSTOM:Foo", (0,), (1,)), (CUSTOM_CODE, "Foo", 1)),
    (_op(0, "CUSTOM:Foo", (0,), (1,), custom_code="Bar"), (CUSTOM_CODE, "Bar", 1)),
    (Operator(index=0, opcode="UNKNOWN_250", inputs=(), outputs=(), builtin_code=250),
     (250, None, 1)),
])
def test_opcode_key(op, key):
    assert opcode_key(op) == key


@pytest.mark.parametrize("op, message", [
    (Operator(index=0, opcode="NOT_AN_OP", inputs=(), outputs=(), builtin_code=RELU),
     "unknown operator"),
    (Operator(index=4, opcode="CUSTOM", inputs=(), outputs=(), builtin_code=CUSTOM_CODE),
     "CUSTOM but has no custom code"),
])
def test_opcode_key_refuses(op, message):
    with pytest.raises(TinymemError, match=message):
        opcode_key(op)


def test_used_opcodes_in_source_order_first_then_new_ones_by_first_use():
    m = _model([_t(0, "x"), _t(1, "y"), _t(2, "z"), _t(3, "v")],
               [_op(0, "CONV_2D", (0,), (1,)), _op(1, "RELU", (1,), (2,)),
                _op(2, "ADD", (2, 1), (3,)), _op(3, "RELU", (3,), (3,))])
    source = [(ADD, None, 1), (BUILTIN_CODES["TANH"], None, 1), (RELU, None, 1)]
    plan = plan_opcodes(m, source)
    assert plan.entries == [(ADD, None, 1), (RELU, None, 1), (CONV, None, 1)]  # TANH unused
    assert plan.op_index == [[2, 1, 0, 1]]


# ---- validation ------------------------------------------------------------------------

def _broken(change):
    m = _chain()
    change(m)
    return m


@pytest.mark.parametrize("change, message", [
    (lambda m: m.subgraphs.clear(), "no subgraphs"),
    (lambda m: setattr(m.main.tensors[0], "dtype", "int3"), "unknown type 'int3'"),
    (lambda m: setattr(m.main.tensors[3], "buffer", 7), "points at buffer 7"),
    (lambda m: setattr(m.main, "inputs", (9,)), "inputs name tensor 9"),
    (lambda m: setattr(m.main.operators[0], "outputs", (-2,)), r"\(RELU\) outputs name tensor -2"),
    (lambda m: m.signature_defs.append(SignatureDef("s", 3, (), ())), "names subgraph 3"),
    (lambda m: m.signature_defs.append(SignatureDef("s", 0, (("a", 8),), ())), "names tensor 8"),
    (lambda m: m.metadata.update(meta=5), "metadata 'meta' points at buffer 5"),
])
def test_check_model_names_the_bad_index(change, message):
    with pytest.raises(TinymemError, match=message):
        check_model(_broken(change))


def test_an_optional_input_left_out_is_valid():
    m = _model([_t(0, "x"), _t(1, "y")], [_op(0, "RELU", (0, -1), (1,))])
    check_model(m)
