"""The rule engine: a camera's live tracks + the time → the alerts to send now.

Pure: no clock, thread or I/O. Every time-based decision uses `now`, the frame's wall
time in epoch seconds (the video's timeline in `replay`); `Track.first_seen/last_seen`
are on the pipeline's monotonic clock and are never looked at here.

A rule fires for a track when, all at once:
- the rule applies to the camera (`cameras`, default all; a rule whose `zones` all
  live on other cameras does not apply here at all, so it is not listed as armed);
- it is armed: the engine's mode is in `modes` and the schedule (local wall time in
  the configured zone, see schedule.py) is open;
- the track is confirmed, its label is in `expand(objects)` and top_score ≥ min_score
  (a rule without `min_score` uses the threshold of the track's label, `threshold(label)`
  from app.objects — the score the track already needed to be confirmed);
- its bottom-centre has been continuously in the rule's area for ≥ min_dwell:
  in any of the rule's zones, or anywhere when the rule has none; never under a
  motion-mask polygon (see zones.py). The dwell clock runs whether or not the rule
  is armed or the track is confirmed yet: it measures where the object has been, so
  a person already at the door when a rule arms (and who is not stationary) fires as
  soon as the rule arms. Leaving the area resets it; moving between two of the
  rule's zones does not;
- this (rule, track) pair has not fired before and the track is not parked for it;
- the (rule, camera) pair is not in cooldown.

Choices the issue left open:
- Cooldown: an alert suppressed by a cooldown is not queued, but the object is not used
  up either: if it still qualifies when the cooldown ends, it fires then (once). A
  lingering second visitor is reported at most one cooldown late; an object that left
  during the cooldown is never reported. Several tracks qualifying in the same frame:
  the first in `tracks` order fires and starts the cooldown for the rest.
- Parked objects: when a rule becomes armed on a camera (the first look at a camera,
  a mode change that arms it, a schedule window opening), every track there that is
  stationary at that moment is exempt from that rule for the rest of its life, even
  if it drives off later: only new arrivals alert. `set_mode` decides with the
  tracks of each camera's latest `evaluate` (the moment of the switch); schedule
  openings are noticed at the first frame at or after the opening. A track that is
  already stationary the first time the engine sees it is exempt from every rule.
  A mode change between two modes that both arm a rule is not an arming.
- Things that park (`app.labels.PARKS`: vehicles, bicycles) fire only once they have
  been seen moving (`app.domain.moved_from`: half the box off where it was first seen). One that
  turns stationary before it ever moved is parked for life, exempt from every rule. A
  car parked in view when the service starts is first seen still and never alerts (it
  takes 10 s to count as stationary, by which time a car rule would otherwise have fired
  on it). An arriving vehicle drives in, so it moves before it can fire.
- Parking spots (`app.analysis.parking.ParkingSpots`): where such a thing stood without moving is
  remembered per camera (the union of its boxes) for `SPOT_MEMORY` after it was last seen there. A new track of
  that kind that starts inside a spot is the same parked vehicle found again — the
  detector lost it at dusk, or a passer-by hid half of it and the tracker started over —
  and never fires: not while it stands there, nor when it drives away (a departure is
  not an arrival; the spot is then forgotten).
- Zones in an alert: the rule's zones (in the rule's order) the object is in when it
  fires; () for a rule without zones.
- Wall clock steps (NTP): if `now` goes back before a dwell start or the last alert,
  the dwell restarts and the cooldown is treated as over, so a clock correction can
  delay an alert by at most min_dwell, never hold alerts back for the size of the step.

State is per camera and per live track; tracks missing from a camera's latest
`evaluate` are dropped, so memory follows the number of live objects, not uptime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from app.analysis.parking import ParkingSpots, Spot
from app.config.schema import CameraConfig, Mode, RuleConfig
from app.domain import Alert, Track, moved_from
from app.labels import PARKS, expand
from app.objects import class_limits
from app.rules.schedule import Schedule
from app.rules.zones import CameraZones, foot_point

# Frame times are floats: 1000.0 + 5 * 0.2 may land a hair below a 1 s dwell.
_TIME_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class _Rule:
    """One rule as it applies to one camera."""

    name: str
    labels: frozenset[str]
    zones: tuple[str, ...] | None  # the rule's zones that exist on this camera; None = anywhere
    area: int  # index into the camera's distinct areas (dwell clocks are per area)
    min_score: float | None  # None: the threshold of the track's label
    min_dwell: float
    modes: frozenset[str]
    schedule: Schedule | None
    cooldown: float
    severity: str


class _TrackState:
    __slots__ = ("done", "placed", "resumed", "since", "spot", "started_at", "stationary")

    def __init__(self, started_at: float, areas: int, stationary: bool, rules: int) -> None:
        self.started_at = started_at  # epoch time of the engine's first look at it
        self.since: list[float | None] = [None] * areas  # per area: in it continuously since
        self.stationary = stationary  # as of the latest evaluate (set_mode needs it)
        # Rules this track will never fire again: fired already, or parked when they armed.
        # Stationary at first sight: it was there before we looked.
        self.done: set[int] = set(range(rules)) if stationary else set()
        # Things that park: the spot it stands in (None once it drove in or off), whether it
        # was found in a spot known before it (a parked vehicle found again), and whether
        # that was looked up yet.
        self.spot: Spot | None = None
        self.resumed = False
        self.placed = False

    def locate(self, areas: Sequence[frozenset[str] | None], masked: bool, inside: frozenset[str], now: float) -> None:
        """Run or reset each area's dwell clock for where the object stands now."""
        since = self.since
        for k, area in enumerate(areas):
            if masked or (area is not None and area.isdisjoint(inside)):
                since[k] = None
            else:
                entered = since[k]
                if entered is None or entered > now:  # a new visit, or the wall clock stepped back
                    since[k] = now


