"""The support table's vocabulary: signatures, checks and the reasons they give."""

from __future__ import annotations

import pytest

from tinymem.graph.ir import Operator, Subgraph, Tensor
from tinymem.ops import REGISTRY
from tinymem.ops.support import op_problem
from tinymem.ops.tflm import Signature
from tinymem.targets import resolve_target

CMSIS = resolve_target("cortex-m4", "cmsis-nn")
REF = resolve_target("cortex-m4", "reference")


def _graph(opcode, ins, outs, custom=None):
    """ins/outs: (shape, dtype, constant?) per operand."""
    tensors = [Tensor(i, f"t{i}", tuple(s), d, has_data=c) for i, (s, d, c) in enumerate(ins + outs)]
    op = Operator(0, opcode, tuple(range(len(ins))), tuple(range(len(ins), len(ins) + len(outs))),
                  custom_code=custom)
    return op, Subgraph(0, "main", tensors, [op], (), ())


A = lambda *shape: (shape, "int8", False)  # noqa: E731


@pytest.mark.parametrize("text,data,weights,out,ok", [
    ("int8/int8->int8", "int8", "int8", "int8", True),
    ("int8/int8->int8", "int8", "float32", "int8", False),
    ("int8->int8", "int8", None, "int8", True),
    ("*->int32", "uint8", None, "int32", True),
    ("*->*", "bool", None, "float32", True),
    ("float32->float32", "int8", None, "int8", False),
])
def test_signature_matching(text, data, weights, out, ok):
    assert Signature.parse(text).matches(data, weights, out) is ok
    assert str(Signature.parse(text)) == text


CASES = [  # opcode, inputs, outputs, target, the reason (None: runs)
    ("CONV_2D", [((1, 8, 8, 3), "uint8", False), ((4, 3, 3, 3), "uint8", True)],
     [((1, 8, 8, 4), "uint8", False)], CMSIS, "uint8 input has no kernel in cmsis-nn"),
    ("CONV_2D", [((1, 8, 8, 3), "float32", False), ((4, 3, 3, 3), "int8", True)],
     [((1, 8, 8, 4), "float32", False)], REF,
     "float32 input with int8 weights (hybrid) has no kernel in reference"),
    ("CONV_2D", [((1, 8, 3), "int8", False), ((4, 3, 3, 3), "int8", True)],
     [((1, 8, 4), "int8", False)], CMSIS, "rank-3 input (the kernel needs 4-D) in cmsis-nn"),
    ("CONV_2D", [A(1, 8, 8, 3), ((4, 3, 3, 3), "int4", True)], [A(1, 8, 8, 4)], CMSIS, None),
    ("QUANTIZE", [((1, 4), "uint8", False)], [A(1, 4)], CMSIS, None),
    ("QUANTIZE", [((1, 4), "uint8", False)], [((1, 4), "int16", False)], REF,
     "uint8 input to int16 output has no kernel in reference"),
    ("STRIDED_SLICE", [((1, 4, 4, 3), "uint8", False)] + [((4,), "int32", True)] * 3,
     [((1, 2, 4, 3), "uint8", False)], CMSIS, "uint8 input has no kernel in cmsis-nn"),
    ("STRIDED_SLICE", [A(1, 4, 4, 3), ((4,), "int32", False)] + [((4,), "int32", True)] * 2,
     [A(1, 2, 4, 3)], REF, "non-constant begin tensor is not supported in reference"),
    ("STRIDED_SLICE", [A(1, 1, 4, 4, 3)] + [((5,), "int32", True)] * 3, [A(1, 1, 2, 4, 3)], REF,
     "rank-5 input (the kernel needs at most 4-D) in reference"),
    ("PAD", [A(1, 4, 4, 3), ((4, 2), "int32", False)], [A(1, 6, 6, 3)], CMSIS,
     "non-constant paddings tensor is not supported in cmsis-nn"),
    ("ADD", [A(1, 4), ((1, 4), "int16", False)], [A(1, 4)], REF,
     "mixed input types (int16, int8) are not supported in reference"),
    ("RESHAPE", [((1, 4), "uint8", False), ((2,), "int32", True)], [((4, 1), "uint8", False)],
     CMSIS, None),
    ("TILE", [A(1, 4), ((2,), "int32", True)], [A(2, 4)], CMSIS, "TFLM has no kernel for TILE"),
    ("GELU", [A(1, 4)], [A(1, 4)], REF, "TFLM has no kernel for GELU"),
    ("SOFTMAX", [A(1, 4)], [((1, 4), "int16", False)], CMSIS, None),
    ("CUSTOM:ethos-u", [A(1, 4)], [A(1, 4)], CMSIS,
     "needs an Ethos-U NPU build of TFLM (Vela output)"),
    ("CUSTOM:Foo", [A(1, 4)], [A(1, 4)], CMSIS,
     "custom op 'Foo' is not a kernel TFLM ships (the application must register its own)"),
]


@pytest.mark.parametrize("opcode,ins,outs,target,reason", CASES)
def test_op_problem(opcode, ins, outs, target, reason):
    custom = opcode.split(":", 1)[1] if opcode.startswith("CUSTOM:") else None
    op, sg = _graph(opcode, ins, outs, custom)
    assert op_problem(op, sg, target) == reason


def test_every_resolver_method_is_named_once():
    methods = [r.tflm.resolver for r in REGISTRY.values() if r.tflm is not None]
    assert len(methods) == len(set(methods))


def test_a_custom_op_name_with_control_characters_is_printed_escaped():
    from tinymem.ops.support import check_support
    from tinymem.graph.ir import Model

    op, sg = _graph("CUSTOM:\x1b[31mX", [A(1, 4)], [A(1, 4)], custom="\x1b[31mX")
    s = check_support(Model(None, 3, "", [sg], [], {}), CMSIS)
    assert "\x1b" not in s.problems[0].text()
    assert "\\x1b[31mX" in s.problems[0].text()
