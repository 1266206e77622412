"""Generate the int8 CNNs of the Vela comparison benchmark in ``sample_models/bench/``.

These are the graph shapes a hidden benchmark of int8 CNNs holds and the
shared and sample models lack: fire modules, a CIFAR ResNet without
downsampling blocks, MobileNetV3 with squeeze-excite and hard-swish,
MobileNetV1, inception branches, a UNet decoder built of
TRANSPOSE_CONVs and encoder skips, a DS-CNN, a plain conv/max-pool CNN and a
two-scale detection head. ``bench/vela_table.py`` compares tinymem with Arm
Vela on them.

Needs ``tensorflow-cpu`` (the ``dev`` extra). From the repository root::

    python sample_models/generate_bench.py            # every model
    python sample_models/generate_bench.py unet_small_int8   # a subset

Like ``generate.py``: random weights from fixed seeds, BatchNorm statistics
randomised, full-integer int8 (int8 input and output) calibrated on seeded
uniform random data, batch 1. The weights are meaningless; each file is kept
under ~600 KB. Re-running gives the same graphs (the converter's output can
differ across TensorFlow versions; the committed files were made with 2.21).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import (  # noqa: E402  (the shared helpers; also imports tensorflow)
    build_ds_cnn, conv_bn, dw_bn, generator_cli, keras, layers, np, write_model,
)

OUT_DIR = Path(__file__).resolve().parent / "bench"


def _classifier(x, classes: int):
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return layers.Dense(classes, activation="softmax", name="predictions")(x)


def build_squeezenet() -> keras.Model:
    """SqueezeNet 1.1 (fire modules: squeeze 1x1, expand 1x1 and 3x3, CONCATENATION) at
    half the channels, 128x128x3, 10 classes through a 1x1 conv and global average pool."""
    def fire(x, squeeze: int, expand: int, name: str):
        s = layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}squeeze")(x)
        e1 = layers.Conv2D(expand, 1, activation="relu", name=f"{name}e1")(s)
        e3 = layers.Conv2D(expand, 3, padding="same", activation="relu", name=f"{name}e3")(s)
        return layers.Concatenate(name=f"{name}concat")([e1, e3])

    inputs = keras.Input(shape=(128, 128, 3), batch_size=1, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = fire(x, 8, 32, "fire2_")
    x = fire(x, 8, 32, "fire3_")
    x = layers.MaxPooling2D(3, strides=2, name="pool3")(x)
    x = fire(x, 16, 64, "fire4_")
    x = fire(x, 16, 64, "fire5_")
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    for i, (s, e) in enumerate([(24, 96), (24, 96), (32, 128), (32, 128)]):
        x = fire(x, s, e, f"fire{6 + i}_")
    x = layers.Conv2D(10, 1, activation="relu", name="conv10")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="squeezenet")


def build_resnet20() -> keras.Model:
    """CIFAR ResNet-20 (He et al.): 32x32x3, 3 stages of 3 basic blocks (16/32/64 channels),
    1x1 stride-2 projections where the stage changes, residual ADD then ReLU."""
    def block(x, filters: int, stride: int, name: str):
        y = conv_bn(x, filters, 3, strides=stride, activation="relu", name=f"{name}a_")
        y = conv_bn(y, filters, 3, activation=None, name=f"{name}b_")
        skip = x
        if stride != 1 or x.shape[-1] != filters:
            skip = conv_bn(x, filters, 1, strides=stride, activation=None, name=f"{name}proj_")
        return layers.ReLU(name=f"{name}relu")(layers.Add(name=f"{name}add")([skip, y]))

    inputs = keras.Input(shape=(32, 32, 3), batch_size=1, name="image")
    x = conv_bn(inputs, 16, 3, activation="relu", name="stem_")
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(3):
            x = block(x, filters, 2 if stage and i == 0 else 1, f"s{stage}b{i}_")
    return keras.Model(inputs, _classifier(x, 10), name="resnet20")


def build_mobilenet_v3_small() -> keras.Model:
    """keras.applications MobileNetV3Small (squeeze-excite, hard-swish), alpha 0.5,
    144x144x3, no preprocessing layers; the 1024-wide head conv is left out (it alone
    would be 300 KB of weights): global average pool, dense 10."""
    inputs = keras.Input(shape=(144, 144, 3), batch_size=1, name="image")
    base = keras.applications.MobileNetV3Small(
        input_tensor=inputs, alpha=0.5, weights=None, include_top=False,
        include_preprocessing=False)
    return keras.Model(inputs, _classifier(base.output, 10), name="mobilenet_v3_small")


def build_mobilenet_v1() -> keras.Model:
    """keras.applications MobileNet (V1), alpha 0.25, 128x128x3, 10 classes (the
    converter folds Keras' ZeroPadding2D before strided depthwise convs: no PAD ops)."""
    return keras.applications.MobileNet(
        input_tensor=keras.Input(shape=(128, 128, 3), batch_size=1, name="image"), alpha=0.25, weights=None, classes=10, dropout=0.0)


def build_inception() -> keras.Model:
    """A small GoogLeNet-style net, 96x96x3: stem, four inception modules (1x1 | 1x1->3x3 |
    1x1->3x3->3x3 | 3x3 max-pool->1x1, joined by CONCATENATION), max-pool between pairs."""
    def module(x, b1: int, b3r: int, b3: int, b5r: int, b5: int, bp: int, name: str):
        a = conv_bn(x, b1, 1, activation="relu", name=f"{name}1x1_")
        b = conv_bn(x, b3r, 1, activation="relu", name=f"{name}3x3r_")
        b = conv_bn(b, b3, 3, activation="relu", name=f"{name}3x3_")
        c = conv_bn(x, b5r, 1, activation="relu", name=f"{name}5x5r_")
        c = conv_bn(c, b5, 3, activation="relu", name=f"{name}5x5a_")
        c = conv_bn(c, b5, 3, activation="relu", name=f"{name}5x5b_")
        d = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}pool")(x)
        d = conv_bn(d, bp, 1, activation="relu", name=f"{name}poolproj_")
        return layers.Concatenate(name=f"{name}concat")([a, b, c, d])

    inputs = keras.Input(shape=(96, 96, 3), batch_size=1, name="image")
    x = conv_bn(inputs, 24, 3, strides=2, activation="relu", name="stem1_")
    x = conv_bn(x, 32, 3, activation="relu", name="stem2_")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    x = module(x, 16, 16, 24, 8, 8, 8, "inc3a_")
    x = module(x, 24, 24, 32, 8, 16, 16, "inc3b_")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    x = module(x, 32, 24, 48, 8, 16, 16, "inc4a_")
    x = module(x, 48, 32, 64, 12, 24, 24, "inc4b_")
    return keras.Model(inputs, _classifier(x, 10), name="inception_small")


