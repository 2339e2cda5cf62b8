"""Pipeline CPU per camera: decode, the pipeline without decode and inference, inference.

One camera's 720p 12 fps H.264 stream, detected at 5 fps, on the real parts: a 20 s
clip of real photos (`app.demo.clip`: the astronaut walks through the garage) is
decoded frame by frame with `VideoSource` (every frame, as the capture thread does);
every 12/5-th frame (frame i when floor(i * 5 / 12) increases) goes to a real
`CameraPipeline` (motion → regions → detect → track) whose detect function calls the
real CPU detector directly, one `detect()` per crop as the detection worker does. The
reference is the decode, measured in the same run on the same stream.

Each processed frame's time is split into inference (the detector's raw invoke,
`Detections.inference_ms`), detector pre/post (`detect()` − invoke: resize, tensor,
output decoding) and the rest of the pipeline (`process()` − `detect()`: motion,
regions, crops, tracking). Reported per second of video, i.e. per camera.

CPU is counted per thread, because the work is not all on the calling thread: FFmpeg
decodes on its own frame threads (`av:h264:df*`, ~95 % of the decode CPU), XNNPACK
runs inference on the caller plus a worker, and OpenCV has a thread pool. Every thread
of the process is put in a group by when it appeared (numpy at import; OpenCV's pool
at the first parallel call; the detector's workers when it is opened; the decoder's
threads when the stream is opened and first read) and read through its Linux
per-thread CPU clock. The calling thread's share is `time.thread_time()`.
Attribution: decode = calling thread + OpenCV pool inside `read()`, plus all the
decoder threads' CPU (they may run on between reads); inference = calling thread
inside invoke plus all the detector workers' CPU; pre/post and rest = calling thread +
OpenCV pool inside their windows. What is left (numpy's threads, the OpenCV pool
between windows) is printed as unattributed.

    .venv/bin/python bench/pipeline.py [--seconds 20] [--detect-fps 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from app.analysis.motion import MotionDetector
from app.analysis.pipeline import CameraPipeline
from app.capture.pyav import VideoSource
from app.config import CameraConfig, DetectorConfig
from app.demo.clip import make_clip
from app.detect import open_detector
from app.detect.base import Image
from app.detect.engine import TfliteDetector
from app.domain import Detections, Frame

FPS = 12
SIZE = (1280, 720)


def _tids() -> list[int]:
    return [int(t) for t in os.listdir("/proc/self/task")]


def _thread_clock(tid: int) -> int:
    # Linux's per-thread CPU clock id for any thread of this process: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED).
    return (~tid << 3) | 6


class ThreadClocks:
    """CPU seconds of every thread of this process, summed by group."""

    def __init__(self) -> None:
        self.group: dict[int, str] = {}
        self._clock: dict[int, int] = {}
        self._last: dict[int, float] = {}  # the last reading, kept when a thread has exited

    def adopt(self, group: str, tids: Sequence[int] | None = None) -> list[int]:
        """Put every thread (of `tids`) not yet in a group into `group`; their CPU so far counts too."""
        new = [t for t in (_tids() if tids is None else tids) if t not in self.group]
        for tid in new:
            self.group[tid] = group
            self._clock[tid] = _thread_clock(tid)
            self._last[tid] = 0.0
        return new

    def describe(self) -> str:
        names: dict[str, list[str]] = {}
        for tid, group in self.group.items():
            try:
                with open(f"/proc/self/task/{tid}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                name = "exited"
            names.setdefault(group, []).append(name)
        return "; ".join(f"{g} {len(n)} ({', '.join(sorted(n))})" for g, n in names.items())

    def read(self, groups: Sequence[str] | None = None) -> dict[str, float]:
        totals: dict[str, float] = {}
        for tid, group in self.group.items():
            if groups is not None and group not in groups:
                continue
            with contextlib.suppress(OSError):  # a thread that has exited keeps its last reading
                self._last[tid] = time.clock_gettime(self._clock[tid])
            totals[group] = totals.get(group, 0.0) + self._last[tid]
        return totals


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy since boot (all processes), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _add(into: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    for group, value in after.items():
        into[group] = into.get(group, 0.0) + value - before.get(group, 0.0)


def _ms(values: Sequence[float]) -> tuple[float, float]:
    """Median and p95 of seconds, in ms."""
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


@dataclass
class DetectLog:
    """What the pipeline's detect function saw during the current process() call and in all."""

    wall: float = 0.0  # s in detect() (all crops of the current frame)
    cpu: dict[str, float] = field(default_factory=dict)  # calling thread + OpenCV pool inside detect()
    invoke_cpu: float = 0.0  # calling thread inside invoke
    calls: int = 0
    invokes: list[float] = field(default_factory=list)  # every invoke, s
    prepost: list[float] = field(default_factory=list)  # every detect() − invoke, s

    def reset(self) -> None:
        self.wall = self.invoke_cpu = 0.0
        self.cpu = {}
        self.calls = 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--detect-fps", type=float, default=5.0)
    args = parser.parse_args()

    clocks = ThreadClocks()
    clocks.adopt("main", [threading.get_native_id()])
    clocks.adopt("numpy")  # BLAS threads started at import
    # OpenCV's pool starts at its first parallel call.
    warm = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    for _ in range(3):
        cv2.resize(warm, (300, 300))
        cv2.GaussianBlur(cv2.cvtColor(warm, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    clocks.adopt("opencv")

    detector = open_detector(DetectorConfig(type="cpu"))
    for _ in range(10):  # warm the interpreter and its thread pool
        detector.detect(warm)
    clocks.adopt("detector")

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        clip = make_clip(Path(tmp) / "walk.mp4", "person", seconds=args.seconds, fps=FPS, size=SIZE)
        clip_s = time.perf_counter() - started
        clocks.adopt("other")  # anything the encoder left running is not ours
        run(args, clip.path, clip.frames, clip_s, clocks, detector)


def run(
    args: argparse.Namespace,
    path: Path,
    frames_in_clip: int,
    clip_s: float,
    clocks: ThreadClocks,
    detector: TfliteDetector,
) -> None:
    log = DetectLog()
    inner = ("main", "opencv")

    # Time the raw invoke on the calling thread; Detections.inference_ms gives its wall time.
    model = detector._model
    raw_run = model.run

    def timed_run(tensor: npt.NDArray[np.generic]) -> None:
        t0 = time.thread_time()
        raw_run(tensor)
        log.invoke_cpu += time.thread_time() - t0

    setattr(model, "run", timed_run)  # noqa: B010 - an instance attribute, for this bench only

    def detect_fn(crops: Sequence[Image], min_score: float) -> list[Detections]:
        out = []
        for crop in crops:
            c0 = clocks.read(inner)
            w0 = time.perf_counter()
            found = detector.detect(crop, min_score)
            w1 = time.perf_counter()
            _add(log.cpu, c0, clocks.read(inner))
            log.wall += w1 - w0
            log.invokes.append(found.inference_ms / 1000)
            log.prepost.append(w1 - w0 - found.inference_ms / 1000)
            log.calls += 1
            out.append(found)
        return out

    source = VideoSource(str(path), realtime=False)
    clocks.adopt("decode")  # FFmpeg's frame threads start when the stream opens
    camera = CameraConfig(source=str(path))
    pipeline = CameraPipeline("bench", camera, detect_fn, model_size=detector.info.input_size[0])
    motion_only = MotionDetector(camera.motion, SIZE)
    fps = source.fps or FPS

    read_wall: list[float] = []
    read_cpu: list[float] = []  # calling thread + OpenCV pool + decoder threads inside read()
    read_main: dict[str, float] = {}  # by group, inside read()
    rest_wall: list[float] = []
    rest_cpu: list[float] = []
    prepost_cpu_total = 0.0
    invoke_cpu_total = 0.0
    process_cpu: dict[str, float] = {}  # by group, inside process()
    motion_wall: list[float] = []
    motion_cpu: dict[str, float] = {}
    regions: Counter[int] = Counter()
    calls_per_frame: list[int] = []
    found_frames = 0
    confirmed_frames = 0
    first_position = -1.0

    load_before = os.getloadavg()
    start = clocks.read()
    busy0 = _busy_cpu_s()
    process_cpu0 = time.process_time()
    wall0 = time.perf_counter()
    seq = 0
    last_slot = -1
    while True:
        c0 = clocks.read()
        w0 = time.perf_counter()
        image = source.read()
        w1 = time.perf_counter()
        if seq == 0:
            clocks.adopt("decode")  # the converter's threads start at the first frame
        c1 = clocks.read()
        if image is None:
            break
        if first_position < 0:
            first_position = source.position_s
        read_wall.append(w1 - w0)
        read_cpu.append(sum(c1.get(g, 0.0) - c0.get(g, 0.0) for g in ("main", "opencv", "decode")))
        _add(read_main, c0, c1)

        slot = int(seq * args.detect_fps // fps)
        if slot > last_slot:
            last_slot = slot
            t = seq / fps  # the video's own timeline
            frame = Frame("bench", seq, image, t, t)
            log.reset()
            c0 = clocks.read()
            w0 = time.perf_counter()
            result = pipeline.process(frame)
            w1 = time.perf_counter()
            c1 = clocks.read()
            frame_cpu: dict[str, float] = {}
            _add(frame_cpu, c0, c1)
            _add(process_cpu, c0, c1)
            own = frame_cpu.get("main", 0.0) + frame_cpu.get("opencv", 0.0)
            detect_own = log.cpu.get("main", 0.0) + log.cpu.get("opencv", 0.0)
            rest_wall.append(w1 - w0 - log.wall)
            rest_cpu.append(own - detect_own)
            prepost_cpu_total += detect_own - log.invoke_cpu
            invoke_cpu_total += log.invoke_cpu
            regions[len(result.regions)] += 1
            calls_per_frame.append(log.calls)
            found_frames += bool(result.detections)
            confirmed_frames += any(tr.confirmed for tr in result.tracks)

            # Context only, outside the windows above: motion alone on the same frames.
            c0 = clocks.read(inner)
            w0 = time.perf_counter()
            motion_only.update(image)
            w1 = time.perf_counter()
            _add(motion_cpu, c0, clocks.read(inner))
            motion_wall.append(w1 - w0)
        seq += 1
    wall_total = time.perf_counter() - wall0
    process_total = time.process_time() - process_cpu0
    others = (_busy_cpu_s() - busy0 - process_total) / wall_total  # cores busy with other processes
    load_after = os.getloadavg()
    late = clocks.adopt("other")
    threads = clocks.describe()
    end = clocks.read()
    source.close()

    video_s = len(read_wall) / fps
    processed = len(rest_wall)

    # The decoder's and the detector's threads do nothing but decode and infer: all their CPU
    # during the loop counts, wherever it fell.
    decode_threads = end.get("decode", 0.0) - start.get("decode", 0.0)
    detector_threads = end.get("detector", 0.0) - start.get("detector", 0.0)
    decode_cpu = read_main.get("main", 0.0) + read_main.get("opencv", 0.0) + decode_threads
    decode_async = decode_threads - read_main.get("decode", 0.0)
    inference_cpu = invoke_cpu_total + detector_threads
    detector_outside = detector_threads - process_cpu.get("detector", 0.0)
    rest_total = sum(rest_cpu)
    prepost_total = prepost_cpu_total
    excl = rest_total + prepost_total
    total_cpu = decode_cpu + excl + inference_cpu
    motion_total = motion_cpu.get("main", 0.0) + motion_cpu.get("opencv", 0.0)
    unattributed = process_total - total_cpu - motion_total

    def per_s(seconds: float) -> str:
        ms = seconds * 1000 / video_s
        return f"{ms:8.1f} ms/s {ms / 10:6.1f} %"

    decode_wall_s = sum(read_wall)
    invoke_wall_s = sum(log.invokes)
    prepost_wall_s = sum(log.prepost)
    rest_wall_s = sum(rest_wall)
    excl_wall_s = prepost_wall_s + rest_wall_s

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cpus")
    print(
        f"detector: {detector.info.runtime}, {detector.info.model} ({Path(detector.info.model_file).name}), "
        f"{detector.info.input_size[0]}x{detector.info.input_size[1]}; OpenCV {cv2.__version__}, "
        f"{cv2.getNumThreads()} threads"
    )
    print(
        f"clip: {frames_in_clip} frames {SIZE[0]}x{SIZE[1]} at {fps:g} fps H.264 (made in {clip_s:.1f} s); "
        f"decoded {len(read_wall)} ({video_s:.1f} s of video, first at {first_position:.2f} s), "
        f"processed {processed} at {args.detect_fps:g} fps"
    )
    print(
        f"loop {wall_total:.1f} s wall, {process_total:.1f} s CPU; other processes kept {max(0.0, others):.2f} "
        f"cores busy meanwhile (load average {load_before[0]:.2f} before, {load_after[0]:.2f} after)"
    )
    print(f"threads: {threads}")
    print()
    print("per second of video (one camera)      wall          CPU   % of a core   per frame/call median, p95 (wall)")
    dm, dp = _ms(read_wall)
    cm, cp = _ms(read_cpu)
    print(
        f"decode ({fps:g} frames)            {decode_wall_s * 1000 / video_s:8.1f} ms/s {per_s(decode_cpu)}"
        f"   {dm:.2f}, {dp:.2f} ms/frame (CPU {cm:.2f}, {cp:.2f})"
    )
    em, ep = _ms([r + p for r, p in zip(rest_wall, frame_prepost(log.prepost, calls_per_frame), strict=True)])
    print(
        f"pipeline excl. decode+inference  {excl_wall_s * 1000 / video_s:8.1f} ms/s {per_s(excl)}"
        f"   {em:.2f}, {ep:.2f} ms/frame"
    )
    rm, rp = _ms(rest_wall)
    print(
        f"  motion, regions, crops, track  {rest_wall_s * 1000 / video_s:8.1f} ms/s {per_s(rest_total)}"
        f"   {rm:.2f}, {rp:.2f} ms/frame"
    )
    pm, pp = _ms(log.prepost)
    print(
        f"  detector pre/post              {prepost_wall_s * 1000 / video_s:8.1f} ms/s {per_s(prepost_total)}"
        f"   {pm:.2f}, {pp:.2f} ms/call"
    )
    im, ip = _ms(log.invokes)
    print(
        f"inference ({len(log.invokes) / video_s:.1f} invokes/s)       {invoke_wall_s * 1000 / video_s:8.1f} ms/s "
        f"{per_s(inference_cpu)}   {im:.2f}, {ip:.2f} ms/invoke"
    )
    total_wall = decode_wall_s + excl_wall_s + invoke_wall_s
    print(f"total                            {total_wall * 1000 / video_s:8.1f} ms/s {per_s(total_cpu)}")
    print()
    print(
        f"pipeline excl. decode+inference = {excl / decode_cpu:.1%} of decode "
        f"(CPU; wall {excl_wall_s / decode_wall_s:.1%})"
    )
    print(
        f"decode share = {decode_cpu / total_cpu:.1%} of total (CPU; wall {decode_wall_s / total_wall:.1%}); "
        f"with inference off the CPU (Coral): {decode_cpu / (decode_cpu + excl):.1%}"
    )
    mm, mp = _ms(motion_wall)
    print(
        f"motion only (same frames, context): {mm:.3f} ms/frame median, {mp:.3f} p95; "
        f"CPU {motion_total * 1000 / processed:.3f} ms/frame mean"
    )
    mean_calls = sum(calls_per_frame) / processed
    dist = ", ".join(f"{n}: {regions[n]}" for n in sorted(regions))
    print(
        f"regions per processed frame: mean {mean_calls:.2f} (frames by region count {dist}); "
        f"one detector call per region"
    )
    print(
        f"frames with a detection: {found_frames}/{processed}; with a confirmed track: {confirmed_frames}/{processed}"
    )
    print(
        f"calling thread inside read(): {read_main.get('main', 0.0) * 1000 / len(read_wall):.2f} ms/frame; "
        f"decoder threads: {decode_threads * 1000 / len(read_wall):.2f} ms/frame, "
        f"{decode_async / decode_threads:.0%} of it outside read()"
    )
    print(
        f"detector worker threads: {detector_threads * 1000 / video_s:.1f} ms/s "
        f"({max(0.0, detector_outside) * 1000 / video_s:.1f} outside process()); calling thread in invoke "
        f"{invoke_cpu_total * 1000 / video_s:.1f} ms/s"
    )
    print(
        f"unattributed process CPU: {unattributed * 1000 / video_s:.1f} ms/s "
        f"(numpy/OpenCV pool between windows, instrumentation; {len(late)} threads appeared late)"
    )


def frame_prepost(prepost: Sequence[float], calls: Sequence[int]) -> list[float]:
    """Per processed frame, the sum of its detect() calls' pre/post time."""
    out, i = [], 0
    for n in calls:
        out.append(sum(prepost[i : i + n]))
        i += n
    return out


if __name__ == "__main__":
    main()
