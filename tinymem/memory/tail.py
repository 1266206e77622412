"""The arena's tail and the smallest arena that works, replayed from TFLM's allocation order.

TFLite Micro's arena has a head (the planned tensors and scratch, see
planner.py), a tail that grows down from the arena's end (persistent: the
allocator's own objects, a TfLiteEvalTensor per tensor, a NodeAndRegistration
per op, each op's parsed options and kernel data, variables, the model's
input/output TfLiteTensors) and, while AllocateTensors runs, a temporary
section above the head (TfLiteTensors the kernels look at in Prepare, the
planner's working arrays).

Rather than adding sizes, this module replays the allocations in TFLM's
order (micro_allocator.cc, micro_interpreter.cc, TFLM 90b983c2) with each
one's alignment, against an arena of a given size: the tail is what the
replay leaves, and the smallest arena is the smallest size for which no
step fails. Alignment padding of the tail depends on where the arena ends,
which is why the smallest arena can be a few bytes below head + tail.

The struct sizes are data per ABI: 32-bit Arm EABI (Cortex-M, GCC: short
enums) and x86-64 (the tflite-micro wheel), from the firmware's sizeof
report and TFLM's headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..graph.ir import Model, Operator, Subgraph, computed_once
from ..ops import rule_for
from ..ops.memo import memoised
from ..targets import Target

ARENA_ALIGNMENT = 16  # MicroArenaBufferAlignment()


@dataclass(frozen=True)
class Abi:
    """sizeof/alignof of TFLM's structs for one ABI."""

    pointer: int
    # The allocator's own objects, allocated first by RecordingMicroAllocator::Create:
    # RecordingSingleArenaBufferAllocator, GreedyMemoryPlanner, RecordingMicroAllocator.
    allocator_objects: tuple[int, ...]
    builtin_data_allocator: int  # MicroBuiltinDataAllocator
    subgraph_allocations: int  # SubgraphAllocations
    eval_tensor: int  # TfLiteEvalTensor
    tflite_tensor: int  # TfLiteTensor (TF_LITE_STATIC_MEMORY)
    node_and_registration: int
    affine_quantization: int  # TfLiteAffineQuantization
    scratch_request: int  # internal::ScratchBufferRequest
    allocation_info: int  # AllocationInfo
    resource_variables: int  # MicroResourceVariables
    resource_variable: int  # MicroResourceVariables::MicroResourceVariable
    scratch_handle: int = 4  # ScratchBufferHandle
    # sizeof, alignof of each TfLite*Params struct the parser allocates.
    params: dict[str, tuple[int, int]] = field(default_factory=dict)


