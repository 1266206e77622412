"""The activation-memory profile of a model: per layer, over time, and at the peak.

Built on one ArenaPlan (memory.planner), so the peak, the live curve and the
TFLM arena all come from the same lifetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..graph.cuts import narrow_points
from ..graph.ir import Model, Subgraph
from .layout import Layout, best_layout
from .planner import ArenaPlan, PlannedFigures, plan_model
from .requests import BufferRequest
from ..ops import is_known, op_macs
from ..targets import Target


# When the blocks after the peak one are too few to compare with (see Profile.imbalance).
MIN_TAIL_OPS = 3
MIN_TAIL_SHARE = 0.25


@dataclass
class TensorInfo:
    subgraph: int
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int

    def to_json(self) -> dict:
        return {"subgraph": self.subgraph, "index": self.index, "name": self.name,
                "shape": list(self.shape), "dtype": self.dtype, "bytes": self.bytes}


@dataclass
class Layer:
    index: int
    subgraph: int
    op: str
    scope: int
    name: str  # the first output's tensor name
    output_shape: tuple[int, ...]
    input_bytes: int  # activation inputs
    output_bytes: int
    scratch_bytes: int
    other_live_bytes: int  # everything else alive at this step
    live_bytes: int  # aligned bytes alive during this op (inputs, outputs, others, scratch)
    macs: int | None
    weights_bytes: int
    block: int = 0
    known: bool = True
    # Tail bytes this op takes (parsed options, kernel OpData, per-channel
    # arrays, kernel sums; alignment padding included) on the profile's target.
    persistent_bytes: int = 0

    def to_json(self) -> dict:
        return {
            "index": self.index, "subgraph": self.subgraph, "op": self.op, "name": self.name,
            "output_shape": list(self.output_shape), "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes, "scratch_bytes": self.scratch_bytes,
            "persistent_bytes": self.persistent_bytes,
            "other_live_bytes": self.other_live_bytes, "live_bytes": self.live_bytes,
            "macs": self.macs, "weights_bytes": self.weights_bytes, "block": self.block,
        }


@dataclass
class Block:
    index: int
    first_op: int
    last_op: int
    peak_bytes: int


@dataclass
class Profile(PlannedFigures):
    model: Model
    plan: ArenaPlan
    layers: list[Layer]
    blocks: list[Block]
    peak_layer: Layer | None
    peak_tensors: list[TensorInfo]
    layout: Layout | None
    macs: int
    unknown_mac_ops: list[str]
    weights_bytes: int
    notes: list[str] = field(default_factory=list)

    def alive_per_layer(self) -> list[list[tuple[int, int]]]:
        """For each layer, the tensors alive while it runs, as (subgraph, tensor index)
        in plan order. Computed on demand (JSON `steps`): a tensor of a subgraph called
        thousands of times spans thousands of scopes, so no per-scope lists are kept."""
        import numpy as np

        tensors = [b for b in self.plan.buffers if b.tensor is not None]
        firsts = np.array([b.first for b in tensors], dtype=np.int64)
        lasts = np.array([b.last for b in tensors], dtype=np.int64)
        return [[(tensors[i].subgraph, tensors[i].tensor)
                 for i in np.flatnonzero((firsts <= l.scope) & (lasts >= l.scope))]
                for l in self.layers]

    def imbalance(self) -> dict | None:
        """Peak of the blocks up to the peak block against the peak of all later ones.

        None where that says nothing: when the later blocks hold fewer than
        MIN_TAIL_OPS ops or under MIN_TAIL_SHARE of the main subgraph's ops
        (one block spanning nearly the whole net, as on a ResNet without
        narrow points, would give a ratio of the peak to a softmax).
        """
        if self.peak_layer is None or not self.blocks or self.peak_layer.subgraph != 0:
            return None
        pb = self.peak_layer.block
        rest = self.blocks[pb + 1:]
        tail_ops = sum(b.last_op - b.first_op + 1 for b in rest)
        n_ops = self.blocks[-1].last_op + 1
        if tail_ops < MIN_TAIL_OPS or tail_ops < MIN_TAIL_SHARE * n_ops:
            return None
        head = max(b.peak_bytes for b in self.blocks[: pb + 1])
        tail = max(b.peak_bytes for b in rest)
        return {"head_blocks": pb + 1, "head_peak_bytes": head, "tail_peak_bytes": tail,
                "ratio": round(head / tail, 2) if tail else None}


def profile_model(model: Model, search_layout: bool = True,
                  target: Target | None = None, plan: ArenaPlan | None = None) -> Profile:
    """The profile of a model on a target (None: the host tflite-micro wheel), planned
    as TFLM would (or with `plan`, e.g. an explored option's, so its figures are the
    option's own)."""
    plan = plan or plan_model(model, target=target)
    layers = _layers(model, plan)
    blocks = _assign_blocks(model.main, layers)
    peak_layer = None
    peak_tensors: list[TensorInfo] = []
    step = plan.peak_step()
    if step is not None:
        peak_layer = next(l for l in layers if l.scope == step.scope)
        peak_tensors = [_tensor_info(model, b) for b in plan.buffers
                        if b.first <= peak_layer.scope <= b.last and b.tensor is not None]
    layout = best_layout(model, plan) if search_layout else None
    macs = 0
    unknown = []
    for l in layers:
        if l.macs is None:
            unknown.append(l.op)
        else:
            macs += l.macs
    notes = []
    if any(not l.known for l in layers):
        notes.append("ops unknown to tinymem are profiled by their tensors; their MACs are unknown")
    return Profile(model=model, plan=plan, layers=layers, blocks=blocks, peak_layer=peak_layer,
                   peak_tensors=peak_tensors, layout=layout, macs=macs,
                   unknown_mac_ops=sorted(set(unknown)), weights_bytes=model.weights_bytes(),
                   notes=notes)


def _tensor_info(model: Model, b: BufferRequest) -> TensorInfo:
    t = model.subgraphs[b.subgraph].tensors[b.tensor]
    return TensorInfo(subgraph=b.subgraph, index=t.index, name=t.name or f"tensor_{t.index}",
                      shape=t.shape, dtype=t.dtype, bytes=t.nbytes)


def _layers(model: Model, plan: ArenaPlan) -> list[Layer]:
    # An op's own buffers are looked up; everything else alive is the live
    # total minus those (no per-scope lists: a tensor of a subgraph called
    # thousands of times spans thousands of scopes).
    tensor_buffer: dict[tuple[int, int], BufferRequest] = {}
    scratch_of: dict[tuple[int, int], list[BufferRequest]] = {}
    for b in plan.buffers:
        if b.tensor is not None:
            tensor_buffer[(b.subgraph, b.tensor)] = b
        else:
            scratch_of.setdefault((b.subgraph, b.op), []).append(b)
    layers = []
    persistent = plan.persistent_bytes_by_op()
    for step in plan.requests.steps:
        sg = model.subgraphs[step.subgraph]
        op = sg.operators[step.op]
        ins = {t for t in op.real_inputs() if sg.is_activation(t)}
        outs = {t for t in op.outputs if t >= 0}
        def alive_bytes(bufs) -> int:
            return sum(b.aligned for b in bufs if b is not None and b.first <= step.scope <= b.last)

        out_b = alive_bytes(tensor_buffer.get((sg.index, t)) for t in outs)
        in_b = alive_bytes(tensor_buffer.get((sg.index, t)) for t in ins - outs)
        scratch_b = alive_bytes(scratch_of.get((sg.index, op.index), ()))
        other_b = int(plan.live[step.scope]) - in_b - out_b - scratch_b
        weights = sum(model.buffers[sg.tensors[t].buffer].size for t in set(op.real_inputs())
                      if sg.tensors[t].has_data)
        first_out = sg.tensors[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
        layers.append(Layer(
            index=op.index, subgraph=sg.index, op=op.opcode, scope=step.scope,
            name=(first_out.name if first_out else "") or "",
            output_shape=first_out.shape if first_out else (),
            input_bytes=in_b, output_bytes=out_b, scratch_bytes=scratch_b,
            other_live_bytes=other_b, live_bytes=int(plan.live[step.scope]),
            macs=op_macs(op, sg), weights_bytes=weights, known=is_known(op),
            persistent_bytes=persistent.get((sg.index, op.index), 0)))
    return layers


def _assign_blocks(sg: Subgraph, layers: list[Layer]) -> list[Block]:
    """Group the main subgraph's ops into blocks, as a reader of the model would.

    A block ends at a narrow point: a single activation carries everything
    forward there and it is no larger than its neighbouring such tensors,
    as at the end of a MobileNet inverted-residual block.
    """
    main = [l for l in layers if l.subgraph == sg.index]
    if not main:
        return []
    cuts = sorted(p for p in narrow_points(sg) if p < len(sg.operators) - 1)
    blocks: list[Block] = []
    start = 0
    for end in cuts + [len(sg.operators) - 1]:
        if end < start:
            continue
        blocks.append(Block(index=len(blocks), first_op=start, last_op=end, peak_bytes=0))
        start = end + 1
    by_op = {l.index: l for l in main}
    for b in blocks:
        for i in range(b.first_op, b.last_op + 1):
            if i in by_op:
                by_op[i].block = b.index
                b.peak_bytes = max(b.peak_bytes, by_op[i].live_bytes)
    return blocks
