"""What the soak sets up: the box's name, four cameras, one rule, the config it runs with, the clips
the cameras loop; and the soak's own periods and timeouts (its choices, not the product's)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from app.demo.clip import ClipInfo, make_clip, truth_path
from tests.support.mosquitto import Mosquitto
from tests.support.rtsp import RtspCamera

NODE = "soak"
PREFIX = f"edgewatch/{NODE}"
RULE = "visitor"
DETECT_FPS = 5
KINDS = {"cam0": "person", "cam1": "empty", "cam2": "person", "cam3": "empty"}
PASSWORD = "soak test passphrase 7 horses"  # a throwaway box's admin password, not a secret
APP_SCRIPT = Path(__file__).resolve().parents[1] / "soak_app.py"
STATUS_EVERY_S = 1.0  # the recovery times' resolution
PROC_EVERY_S = 1.0
TMPFS_MB = 48
BALLAST_LEAVES_KB = 64  # "nearly full": what the ballast leaves free on the tmpfs
START_TIMEOUT_S = 90.0  # the appliance's first start (imports, two models, self-test, cameras)
DRAIN_TIMEOUT_S = 60.0


def config_yaml(cameras: dict[str, RtspCamera], broker: Mosquitto, api_port: int, storage: Path) -> str:
    cams = "".join(f"  {name}: {{source: '{cam.url}', detect_fps: {DETECT_FPS}}}\n" for name, cam in cameras.items())
    return (
        f"node_id: {NODE}\n"
        "detector: {type: edgetpu, device: usb}\n"
        f"cameras:\n{cams}"
        f"rules:\n  - {{name: {RULE}, objects: [person], min_dwell: 1s, cooldown: 0s}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"api: {{listen: '127.0.0.1:{api_port}'}}\n"
        f"storage: {{path: '{storage}', retain_days: 1, max_mb: 32}}\n"
    )


def clips(args: argparse.Namespace, work: Path) -> tuple[ClipInfo, ClipInfo]:
    if args.person_clip and args.empty_clip:
        person, empty = (ClipInfo.load(truth_path(Path(p))) for p in (args.person_clip, args.empty_clip))
    else:
        started = time.monotonic()
        seconds = args.clip_seconds
        person = make_clip(work / "clips/person.mp4", "person", seconds=seconds, annexb=work / "clips/person.h264")
        empty = make_clip(work / "clips/empty.mp4", "empty", seconds=seconds, annexb=work / "clips/empty.h264")
        print(
            f"clips: {person.seconds:g} s 1280x720 12 fps (person, empty), made in {time.monotonic() - started:.0f} s"
        )
    if person.annexb is None or empty.annexb is None:
        raise SystemExit("the clips need their Annex-B copies (.h264) for the RTSP server")
    return person, empty