class _Camera:
    __slots__ = ("areas", "armed", "last_alert", "rules", "spots", "tracks", "zones")

    def __init__(self, config: CameraConfig, rules: Sequence[RuleConfig], name: str) -> None:
        self.zones = CameraZones(config.zones, config.motion.mask)
        areas: list[frozenset[str] | None] = []
        compiled: list[_Rule] = []
        for rule in rules:
            if rule.cameras is not None and name not in rule.cameras:
                continue
            zones = None if rule.zones is None else tuple(z for z in rule.zones if z in self.zones.names)
            if zones == ():
                continue  # none of its zones is on this camera: it can never fire here
            area = None if zones is None else frozenset(zones)
            if area not in areas:
                areas.append(area)
            compiled.append(
                _Rule(
                    name=rule.name,
                    labels=expand(rule.objects),
                    zones=zones,
                    area=areas.index(area),
                    min_score=rule.min_score,
                    min_dwell=rule.min_dwell,
                    modes=frozenset(rule.modes),
                    schedule=None if rule.schedule is None else Schedule(rule.schedule),
                    cooldown=rule.cooldown,
                    severity=rule.severity,
                )
            )
        self.rules = tuple(compiled)
        self.areas = tuple(areas)
        self.armed = [False] * len(compiled)  # per rule, as of the last look; False before the first
        self.last_alert: list[float | None] = [None] * len(compiled)  # per rule: fired_at, for cooldown
        self.tracks: dict[str, _TrackState] = {}
        self.spots = ParkingSpots()

    def park(self, armed: list[bool]) -> None:
        """Rules that just became armed exempt the tracks that are stationary right now."""
        for i, (now_armed, was_armed) in enumerate(zip(armed, self.armed, strict=True)):
            if now_armed and not was_armed:
                for state in self.tracks.values():
                    if state.stationary:
                        state.done.add(i)
        self.armed = armed