# TfLite*Params: identical on both ABIs except where an enum or a pointer is a field
# (Arm EABI enums are one byte).
_PARAMS_COMMON = {
    "TfLiteBatchMatMulParams": (3, 1), "TfLiteCallOnceParams": (4, 4),
    "TfLiteConcatenationParams": (8, 4), "TfLiteConvParams": (28, 4),
    "TfLiteCumsumParams": (2, 1), "TfLiteDepthToSpaceParams": (4, 4),
    "TfLiteDepthwiseConvParams": (28, 4), "TfLiteGatherParams": (8, 4),
    "TfLiteIfParams": (8, 4), "TfLiteLeakyReluParams": (4, 4), "TfLitePackParams": (8, 4),
    "TfLitePoolParams": (40, 4), "TfLiteReducerParams": (1, 1), "TfLiteReshapeParams": (36, 4),
    "TfLiteResizeBilinearParams": (2, 1), "TfLiteResizeNearestNeighborParams": (2, 1),
    "TfLiteSoftmaxParams": (4, 4), "TfLiteSpaceToDepthParams": (4, 4),
    "TfLiteSplitParams": (4, 4), "TfLiteSplitVParams": (4, 4), "TfLiteSqueezeParams": (36, 4),
    "TfLiteStridedSliceParams": (24, 4), "TfLiteUnidirectionalSequenceLSTMParams": (16, 4),
    "TfLiteUnpackParams": (8, 4), "TfLiteWhileParams": (8, 4),
}
# ... and those that differ: (Arm EABI, x86-64) sizeof, alignof.
_PARAMS_PER_ABI = {
    "TfLiteAddParams": ((2, 1), (8, 4)),
    "TfLiteArgMaxParams": ((1, 1), (4, 4)),
    "TfLiteArgMinParams": ((1, 1), (4, 4)),
    "TfLiteCastParams": ((2, 1), (8, 4)),
    "TfLiteDivParams": ((1, 1), (4, 4)),
    "TfLiteFullyConnectedParams": ((5, 1), (32, 8)),
    "TfLiteL2NormParams": ((1, 1), (4, 4)),
    "TfLiteLSTMParams": ((16, 4), (20, 4)),
    "TfLiteMirrorPaddingParams": ((1, 1), (4, 4)),
    "TfLiteMulParams": ((1, 1), (4, 4)),
    "TfLiteSVDFParams": ((8, 4), (12, 4)),
    "TfLiteShapeParams": ((1, 1), (4, 4)),
    "TfLiteSubParams": ((2, 1), (8, 4)),
    "TfLiteTransposeConvParams": ((16, 4), (20, 4)),
    "TfLiteVarHandleParams": ((8, 4), (16, 8)),
}
_PARAMS_ARM = {name: arm for name, (arm, _) in _PARAMS_PER_ABI.items()}
_PARAMS_X86_64 = {name: x86 for name, (_, x86) in _PARAMS_PER_ABI.items()}

ABIS: dict[int, Abi] = {
    # Cortex-M, arm-none-eabi-gcc: sizes reported by the firmware (sizeof) or read
    # from the headers; alignment 4 throughout.
    4: Abi(pointer=4, allocator_objects=(52, 44, 124), builtin_data_allocator=8, scratch_handle=4,
           subgraph_allocations=8, eval_tensor=12, tflite_tensor=32, node_and_registration=32,
           affine_quantization=12, scratch_request=12, allocation_info=24,
           resource_variables=12, resource_variable=20,
           params={**_PARAMS_COMMON, **_PARAMS_ARM}),
    # x86-64 (the tflite-micro wheel): alignment 8 for structs holding pointers.
    # The allocator objects, ScratchBufferHandle and FC options are larger in the
    # wheel's build than its headers suggest: learnt from its recorded tails.
    8: Abi(pointer=8, allocator_objects=(128, 72, 256), builtin_data_allocator=16,
           scratch_handle=8,
           subgraph_allocations=16, eval_tensor=24, tflite_tensor=64, node_and_registration=64,
           affine_quantization=24, scratch_request=16, allocation_info=32,
           resource_variables=16, resource_variable=40,
           params={**_PARAMS_COMMON, **_PARAMS_X86_64}),
}

# The greedy planner's working arrays per planned buffer: BufferRequirements (16),
# two int arrays, a ListEntry (12) and an offset (greedy_memory_planner.h).
PLANNER_BYTES_PER_BUFFER = 40
KMAX_SCRATCH_PER_OP = 12  # kMaxScratchBuffersPerOp


def abi_for(target: Target) -> Abi:
    return ABIS[target.pointer_bytes]


# --- the replay ------------------------------------------------------------------

# Steps: ("tail", bytes, align, op_key, kind) a persistent allocation from the end;
# ("head", bytes) the resizable head buffer becomes `bytes`;
# ("need", bytes) the tail must not come below `bytes` from the arena's start (what the
# temporary section reached, or the planner's working arrays). Temporary allocations
# are aligned from the arena's start, so where they end is known without the arena size.


