"""Generate the sample TFLite models shipped in ``sample_models/``.

Requirements
------------
This script needs ``tensorflow-cpu`` (part of the ``dev`` extra, not a
runtime dependency of tinymem).  Run it from the repository root::

    python sample_models/generate.py            # (re)build every model
    python sample_models/generate.py ds_cnn_kws_int8 cnn_float32   # a subset

Every model is built in Keras with random weights drawn from fixed seeds and
converted with the TFLite converter.  The quantized models are full-integer
int8 (int8 input and int8 output tensors, calibrated on seeded random data),
so they contain no QUANTIZE/DEQUANTIZE ops at the edges.  All inputs have a
fixed batch size of 1.  The weights are meaningless; the models exist only
to exercise the memory profiler.

Models
------
``mobilenet_v2_035_144_int8.tflite``
    MobileNetV2, width multiplier 0.35, 144x144x3 input, 1000 classes, int8.
    Built here (not via ``keras.applications``) with ``padding='same'`` in
    every convolution so that the converted graph has no PAD ops.  Standard
    structure: 3x3 stride-2 stem, 17 inverted-residual blocks (expansion 6
    except the first block), ReLU6, residual ADD when stride is 1 and the
    channel counts match, a final 1x1 conv with 1280 channels (not scaled
    for width <= 1), global average pool, dense + softmax.  Channel counts
    use the usual ``make_divisible(x, 8)``.  The TFLite Micro arena head is
    311,040 bytes = 72*72*48 (block 1 expanded) + 36*36*48 (its stride-2
    depthwise output).
``mobilenet_v2_100_224_int8.tflite``
    The same builder at width 1.0 and 224x224x3, int8.  TFLite Micro arena
    head 1,505,280 bytes = 112*112*96 + 56*56*96.
``ds_cnn_kws_int8.tflite``
    Keyword-spotting DS-CNN (MLPerf Tiny style): 49x10x1 MFCC input, a
    10x4 stride-2 conv with 64 channels, 4 depthwise-separable blocks of 64
    channels, average pool, dense 12, softmax.  int8.
``resnet_skip_int8.tflite``
    Small CIFAR-style ResNet: 32x32x3 input, 3x3 stem conv, three residual
    blocks with ADD skip connections (the second downsamples and uses a 1x1
    stride-2 projection shortcut), average pool, dense 10, softmax.  int8.
``cnn_float32.tflite``
    Small float32 CNN, not quantized: 64x64x3 input, conv, max-pool, conv,
    max-pool, dense 10, softmax.
``conv1d_audio_int8.tflite``
    Small 1-D audio model on a raw 1x16000x1 waveform: three Conv1D layers
    with pooling, global average pool, dense 10, softmax.  int8.
``mobilenet_v2_035_144_uint8in.tflite``
    The int8 MobileNetV2 0.35/144 with a uint8 input, as model zoos ship
    them: the converter's ``inference_input_type=tf.uint8`` puts a QUANTIZE
    (uint8 -> int8, same scale, zero point + 128) in front.  TFLM has no
    uint8 kernel for most ops, so a patch stage must slice the int8 tensor.
    The committed file was made without TensorFlow by
    ``make_uint8_input.py`` from ``mobilenet_v2_035_144_int8.tflite`` (the
    same graph this recipe gives, on the same weights); this recipe
    retrains nothing but calibrates afresh, so its weights differ.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Callable, Dict, Iterator, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

try:
    import numpy as np
    import tensorflow as tf
except ImportError as exc:  # pragma: no cover - only hit without the dev extra
    sys.exit(
        f"generate.py needs tensorflow-cpu (pip install tensorflow-cpu, or the "
        f"'dev' extra): {exc}"
    )

keras = tf.keras
layers = keras.layers

OUT_DIR = Path(__file__).resolve().parent
CALIBRATION_SAMPLES = 16


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (MobileNet rule).

    The result never drops below ``min_value`` (default ``divisor``) and is
    bumped up by one ``divisor`` if rounding down lost more than 10 %.
    """
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def _bn_act(x, activation: str | None, prefix: str):
    """BatchNorm (+ optional activation), layers named `prefix`bn, `prefix`relu6 ..."""
    x = layers.BatchNormalization(name=f"{prefix}bn")(x)
    if activation == "relu6":
        x = layers.ReLU(6.0, name=f"{prefix}relu6")(x)
    elif activation == "relu":
        x = layers.ReLU(name=f"{prefix}relu")(x)
    return x