class RuleEngine:
    """Evaluates every rule against each camera's tracks; see the module doc for the semantics."""

    def __init__(
        self,
        rules: Sequence[RuleConfig],
        cameras: Mapping[str, CameraConfig],
        timezone: ZoneInfo,
        mode: Mode,
        *,
        threshold: Callable[[str], float] | None = None,
    ) -> None:
        """`threshold`: label → the score a rule without `min_score` requires (normally
        `ObjectFilter.threshold`); default: app.objects' table."""
        self._tz = timezone
        self._mode = mode
        self._threshold = threshold if threshold is not None else _default_threshold
        self._cameras = {name: _Camera(config, rules, name) for name, config in cameras.items()}

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode, now: float) -> None:
        """Switch mode at wall time `now`; rules it arms skip whatever is parked now."""
        self._mode = mode
        for cam in self._cameras.values():
            cam.park(self._armed(cam, now))

    def active_rules(self, camera: str, now: float) -> list[str]:
        """Names of the rules armed on `camera` at `now` (config order)."""
        cam = self._camera(camera)
        return [rule.name for rule, armed in zip(cam.rules, self._armed(cam, now), strict=True) if armed]

    def evaluate(
        self,
        camera: str,
        tracks: Sequence[Track],
        frame_size: tuple[int, int],
        now: float,
        event_ids: Mapping[str, str],
    ) -> list[Alert]:
        """The alerts `camera`'s live `tracks` raise at `now`; call once per frame, in time order."""
        cam = self._camera(camera)
        width, height = frame_size
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        n_rules, n_areas = len(cam.rules), len(cam.areas)

        # Keep only the tracks in this call: that is the pruning.
        previous = cam.tracks
        states: dict[str, _TrackState] = {}
        for track in tracks:
            state = previous.get(track.id)
            if state is None:
                state = _TrackState(now, n_areas, track.stationary, n_rules)
            else:
                state.stationary = track.stationary
            states[track.id] = state
        cam.tracks = states
        armed = self._armed(cam, now)
        cam.park(armed)
        cam.spots.expire(now)
        live = [i for i, a in enumerate(armed) if a]

        alerts: list[Alert] = []
        zones = cam.zones
        for track in tracks:
            state = states[track.id]
            fx, fy = foot_point(track.box, width, height)
            masked = zones.masked(fx, fy)
            inside = frozenset() if masked else zones.zones_at(fx, fy)
            state.locate(cam.areas, masked, inside, now)
            if not track.confirmed:
                continue
            if track.label in PARKS:
                parking = _parking(cam, track, state, now)
                if parking == "parked":
                    state.done.update(range(n_rules))
                if parking != "free":
                    continue
            alerts += [
                _alert(cam.rules[i], camera, track, state, zones=inside, now=now, size=frame_size, event_ids=event_ids)
                for i in self._due(cam, track, state, live, now)
            ]
        return alerts

    def _due(self, cam: _Camera, track: Track, state: _TrackState, live: list[int], now: float) -> list[int]:
        """The armed rules this confirmed track fires now (marked done, cooldowns started)."""
        due = []
        for i in live:
            if i in state.done:
                continue
            rule = cam.rules[i]
            if track.label not in rule.labels:
                continue
            min_score = rule.min_score if rule.min_score is not None else self._threshold(track.label)
            if track.top_score < min_score:
                continue
            entered = state.since[rule.area]
            if entered is None or now - entered + _TIME_EPS < rule.min_dwell:
                continue
            last = cam.last_alert[i]
            if last is not None and last <= now and now - last + _TIME_EPS < rule.cooldown:
                continue  # not queued; the track may still fire once the cooldown is over
            state.done.add(i)
            cam.last_alert[i] = now
            due.append(i)
        return due

    def _camera(self, camera: str) -> _Camera:
        try:
            return self._cameras[camera]
        except KeyError:
            raise KeyError(f"unknown camera '{camera}'") from None

    def _armed(self, cam: _Camera, now: float) -> list[bool]:
        mode = self._mode
        local: datetime | None = None
        out: list[bool] = []
        for rule in cam.rules:
            armed = mode in rule.modes
            if armed and rule.schedule is not None:
                if local is None:
                    local = datetime.fromtimestamp(now, self._tz)
                armed = rule.schedule.contains(local)
            out.append(armed)
        return out


def _default_threshold(label: str) -> float:
    return class_limits(label).threshold


def _parking(cam: _Camera, track: Track, state: _TrackState, now: float) -> Literal["parked", "wait", "free"]:
    """A confirmed thing that parks: "parked" (exempt from every rule for life), "wait" (not
    seen moving yet) or "free" (an arrival: the rules apply). Keeps the camera's parking
    spots up to date (see the module doc)."""
    if track.origin is None:
        return "free"  # no history (a track not from our tracker): nothing to judge by
    if not state.placed:
        state.placed = True
        state.spot = cam.spots.find(track.origin)
        state.resumed = state.spot is not None
        if state.spot is None:
            state.spot = cam.spots.add(track.origin, now)
    spot = state.spot
    if spot is None:
        return "free"  # it drove in
    if moved_from(track.box, spot.box if state.resumed else track.origin):
        cam.spots.forget(spot)
        state.spot = None
        if state.resumed or state.done:
            return "parked"  # a parked vehicle leaving: a departure is not an arrival
        return "free"
    cam.spots.extend(spot, track.box, now)
    return "parked" if state.resumed or track.stationary else "wait"


def _alert(
    rule: _Rule,
    camera: str,
    track: Track,
    state: _TrackState,
    *,
    zones: frozenset[str],
    now: float,
    size: tuple[int, int],
    event_ids: Mapping[str, str],
) -> Alert:
    event_id = event_ids.get(track.id, track.id)
    width, height = size
    b = track.box
    box = (_unit(b.x1 / width), _unit(b.y1 / height), _unit(b.x2 / width), _unit(b.y2 / height))
    return Alert(
        id=f"{event_id}:{rule.name}",
        rule=rule.name,
        camera=camera,
        label=track.label,
        score=track.top_score,
        box=box,
        zones=() if rule.zones is None else tuple(z for z in rule.zones if z in zones),
        event_id=event_id,
        started_at=state.started_at,
        fired_at=now,
        severity=rule.severity,
    )


def _unit(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value