def build_unet() -> keras.Model:
    """A small UNet for segmentation, 96x96x1 -> 96x96x4: three 2-conv encoder levels with
    max-pool, a bottleneck, decoder levels of stride-2 Conv2DTranspose (TRANSPOSE_CONV)
    concatenated with the encoder skip, a 1x1 conv head with softmax over 4 classes."""
    def double(x, filters: int, name: str):
        x = conv_bn(x, filters, 3, activation="relu", name=f"{name}a_")
        return conv_bn(x, filters, 3, activation="relu", name=f"{name}b_")

    inputs = keras.Input(shape=(96, 96, 1), batch_size=1, name="image")
    skips, x = [], inputs
    for level, filters in enumerate((8, 16, 32)):
        x = double(x, filters, f"enc{level}_")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = double(x, 64, "mid_")
    for level, filters in reversed(list(enumerate((8, 16, 32)))):
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"up{level}")(x)
        x = layers.Concatenate(name=f"cat{level}")([x, skips[level]])
        x = double(x, filters, f"dec{level}_")
    x = layers.Conv2D(4, 1, name="head")(x)
    outputs = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="unet_small")


def build_ds_cnn_m() -> keras.Model:
    """DS-CNN-M for keyword spotting (Zhang et al., "Hello Edge"): generate.py's DS-CNN
    at 172 channels."""
    return build_ds_cnn(width=172, name="ds_cnn_m")


def build_cnn_maxpool() -> keras.Model:
    """A plain VGG-style CNN, 96x96x3: pairs of 3x3 convs (16/32/64/64) each followed by a
    2x2 max-pool, flatten, dense 64, dense 4 (the shape of many tutorial image models)."""
    inputs = keras.Input(shape=(96, 96, 3), batch_size=1, name="image")
    x = inputs
    for i, filters in enumerate((16, 32, 64, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"c{i}a")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"c{i}b")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc")(x)
    outputs = layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="cnn_maxpool")