def conv_bn(x, filters: int, kernel, strides=1, activation: str | None = None, name: str = ""):
    """Conv2D (no bias) + BatchNorm (+ optional activation); BN folds on conversion."""
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}conv"
    )(x)
    return _bn_act(x, activation, name)


def dw_bn(x, strides=1, activation: str | None = None, name: str = ""):
    """3x3 DepthwiseConv2D (no bias) + BatchNorm (+ optional activation)."""
    x = layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, name=f"{name}dw"
    )(x)
    return _bn_act(x, activation, f"{name}dw_")


def randomize_batchnorm(model: keras.Model, seed: int) -> None:
    """Give every BatchNorm layer seeded, non-trivial statistics.

    Keeps activations in a sane range so the int8 calibration is realistic.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            n = gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                    rng.uniform(-0.1, 0.1, n).astype(np.float32),
                    rng.uniform(-0.1, 0.1, n).astype(np.float32),
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                ]
            )


def spread_logits(model: keras.Model, seed: int, target_std: float = 4.0) -> None:
    """Scale the classifier so its logits spread like a trained model's.

    With random weights the logits are tiny, the int8 softmax input scale
    comes out minute, and TFLite Micro's int8 SOFTMAX aborts at invoke. A
    logit spread of a few units keeps every kernel in its supported range.
    """
    dense = model.get_layer("predictions")
    features = keras.Model(model.inputs, dense.input)
    rng = np.random.default_rng(seed)
    shape = (8,) + tuple(model.inputs[0].shape[1:])
    feats = np.asarray(features(rng.uniform(-1.0, 1.0, shape).astype(np.float32)))
    kernel, bias = dense.get_weights()
    std = float(np.std(feats @ kernel + bias)) or 1.0
    dense.set_weights([kernel * (target_std / std), bias * (target_std / std)])


# ---------------------------------------------------------------------------
# model builders
# ---------------------------------------------------------------------------

# (expansion t, output channels c, repeats n, first stride s) -- MobileNetV2 paper
MOBILENET_V2_BLOCKS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def inverted_residual(x, expansion: int, filters: int, stride: int, alpha: float, block_id: int):
    in_channels = x.shape[-1]
    pointwise_filters = make_divisible(int(filters * alpha), 8)
    prefix = f"block_{block_id}_"
    inputs = x
    if expansion != 1:
        x = conv_bn(x, expansion * in_channels, 1, activation="relu6", name=f"{prefix}expand_")
    x = dw_bn(x, strides=stride, activation="relu6", name=prefix)
    x = conv_bn(x, pointwise_filters, 1, activation=None, name=f"{prefix}project_")
    if stride == 1 and in_channels == pointwise_filters:
        x = layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def build_mobilenet_v2(alpha: float, size: int, classes: int = 1000) -> keras.Model:
    inputs = keras.Input(shape=(size, size, 3), batch_size=1, name="input")
    first_filters = make_divisible(32 * alpha, 8)
    x = conv_bn(inputs, first_filters, 3, strides=2, activation="relu6", name="stem_")
    block_id = 0
    for t, c, n, s in MOBILENET_V2_BLOCKS:
        for i in range(n):
            x = inverted_residual(x, t, c, s if i == 0 else 1, alpha, block_id)
            block_id += 1
    # As in keras.applications: the last conv is only widened for alpha > 1.
    last_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = conv_bn(x, last_filters, 1, activation="relu6", name="head_")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(x)
    name = f"mobilenet_v2_{int(round(alpha * 100)):03d}_{size}"
    return keras.Model(inputs, outputs, name=name)


def build_ds_cnn(width: int = 64, name: str = "ds_cnn_kws") -> keras.Model:
    """A DS-CNN for keyword spotting on a 49x10x1 MFCC: a 10x4 stride-2 conv of `width`
    channels, 4 depthwise-separable blocks of `width`, average pool, 12 classes."""
    inputs = keras.Input(shape=(49, 10, 1), batch_size=1, name="mfcc")
    x = conv_bn(inputs, width, (10, 4), strides=2, activation="relu", name="stem_")
    for i in range(4):
        x = dw_bn(x, activation="relu", name=f"ds{i}_")
        x = conv_bn(x, width, 1, activation="relu", name=f"ds{i}_pw_")
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]), name="avg_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(12, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def residual_block(x, filters: int, stride: int, name: str):
    shortcut = x
    y = conv_bn(x, filters, 3, strides=stride, activation="relu", name=f"{name}a_")
    y = conv_bn(y, filters, 3, activation=None, name=f"{name}b_")
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, strides=stride, activation=None, name=f"{name}proj_")
    y = layers.Add(name=f"{name}add")([shortcut, y])
    return layers.ReLU(name=f"{name}out_relu")(y)


def build_resnet_skip() -> keras.Model:
    inputs = keras.Input(shape=(32, 32, 3), batch_size=1, name="image")
    x = conv_bn(inputs, 16, 3, activation="relu", name="stem_")
    x = residual_block(x, 16, 1, "res1_")
    x = residual_block(x, 32, 2, "res2_")  # 1x1 stride-2 projection shortcut
    x = residual_block(x, 32, 1, "res3_")
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]), name="avg_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet_skip")


def build_cnn_float() -> keras.Model:
    inputs = keras.Input(shape=(64, 64, 3), batch_size=1, name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(4, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="cnn_float32")


def build_conv1d_audio() -> keras.Model:
    inputs = keras.Input(shape=(16000, 1), batch_size=1, name="waveform")
    x = layers.Conv1D(8, 13, strides=4, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling1D(4, name="pool1")(x)
    x = layers.Conv1D(16, 9, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(4, name="pool2")(x)
    x = layers.Conv1D(32, 9, padding="same", activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="conv1d_audio")


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------


def representative_dataset(shape, seed: int) -> Callable[[], Iterator[List[np.ndarray]]]:
    def gen():
        rng = np.random.default_rng(seed)
        for _ in range(CALIBRATION_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)]

    return gen


def convert(model: keras.Model, int8: bool, seed: int, uint8_input: bool = False) -> bytes:
    input_shape = tuple(model.inputs[0].shape)  # batch dimension is fixed to 1
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset(input_shape, seed + 1)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # uint8: the converter adds a QUANTIZE (uint8 -> int8) as the first op.
        converter.inference_input_type = tf.uint8 if uint8_input else tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


# name -> (builder, int8?, seed)
MODELS: Dict[str, tuple] = {
    "mobilenet_v2_035_144_int8": (lambda: build_mobilenet_v2(0.35, 144), True, 1035),
    "mobilenet_v2_100_224_int8": (lambda: build_mobilenet_v2(1.0, 224), True, 1100),
    "ds_cnn_kws_int8": (build_ds_cnn, True, 2000),
    "resnet_skip_int8": (build_resnet_skip, True, 3000),
    "cnn_float32": (build_cnn_float, False, 4000),
    "conv1d_audio_int8": (build_conv1d_audio, True, 5000),
    "mobilenet_v2_035_144_uint8in": (lambda: build_mobilenet_v2(0.35, 144), True, 1035),
}
# Models whose input the converter makes uint8 (a QUANTIZE to int8 first).
UINT8_INPUT = {"mobilenet_v2_035_144_uint8in"}


def write_model(name: str, builder, seed: int, out_dir: Path, spread, int8: bool = True,
                uint8_input: bool = False) -> Path:
    """Build a Keras model from fixed seeds, randomise its BatchNorm statistics, spread its
    output (`spread(model, seed)`), convert and write `<name>.tflite` into `out_dir`."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = builder()
    randomize_batchnorm(model, seed)
    spread(model, seed)
    # Keras' SavedModel export (used by the converter) prints a long summary.
    with contextlib.redirect_stdout(io.StringIO()):
        flatbuffer = convert(model, int8, seed, uint8_input=uint8_input)
    path = out_dir / f"{name}.tflite"
    path.write_bytes(flatbuffer)
    return path


def generate(name: str, out_dir: Path) -> Path:
    builder, int8, seed = MODELS[name]
    return write_model(name, builder, seed, out_dir, spread_logits, int8,
                       uint8_input=name in UINT8_INPUT)


def generator_cli(doc: str, models, out_dir: Path, build, argv: List[str] | None) -> int:
    """The command line of a generator script: build the named models (default all) into
    `out_dir` with `build(name, out_dir) -> path`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "models", nargs="*", metavar="MODEL",
        help=f"models to build (default: all of {', '.join(models)})",
    )
    parser.add_argument("--out-dir", type=Path, default=out_dir, help="output directory")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in models]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.models or list(models):
        path = build(name, args.out_dir)
        print(f"{path}: {path.stat().st_size} bytes", flush=True)
    return 0


def main(argv: List[str] | None = None) -> int:
    return generator_cli(__doc__, MODELS, OUT_DIR, generate, argv)


if __name__ == "__main__":
    sys.exit(main())
