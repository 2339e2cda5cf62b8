"""Motion prefilter: ms/frame of MotionDetector.update against Frigate's detector, same run.

The sequence is real photos: the scikit-image garage with the astronaut walking across
it (and out of it: a third of the frames are empty), Gaussian sensor noise σ=4, all
frames distinct. Each frame goes to both detectors in turn (order alternating), so
load from other processes hits both alike.

The reference re-implements the steps of Frigate's `ImprovedMotionDetector.detect`
(shared/reference/anchors.md): luma resized to 100 rows (INTER_NEAREST), contrast
stretch from np.percentile 4/96 averaged over 50 frames, mask, Gaussian blur (σ 1,
radius 1), absdiff against a running average (α 0.01; 0.2 while calibrating; held
while motion is younger than 10 frames), threshold 30, dilate, external contours with
area > 10, recalibration above 80 % motion. It is given the luma plane ready-made, as
Frigate gets it from its YUV frames; ours is given BGR and pays for its grey conversion.

Two cache conditions: "cold" reads frames that are not in the CPU cache (every frame
is a different buffer, ~1 GB of them); "fresh" first copies the frame into one buffer,
as a decoder would have just written it.

    .venv/bin/python bench/motion.py [--frames 360]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import cv2
import numpy as np
import numpy.typing as npt
import skimage.data
from cv2.typing import MatLike
from scipy.ndimage import gaussian_filter  # type: ignore[import-untyped]

from app.analysis.motion import MotionDetector
from app.config.schema import MotionConfig

U8 = npt.NDArray[np.uint8]
TARGET_MS = 0.25
NOISE_SIGMA = 4.0
KERNEL_3X3 = np.ones((3, 3), np.uint8)


class FrigateReference:
    """Frigate's ImprovedMotionDetector.detect, default config, without PTZ/debug/config-update paths."""

    def __init__(self, frame_shape: tuple[int, int], mask: U8 | None = None) -> None:
        self.frame_height = 100
        self.threshold = 30
        self.contour_area = 10
        self.frame_alpha = 0.01
        self.lightning_threshold = 0.8
        self.frame_shape = frame_shape
        self.resize_factor = frame_shape[0] / self.frame_height
        self.motion_frame_size = (self.frame_height, self.frame_height * frame_shape[1] // frame_shape[0])
        self.avg_frame = np.zeros(self.motion_frame_size, np.float32)
        self.motion_frame_count = 0
        full_mask = np.full(frame_shape, 255, np.uint8) if mask is None else mask
        resized_mask = cv2.resize(
            full_mask, (self.motion_frame_size[1], self.motion_frame_size[0]), interpolation=cv2.INTER_AREA
        )
        self.mask = np.where(resized_mask == 0)
        self.calibrating = True
        self.contrast_values = np.zeros((50, 2), np.uint8)
        self.contrast_values[:, 1:2] = 255
        self.contrast_values_index = 0

    def detect(self, luma: MatLike) -> list[tuple[int, int, int, int]]:
        boxes: list[tuple[int, int, int, int]] = []
        resized = cv2.resize(
            luma, (self.motion_frame_size[1], self.motion_frame_size[0]), interpolation=cv2.INTER_NEAREST
        )
        min_value = np.percentile(resized, 4).astype(np.uint8)
        max_value = np.percentile(resized, 96).astype(np.uint8)
        if min_value < max_value:
            self.contrast_values[self.contrast_values_index] = [min_value, max_value]
            self.contrast_values_index = (self.contrast_values_index + 1) % len(self.contrast_values)
            avg_min, avg_max = np.mean(self.contrast_values, axis=0)
            clipped = np.clip(resized, avg_min, avg_max)
            resized = (((clipped - avg_min) / (avg_max - avg_min)) * 255).astype(np.uint8)
        resized[self.mask] = [0]
        resized = gaussian_filter(resized, sigma=1, radius=1)
        delta = cv2.absdiff(resized, cv2.convertScaleAbs(self.avg_frame))
        thresh = cv2.threshold(delta, self.threshold, 255, cv2.THRESH_BINARY)[1]
        dilated = cv2.dilate(thresh, KERNEL_3X3, iterations=1)  # Frigate passes None: the same 3x3
        contours, _ = cv2.findContours(dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        total_area = 0.0
        for c in contours:
            area = cv2.contourArea(c)
            total_area += area
            if area > self.contour_area:
                x, y, w, h = cv2.boundingRect(c)
                f = self.resize_factor
                boxes.append((int(x * f), int(y * f), int((x + w) * f), int((y + h) * f)))
        pct_motion = total_area / (self.motion_frame_size[0] * self.motion_frame_size[1])
        if pct_motion < 0.05 and len(boxes) <= 4:
            self.calibrating = False
        if self.calibrating or pct_motion > self.lightning_threshold:
            self.calibrating = True
        alpha = 0.2 if self.calibrating else self.frame_alpha
        if boxes:
            self.motion_frame_count += 1
            if self.motion_frame_count >= 10:
                cv2.accumulateWeighted(resized, self.avg_frame, alpha)
        else:
            cv2.accumulateWeighted(resized, self.avg_frame, alpha)
            self.motion_frame_count = 0
        return boxes


def bgr(rgb: object) -> U8:
    return np.ascontiguousarray(cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR))


class Sequence:
    """BGR frames, their luma planes, and where the astronaut is (None: nobody in the frame)."""

    def __init__(self, width: int, height: int, count: int, seed: int = 7) -> None:
        garage = cv2.resize(bgr(skimage.data.stereo_motorcycle()[0]), (width, height))  # type: ignore[no-untyped-call]
        side = height * 2 // 5
        person = cv2.resize(bgr(skimage.data.astronaut()), (side, side))  # type: ignore[no-untyped-call]
        self.rng = np.random.default_rng(seed)
        self.garage = garage
        walk = 80  # frames to cross the frame; then 40 frames with nobody
        self.frames: list[U8] = []
        self.lumas: list[U8] = []
        self.truth: list[tuple[int, int, int, int] | None] = []
        for i in range(count):
            frame = garage.copy()
            t = i % (walk + 40)
            box = None
            if t < walk:
                x = int((width - side) * t / (walk - 1))
                y = height - side - height // 20 + int(height / 120 * np.sin(t / 2))  # she bobs as she walks
                frame[y : y + side, x : x + side] = person
                box = (x, y, x + side, y + side)
            self._add(frame)
            self.truth.append(box)
        self.empty = [self._noisy(garage) for _ in range(30)]  # for both detectors to learn the scene

    def _noisy(self, frame: MatLike) -> U8:
        noise = self.rng.standard_normal(frame.shape, dtype=np.float32) * NOISE_SIGMA
        noisy: U8 = np.clip(np.asarray(frame, np.float32) + noise, 0, 255).astype(np.uint8)
        return noisy

    def _add(self, frame: MatLike) -> None:
        noisy = self._noisy(frame)
        self.frames.append(noisy)
        self.lumas.append(np.ascontiguousarray(cv2.cvtColor(noisy, cv2.COLOR_BGR2YUV)[..., 0]))


def covers(boxes: list[tuple[float, float, float, float]], truth: tuple[int, int, int, int]) -> bool:
    """Some box covers at least half of the person."""
    x1, y1, x2, y2 = truth
    for b in boxes:
        ix = max(0.0, min(x2, b[2]) - max(x1, b[0]))
        iy = max(0.0, min(y2, b[3]) - max(y1, b[1]))
        if ix * iy >= 0.5 * (x2 - x1) * (y2 - y1):
            return True
    return False


def run(width: int, height: int, seq: Sequence) -> dict[str, float]:
    results: dict[str, float] = {}
    n = len(seq.frames)
    with_person = sum(t is not None for t in seq.truth)
    for condition in ("cold", "fresh"):
        ours = MotionDetector(MotionConfig(), (width, height))
        ref = FrigateReference((height, width))
        for _ in range(3):  # Frigate starts from a black average and calibrates
            for frame in seq.empty:
                ours.update(frame)
                ref.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV)[..., 0].copy())
        frame_buf, luma_buf = np.empty_like(seq.frames[0]), np.empty_like(seq.lumas[0])
        t_ours: list[float] = []
        t_ref: list[float] = []
        agree = found_ours = found_ref = empty_ours = empty_ref = 0
        for i in range(n):
            frame, luma = seq.frames[i], seq.lumas[i]
            if condition == "fresh":
                np.copyto(frame_buf, frame)
                np.copyto(luma_buf, luma)
                frame, luma = frame_buf, luma_buf
            if i % 2 == 0:
                t0 = time.perf_counter()
                result = ours.update(frame)
                t1 = time.perf_counter()
                ref_boxes = ref.detect(luma)
                t2 = time.perf_counter()
                t_ours.append((t1 - t0) * 1000)
                t_ref.append((t2 - t1) * 1000)
            else:
                t0 = time.perf_counter()
                ref_boxes = ref.detect(luma)
                t1 = time.perf_counter()
                result = ours.update(frame)
                t2 = time.perf_counter()
                t_ref.append((t1 - t0) * 1000)
                t_ours.append((t2 - t1) * 1000)
            if ref.calibrating:  # Frigate's caller ignores motion while it calibrates
                ref_boxes = []
            ours_boxes = [(b.x1, b.y1, b.x2, b.y2) for b in result.boxes]
            agree += bool(ours_boxes) == bool(ref_boxes)
            truth = seq.truth[i]
            if truth is None:
                empty_ours += bool(ours_boxes)
                empty_ref += bool(ref_boxes)
            else:
                found_ours += covers(ours_boxes, truth)
                found_ref += covers([(float(a), float(b), float(c), float(d)) for a, b, c, d in ref_boxes], truth)
        ms_ours, ms_ref = statistics.median(t_ours), statistics.median(t_ref)
        results[f"{condition}_ours"] = ms_ours
        results[f"{condition}_ref"] = ms_ref
        p90 = statistics.quantiles(t_ours, n=10)[-1]
        print(
            f"{width}x{height} {condition:5s}  ours {ms_ours:6.3f} ms (p90 {p90:5.3f})  frigate {ms_ref:6.3f} ms  "
            f"ours/frigate {ms_ours / ms_ref:5.2f}  target <= {TARGET_MS} ms: "
            f"{'met' if ms_ours <= TARGET_MS else 'NOT met'}"
        )
        if condition == "cold":
            print(
                f"    person found (a box covers >= half of her): ours {found_ours}/{with_person}, "
                f"frigate {found_ref}/{with_person}; motion on empty frames: ours {empty_ours}/{n - with_person}, "
                f"frigate {empty_ref}/{n - with_person}; motion/no-motion agreement {agree / n:.1%} of {n} frames"
            )
            results["agreement"] = agree / n
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=360)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, cv2 {cv2.__version__}, {args.frames} frames")
    for width, height in ((1280, 720), (640, 360)):
        run(width, height, Sequence(width, height, args.frames))


if __name__ == "__main__":
    main()
