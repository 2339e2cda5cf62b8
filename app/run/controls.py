"""The switches flipped at run time, over MQTT or the API: the arming mode and each camera's
enabled. Each is persisted in the store before it takes effect, so a restart keeps it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from app.config import Mode
from app.rules import RuleEngine
from app.run.runner import CameraRunner
from app.store import Store

log = logging.getLogger(__name__)

MODE_KEY = "mode"


def saved_mode(store: Store, default: Mode) -> Mode:
    """The mode of the last run, else the config's."""
    saved = store.get_state(MODE_KEY)
    return Mode(saved) if saved in {m.value for m in Mode} else default


class Controls:
    def __init__(
        self, store: Store, rules: RuleEngine, rules_lock: threading.Lock, runners: Mapping[str, CameraRunner]
    ) -> None:
        """`rules_lock` is the lock the cameras' analyses take around `rules`."""
        self._store = store
        self._rules = rules
        self._rules_lock = rules_lock
        self._runners = runners
        for name, runner in runners.items():
            runner.enabled = store.get_state(_enabled_key(name)) != "OFF"

    @property
    def mode(self) -> Mode:
        with self._rules_lock:
            return self._rules.mode

    def set_mode(self, mode: Mode) -> None:
        """Switch mode now; persisted before it takes effect so a restart keeps it."""
        self._store.set_state(MODE_KEY, mode.value)
        with self._rules_lock:
            self._rules.set_mode(mode, time.time())
        log.info("mode: %s", mode.value)

    def camera_enabled(self, camera: str) -> bool:
        return self._runners[camera].enabled

    def set_camera_enabled(self, camera: str, enabled: bool) -> None:
        self._store.set_state(_enabled_key(camera), "ON" if enabled else "OFF")
        self._runners[camera].enabled = enabled
        log.info("camera %s: %s", camera, "enabled" if enabled else "disabled")


def _enabled_key(camera: str) -> str:
    return f"camera.{camera}.enabled"
