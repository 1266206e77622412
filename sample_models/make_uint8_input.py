#!/usr/bin/env python3
"""Give an int8 sample model a uint8 input, as model zoos ship them.

TensorFlow's converter with ``inference_input_type=tf.uint8`` makes a model
whose input is uint8 and whose first op is a QUANTIZE to the int8 tensor the
network reads (same scale, zero point + 128). TensorFlow is not installed
here, so this script makes that exact graph from a committed int8 sample:
a new uint8 input tensor, a QUANTIZE op in front, everything else byte for
byte the same. `generate.py` holds the equivalent converter recipe
(``mobilenet_v2_035_144_uint8in``).

    python sample_models/make_uint8_input.py            # -> mobilenet_v2_035_144_uint8in.tflite

Needs the TFLite schema's object API from the tflite-micro package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

HERE = Path(__file__).resolve().parent


def with_uint8_input(data: bytes) -> bytes:
    model = S.ModelT.InitFromPackedBuf(bytearray(data), 0)
    sg = model.subgraphs[0]
    (x,) = sg.inputs
    old = sg.tensors[x]
    if old.type != S.TensorType.INT8 or old.quantization is None:
        raise SystemExit("the model's input is not a quantized int8 tensor")
    q = S.QuantizationParametersT()
    q.scale = list(old.quantization.scale)
    q.zeroPoint = [int(z) + 128 for z in old.quantization.zeroPoint]
    q.quantizedDimension = 0
    t = S.TensorT()
    t.shape, t.type, t.buffer, t.quantization = list(old.shape), S.TensorType.UINT8, 0, q
    t.shapeSignature = list(old.shapeSignature) if old.shapeSignature is not None else None
    t.name = (old.name or b"input") + b"_uint8" if isinstance(old.name, bytes) else \
        (old.name or "input") + "_uint8"
    sg.tensors.append(t)
    new = len(sg.tensors) - 1

    code = S.OperatorCodeT()
    code.builtinCode = S.BuiltinOperator.QUANTIZE
    code.deprecatedBuiltinCode = S.BuiltinOperator.QUANTIZE
    code.version = 1
    model.operatorCodes.append(code)
    op = S.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [new], [x]
    op.builtinOptionsType = S.BuiltinOptions.QuantizeOptions
    op.builtinOptions = S.QuantizeOptionsT()
    sg.operators.insert(0, op)
    sg.inputs = [new]
    for sig in model.signatureDefs or []:
        for io in sig.inputs or []:
            if io.tensorIndex == x:
                io.tensorIndex = new
    b = flatbuffers.Builder(len(data) + 4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", nargs="?", type=Path, default=HERE / "mobilenet_v2_035_144_int8.tflite")
    p.add_argument("out", nargs="?", type=Path, default=HERE / "mobilenet_v2_035_144_uint8in.tflite")
    args = p.parse_args(argv)
    args.out.write_bytes(with_uint8_input(args.source.read_bytes()))
    print(f"{args.out}: {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
