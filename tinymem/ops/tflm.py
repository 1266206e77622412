"""What TensorFlow Lite Micro has for one op: the vocabulary of `OpRule.tflm`.

Each rule carries a `Tflm` record: the `MicroMutableOpResolver` method that
registers the op, and per kernel set (reference, CMSIS-NN) what that kernel
accepts: the dtype signatures its Prepare/Eval switch on, and the checks its
Prepare makes that a model can fail (a non-constant operand where a constant
is required, a rank it rejects). The facts were read from the kernels at the
commits ../shared/targets pins (TFLM 90b983c2, CMSIS-NN 4ab83cc3).

A signature is "in->out" or "in/weights->out" with dtype names as tinymem
spells them; "*" matches any dtype. `in` is the dtype of the input the kernel
dispatches on (`Kernel.data`), `weights` the dtype of input `Kernel.weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from ..graph.ir import Operator, Subgraph
from ..targets import Kernels

# A Prepare check: the reason the kernel refuses this op, or None.
Check = Callable[[Operator, Subgraph], Optional[str]]

ANY = "*"


@dataclass(frozen=True)
class Signature:
    data: str
    weights: str | None
    out: str

    @classmethod
    def parse(cls, text: str) -> "Signature":
        ins, out = text.split("->")
        data, _, weights = ins.partition("/")
        return cls(data, weights or None, out)

    def matches(self, data: str, weights: str | None, out: str) -> bool:
        return (self.data in (ANY, data) and self.out in (ANY, out)
                and (self.weights is None or self.weights in (ANY, weights)))

    def __str__(self) -> str:
        w = f"/{self.weights}" if self.weights else ""
        return f"{self.data}{w}->{self.out}"


@dataclass(frozen=True)
class Kernel:
    """What one kernel of one kernel set accepts."""

    signatures: tuple[Signature, ...]
    checks: tuple[Check, ...] = ()
    data: int = 0  # the input whose dtype selects the code path
    weights: int | None = None  # the input holding the weights, when signatures name them
    output: int = 0

    def refuses(self, op: Operator, sg: Subgraph) -> str | None:
        """Why this kernel cannot run the op, or None."""
        d = _dtype(sg, op.inputs, self.data)
        w = _dtype(sg, op.inputs, self.weights) if self.weights is not None else None
        o = _dtype(sg, op.outputs, self.output)
        if not any(s.matches(d or "none", w, o or "none") for s in self.signatures):
            takes_input = [s for s in self.signatures if s.data in (ANY, d)]
            if not takes_input:
                return f"{d} input has no kernel"
            if self.weights is not None and not any(s.weights in (None, ANY, w)
                                                    for s in takes_input):
                return f"{d} input with {w} weights (hybrid) has no kernel"
            return f"{d} input to {o} output has no kernel"
        for check in self.checks:
            reason = check(op, sg)
            if reason:
                return reason
        return None

    def describe(self) -> str:
        return ", ".join(str(s) for s in self.signatures)


@dataclass(frozen=True)
class Tflm:
    """TFLM's registration of an op and its kernel per kernel set."""

    resolver: str  # the MicroMutableOpResolver method: "AddConv2D"
    kernels: Mapping[Kernels, Kernel] = field(default_factory=dict)
    # Set when only a special TFLM build registers the op (no kernel otherwise).
    needs: str | None = None

    def kernel(self, kernels: Kernels) -> Kernel | None:
        return self.kernels.get(kernels)


def camel_case(op: str) -> str:
    """How TFLM spells an op in its C++ names: "LEAKY_RELU" -> "LeakyRelu"."""
    return "".join(word.capitalize() for word in op.split("_"))


def resolver_method(op: str) -> str:
    """The resolver method TFLM names after the op ("AddLeakyRelu"); a few ops'
    methods are spelt otherwise ("AddConv2D") and are written out where they occur."""
    return "Add" + camel_case(op)


def kernel(*signatures: str, checks: tuple[Check, ...] = (), data: int = 0,
           weights: int | None = None, output: int = 0) -> Kernel:
    return Kernel(tuple(Signature.parse(s) for s in signatures), tuple(checks), data,
                  weights, output)


def tflm(resolver: str, reference: Kernel, cmsis_nn: Kernel | None = None) -> Tflm:
    """A registration whose CMSIS-NN build uses `cmsis_nn` (default: the reference
    kernel, as TFLM's CMSIS-NN build links the reference kernel for every op CMSIS-NN
    does not replace); both CMSIS-NN builds (speed, size) accept the same types."""
    cm = cmsis_nn or reference
    return Tflm(resolver, {Kernels.REFERENCE: reference, Kernels.CMSIS_NN: cm,
                           Kernels.CMSIS_NN_SIZE: cm})


def same_types(resolver: str, *dtypes: str, checks: tuple[Check, ...] = ()) -> Tflm:
    """An op whose output dtype equals its input's, for each of `dtypes`."""
    return tflm(resolver, kernel(*(f"{d}->{d}" for d in dtypes), checks=checks))


def _dtype(sg: Subgraph, idx: tuple[int, ...], i: int) -> str | None:
    if i >= len(idx) or idx[i] < 0:
        return None
    return sg.tensors[idx[i]].dtype


# --- Prepare checks a model can fail -------------------------------------------------

def constant_input(i: int, name: str) -> Check:
    """TFLM needs operand `i` to be a constant (it has no dynamic shapes)."""
    def check(op: Operator, sg: Subgraph) -> str | None:
        if i < len(op.inputs) and op.inputs[i] >= 0 and not sg.tensors[op.inputs[i]].has_data:
            return f"non-constant {name} tensor is not supported"
        return None
    return check


def input_rank(allowed: str, low: int, high: int, i: int = 0) -> Check:
    """The rank of input `i` must lie in [low, high] (`allowed` says it in words)."""
    def check(op: Operator, sg: Subgraph) -> str | None:
        if i < len(op.inputs) and op.inputs[i] >= 0:
            r = len(sg.tensors[op.inputs[i]].shape)
            if not low <= r <= high:
                return f"rank-{r} input (the kernel needs {allowed})"
        return None
    return check


def same_input_types(op: Operator, sg: Subgraph) -> str | None:
    """Binary kernels: both operands in one dtype (mixed is a hybrid model)."""
    kinds = {sg.tensors[i].dtype for i in op.inputs[:2] if i >= 0}
    if len(kinds) > 1:
        return f"mixed input types ({', '.join(sorted(kinds))}) are not supported"
    return None