@dataclass
class TailPlan:
    """The tail TFLM allocates for a model on a target, and the smallest arena that works."""

    tail_bytes: int  # at a large 16-aligned arena, as the RecordingMicroAllocator reports
    required_bytes: int  # the smallest arena with which AllocateTensors succeeds
    # The allocation steps, for the breakdowns below: they are replayed only when
    # asked (the explorer plans thousands of candidates and reads two figures).
    steps: Callable[[], list[tuple]] = field(repr=False, compare=False, default=list)

    @computed_once
    def _breakdown(self) -> tuple[dict, dict]:
        _, _, by_op, by_kind = _Replay(self.steps(), _LARGE).run()
        return by_op, by_kind

    @property
    def op_bytes(self) -> dict[tuple[int, int], int]:
        """Per operator (subgraph, index): its parsed options and kernel data in the tail."""
        return self._breakdown[0]

    @property
    def by_kind(self) -> dict[str, int]:
        """Bytes per kind of tail item (as at the large arena, padding included)."""
        return self._breakdown[1]


def _align_down(x: int, a: int) -> int:
    return x // a * a


def _align_up(x: int, a: int) -> int:
    return -(-x // a) * a


class _Replay:
    def __init__(self, steps: list[tuple], size: int):
        self.steps = steps
        self.size = size

    def run(self) -> tuple[bool, int, dict, dict]:
        tail = self.size
        head = 0
        by_op: dict = {}
        by_kind: dict = {}
        for st in self.steps:
            kind = st[0]
            if kind == "tail":
                _, n, a, key, what = st
                new = _align_down(tail - n, a)
                if new < head:
                    return False, self.size - tail, by_op, by_kind
                used = tail - new
                tail = new
                by_kind[what] = by_kind.get(what, 0) + used
                if key is not None:
                    by_op[key] = by_op.get(key, 0) + used
            elif kind == "head":
                if tail < st[1]:
                    return False, self.size - tail, by_op, by_kind
                head = st[1]
            elif tail < st[1]:  # need
                return False, self.size - tail, by_op, by_kind
        return True, self.size - tail, by_op, by_kind


def _fits(steps: list[tuple], size: int) -> bool:
    """The replay without bookkeeping: does every step succeed in an arena of `size`?"""
    return _fits_compiled(_compile(steps), size)


def _compile(steps: list[tuple]) -> list[list[int]]:
    """The steps as [bytes, align, floor] moves: the tail comes down by `bytes` and is
    aligned down, then must stay at or above `floor` (the head, or what the
    temporary section needs). A tail allocation that keeps the alignment of the
    move before it joins that move (its bytes rounded up to the alignment, which
    is what aligning down from an aligned tail takes): the tail only comes down, so the checks in
    between are implied by the one after (the search probes each arena size with
    this list, several times per candidate)."""
    moves: list[list[int]] = []
    head = 0
    joinable = False  # the last move ends in a check against `head` alone

    def check(floor: int) -> None:
        nonlocal joinable
        if not moves:
            moves.append([0, 1, floor])
        elif floor > moves[-1][2]:
            moves[-1][2] = floor
        else:
            return
        joinable = False

    for st in steps:
        kind = st[0]
        if kind == "tail":
            n, a = st[1], st[2]
            last = moves[-1] if moves else None
            if joinable and last[1] == a and last[2] == head:
                # The move before leaves the tail a-aligned: this one takes n rounded up.
                last[0] += -(-n // a) * a
            else:
                moves.append([n, a, head])
                joinable = True
        elif kind == "head":
            check(st[1])
            head = st[1]
            joinable = False
        else:  # need
            check(st[1])
    return moves


def _fits_compiled(moves: list[list[int]], size: int) -> bool:
    tail = size
    for n, a, floor in moves:
        tail = (tail - n) // a * a
        if tail < floor:
            return False
    return True


def _tensor_structs(abi: Abi, sg: Subgraph, t: int) -> list[tuple[int, int, str]]:
    """(bytes, align, kind) of a TfLiteTensor for tensor t and, when quantized, its
    quantization copy (TfLiteAffineQuantization and a zero-point array; scales stay
    in the flatbuffer)."""
    q = sg.tensors[t].quantization
    out = [(abi.tflite_tensor, abi.pointer, "persistent TfLiteTensor")]
    if q is not None and len(q.scale) > 0 and len(q.zero_point) > 0:
        out.append((abi.affine_quantization, abi.pointer, "quantization"))
        out.append((4 + 4 * len(q.scale), 4, "quantization"))
    return out


class _TempSection:
    """Where temporary allocations end: they start at the head and are aligned from
    the arena's start, so their positions do not depend on the arena's size."""

    def __init__(self) -> None:
        self.head = self.end = 0

    def set_head(self, n: int) -> None:
        self.head = self.end = n

    def alloc(self, n: int, align: int) -> None:
        self.end = -(-self.end // align) * align + n


def allocation_steps(model: Model, target: Target, head_bytes: int,
                     scratch_per_op: dict[tuple[int, int], int], planned_buffers: int,
                     offline: list[int] | None) -> list[tuple]:
    """TFLM's allocations for a model, in order (MicroInterpreter::AllocateTensors)."""
    abi = abi_for(target)
    p = abi.pointer
    steps: list[tuple] = []
    temp = _TempSection()

    def head(n: int) -> None:
        temp.set_head(n)
        steps.append(("head", n))

    for n in abi.allocator_objects:
        steps.append(("tail", n, p, None, "allocator"))
    n_vars = _resource_variables(model)
    if n_vars:
        steps.append(("tail", abi.resource_variables, ARENA_ALIGNMENT, None, "resource variables"))
        steps.append(("tail", abi.resource_variable * n_vars, ARENA_ALIGNMENT, None,
                      "resource variables"))
    # StartModelAllocation
    steps.append(("tail", abi.builtin_data_allocator, p, None, "allocator"))
    head(abi.scratch_request * KMAX_SCRATCH_PER_OP)  # the scratch requests array
    steps.append(("tail", abi.subgraph_allocations * len(model.subgraphs), p, None, "subgraphs"))
    for sg in model.subgraphs:
        steps.append(("tail", abi.eval_tensor * len(sg.tensors), p, None, "TfLiteEvalTensor"))
    for sg in model.subgraphs:
        steps.append(("tail", abi.node_and_registration * len(sg.operators), p, None,
                      "NodeAndRegistration"))
    # Each op's tail items, from its rule and its tensors (kept with the op: the
    # explorer asks again for every candidate that keeps it).
    # (Keyed by (subgraph, op index), which the steps name for the breakdown by op.)
    ops = [(sg, op) for sg in model.subgraphs for op in sg.operators]
    items = [((sg.index, op.index), _op_tail_items(abi, op, sg, target)) for sg, op in ops]
    append = steps.append
    # Parsed builtin options, op by op.
    for key, item in items:
        if item.params is not None:
            append(("tail", item.params[0], item.params[1], key, "builtin options"))
    # Init: each kernel's OpData.
    for key, item in items:
        if item.opdata:
            append(("tail", item.opdata, ARENA_ALIGNMENT, key, "kernel data"))
        for n in item.init:
            append(("tail", n, ARENA_ALIGNMENT, key, "kernel data"))
    # Prepare: temporary TfLiteTensors of the op's inputs and outputs, its persistent
    # buffers, then the scratch requests array grows (FinishPrepareNodeAllocations).
    requests = 0
    per_request = abi.scratch_request
    end = temp.end
    for (key, item), (sg, op) in zip(items, ops):
        temps = _op_temporaries(abi, op, sg, target)
        if end % temps.temp_align == 0:
            end += temps.temp_bytes  # (from an aligned start: see _OpTemporaries)
        else:
            end = _packed(end, temps.temporary)
        append(("need", end))
        for n in item.persistent:
            append(("tail", n, ARENA_ALIGNMENT, key, "kernel data"))
        if scratch_per_op:
            requests += scratch_per_op.get(key, 0)
        end = per_request * (requests + KMAX_SCRATCH_PER_OP)
        append(("head", end))  # a new head restarts the temporary section
    temp.end = end
    # FinishModelAllocation: scratch handles, then the plan: temporary subgraph offsets
    # and allocation info, variables into the tail, and the planner's working arrays
    # in the rest of the temporary section.
    if requests:
        steps.append(("tail", abi.scratch_handle * requests, p, None, "scratch handles"))
    temp.alloc(p * len(model.subgraphs), p)
    n_tensors = sum(len(sg.tensors) for sg in model.subgraphs)
    temp.alloc(abi.allocation_info * (n_tensors + requests), p)
    flat = 0
    for sg in model.subgraphs:
        for t in sg.tensors:
            planned_offline = offline is not None and flat < len(offline) and offline[flat] >= 0
            flat += 1
            if t.is_variable and not planned_offline:
                steps.append(("tail", t.nbytes, ARENA_ALIGNMENT, None, "variables"))
    planner_start = -(-temp.end // ARENA_ALIGNMENT) * ARENA_ALIGNMENT
    steps.append(("need", planner_start + PLANNER_BYTES_PER_BUFFER * planned_buffers))
    head(head_bytes)
    # The interpreter's input and output TfLiteTensors.
    main = model.main
    for ids in (main.inputs, main.outputs):
        steps.append(("tail", p * len(ids), ARENA_ALIGNMENT, None, "kernel data"))
        for t in ids:
            for n, a, kind in _tensor_structs(abi, main, t):
                steps.append(("tail", n, a, None, kind))
    return steps


@dataclass(frozen=True)
class _OpTail:
    """What one op keeps in the tail: its parsed options (bytes, align) or None, its
    OpData bytes and Init's other persistent buffers, its Prepare's persistent buffers."""

    params: tuple[int, int] | None
    opdata: int
    init: tuple[int, ...]  # persistent buffers Init allocates, after the OpData
    persistent: tuple[int, ...]

    @computed_once
    def least_bytes(self) -> int:
        """What its allocations take at the least (alignment only adds)."""
        return ((self.params[0] if self.params is not None else 0) + self.opdata
                + sum(self.init) + sum(self.persistent))


@dataclass(frozen=True)
class _OpTemporaries:
    """The (bytes, align) of the temporary structs of an op's input and output
    tensors in Prepare, in order. Apart from `_OpTail`: the tail's floor needs
    only that, and the explorer asks for it on candidates it never replays."""

    temporary: tuple[tuple[int, int], ...]
    # The structs from a start aligned to all their alignments: they take
    # `temp_bytes` (each aligned up from an aligned place, so the sum is the
    # same from any start that is a multiple of `temp_align`).
    temp_bytes: int = 0
    temp_align: int = 1


def _op_tail_items(abi: Abi, op: Operator, sg: Subgraph, target: Target) -> _OpTail:
    return memoised(op, "tail", lambda: _compute_op_tail(abi, op, sg, target), target, sg)


def _op_temporaries(abi: Abi, op: Operator, sg: Subgraph, target: Target) -> _OpTemporaries:
    return memoised(op, "tail_temp", lambda: _compute_temporaries(abi, op, sg), target, sg)


def _packed(start: int, structs: tuple[tuple[int, int], ...]) -> int:
    """Where (bytes, alignment) structs placed one after another from `start` end."""
    end = start
    for n, a in structs:
        end = _align_up(end, a) + n
    return end


def _compute_op_tail(abi: Abi, op: Operator, sg: Subgraph, target: Target) -> _OpTail:
    rule = rule_for(op)
    params = abi.params.get(rule.params) if rule.params is not None else None
    return _OpTail(params=params, opdata=rule.opdata.bytes_for(target),
                   init=tuple(_persistent(rule.init, op, sg, target)),
                   persistent=tuple(_persistent(rule.persistent, op, sg, target)))


def _compute_temporaries(abi: Abi, op: Operator, sg: Subgraph) -> _OpTemporaries:
    temporary = tuple((n, a) for t in op.inputs + op.outputs if t >= 0
                      for n, a, _ in _tensor_structs(abi, sg, t))
    return _OpTemporaries(temporary=temporary, temp_bytes=_packed(0, temporary),
                          temp_align=max((a for _, a in temporary), default=1))


def _persistent(buffers, op: Operator, sg: Subgraph, target: Target) -> list[int]:
    """The sizes a rule's `persistent` or `init` function gives (none where the op's
    shapes cannot be read)."""
    try:
        return [n for n in buffers(op, sg, target) if n > 0]
    except (IndexError, ValueError, ZeroDivisionError):
        return []


def _resource_variables(model: Model) -> int:
    names = {str(op.options.get("shared_name", "")) for sg in model.subgraphs
             for op in sg.operators if rule_for(op).makes_resource}
    return len(names)


# A size well above any model, 16-aligned as the firmware's default arena.
_LARGE = 1 << 40


def plan_tail(model: Model, target: Target, head_bytes: int,
              scratch_per_op: dict[tuple[int, int], int], planned_buffers: int,
              offline: list[int] | None = None) -> TailPlan:
    moves = _compile(allocation_steps(model, target, head_bytes, scratch_per_op,
                                      planned_buffers, offline))
    # The tail at the large arena, where every check passes (the moves replay the
    # steps' bytes and alignments exactly).
    tail = _LARGE
    for n, a, _ in moves:
        tail = (tail - n) // a * a
    tail = _LARGE - tail
    required = smallest_working(lambda n: _fits_compiled(moves, n), head_bytes + tail)

    return TailPlan(tail_bytes=tail, required_bytes=required,
                    steps=AllocationSteps(lambda: model, target, head_bytes, scratch_per_op,
                                          planned_buffers, offline))


class AllocationSteps:
    """`allocation_steps` for a tail plan, replayed only when a breakdown is
    asked for (a search plans thousands of candidates and reads two figures).

    It pickles without its model and target (a search's forked workers send
    plans back): the receiver gives them again with `reattach`."""

    def __init__(self, model_of: Callable[[], Model], target: Target, head_bytes: int,
                 scratch_per_op: dict[tuple[int, int], int], planned_buffers: int,
                 offline: list[int] | None):
        self.model_of: Callable[[], Model] | None = model_of
        self.target: Target | None = target
        self.args = (head_bytes, scratch_per_op, planned_buffers, offline)

    def __call__(self) -> list[tuple]:
        if self.model_of is None:
            raise RuntimeError("a received tail plan needs reattach() before its breakdown")
        return allocation_steps(self.model_of(), self.target, *self.args)

    def __getstate__(self) -> dict:
        return {"model_of": None, "target": None, "args": self.args}

    def reattach(self, model_of: Callable[[], Model], target: Target) -> None:
        self.model_of, self.target = model_of, target


def tail_floor(model: Model, target: Target, scratch_requests: int) -> int:
    """A lower bound of the tail, without the replay: each allocation takes at
    least its bytes (alignment only adds)."""
    abi = abi_for(target)
    tail = sum(abi.allocator_objects) + abi.builtin_data_allocator
    tail += abi.subgraph_allocations * len(model.subgraphs)
    tail += abi.scratch_handle * scratch_requests
    for sg in model.subgraphs:
        tail += abi.eval_tensor * len(sg.tensors) + abi.node_and_registration * len(sg.operators)
        tail += sum(_op_tail_items(abi, op, sg, target).least_bytes for op in sg.operators)
    main = model.main
    return tail + abi.pointer * (len(main.inputs) + len(main.outputs))


def required_floor(head_floor: int, tail_floor: int) -> int:
    """A lower bound of `plan_tail`'s required bytes for a head of at least
    `head_floor` bytes and a tail of at least `tail_floor`: `smallest_working`
    never answers below head + tail - 63. The explorer skips planning
    candidates whose floor cannot beat what it keeps."""
    return head_floor + tail_floor - 63


def smallest_working(ok: Callable[[int], bool], total: int) -> int:
    """The smallest size `ok` accepts, searched as the firmware's min_arena.sh does:
    from a bracket near `total` (head + tail), doubling until a size works, then
    bisecting (the boundary is monotone where probed). The tests search the real
    runtimes with it too."""
    lo, hi = max(total - 64, 0), _align_up(total, 16) + 64
    while not ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
