"""The composition root: builds every part of the live service from the config, wired in flow order.

    Camera ──▶ CameraRunner ──▶ CameraAnalysis (CameraPipeline ──▶ DetectionWorker; RuleEngine)
      └─ packets ──▶ Recordings     └─ outcome ──▶ Evidence (Store, Metrics, MQTT), TrackLog,
                                                    Recordings, MqttBridge

Each camera gets a capture (app.capture) and a runner that takes the freshest frame at the
camera's detect fps and drives its analysis; all runners share the detection workers, one per
detector (camera i → detector i mod n). Nothing here starts a thread: app.service does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from app.analysis import CameraAnalysis
from app.capture import Camera
from app.config import Config, resolve_zone
from app.controls import Controls, saved_mode
from app.detect import Detector
from app.detect.base import Image
from app.detect.supervisor import DetectorState, SupervisedDetector
from app.detect.worker import DetectionWorker
from app.domain import Detections
from app.evidence import Evidence
from app.metrics import Metrics
from app.objects import ObjectFilter
from app.payloads import detector_payload
from app.pipeline import CameraPipeline, DetectFn
from app.publish.bridge import Control, MqttBridge
from app.recording import RESERVE_BYTES, Recordings
from app.rules import RuleEngine, zones_for_camera
from app.runner import CameraRunner, Listener, TrackLog
from app.status_board import StatusBoard
from app.store import Store
from app.timings import DETECT_TIMEOUT_S


@dataclass(frozen=True, eq=False)
class Parts:
    """Everything the service runs, built and wired, none of it started."""

    config: Config
    store: Store
    detectors: tuple[Detector, ...]
    workers: tuple[DetectionWorker, ...]
    metrics: Metrics
    evidence: Evidence
    objects: ObjectFilter
    recordings: Recordings
    runners: dict[str, CameraRunner]
    controls: Controls
    board: StatusBoard
    listeners: list[Listener]  # every runner's result listeners: one list, so one added later reaches all


def assemble(
    config: Config, detectors: Sequence[Detector], store: Store, *, record_reserve_bytes: int = RESERVE_BYTES
) -> Parts:
    """Builds the service's parts but the MQTT bridge (see `connect_mqtt`)."""
    if not detectors:
        raise ValueError("at least one detector is needed")
    metrics = Metrics()
    workers = tuple(DetectionWorker(d, on_inference=metrics.observe_inference) for d in detectors)
    evidence = Evidence(store, [metrics.observe_alert])
    listeners: list[Listener] = [evidence, TrackLog()]
    objects = ObjectFilter.from_config(config)
    mode = saved_mode(store, config.mode)  # persisted across restarts
    rules = RuleEngine(config.rules, config.cameras, resolve_zone(config.timezone), mode, threshold=objects.threshold)
    rules_lock = threading.Lock()
    model_size = detectors[0].info.input_size[0]
    # Before any camera starts: half-written segments of the last run are repaired or removed.
    recordings = Recordings(config, store, reserve_bytes=record_reserve_bytes)
    listeners.append(recordings.on_outcome)
    runners: dict[str, CameraRunner] = {}
    for index, (name, cam) in enumerate(config.cameras.items()):
        recording = recordings.cameras.get(name)
        camera = Camera(
            name,
            cam.source,
            on_packet=None if recording is None else recording.push,
            on_frame=None if recording is None else recording.frame,  # MJPEG / raw V4L2: encoded once
        )
        worker = workers[index % len(workers)]
        pipeline = CameraPipeline(name, cam, _detect_for(name, worker), model_size, objects=objects)
        analysis = CameraAnalysis(pipeline, rules, rules_lock, zones_for_camera(cam))
        runners[name] = CameraRunner(camera, analysis, cam.detect_fps, listeners)
    controls = Controls(store, rules, rules_lock, runners)
    board = StatusBoard(
        config, runners=runners, workers=workers, recordings=recordings, objects=objects,
        mode=lambda: controls.mode, usage=store.usage,
    )  # fmt: skip
    metrics.collect_status(board.status, board.storage)
    return Parts(
        config, store, tuple(detectors), workers, metrics, evidence, objects, recordings, runners, controls, board,
        listeners,
    )  # fmt: skip


def connect_mqtt(parts: Parts, control: Control) -> MqttBridge | None:
    """The MQTT bridge, wired to the parts (None without an `mqtt` section): the one place the
    service calls into app.publish. Built last, once `control` (the service) can answer it."""
    config = parts.config
    if config.mqtt is None:
        return None
    bridge = MqttBridge(config, control, parts.store)
    parts.evidence.add_sink(bridge.on_alert)
    parts.listeners.append(bridge.on_outcome)
    parts.board.report_mqtt(lambda: _link(bridge), bridge.outbox.depth)

    def detector_changed(_: DetectorState) -> None:  # Edge TPU lost / back: announce it at once
        bridge.on_detector(detector_payload(parts.board.detector()))

    for each in parts.detectors:
        if isinstance(each, SupervisedDetector):
            each.add_listener(detector_changed)
    return bridge


def _link(bridge: MqttBridge) -> tuple[bool, str | None]:
    status = bridge.client.status()
    return status.connected, status.error


def _detect_for(camera: str, worker: DetectionWorker) -> DetectFn:
    def detect(images: Sequence[Image], min_score: float) -> list[Detections] | None:
        return worker.detect(camera, images, min_score, DETECT_TIMEOUT_S)

    return detect
