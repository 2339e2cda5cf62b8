"""OpenVINO vs LiteRT on the CPU (issue 18): median invoke and full detect() on one 1280x720 frame.

Both COCO NanoDet builds (int8, the default, and float) on both runtimes, as the appliance
builds them (`detector.type: cpu` and `openvino`), in ONE run: every round times each of the
four once, in a rotating order, so whatever else the machine is doing hits them alike; the
ratios (LiteRT / OpenVINO, > 1: OpenVINO is faster) are what to compare across machines.
invoke = the runtime alone on a prepared tensor; detect = resize + tensor prep + invoke +
decode + NMS. Then, in the same rounds, OpenVINO's thread settings on the int8 model; and
last how far OpenVINO's detections are from LiteRT's on real photos.

    .venv/bin/python bench/openvino_vs_litert.py [--rounds 300]

(Not bench/openvino.py: with bench/ on sys.path, as when a bench runs and in several tests, that
file would be imported as the `openvino` package itself.)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from machine import machine_cpu, settle  # bench/machine.py (bench/ is on sys.path when run)

from app.config import DetectorConfig
from app.demo import photos
from app.detect import ModelStore, open_detector, openvino
from app.detect.engine import TfliteDetector
from app.detect.factory import cpu_threads
from app.detect.preprocess import prepare
from app.domain import Detection

MODELS = (("coco", "int8"), ("coco:cpu-float", "float"))
PHOTOS = ("astronaut", "stereo_motorcycle", "coffee", "chelsea", "rocket", "cat")  # scikit-image's
MIN_SCORE = 0.4  # the pipeline's default floor


@dataclass
class Timed:
    label: str
    step: Callable[[], Any]
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # the whole process's CPU time during the call

    def once(self) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        self.step()
        self.cpu_ms.append((time.process_time() - cpu) * 1000)
        self.ms.append((time.perf_counter() - started) * 1000)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


def frame_720p() -> np.ndarray:
    """The garage photo (a motorcycle, a bicycle, shelves) stretched to 720p, BGR."""
    return np.ascontiguousarray(cv2.resize(photos.photo("stereo_motorcycle"), (1280, 720)))


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def detector_steps(det: TfliteDetector, frame: np.ndarray, name: str) -> tuple[Timed, Timed]:
    model = det._model  # the raw runtime: the invoke reference
    tensor = prepare(frame, det._input).copy()
    return Timed(f"{name} invoke", lambda: model.run(tensor)), Timed(
        f"{name} detect", lambda: det.detect(frame, MIN_SCORE)
    )


def thread_settings(path: Path, frame_tensor: np.ndarray) -> list[Timed]:
    """OpenVINO's CPU plugin on the int8 model under other settings (through openvino.py's runtime)."""
    rt = openvino.runtime()
    ours = cpu_threads()
    settings: dict[str, dict[str, Any]] = {
        "LATENCY hint alone (OpenVINO picks the threads)": {"PERFORMANCE_HINT": "LATENCY"}
    }
    for n in sorted({1, 2, ours}):
        mine = " (edgewatch here)" if n == ours else ""
        settings[f"LATENCY + INFERENCE_NUM_THREADS={n}{mine}"] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": n,
        }
    settings["THROUGHPUT hint, 1 stream, 2 threads"] = {
        "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": 2,
    }  # fmt: skip
    timed = []
    for label, config in settings.items():
        request = rt.core.compile_model(str(path), "CPU", config).create_infer_request()
        tensor = rt.ov.Tensor(frame_tensor, shared_memory=True)

        def step(request: Any = request, tensor: Any = tensor) -> None:
            request.set_input_tensor(tensor)
            request.infer(share_outputs=True)

        timed.append(Timed(label, step))
    return timed


def agreement(lite: TfliteDetector, ov: TfliteDetector) -> tuple[float, float, int, int]:
    """Over PHOTOS: worst |Δscore| and worst IoU of matched detections (>= MIN_SCORE in LiteRT,
    matched among OpenVINO's >= 0.3), how many were matched, how many photos' label sets differ."""
    worst_score, worst_iou, matched, differ = 0.0, 1.0, 0, 0
    for name in PHOTOS:
        image = photos.photo(name)
        a, b = lite.detect(image, 0.3).items, ov.detect(image, 0.3).items
        if _labels(a) != _labels(b):
            differ += 1
        for d in a:
            if d.score < MIN_SCORE:
                continue
            twin = max((e for e in b if e.label == d.label), key=lambda e: e.box.iou(d.box), default=None)
            if twin is None:
                worst_iou = 0.0
                continue
            matched += 1
            worst_score = max(worst_score, abs(twin.score - d.score))
            worst_iou = min(worst_iou, twin.box.iou(d.box))
    return worst_score, worst_iou, matched, differ


def _labels(found: tuple[Detection, ...]) -> set[str]:
    return {d.label for d in found if d.score >= 0.5}


Pairs = dict[str, tuple[TfliteDetector, TfliteDetector]]  # model → (LiteRT, OpenVINO)


def open_pairs(store: ModelStore) -> Pairs:
    """Each of MODELS on both runtimes, as `detector.type: cpu` and `openvino` open them."""
    pairs: Pairs = {}
    for model, _ in MODELS:
        lite = open_detector(DetectorConfig(type="cpu", model=model), store)
        ov = open_detector(DetectorConfig(type="openvino", model=model), store)
        if ov.info.backend != "openvino":
            raise SystemExit(f"OpenVINO did not start: {ov.info.note}")
        pairs[model] = (lite, ov)
    return pairs


def warm(everything: list[Timed]) -> None:
    for _ in range(20):  # warm caches and thread pools
        for t in everything:
            t.step()


def interleaved(everything: list[Timed], rounds: int) -> tuple[float, float]:
    """Times every step once per round, in a rotating order; returns the wall seconds and how busy
    the machine was meanwhile (100 % = one core)."""
    before, started = machine_cpu(), time.perf_counter()
    for r in range(rounds):
        shift = r % len(everything)
        for t in everything[shift:] + everything[:shift]:
            t.once()
    after, wall = machine_cpu(), time.perf_counter() - started
    machine_pct = 100 * (os.cpu_count() or 1) * (after[0] - before[0]) / max(after[1] - before[1], 1.0)
    return wall, machine_pct


def print_runtimes(steps: list[Timed]) -> None:
    """invoke and detect per model and runtime, and the LiteRT / OpenVINO ratios."""
    print(f"{'model':8} {'runtime':10} {'invoke ms':>10} {'detect ms':>10} {'detect CPU ms':>14}")
    by_label = {t.label: t for t in steps}
    for _, kind in MODELS:
        rows = {}
        for runtime in ("LiteRT", "OpenVINO"):
            inv, det = by_label[f"{kind} {runtime} invoke"], by_label[f"{kind} {runtime} detect"]
            rows[runtime] = (inv.median, det.median, det.cpu)
            print(f"{kind:8} {runtime:10} {inv.median:10.2f} {det.median:10.2f} {det.cpu:14.2f}")
        (li, ld, lc), (oi, od, oc) = rows["LiteRT"], rows["OpenVINO"]
        print(f"{kind:8} {'LiteRT/OV':10} {li / oi:9.2f}x {ld / od:9.2f}x {lc / oc:13.2f}x")


def print_agreement(pairs: Pairs) -> None:
    print(f"agreement on {len(PHOTOS)} photos (LiteRT detections >= {MIN_SCORE} matched in OpenVINO's):")
    for model, kind in MODELS:
        worst_score, worst_iou, matched, differ = agreement(*pairs[model])
        print(f"  {kind:6} worst |Δscore| {worst_score:.4f}, worst IoU {worst_iou:.3f}, {matched} matched, "
              f"label sets (>= 0.5) differ on {differ} photo(s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--settle", type=float, default=60.0, help="wait at most this long for a quiet machine")
    args = parser.parse_args()

    store = ModelStore()
    frame = frame_720p()
    pairs = open_pairs(store)
    steps: list[Timed] = []
    for model, kind in MODELS:
        lite, ov = pairs[model]
        steps += [*detector_steps(lite, frame, f"{kind} LiteRT"), *detector_steps(ov, frame, f"{kind} OpenVINO")]
    int8_lite = pairs["coco"][0]
    threads = thread_settings(Path(int8_lite.info.model_file), prepare(frame, int8_lite._input).copy())
    everything = steps + threads

    warm(everything)
    busy = settle(args.settle)
    wall, machine_pct = interleaved(everything, args.rounds)

    ov_info = pairs["coco"][1].info
    precision = (
        pairs["coco"][1]._model.precision if isinstance(pairs["coco"][1]._model, openvino.OpenVinoModel) else "?"
    )
    n = cpu_threads()
    print(f"machine: {platform.machine()} {cpu_name()}, {os.cpu_count()} cores; {int8_lite.info.runtime} vs "
          f"{ov_info.runtime} ({ov_info.device}, {precision}), {n} thread{'s' if n > 1 else ''} each "
          "(factory.cpu_threads)")  # fmt: skip
    print(f"frame 1280x720 → 416x416, min_score {MIN_SCORE}; {args.rounds} rounds interleaved in {wall:.0f} s; "
          f"machine {machine_pct:.0f} % busy during them ({busy:.0f} % before; 100 % = one core)")  # fmt: skip
    print()
    print_runtimes(steps)
    print()
    print("OpenVINO CPU settings, int8 model (same rounds): invoke ms, CPU ms per invoke")
    for t in threads:
        print(f"  {t.median:6.2f} {t.cpu:6.2f}  {t.label}")
    print()
    print_agreement(pairs)
    for lite, ov in pairs.values():
        lite.close()
        ov.close()


if __name__ == "__main__":
    main()
