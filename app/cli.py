"""The `edgewatch` command line (SPEC: run, check-config, detect)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from app import __version__
from app.api.boot import open_security, start_api
from app.capture import SourceError
from app.config import Config, DetectorConfig, resolve_zone
from app.config.demo import config_or_report
from app.detect import Detector, DetectorError, open_detector
from app.detect.base import Image
from app.detect.factory import open_detectors
from app.doctor import cmd_doctor
from app.passwd import cmd_passwd
from app.run.memory import cap_malloc_arenas
from app.run.notify import Heartbeat, Notifier, watchdog_interval
from app.run.replay import replay
from app.run.service import Service
from app.store import Store, StoreError

EXIT_OK, EXIT_FATAL, EXIT_BAD_INPUT = 0, 1, 2
STATUS_LOG_INTERVAL_S = 60.0
MAX_IMAGE_BYTES = 64 << 20

log = logging.getLogger("edgewatch")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgewatch", description="Smart security camera edge appliance.")
    parser.add_argument("--version", action="version", version=f"edgewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the appliance (no --config: the embedded demo)")
    run.add_argument("--config", type=Path, help="YAML config file")
    run.set_defaults(handler=_cmd_run)

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_cmd_check_config)

    detect = sub.add_parser("detect", help="one-shot detection on image files")
    detect.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    detect.add_argument("--model", help="manifest name (person, coco, ...), name:variant, or a .tflite path")
    detect.add_argument("--labels", help="label map for a model given by path")
    detect.add_argument(
        "--type", choices=("auto", "edgetpu", "cpu", "openvino"), default="auto", help="detector backend"
    )
    detect.add_argument("--device", help="Edge TPU device: usb, usb:N, pci, pci:N; OpenVINO: CPU, GPU, GPU.N, AUTO")
    detect.add_argument("--min-score", type=float, default=0.5, help="lowest score to print (default 0.5)")
    detect.add_argument("--json", action="store_true", help="one JSON object per image")
    detect.set_defaults(handler=_cmd_detect)

    replay = sub.add_parser("replay", help="run the real pipeline and rules over a video file")
    replay.add_argument("video", type=Path, metavar="VIDEO")
    replay.add_argument("--config", type=Path, required=True, help="YAML config file (its rules are applied)")
    replay.add_argument("--camera", help="which camera's zones, masks and rules (default: the first)")
    replay.add_argument("--start", help="ISO 8601 time of the video's first frame (default: now)")
    replay.add_argument("--json", action="store_true", help="one JSON object per alert / event end")
    replay.set_defaults(handler=_cmd_replay)

    pw = sub.add_parser("passwd", help="set the admin password (first boot has none)")
    pw.add_argument("--config", type=Path, help="YAML config file (its storage.path holds the credentials)")
    pw.add_argument("--stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(handler=cmd_passwd)

    doctor = sub.add_parser("doctor", help="installer diagnostics (exit 1 when something is wrong)")
    doctor.add_argument("--config", type=Path, help="YAML config file (default: the demo)")
    doctor.add_argument("--json", action="store_true", help="one JSON object")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def _load(path: Path | None) -> Config | None:
    """The config at `path` (the demo without one), or None after printing its errors."""
    return config_or_report(path)


def _cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    if config is None:
        return EXIT_BAD_INPUT
    print(f"{args.file}: ok ({len(config.cameras)} camera(s), {len(config.rules)} rule(s))")
    return EXIT_OK


def _cmd_detect(args: argparse.Namespace) -> int:
    if not 0.0 <= args.min_score <= 1.0:
        print("edgewatch detect: --min-score must be within 0..1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        config = DetectorConfig(type=args.type, device=args.device, model=args.model, labels=args.labels)
    except ValueError as exc:
        print(f"edgewatch detect: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        detector = open_detector(config)
    except DetectorError as exc:
        print(f"edgewatch detect: {exc}", file=sys.stderr)
        return EXIT_FATAL
    code = EXIT_OK
    try:
        for path in args.images:
            image = read_image(path)
            if isinstance(image, str):
                print(f"{path}: {image}", file=sys.stderr)
                code = EXIT_BAD_INPUT
                continue
            _print_detections(path, image, detector, args.min_score, args.json)
    finally:
        detector.close()
    return code


def read_image(path: Path) -> Image | str:
    """The decoded BGR image, or why it could not be read."""
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return f"larger than {MAX_IMAGE_BYTES >> 20} MiB"
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # we report bad files ourselves
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        return "not a decodable image (corrupt or unsupported format)"
    return np.ascontiguousarray(image, dtype=np.uint8)


def _print_detections(path: Path, image: Image, detector: Detector, min_score: float, as_json: bool) -> None:
    result = detector.detect(image, min_score=min_score)
    height, width = image.shape[:2]
    if as_json:
        record = {
            "image": str(path),
            "detections": [
                {"label": d.label, "score": round(d.score, 4), "box": d.box.clip(width, height).as_list()}
                for d in result.items
            ],
            "inference_ms": round(result.inference_ms, 2),
            "backend": detector.info.backend,
        }
        print(json.dumps(record), flush=True)
        return
    found = ", ".join(
        f"{d.label} {d.score:.2f} [{', '.join(f'{v:.0f}' for v in d.box.clip(width, height).as_list())}]"
        for d in result.items
    )
    print(f"{path}: {found or 'nothing'} ({result.inference_ms:.1f} ms, {detector.info.backend})", flush=True)


def _cmd_replay(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_BAD_INPUT
    camera = args.camera or next(iter(config.cameras))
    if camera not in config.cameras:
        print(f"edgewatch replay: no camera '{camera}' in {args.config}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        start = _parse_start(args.start, config)
    except ValueError as exc:
        print(f"edgewatch replay: --start: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        detector = open_detector(config.detector)
    except DetectorError as exc:
        print(f"edgewatch replay: {exc}", file=sys.stderr)
        return EXIT_FATAL

    def emit(record: dict[str, object]) -> None:
        if args.json:
            print(json.dumps(record), flush=True)
        elif record["kind"] == "alert":
            print(f"{record['sent_at']} ALERT {record['rule']}: {record['label']} on {record['camera']} "
                  f"(score {record['score']}, zones {record['zones']})", flush=True)  # fmt: skip
        else:
            print(f"event {record['id']}: {record['label']} {record['start_time']}–{record['end_time']}", flush=True)

    try:
        replay(str(args.video), config, camera, start=start, detector=detector, emit=emit)
    except SourceError as exc:
        print(f"{args.video}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        detector.close()
    return EXIT_OK


def _parse_start(text: str | None, config: Config) -> float:
    if text is None:
        return time.time()
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # a wall time at the cameras' place
        moment = moment.replace(tzinfo=resolve_zone(config.timezone))
    return moment.timestamp()


def _log_detector(node_id: str, detector: Detector) -> None:
    info = detector.info
    device = f" [{info.device}]" if info.device else ""
    log.info("edgewatch %s on node %s: detector %s on %s%s (%s)", __version__, node_id, info.model, info.backend,
             device, info.runtime)  # fmt: skip


def _tell_systemd_ready(service: Service, cameras: int) -> tuple[Notifier | None, Heartbeat | None]:
    """systemd (Type=notify): ready once detecting and serving; watchdog pings only while healthy."""
    notifier = Notifier.from_env()
    if notifier is None:
        return None, None
    summary = f"running {cameras} camera(s)"
    notifier.send("READY=1", f"STATUS={summary}")
    interval = watchdog_interval()
    if interval is None:
        return notifier, None
    heartbeat = Heartbeat(notifier, interval, service.health, ok_status=summary)
    heartbeat.start()
    return notifier, heartbeat


def _log_cameras(service: Service) -> None:
    for cam in service.status().cameras:
        log.log(
            logging.WARNING if cam.behind else logging.INFO,
            "camera %s: %s, %.1f fps in, %.1f detected%s, %d dropped%s",
            cam.name, "online" if cam.online else f"offline ({cam.error})", cam.fps_in, cam.fps_detect,
            f" of {cam.detect_fps_target:g} asked (the detector cannot keep up)" if cam.behind else "", cam.dropped,
            "" if cam.lag_s is None else f", results {cam.lag_s:.2f} s behind the camera",
        )  # fmt: skip


def _cmd_run(args: argparse.Namespace) -> int:
    cap_malloc_arenas()  # before any thread: RSS per camera (app.run.memory)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    config = _load(args.config)
    if config is None:
        return EXIT_BAD_INPUT
    if args.config is None:
        log.info("no --config given: running the embedded demo (camera: %s)", config.cameras["demo"].source)
    opened = _open_parts(config)
    if opened is None:
        return EXIT_FATAL
    detectors, store = opened
    service = Service(config, detectors, store)
    log.info("mode: %s; storage: %s", service.mode.value, config.storage.path)
    service.start()
    api = start_api(service, service.metrics, config.api, open_security(config.storage.path))
    log.info("running %d camera(s); stop with Ctrl-C or SIGTERM", len(config.cameras))
    notifier, heartbeat = _tell_systemd_ready(service, len(config.cameras))
    # Short waits: CPython runs a signal handler only on the main thread, once it wakes. A SIGTERM the
    # kernel hands to another thread (any thread may take a process-directed signal; under ptrace it
    # often does) would otherwise wait for the end of a 60 s sleep, past systemd's TimeoutStopSec=45.
    next_log = time.monotonic() + STATUS_LOG_INTERVAL_S
    while not stop.wait(1.0):
        if time.monotonic() >= next_log:
            next_log += STATUS_LOG_INTERVAL_S
            _log_cameras(service)
    log.info("stopping")
    if notifier is not None:
        notifier.send("STOPPING=1", "STATUS=stopping")
    if heartbeat is not None:
        heartbeat.stop()
    api.stop()
    service.stop()
    store.close()
    for detector in detectors:
        detector.close()
    log.info("stopped")
    return EXIT_OK


def _open_parts(config: Config) -> tuple[list[Detector], Store] | None:
    """The detectors and the store `run` needs, or None (logged) when either cannot be used."""
    try:
        detectors = open_detectors(config.detector)
    except DetectorError as exc:
        log.error("detector: %s", exc)
        return None
    for detector in detectors:
        _log_detector(config.node_id, detector)
    try:
        store = Store(Path(config.storage.path), retain_days=config.storage.retain_days, max_mb=config.storage.max_mb)
    except (OSError, StoreError) as exc:
        log.error("storage at %s cannot be used: %s", config.storage.path, exc)
        for detector in detectors:
            detector.close()
        return None
    return detectors, store
