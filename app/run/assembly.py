"""The composition root: builds every part of the live service from the config, wired in flow order.

    Camera ──▶ CameraRunner ──▶ CameraAnalysis (CameraPipeline ──▶ DetectionWorker; RuleEngine)
      └─ packets ──▶ Recordings     └─ outcome ──▶ Evidence (Store, Metrics, MQTT), TrackLog,
                                                    Recordings, MqttBridge

Each camera gets a capture (app.capture) and a runner that takes the freshest frame at the
camera's detect fps and drives its analysis; all runners share the detection workers, one per
detector (camera i → detector i mod n). Nothing here starts a thread: app.run.service does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.analysis.build import build_analyses, detect_through
from app.capture import Camera
from app.config import Config
from app.detect import Detector
from app.detect.supervisor import DetectorState, SupervisedDetector
from app.detect.worker import DetectionWorker
from app.objects import ObjectFilter
from app.payloads import detector_payload
from app.publish.bridge import Control, MqttBridge
from app.run.controls import Controls, saved_mode
from app.run.evidence import Evidence
from app.run.metrics import Metrics
from app.run.recording import RESERVE_BYTES, Recordings
from app.run.runner import CameraRunner, Listener, TrackLog
from app.run.status_board import StatusBoard
from app.store import Store


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
    worker_of = {name: workers[i % len(workers)] for i, name in enumerate(config.cameras)}
    analyses = build_analyses(
        config,
        lambda name: detect_through(worker_of[name], name),  # the request timeout of app/detect/timeouts.py
        detectors[0].info.input_size[0],
        mode=saved_mode(store, config.mode),  # persisted across restarts
    )
    objects, rules, rules_lock = analyses.objects, analyses.rules, analyses.rules_lock
    # Before any camera starts: half-written segments of the last run are repaired or removed.
    recordings = Recordings(config, store, reserve_bytes=record_reserve_bytes)
    listeners.append(recordings.on_outcome)
    runners: dict[str, CameraRunner] = {}
    for name, analysis in analyses.cameras.items():
        cam = config.cameras[name]
        recording = recordings.cameras.get(name)
        camera = Camera(
            name,
            cam.source,
            on_packet=None if recording is None else recording.push,
            on_frame=None if recording is None else recording.frame,  # MJPEG / raw V4L2: encoded once
        )
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
