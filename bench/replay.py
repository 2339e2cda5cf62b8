"""Replay speed: `edgewatch replay`'s analysis over a 720p clip, as a multiple of real time.

The reference is the clip's own duration; a second reference measured in the same run
is decoding alone, the floor no replay can beat.

    .venv/bin/python bench/replay.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from app.capture import VideoSource
from app.config import parse_config
from app.demo.clip import make_clip
from app.detect import open_detector
from app.run.replay import replay

CONFIG = """
cameras:
  garage:
    source: {clip}
    zones: {{right: [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}}
detector: {{type: cpu}}
rules: [{{name: person_right, objects: [person], zones: [right]}}]
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "walk.mp4", seconds=args.seconds)
        config = parse_config(CONFIG.format(clip=clip.path))
        detector = open_detector(config.detector)

        started = time.perf_counter()
        source = VideoSource(str(clip.path), realtime=False)
        frames = 0
        while source.read() is not None:
            frames += 1
        source.close()
        decode_s = time.perf_counter() - started

        records: list[dict[str, Any]] = []
        started = time.perf_counter()
        replay(str(clip.path), config, "garage", start=0.0, detector=detector, emit=records.append)
        replay_s = time.perf_counter() - started
    alerts = sum(1 for r in records if r["kind"] == "alert")
    print(f"machine: {platform.machine()} ({detector.info.runtime}, {detector.info.backend})")
    print(f"clip: {clip.seconds:.1f} s, {frames} frames 1280x720 at {clip.fps} fps, detect at 5 fps; {alerts} alert(s)")
    print(f"decode only   {decode_s:6.2f} s = {clip.seconds / decode_s:5.1f}x real time")
    print(f"replay        {replay_s:6.2f} s = {clip.seconds / replay_s:5.1f}x real time")
    print(f"replay / decode-only time = {replay_s / decode_s:.2f}")


if __name__ == "__main__":
    main()
