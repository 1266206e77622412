"""Table-driven unit tests of four small rules, a case a line, expected values worked by hand.

- the first-fit placement TFLite Micro's greedy planner uses (memory/greedy.py);
- `Window`, an op's output-to-input range on one spatial axis (ops/base.py);
- the single-entry single-exit segment finder (schedules/segments.py);
- the channel rules FDT follows per op type (ops registry and schedules/fdt.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from tinymem.graph.ir import Operator, Quantization, Subgraph, Tensor
from tinymem.memory.greedy import arena_size, greedy_offsets, place_in_order
from tinymem.memory.requests import BufferRequest
from tinymem.ops import REGISTRY, Window
from tinymem.schedules.fdt import _split_out_channels
from tinymem.schedules.segments import SegmentFinder

# --------------------------------------------------------------------------
# First fit. A buffer is (bytes, first scope, last scope) or with a 4th item,
# an offline offset. Sizes are rounded up to 16; the largest is placed first,
# equal sizes in reverse request order (TFLM fills its list from the back).

GREEDY = [
    # buffers                                         expected offsets   why
    ([(32, 0, 1)],                                     [0]),            # alone: at 0
    ([(16, 0, 1), (32, 0, 1)],                         [32, 0]),        # largest first, the other on top
    ([(32, 0, 0), (32, 1, 1)],                         [0, 0]),         # apart in time: same bytes
    ([(32, 0, 1), (32, 1, 2)],                         [32, 0]),        # scopes are inclusive: scope 1 shared
    ([(1, 0, 0), (1, 0, 0)],                           [16, 0]),        # 1 byte takes 16; ties: last request first
    ([(64, 0, 1), (32, 0, 3), (32, 2, 3)],             [0, 64, 0]),     # the third reuses the first's gap
    ([(64, 0, 0), (16, 0, 2), (64, 1, 2)],             [0, 64, 0]),     # 16 B cannot go under either 64
    ([(48, 0, 0), (16, 0, 1), (32, 1, 1)],             [0, 48, 0]),     # alive with both: above the larger
    ([(32, 0, 1, 0), (32, 0, 1)],                      [0, 32]),        # offline buffer keeps its offset
    ([(32, 0, 1, 64), (32, 0, 1)],                     [64, 0]),        # ... and the gap under it is free
    ([(16, 0, 1, 0), (16, 0, 1, 32), (16, 0, 1)],      [0, 32, 16]),    # a gap exactly the size fits
    ([(16, 0, 1, 0), (16, 0, 1, 24), (16, 0, 1)],      [0, 24, 40]),    # 8 B gap too small: above the top
    ([(32, -1, -1), (32, -1, -1), (32, 3, 4)],         [32, 0, 0]),     # never-used tensors overlap each other
]


def _requests(spec) -> list[BufferRequest]:
    return [BufferRequest(size=s[0], first=s[1], last=s[2], subgraph=0, tensor=i,
                          offline_offset=s[3] if len(s) > 3 else None)
            for i, s in enumerate(spec)]


@pytest.mark.parametrize("spec,expected", GREEDY, ids=[str(i) for i in range(len(GREEDY))])
def test_greedy_first_fit(spec, expected):
    assert greedy_offsets(_requests(spec)) == expected


PLACE_IN_ORDER = [
    # buffers                             order       expected
    ([(16, 0, 1), (32, 0, 1)],            [0, 1],     [0, 16]),   # the order given, not size order
    ([(16, 0, 1), (32, 0, 1)],            [1, 0],     [32, 0]),
    ([(16, 0, 0), (16, 1, 1), (16, 0, 1)], [2, 0, 1], [16, 16, 0]),
    ([(16, 0, 1, 48), (16, 0, 1)],        [1],        [48, 0]),   # offline placed even if not in order
]


@pytest.mark.parametrize("spec,order,expected", PLACE_IN_ORDER)
def test_place_in_order(spec, order, expected):
    assert place_in_order(_requests(spec), order) == expected


def _first_fit_by_hand(bufs: list[BufferRequest], order: list[int]) -> list[int]:
    """The rule spelled out: try offset 0, then the end of each placed, time-overlapping
    buffer in address order; take the first offset where the buffer clashes with none."""
    offsets = {i: b.offline_offset for i, b in enumerate(bufs) if b.offline_offset is not None}
    for i in order:
        if i in offsets:
            continue
        b = bufs[i]
        live = sorted((offsets[j], j) for j in offsets
                      if bufs[j].first <= b.last and b.first <= bufs[j].last)  # alive together
        top = 0
        for off, j in live:
            if off - top >= b.aligned:
                break
            top = max(top, off + bufs[j].aligned)
        offsets[i] = top
    return [offsets[i] for i in range(len(bufs))]


@pytest.mark.parametrize("seed", range(20))
def test_first_fit_matches_the_rule_on_random_lifetimes(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    spec = []
    for _ in range(n):
        first = int(rng.integers(-1, 30))
        item = [int(rng.choice([0, 1, 16, 17, 40, 64, 100, 256])), first,
                first + int(rng.integers(0, 10))]
        if rng.random() < 0.1:
            item.append(int(rng.integers(0, 8)) * 16)
        spec.append(tuple(item))
    bufs = _requests(spec)
    order = [int(i) for i in rng.permutation(n)]
    assert place_in_order(bufs, order) == _first_fit_by_hand(bufs, order)
    greedy = greedy_offsets(bufs)
    assert arena_size(bufs, greedy) == max((o + b.aligned for o, b in zip(greedy, bufs)), default=0)


# --------------------------------------------------------------------------
# Window: output rows [a, b) need input rows input_range(a, b, in_size).

WINDOWS = [
    # kernel stride dilation pad  a  b  in   input_range  padded_range
    (1, 1, 1, 0,  0, 4, 10,  (0, 4),  (0, 4)),     # pointwise: the same rows
    (3, 1, 1, 1,  0, 4, 10,  (0, 5),  (-1, 5)),    # 3x3 SAME: one halo row each side, clipped at 0
    (3, 1, 1, 1,  6, 10, 10, (5, 10), (5, 11)),    # ... and clipped at the end
    (3, 2, 1, 0,  1, 3, 9,   (2, 7),  (2, 7)),     # stride 2 VALID
    (3, 2, 1, 1,  3, 4, 8,   (5, 8),  (5, 8)),     # stride 2 SAME, last output row
    (2, 2, 1, 0,  0, 2, 4,   (0, 4),  (0, 4)),     # 2x2 pool: no overlap between outputs
    (3, 1, 2, 2,  0, 1, 10,  (0, 3),  (-2, 3)),    # dilation 2: taps 2 apart
    (5, 1, 1, 2,  7, 8, 8,   (5, 8),  (5, 10)),    # 5 taps at the last row: two past the end
    (1, 4, 1, 0,  2, 3, 12,  (8, 9),  (8, 9)),     # 1x1 stride 4: one row, four apart
]


@pytest.mark.parametrize("k,s,d,p,a,b,n,expected,padded", WINDOWS)
def test_window_ranges(k, s, d, p, a, b, n, expected, padded):
    w = Window(kernel=k, stride=s, dilation=d, pad_before=p)
    assert w.input_range(a, b, n) == expected
    assert w.padded_range(a, b) == padded


# --------------------------------------------------------------------------
# Segments. A graph is a list of ops "IN1,IN2>OUT"; tensors named w* are
# constants, everything else an activation. Graph inputs: x (and x2).

GRAPHS = {
    "chain": (["x>a", "a>b", "b>y"], ["y"]),
    "residual": (["x>a", "a>b", "a,b>y"], ["y"]),
    "weights": (["x,w0>a", "a,w1>y"], ["y"]),
    "two_inputs": (["x,x2>a", "a>y"], ["y"]),
    "early_output": (["x>a", "a>y"], ["a", "y"]),
    "side_branch": (["x>a", "x>dead", "a>y"], ["y"]),
}

SEGMENTS = [
    # graph       first last  expected (entry, exit) or None
    ("chain",      0, 2,  ("x", "y")),
    ("chain",      0, 1,  ("x", "b")),
    ("chain",      1, 1,  ("a", "b")),
    ("residual",   0, 2,  ("x", "y")),
    ("residual",   1, 2,  ("a", "y")),     # `a` enters both ops: still one entry
    ("residual",   0, 1,  None),           # a and b both leave it: two exits
    ("residual",   1, 1,  ("a", "b")),
    ("weights",    0, 1,  ("x", "y")),     # constants are not entries
    ("two_inputs", 0, 1,  None),           # two entries
    ("two_inputs", 1, 1,  ("a", "y")),
    ("early_output", 0, 1, None),          # a is a graph output: a second exit
    ("side_branch", 0, 1, None),           # its exit `a` is not written by its last op
    ("side_branch", 0, 2, ("x", "y")),     # the unread `dead` is no exit
]


def _graph(ops_spec, outputs):
    names: dict[str, int] = {}
    tensors: list[Tensor] = []

    def t(name):
        if name not in names:
            names[name] = len(tensors)
            tensors.append(Tensor(index=len(tensors), name=name, shape=(1, 4, 4, 8),
                                  dtype="int8", buffer=1 if name.startswith("w") else 0,
                                  has_data=name.startswith("w")))
        return names[name]

    ops = []
    for i, spec in enumerate(ops_spec):
        ins, out = spec.split(">")
        ops.append(Operator(index=i, opcode="ADD", inputs=tuple(t(n) for n in ins.split(",")),
                            outputs=(t(out),)))
    inputs = tuple(names[n] for n in ("x", "x2") if n in names)
    sg = Subgraph(index=0, name="g", tensors=tensors, operators=ops, inputs=inputs,
                  outputs=tuple(t(n) for n in outputs))
    return sg, {v: k for k, v in names.items()}


@pytest.mark.parametrize("graph,first,last,expected", SEGMENTS)
def test_segment_finder(graph, first, last, expected):
    sg, name = _graph(*GRAPHS[graph])
    seg = SegmentFinder(sg).segment(first, last)
    got = None if seg is None else (name[seg.entry], name[seg.exit])
    assert got == expected


# --------------------------------------------------------------------------
# Channel rules. Which ops FDT may split by output channels ("split_out"),
# which compute each channel on its own ("channelwise"), which it stops at.

CHANNEL_KINDS = [
    ("CONV_2D", "split_out"),             # output channel j needs filter j only
    ("FULLY_CONNECTED", "split_out"),     # output unit j needs weight row j only
    ("DEPTHWISE_CONV_2D", "channelwise"),  # channel c reads input channel c only
    ("MAX_POOL_2D", "channelwise"),
    ("AVERAGE_POOL_2D", "channelwise"),
    ("RELU", "channelwise"),
    ("ADD", "channelwise"),
    ("PAD", "channelwise"),                # pads H and W, never C (the splitter checks)
    ("RESHAPE", "channelwise"),            # only while the channel axis stays last
    ("MEAN", "channelwise"),               # over H, W: each channel's own mean
    ("SOFTMAX", "none"),                   # normalises across channels
    ("CONCATENATION", "concat"),          # parts may start at its inputs or end in it
    ("EXPAND_DIMS", "channelwise"),        # a view: only while the channel axis stays last
    ("TRANSPOSE_CONV", "split_out"),       # output channel j needs filter j only
    ("TRANSPOSE", "none"),                 # moves the channel axis
    ("MIRROR_PAD", "none"),
]


@pytest.mark.parametrize("opcode,kind", CHANNEL_KINDS)
def test_channel_kind_of_op(opcode, kind):
    assert REGISTRY[opcode].channels == kind


def _q(n=1, dim=0):
    return Quantization(scale=(0.1,) * n, zero_point=(0,) * n, quantized_dimension=dim)


def _op_graph(opcode, x_shape, w_shape, y_shape, options=None, x_const=False, w_dim=0,
              w_dtype="int8"):
    n_w = w_shape[w_dim]
    tensors = [
        Tensor(0, "x", x_shape, "int8", has_data=x_const, buffer=2 if x_const else 0,
               quantization=_q()),
        Tensor(1, "w", w_shape, w_dtype, buffer=1, has_data=True, quantization=_q(n_w, w_dim)),
        Tensor(2, "y", y_shape, "int8", quantization=_q()),
    ]
    op = Operator(0, opcode, (0, 1), (2,), options=options or {})
    return Subgraph(0, "g", tensors, [op], (0,), (2,)), op


SPLIT_OUT = [
    # op, x shape, w shape, y shape, extra                       -> output channels to split, or None
    ("CONV_2D", (1, 8, 8, 3), (16, 3, 3, 3), (1, 8, 8, 16), {},                16),
    ("CONV_2D", (1, 8, 8, 4), (16, 3, 3, 2), (1, 8, 8, 16), {},                None),  # grouped conv
    ("CONV_2D", (1, 8, 8, 3), (16, 3, 3, 3), (1, 8, 8, 16), {"x_const": True}, None),  # no activation in
    ("CONV_2D", (1, 8, 8, 3), (16, 3, 3, 3), (1, 8, 8, 16), {"w_dtype": "int4"}, None),  # packed weights
    ("FULLY_CONNECTED", (1, 64), (10, 64), (1, 10), {},                        10),
    ("FULLY_CONNECTED", (1, 64), (10, 64), (1, 10),
     {"options": {"weights_format": 1}},                                       None),  # shuffled weights
    ("DEPTHWISE_CONV_2D", (1, 8, 8, 1), (1, 3, 3, 8), (1, 8, 8, 8), {"w_dim": 3}, 8),  # one channel in
    ("DEPTHWISE_CONV_2D", (1, 8, 8, 8), (1, 3, 3, 8), (1, 8, 8, 8), {"w_dim": 3}, None),  # channel-wise
    ("ADD", (1, 8, 8, 3), (1, 8, 8, 3), (1, 8, 8, 3), {},                      None),  # not a splitter
]


@pytest.mark.parametrize("opcode,x,w,y,extra,expected", SPLIT_OUT)
def test_split_out_channels(opcode, x, w, y, extra, expected):
    sg, op = _op_graph(opcode, x, w, y, **extra)
    assert _split_out_channels(sg, op) == expected
