"""PAD folded into the convolution after it: exactly when SAME would pad the same.

One rule a row: the PAD must add SAME's rows and columns for that kernel,
stride and dilation, pad with the zero point, keep the quantization, and
feed only a VALID CONV_2D / DEPTHWISE_CONV_2D. The folded file is checked in
LiteRT and TFLite Micro (outputs bit for bit, the predicted head).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinymem
from tinymem.verify import runtimes
from tinymem.writer import write_option
from tinymem.schedules.explore import explore
from tinymem.schedules.fold_pad import fold_pads, foldable
from tinymem.verify.compare import verify_models

from .conftest import SHARED
from .tiny_models import BO, I8, I32, ModelBuilder, S, _opts


def _pad_conv(pads=((1, 1), (1, 1)), k=3, stride=1, hw=8, depthwise=False, conv_padding="VALID",
              pad_zp=-3, value=None, second_reader=False, seed=0) -> ModelBuilder:
    rng = np.random.default_rng(seed)
    g = ModelBuilder()
    c = 4
    x = g.tensor([1, hw, hw, c], I8, scale=0.05, zp=-3, name="x")
    (t, b), (l, r) = pads
    p = g.tensor([4, 2], I32, data=[[0, 0], [t, b], [l, r], [0, 0]])
    y = g.tensor([1, hw + t + b, hw + l + r, c], I8, scale=0.05, zp=pad_zp)
    if value is None:
        g.op(BO.PAD, [x, p], [y], _opts("Pad"))
    else:
        v = g.tensor([], I8, data=value, scale=0.05, zp=pad_zp)
        g.op(BO.PADV2, [x, p, v], [y], _opts("PadV2"))
    eff_in = hw + t + b if conv_padding == "VALID" else hw
    out_hw = (eff_in - k) // stride + 1 if conv_padding == "VALID" else -(-hw // stride)
    w_scale = rng.uniform(0.002, 0.01, size=c)
    wshape = [1, k, k, c] if depthwise else [c, k, k, c]
    w = g.tensor(wshape, I8, data=rng.integers(-127, 128, size=wshape), scale=w_scale,
                 zp=np.zeros(c, int), qdim=3 if depthwise else 0)
    bias = g.tensor([c], I32, data=rng.integers(-500, 500, size=c), scale=0.05 * w_scale,
                    zp=np.zeros(c, int))
    o = g.tensor([1, out_hw, out_hw, c], I8, scale=0.1, zp=1)
    kind = dict(padding=getattr(S.Padding, conv_padding), strideH=stride, strideW=stride,
                dilationHFactor=1, dilationWFactor=1)
    if depthwise:
        g.op(BO.DEPTHWISE_CONV_2D, [y, w, bias], [o], _opts("DepthwiseConv2D", depthMultiplier=1, **kind))
    else:
        g.op(BO.CONV_2D, [y, w, bias], [o], _opts("Conv2D", **kind))
    outs = [o]
    if second_reader:
        z = g.tensor(list(g.main.tensors[y].shape), I8, scale=0.05, zp=pad_zp)
        g.op(BO.RELU, [y], [z])
        outs.append(z)
    g.io([x], outs)
    return g


@pytest.mark.parametrize("kw, folds", [
    (dict(), True),                                        # 3x3 stride 1: SAME pads 1 each side
    (dict(depthwise=True), True),
    (dict(k=5, pads=((2, 2), (2, 2))), True),
    (dict(stride=2, pads=((0, 1), (0, 1))), True),         # stride 2, even input: SAME pads 0, 1
    (dict(stride=2, pads=((1, 1), (1, 1))), False),        # PyTorch's symmetric pad is not SAME
    (dict(pads=((1, 1), (0, 2))), False),                  # lopsided on one axis
    (dict(pad_zp=0), False),                               # pads with another zero point
    (dict(value=-3), True),                                # PADV2 with the zero point
    (dict(value=0), False),                                # PADV2 with another value
    (dict(second_reader=True), False),                     # the padded tensor is read again
    (dict(conv_padding="SAME"), False),                    # the conv pads already
])
def test_fold_rule(kw, folds):
    m = tinymem.parse_model(_pad_conv(**kw).to_bytes())
    assert bool(foldable(m.main)) == folds


def test_folding_removes_the_padded_tensor():
    m = tinymem.parse_model(_pad_conv().to_bytes())
    folded, n = fold_pads(m)
    assert n == 1 and [op.opcode for op in folded.main.operators] == ["CONV_2D"]
    assert folded.main.operators[0].options["padding"] == "SAME"
    assert [t.shape for t in folded.main.tensors if t.kind == "activation"] == \
        [(1, 8, 8, 4), (1, 8, 8, 4)]  # the 10x10 padded tensor is gone


needs_runtimes = pytest.mark.skipif(not (runtimes.have_litert() and runtimes.have_tflm()),
                                    reason="needs ai-edge-litert and tflite-micro")


@needs_runtimes
@pytest.mark.parametrize("kw", [dict(), dict(depthwise=True), dict(stride=2, pads=((0, 1), (0, 1))),
                                dict(value=-3)])
def test_folded_conv_is_exact(kw, tmp_path):
    src = _pad_conv(**kw).save(tmp_path / "pad.tflite")
    ex = explore(tinymem.load_model(src))
    o = next(o for o in ex.options if o.kind == "fold")
    out = tmp_path / "folded.tflite"
    write_option(o, out)
    report = verify_models(str(src), str(out), runs=3)
    assert all(r.ok for r in report.results), [(r.runtime, r.error) for r in report.results]
    assert runtimes.tflm_arena(str(out)).head == o.arena_bytes


@needs_runtimes
def test_folded_published_model_is_exact(tmp_path):
    src = SHARED / "mltk_kws_mobilenetv2.tflite"
    if not src.exists():
        pytest.skip("shared model mltk_kws_mobilenetv2 absent")
    model = tinymem.load_model(src)
    folded, n = fold_pads(model)
    ex_fold = next(o for o in explore(model).options if o.kind == "fold")
    out = tmp_path / "folded.tflite"
    write_option(ex_fold, out)
    report = verify_models(str(src), str(out), runs=2)
    assert all(r.ok for r in report.results), [(r.runtime, r.error) for r in report.results]
    head = runtimes.tflm_arena(str(out)).head
    assert head == ex_fold.arena_bytes < runtimes.tflm_arena(str(src)).head
