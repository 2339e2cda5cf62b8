"""The one wiring of the cameras' analysis from the config: the live service (app.run.assembly)
and `edgewatch replay` (app.run.replay) both build it here, so replay answers "would this rule
have fired?" with the same classes, scores, rules and detect path the box runs.

Detection goes through a `DetectionWorker` in both: it owns the detector, serves the cameras in
turn and gives up on a call after the detect timeout (app/detect/timeouts.py), which a frame then
sees as "no evidence" (events and rules keep their state) instead of waiting for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.analysis.camera import CameraAnalysis
from app.analysis.pipeline import RECHECK_STILL, CameraPipeline, DetectFn
from app.config import Config, Mode, resolve_zone
from app.detect.base import Image
from app.detect.timeouts import DETECT_TIMEOUTS
from app.detect.worker import DetectionWorker
from app.domain import Detections
from app.objects import ObjectFilter
from app.rules import RuleEngine, zones_for_camera


@dataclass(frozen=True, eq=False)
class Analyses:
    objects: ObjectFilter  # the classes tracked and the scores each needs
    rules: RuleEngine  # one engine for every camera: the mode is global
    rules_lock: threading.Lock  # held while any camera evaluates or the mode changes
    cameras: dict[str, CameraAnalysis]  # in the config's order


def build_analyses(
    config: Config,
    detect_for: Callable[[str], DetectFn],
    model_size: int,
    *,
    mode: Mode | None = None,
    cameras: Iterable[str] | None = None,
    recheck_still: float = RECHECK_STILL,
) -> Analyses:
    """Each camera's analysis (all of `config.cameras` unless `cameras` names some), detecting
    through `detect_for(camera)`. `mode`: the rules' starting mode (default: the config's)."""
    objects = ObjectFilter.from_config(config)
    rules = RuleEngine(
        config.rules,
        config.cameras,
        resolve_zone(config.timezone),
        config.mode if mode is None else mode,
        threshold=objects.threshold,
    )
    lock = threading.Lock()
    built: dict[str, CameraAnalysis] = {}
    for name in config.cameras if cameras is None else cameras:
        cam = config.cameras[name]
        pipeline = CameraPipeline(name, cam, detect_for(name), model_size, objects=objects, recheck_still=recheck_still)
        built[name] = CameraAnalysis(pipeline, rules, lock, zones_for_camera(cam))
    return Analyses(objects, rules, lock, built)


def detect_through(worker: DetectionWorker, camera: str, timeout: float = DETECT_TIMEOUTS.request_s) -> DetectFn:
    """A camera's detect call through the worker: None when it timed out, failed or was stopped."""

    def detect(images: Sequence[Image], min_score: float) -> list[Detections] | None:
        return worker.detect(camera, images, min_score, timeout)

    return detect
