"""Detector overhead: median raw invoke vs median full detect() on a 1280x720 frame.

full detect = resize + tensor prep + invoke + output decode (+ NMS for NanoDet); image
decoding excluded. The reference, measured in the same run and interleaved with it, is
the raw interpreter invoke on an already prepared tensor; "everything but invoke" is
their difference. For NanoDet a naive decode (every anchor softmaxed and boxed, NMS in a
Python loop — what a straight port of upstream's post-processing does) is timed on the
same outputs as a second reference.

Targets: SSD overhead <= 25 % of invoke; NanoDet everything-but-invoke <= 1.5 ms.

--compare OTHER.tflite times a second model file (e.g. the NCHW NanoDet from before issue 18)
in the same run: rounds interleaved, the order alternating, and its medians / this model's
medians printed as ratios (> 1: this model is faster).

    .venv/bin/python bench/detect_overhead.py [--rounds 300] [--model coco|person|coco:cpu-float]
                                              [--compare OTHER.tflite] [--threads N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import skimage.data

from app.config import DetectorConfig
from app.detect import ModelStore, open_detector
from app.detect.engine import TfliteDetector
from app.detect.factory import resolve_model
from app.detect.nanodet import Layout, map_heads
from app.detect.preprocess import prepare


def frame_720p() -> np.ndarray:
    """A real 1280x720 scene: the garage photo (a motorcycle) with the astronaut standing in it."""
    garage_rgb = np.asarray(skimage.data.stereo_motorcycle()[0])  # type: ignore[no-untyped-call]
    astronaut_rgb = np.asarray(skimage.data.astronaut())  # type: ignore[no-untyped-call]
    frame = cv2.resize(cv2.cvtColor(garage_rgb, cv2.COLOR_RGB2BGR), (1280, 720))
    frame[380:680, 800:1100] = cv2.resize(cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR), (300, 300))
    return np.ascontiguousarray(frame)


def naive_decode(raw: dict[int, npt.NDArray[Any]], layout: Layout, min_score: float) -> list[tuple[int, float]]:
    """The straight port: dequantize and decode every anchor, then greedy NMS per class in Python."""
    cands: list[tuple[float, int, tuple[float, float, float, float]]] = []
    for head in layout.heads:
        s = raw[head.scores].reshape(-1, layout.classes).astype(np.float32)
        b = raw[head.boxes].reshape(-1, 4, layout.bins).astype(np.float32)
        if head.scores_quant:
            s = (s - head.scores_quant[1]) * head.scores_quant[0]
        if head.boxes_quant:
            b = (b - head.boxes_quant[1]) * head.boxes_quant[0]
        p = np.exp(b - b.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        dist = (p * np.arange(layout.bins)).sum(axis=2) * head.stride
        for j in range(s.shape[0]):
            c = int(s[j].argmax())
            if s[j, c] >= min_score:
                cx, cy = head.centres[j]
                box = (cx - dist[j, 0], cy - dist[j, 1], cx + dist[j, 2], cy + dist[j, 3])
                cands.append((float(s[j, c]), c, box))
    cands.sort(key=lambda t: -t[0])
    kept: list[tuple[float, int, tuple[float, float, float, float]]] = []
    for score, c, box in cands:
        if all(k[1] != c or _iou(k[2], box) <= 0.6 for k in kept):
            kept.append((score, c, box))
    return [(c, score) for score, c, _ in kept]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def open_cpu(model: str, threads: int | None) -> TfliteDetector:
    """The CPU detector as the appliance opens it, or with `threads` interpreter threads."""
    config = DetectorConfig(type="cpu", model=model)
    if threads is None:
        detector = open_detector(config)
        assert isinstance(detector, TfliteDetector)
        return detector
    store = ModelStore()
    spec = resolve_model(config, store, "cpu")
    store.verify(spec)
    return TfliteDetector(spec, backend="cpu", threads=threads)


def compare(detectors: list[TfliteDetector], names: list[str], frame: np.ndarray, rounds: int, floor: float) -> None:
    """Invoke, prep and full detect() of each detector, rounds interleaved, order alternating."""
    tensors = [prepare(frame, d._input).copy() for d in detectors]
    for _ in range(20):
        for d, t in zip(detectors, tensors, strict=True):
            d.detect(frame, floor)
            d._model.run(t)
    times: list[dict[str, list[float]]] = [{"invoke": [], "prep": [], "detect": []} for _ in detectors]
    for r in range(rounds):
        order = range(len(detectors)) if r % 2 == 0 else reversed(range(len(detectors)))
        for k in order:
            d, t = detectors[k], tensors[k]
            t0 = time.perf_counter()
            d._model.run(t)
            t1 = time.perf_counter()
            prepare(frame, d._input)
            t2 = time.perf_counter()
            d.detect(frame, floor)
            t3 = time.perf_counter()
            times[k]["invoke"].append((t1 - t0) * 1000)
            times[k]["prep"].append((t2 - t1) * 1000)
            times[k]["detect"].append((t3 - t2) * 1000)
    print(f"same run, {rounds} interleaved rounds (order alternating), medians:")
    for k, (d, name) in enumerate(zip(detectors, names, strict=True)):
        shape = "x".join(str(v) for v in d._model.input.shape)
        found = ", ".join(f"{x.label} {x.score:.2f}" for x in d.detect(frame, floor).items)
        print(f"  [{k}] {name} (input {shape}): {found}")
    print(f"  {'':8s}" + "".join(f"{f'[{k}]':>10s}" for k in range(len(detectors))) + "   [1]/[0]")
    for what in ("invoke", "prep", "detect"):
        medians = [statistics.median(t[what]) for t in times]
        cells = "".join(f"{m:7.2f} ms" for m in medians)
        print(f"  {what:8s}{cells}   {medians[1] / medians[0]:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--model", default="coco")
    parser.add_argument("--min-score", type=float, default=0.4, help="the pipeline's default floor")
    parser.add_argument("--compare", metavar="OTHER.tflite", help="time this model file too, interleaved")
    parser.add_argument("--threads", type=int, help="interpreter threads (default: the appliance's choice)")
    args = parser.parse_args()

    detector = open_cpu(args.model, args.threads)
    frame = frame_720p()
    if args.compare:
        other = open_cpu(args.compare, args.threads)
        threads = args.threads or "the default"
        print(f"machine: {platform.machine()} ({detector.info.runtime}, {threads} threads)")
        compare([detector, other], [args.model, args.compare], frame, args.rounds, args.min_score)
        return
    model = detector._model  # the raw interpreter: the reference
    tensor = prepare(frame, detector._input).copy()
    layout = None
    if detector.info.family == "nanodet":
        classes = max(detector.labels) + 1
        layout = map_heads(model.outputs, classes, detector.info.input_size)
    for _ in range(20):  # warm caches and the thread pool
        detector.detect(frame, args.min_score)
        model.run(tensor)
    invoke, full, prep, naive, fast = [], [], [], [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        model.run(tensor)
        t1 = time.perf_counter()
        found = detector.detect(frame, min_score=args.min_score)
        t2 = time.perf_counter()
        prepare(frame, detector._input)
        t3 = time.perf_counter()
        invoke.append((t1 - t0) * 1000)
        full.append((t2 - t1) * 1000)
        prep.append((t3 - t2) * 1000)
        if layout is not None:
            raw = {i: model.output(i) for h in layout.heads for i in (h.scores, h.boxes)}
            t4 = time.perf_counter()
            naive_decode(raw, layout, args.min_score)
            t5 = time.perf_counter()
            detector._decode(model, args.min_score, frame.shape[1], frame.shape[0])
            t6 = time.perf_counter()
            naive.append((t5 - t4) * 1000)
            fast.append((t6 - t5) * 1000)
    inv, tot = statistics.median(invoke), statistics.median(full)
    overhead = tot - inv
    w, h = detector.info.input_size
    print(f"machine: {platform.machine()} {platform.processor() or ''} ({detector.info.runtime}, {args.model})")
    print(f"found           {', '.join(f'{d.label} {d.score:.2f}' for d in found.items)}")
    print(f"invoke median   {inv:7.2f} ms")
    print(f"detect median   {tot:7.2f} ms  (1280x720 → {w}x{h}, min_score {args.min_score})")
    print(f"but invoke      {overhead:7.2f} ms = {overhead / inv:.1%} of invoke")
    print(f"  of which prep {statistics.median(prep):7.2f} ms (resize + lookup + layout)")
    if layout is not None:
        nv, fs = statistics.median(naive), statistics.median(fast)
        print(f"  decode + NMS  {fs:7.2f} ms (outputs read + vectorized decode + NMS)")
        print(f"naive decode    {nv:7.2f} ms (same outputs) → vectorized is {nv / fs:.0f}x faster")
        print(f"target: everything but invoke <= 1.5 ms: {'met' if overhead <= 1.5 else 'NOT met'}")
    else:
        print(f"target: overhead <= 25% of invoke: {'met' if overhead / inv <= 0.25 else 'NOT met'}")


if __name__ == "__main__":
    main()
