"""The retained states this box publishes — per camera counts, motion and connectivity, and each
rule's ON/OFF — and what changes when something happens. Pure bookkeeping, thread-safe; the
caller publishes the (topic, payload) pairs it gets back, retained.

- A disabled camera detects nothing, so it reports nothing in view: disabling it sets its counts
  to 0, its motion OFF and turns OFF the rules it alone kept firing; outcomes and alerts from a
  frame that was in flight when it was disabled are ignored.
- A camera's connectivity is published only once known (its first frame, or its first failure),
  so a start never flips HA's connectivity sensor offline→online.
- Counts exist for `counted` labels (the classes tracked that the model can report) and any label
  seen, 0 until seen, so hubs show 0 rather than unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from app.publish.frigate import frigate_count_message
from app.publish.topics import Topics

Update = tuple[str, str]  # (topic, payload), published retained
ON, OFF = "ON", "OFF"


class StateBook:
    def __init__(
        self,
        topics: Topics,
        cameras: Iterable[str],
        rules: Iterable[str],
        counted: Iterable[str],
        *,
        frigate: bool = False,
    ) -> None:
        self._topics = topics
        self._cameras = tuple(cameras)
        self._rules = tuple(rules)
        self._frigate = frigate
        self._lock = threading.Lock()
        self._labels: set[str] = set(counted)
        self._counts: dict[tuple[str, str], int] = {(c, label): 0 for c in self._cameras for label in self._labels}
        self._motion: dict[str, bool] = dict.fromkeys(self._cameras, False)
        self._online: dict[str, bool] = {}
        self._disabled: set[str] = set()
        self._firing: dict[str, dict[str, str]] = {}  # rule → {event id: camera} it fired for, still open

    # -- what is counted -------------------------------------------------------------
    def labels(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._labels)

    def count_labels(self, labels: Iterable[str]) -> list[Update]:
        """Count these labels too (e.g. the model changed): a 0 for each new one on every camera."""
        with self._lock:
            new = set(labels) - self._labels
            self._labels |= new
            for camera in self._cameras:
                for label in new:
                    self._counts.setdefault((camera, label), 0)
            changes = [(camera, label, self._counts[(camera, label)]) for camera in self._cameras for label in new]
        return self._count_updates(changes)

    # -- what happened ---------------------------------------------------------------
    def outcome(self, camera: str, counts: Mapping[str, int], moving: bool) -> tuple[list[Update], bool]:
        """One analysed frame: the changed counts and motion, and whether a label was seen for the first time."""
        with self._lock:
            if camera in self._disabled:
                return [], False
            new_label = not set(counts) <= self._labels
            self._labels |= set(counts)
            labels = {label for (cam, label) in self._counts if cam == camera} | set(counts)
            changes = [
                (camera, label, counts.get(label, 0))
                for label in sorted(labels)
                if self._counts.get((camera, label)) != counts.get(label, 0)
            ]
            for _, label, n in changes:
                self._counts[(camera, label)] = n
            motion_changed = self._motion.get(camera) != moving
            self._motion[camera] = moving
        updates = self._count_updates(changes)
        if motion_changed:
            updates.append((self._topics.motion(camera), ON if moving else OFF))
        return updates, new_label

    def alert(self, rule: str, camera: str, event_id: str) -> list[Update]:
        with self._lock:
            if camera in self._disabled:
                return []
            self._firing.setdefault(rule, {})[event_id] = camera
        return [(self._topics.rule_state(rule), ON)]

    def event_ended(self, event_id: str) -> list[Update]:
        with self._lock:
            off = [rule for rule, events in self._firing.items() if events.pop(event_id, None) and not events]
        return [(self._topics.rule_state(rule), OFF) for rule in off]

    def set_enabled(self, camera: str, enabled: bool) -> list[Update]:
        """Disabling: nothing is in view any more — counts 0, motion OFF, its rules OFF (unless
        another camera keeps them firing)."""
        with self._lock:
            if enabled:
                self._disabled.discard(camera)
                return []
            self._disabled.add(camera)
            changes = [(cam, label, 0) for (cam, label), n in sorted(self._counts.items()) if cam == camera and n]
            for _, label, _ in changes:
                self._counts[(camera, label)] = 0
            self._motion[camera] = False
            off = []
            for rule, events in self._firing.items():
                mine = [event for event, cam in events.items() if cam == camera]
                for event in mine:
                    del events[event]
                if mine and not events:
                    off.append(rule)
        return [
            *self._count_updates(changes),
            (self._topics.motion(camera), OFF),
            *((self._topics.rule_state(rule), OFF) for rule in off),
        ]

    def cameras_online(self, known: Mapping[str, bool]) -> list[Update]:
        """The cameras whose connectivity is known now; only changes come back."""
        with self._lock:
            changed = {cam: up for cam, up in known.items() if self._online.get(cam) != up}
            self._online.update(changed)
        return [(self._topics.camera_status(cam), "online" if up else "offline") for cam, up in changed.items()]

    # -- everything, for a (re)connect ------------------------------------------------------
    def everything(self) -> list[Update]:
        """Every state as it is now: what a connect publishes before saying `online`."""
        t = self._topics
        with self._lock:
            rules = [(rule, bool(self._firing.get(rule))) for rule in self._rules]
            motion = sorted(self._motion.items())
            counts = [(camera, label, n) for (camera, label), n in sorted(self._counts.items())]
            online = sorted(self._online.items())
        return [
            *((t.rule_state(rule), ON if firing else OFF) for rule, firing in rules),
            *((t.motion(camera), ON if moving else OFF) for camera, moving in motion),
            *self._count_updates(counts),
            *((t.camera_status(camera), "online" if up else "offline") for camera, up in online),
        ]

    def _count_updates(self, changes: Iterable[tuple[str, str, int]]) -> list[Update]:
        updates: list[Update] = []
        for camera, label, n in changes:
            updates.append((self._topics.count(camera, label), str(n)))
            if self._frigate:
                updates.append(frigate_count_message(camera, label, n))
        return updates