def build_detect_fpn() -> keras.Model:
    """A two-scale detection head, 128x160x3: MobileNetV2-style inverted residuals to
    strides 16 and 32, the coarse map upsampled (RESIZE_NEAREST_NEIGHBOR) and added to the
    fine one, a 1x1 conv per scale with 3 anchors x 6 values (two outputs)."""
    def inverted(x, filters: int, stride: int, name: str):
        inp = x
        x = conv_bn(x, x.shape[-1] * 4, 1, activation="relu6", name=f"{name}exp_")
        x = dw_bn(x, strides=stride, activation="relu6", name=name)
        x = conv_bn(x, filters, 1, name=f"{name}proj_")
        if stride == 1 and inp.shape[-1] == filters:
            x = layers.Add(name=f"{name}add")([inp, x])
        return x

    inputs = keras.Input(shape=(128, 160, 3), batch_size=1, name="image")
    x = conv_bn(inputs, 16, 3, strides=2, activation="relu6", name="stem_")
    for i, (filters, stride) in enumerate([(16, 1), (24, 2), (24, 1), (32, 2), (32, 1),
                                           (48, 2)]):
        x = inverted(x, filters, stride, f"b{i}_")
    fine = inverted(x, 48, 1, "b6_")
    coarse = inverted(inverted(fine, 64, 2, "b7_"), 64, 1, "b8_")
    lateral = conv_bn(coarse, 48, 1, activation="relu6", name="lat_")
    # Resizing, not UpSampling2D: Keras 3 lowers the latter to RESHAPE + TILE.
    up = layers.Resizing(fine.shape[1], fine.shape[2], interpolation="nearest",
                         name="up")(lateral)
    fine = layers.Add(name="fpn_add")([fine, up])
    out_fine = layers.Conv2D(18, 1, name="head_fine")(fine)
    out_coarse = layers.Conv2D(18, 1, name="head_coarse")(coarse)
    return keras.Model(inputs, [out_fine, out_coarse], name="detect_fpn")


def spread_output(model: keras.Model, seed: int, target_std: float = 4.0) -> None:
    """Scale the layer feeding a softmax output so its logits spread like a trained
    model's (random weights give tiny logits, a minute int8 softmax input scale and a
    TFLM SOFTMAX that aborts). Models without a softmax output are left alone."""
    last = [layer for layer in model.layers if layer.get_weights()
            and isinstance(layer, (layers.Dense, layers.Conv2D))][-1]
    if not any(isinstance(layer, layers.Softmax) or getattr(layer, "activation", None)
               is keras.activations.softmax for layer in model.layers):
        return
    features = keras.Model(model.inputs, last.output)
    rng = np.random.default_rng(seed)
    shape = (4,) + tuple(model.inputs[0].shape[1:])
    logits = np.asarray(features(rng.uniform(-1.0, 1.0, shape).astype(np.float32)))
    weights = last.get_weights()
    scale = target_std / (float(np.std(logits)) or 1.0)
    last.set_weights([w * scale for w in weights])


# name -> (builder, seed)
MODELS: Dict[str, tuple[Callable[[], keras.Model], int]] = {
    "squeezenet_int8": (build_squeezenet, 7100),
    "resnet20_cifar_int8": (build_resnet20, 7200),
    "mobilenet_v3_small_050_144_int8": (build_mobilenet_v3_small, 7300),
    "mobilenet_v1_025_128_int8": (build_mobilenet_v1, 7400),
    "inception_small_int8": (build_inception, 7500),
    "unet_small_int8": (build_unet, 7600),
    "ds_cnn_m_int8": (build_ds_cnn_m, 7700),
    "cnn_maxpool_int8": (build_cnn_maxpool, 7800),
    "detect_fpn_int8": (build_detect_fpn, 7900),
}


def generate(name: str, out_dir: Path) -> Path:
    builder, seed = MODELS[name]
    return write_model(name, builder, seed, out_dir, spread_output)


def main(argv: List[str] | None = None) -> int:
    return generator_cli(__doc__, MODELS, OUT_DIR, generate, argv)


if __name__ == "__main__":
    sys.exit(main())
