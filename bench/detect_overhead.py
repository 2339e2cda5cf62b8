"""Detector overhead: median raw invoke vs median full detect() on a 1280x720 frame.

full detect = resize + colour/tensor prep + invoke + output decode (image decoding
excluded). The reference, measured in the same run and interleaved with it, is the
raw interpreter invoke on an already prepared tensor. Target: overhead <= 25 % of invoke.

    .venv/bin/python bench/detect_overhead.py [--rounds 300] [--model person]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import cv2
import numpy as np
import skimage.data

from app.config import DetectorConfig
from app.detect import open_detector
from app.detect.preprocess import prepare


def frame_720p() -> np.ndarray:
    """A real 1280x720 scene: the garage photo with the astronaut standing in it."""
    garage_rgb = np.asarray(skimage.data.stereo_motorcycle()[0])  # type: ignore[no-untyped-call]
    astronaut_rgb = np.asarray(skimage.data.astronaut())  # type: ignore[no-untyped-call]
    frame = cv2.resize(cv2.cvtColor(garage_rgb, cv2.COLOR_RGB2BGR), (1280, 720))
    frame[380:680, 800:1100] = cv2.resize(cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR), (300, 300))
    return np.ascontiguousarray(frame)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--model", default="person")
    args = parser.parse_args()

    detector = open_detector(DetectorConfig(type="cpu", model=args.model))
    frame = frame_720p()
    model = detector._model  # the raw interpreter: the reference
    tensor = prepare(frame, detector._input)
    for _ in range(20):  # warm caches and the thread pool
        detector.detect(frame)
        model.run(tensor)
    invoke, full = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        model.run(tensor)
        t1 = time.perf_counter()
        detector.detect(frame, min_score=0.5)
        t2 = time.perf_counter()
        invoke.append((t1 - t0) * 1000)
        full.append((t2 - t1) * 1000)
    inv, tot = statistics.median(invoke), statistics.median(full)
    overhead = tot - inv
    print(f"machine: {platform.machine()} {platform.processor() or ''} ({detector.info.runtime}, {args.model})")
    print(f"invoke median   {inv:7.2f} ms")
    print(f"detect median   {tot:7.2f} ms  (1280x720 → {detector.info.input_size[0]}x{detector.info.input_size[1]})")
    print(f"overhead        {overhead:7.2f} ms = {overhead / inv:.1%} of invoke (target <= 25%)")


if __name__ == "__main__":
    main()
