"""Recording CPU per camera: stream-copy segment writing vs decoding the same packets, in one run.

One camera's 720p 12 fps H.264 stream: a clip of real photos (`app.demo.clip`: the
astronaut walks through the garage, sensor noise, ~6.5 Mbit/s, a keyframe every second),
demuxed once with PyAV. Per round, on the same packets:

- decode (the reference): every packet through FFmpeg's H.264 decoder (its default frame
  threads), frames not converted: what the capture pays anyway to feed detection;
- hand-over: `bytes(packet)` and a `Packet` per demuxed packet (what the capture adds);
- ring: every packet through `PreCapture` (5 s; `events` mode between events);
- record: every packet through `SegmentWriter` (4 s fragmented MP4 segments, fsync and
  rename per segment, as in production) into a temporary folder on the same disk;
- encode: the MJPEG/raw path, `FrameEncoder` at its defaults (<= 1280 wide, <= 10 fps,
  veryfast) fed 5 fps of the decoded 720p frames (decoding them is not counted);
- clip: `build_clip` of a 30 s window from the recorded segments (wall time: the time to
  the first byte a `clip.mp4` request would wait, as the clip is written before it is sent).

The clip is played `--loops` times back to back per round (timestamps continued), so a
round is long enough for a 30 s clip.

CPU is the whole process's (`time.process_time()`: every thread, so FFmpeg's decoder
threads are counted), per second of video; ranges over the rounds, interleaved.

    .venv/bin/python bench/record.py [--seconds 20] [--loops 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from app.demo.clip import make_clip
from app.record import FrameEncoder, Packet, PreCapture, Segment, SegmentWriter, StreamInfo, as_codec, build_clip

FPS = 12
SIZE = (1280, 720)
ORIGIN = 1_700_000_000.0


def demux(path: Path) -> tuple[StreamInfo, list[Any]]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    ctx = stream.codec_context
    assert stream.time_base is not None
    assert ctx.extradata is not None
    info = StreamInfo(as_codec(ctx.name), ctx.width, ctx.height, Fraction(stream.time_base), bytes(ctx.extradata))
    return info, [p for p in container.demux(stream) if p.dts is not None]


def hand_over(info: StreamInfo, raw: list[Any], loops: int, origin: float) -> list[Packet]:
    """The packets as the capture hands them over, the clip played `loops` times back to back."""
    length = int(raw[-1].pts) + int(raw[-1].duration)
    return [
        Packet(bytes(p), int(p.pts) + k * length, int(p.dts) + k * length, bool(p.is_keyframe), info, origin)
        for k in range(loops)
        for p in raw
    ]


class Timer:
    """CPU (the whole process: every thread) and wall seconds spent inside the `with` block."""

    cpu = 0.0
    wall = 0.0

    def __enter__(self) -> Timer:
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cpu, self.wall = time.process_time() - self._cpu, time.perf_counter() - self._wall


def decode(info: StreamInfo, packets: list[Packet]) -> int:
    ctx: Any = av.CodecContext.create(info.codec, "r")
    ctx.extradata = info.extradata
    frames = 0
    for packet in packets:
        frames += len(ctx.decode(av.Packet(packet.data)))
    frames += len(ctx.decode(None))
    return frames


def record(packets: list[Packet], folder: Path) -> list[Segment]:
    segments: list[Segment] = []
    writer = SegmentWriter("bench", folder, segments.append, target_seconds=4.0)
    for packet in packets:
        writer.write(packet)
    writer.close()
    return segments


def ring(packets: list[Packet]) -> int:
    pre = PreCapture(5.0, 8 * 1024 * 1024)
    peak = 0
    for packet in packets:
        pre.push(packet)
        peak = max(peak, pre.size)
    return peak


def decoded_frames(info: StreamInfo, packets: list[Packet]) -> list[npt.NDArray[np.uint8]]:
    ctx: Any = av.CodecContext.create(info.codec, "r")
    ctx.extradata = info.extradata
    frames = []
    for packet in packets:
        frames += [np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in ctx.decode(av.Packet(packet.data))]
    return frames


def encode(frames: list[npt.NDArray[np.uint8]], seconds: float) -> int:
    encoder = FrameEncoder()
    count = 0
    for i, frame in enumerate(frames):
        count += len(encoder.encode(frame, ORIGIN + i * seconds / len(frames)))
    return count + len(encoder.flush())


def spread(values: list[float], scale: float = 1.0, unit: str = "ms") -> str:
    lo, med, hi = min(values) * scale, statistics.median(values) * scale, max(values) * scale
    return f"{med:7.2f} {unit} (range {lo:.2f}–{hi:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the clip made (default 20)")
    parser.add_argument("--loops", type=int, default=2, help="the clip played this many times per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, PyAV {av.__version__}")
    cache = Path.cwd() / ".cache"
    with tempfile.TemporaryDirectory(dir=cache if cache.is_dir() else None) as tmp:
        print(f"making a {args.seconds:.0f} s {SIZE[0]}x{SIZE[1]} {FPS} fps clip ...", flush=True)
        clip = make_clip(Path(tmp) / "walk.mp4", "person", seconds=args.seconds, fps=FPS, size=SIZE)
        info, raw = demux(clip.path)
        seconds = args.loops * len(raw) / FPS
        mbit = sum(p.size for p in raw) * 8 / (len(raw) / FPS) / 1e6
        print(f"{len(raw)} packets x {args.loops} = {seconds:.1f} s of video per round, {mbit:.1f} Mbit/s")
        # 5 fps of decoded frames for the encoder: what an MJPEG camera's capture would hand over
        source = hand_over(info, raw, 1, ORIGIN)
        frames = decoded_frames(info, source)[:: FPS // 5] * args.loops

        results: dict[str, list[float]] = {k: [] for k in ("decode", "hand-over", "ring", "record", "encode")}
        record_wall: list[float] = []
        clip_wall: list[float] = []
        peak = 0
        window = min(30.0, seconds - 2.0)
        for r in range(args.rounds):
            origin = ORIGIN + r * 1000
            with Timer() as t:
                packets = hand_over(info, raw, args.loops, origin)
            results["hand-over"].append(t.cpu / seconds)
            with Timer() as t:
                n = decode(info, packets)
            assert n == len(packets), f"decoded {n} of {len(packets)}"
            results["decode"].append(t.cpu / seconds)
            with Timer() as t:
                peak = max(peak, ring(packets))
            results["ring"].append(t.cpu / seconds)
            with Timer() as t:
                segments = record(packets, Path(tmp) / f"round{r}")
            results["record"].append(t.cpu / seconds)
            record_wall.append(t.wall / seconds)
            with Timer() as t:
                encode(frames, seconds)
            results["encode"].append(t.cpu / seconds)
            with Timer() as t:
                build_clip(segments, origin + 1.5, origin + 1.5 + window, Path(tmp) / f"clip{r}.mp4")
            clip_wall.append(t.wall)

        print("per second of video (per camera):")
        for name, values in results.items():
            line = f"  {name:10s} CPU {spread(values, 1000)} = {statistics.median(values) * 100:5.2f} % of one core"
            if name != "decode":
                ratios = [v / d * 100 for v, d in zip(values, results["decode"], strict=True)]
                line += f" = {statistics.median(ratios):5.1f} % of decode (range {min(ratios):.1f}–{max(ratios):.1f})"
            print(line)
        total = [(h + w) * 100 for h, w in zip(results["hand-over"], results["record"], strict=True)]
        print(f"  recording by stream copy (hand-over + record): {statistics.median(total):.2f} % of one core")
        print(f"  record wall time incl. fsync {spread(record_wall, 1000)}")
        print(f"pre-capture ring peak: {peak / 1e6:.2f} MB (5 s + up to one GOP at {mbit:.1f} Mbit/s)")
        print(f"clip of {window:.0f} s, request to first byte (built before sending): {spread(clip_wall, 1000)}")


if __name__ == "__main__":
    main()
