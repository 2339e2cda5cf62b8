"""Each fault measured on the status samples (1 s resolution): when the appliance showed it, when it
recovered, against its bounds, and the window around it that the steady figures leave out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from soaklib.faults import Fault, detection_bound, recovery_bound
from soaklib.poller import StatusSample
from soaklib.records import count_log
from soaklib.run import Soak
from soaklib.scene import STATUS_EVERY_S
from soaklib.timings import product

Alerts = dict[str, dict[str, Any]]  # the store's alerts by id


def first_after(
    samples: Sequence[StatusSample], t: float, pred: Callable[[StatusSample], bool], until: float | None = None
) -> float | None:
    for s in samples:
        if s.t < t:
            continue
        if until is not None and s.t > until:
            return None
        if pred(s):
            return s.t
    return None


def online(name: str) -> Callable[[StatusSample], bool]:
    return lambda s: s.ok and s.body is not None and s.cam(name)["online"]


def offline(name: str) -> Callable[[StatusSample], bool]:
    return lambda s: s.ok and s.body is not None and not s.cam(name)["online"]


def mqtt_up(up: bool) -> Callable[[StatusSample], bool]:
    return lambda s: s.ok and s.body is not None and bool((s.body.get("mqtt") or {}).get("connected")) == up


def degraded(yes: bool) -> Callable[[StatusSample], bool]:
    def pred(s: StatusSample) -> bool:
        if not s.ok or s.body is None:
            return False
        d = s.body["detector"]
        return bool(d["degraded"]) if yes else (not d["degraded"] and d["backend"] == "edgetpu")

    return pred


def disk_nearly_full(s: StatusSample) -> bool:
    return bool(s.body and s.body["storage"]["free_mb"] < 1)


def answering(s: StatusSample) -> bool:
    return s.ok


def measure_faults(soak: Soak, store_alerts: Alerts) -> list[Fault]:
    """Every fault that happened, in the order it did, with its figures filled in."""
    order = sorted([f for f in soak.faults if f.started], key=lambda f: f.started or 0)
    for f in order:
        _measure(soak, f, _next_start(f, order, soak.t_end), store_alerts)
    return order


def _next_start(f: Fault, order: Sequence[Fault], t_end: float) -> float:
    """A fault is measured until the next one that does not start together with it."""
    later = [g.started for g in order if g.started and f.started and g.started > f.started + 1.0]
    return min([*later, t_end])


def _measure(soak: Soak, f: Fault, until: float, store_alerts: Alerts) -> None:
    assert f.started is not None
    f.bound_s = round(recovery_bound(f, soak.person.seconds), 1)
    base = f.restored or f.started
    seen, back = _signals(soak, f, base, until, store_alerts)
    f.detected_s = None if seen is None else round(seen - f.started, 1)
    f.recovered_s = None if back is None else round(back - base, 1)
    f.notes["detection_bound_s"] = detection_bound(f)
    if f.recovered_s is None and until - base < f.bound_s:
        f.notes["unmeasured"] = f"only {until - base:.0f} s until the next fault or the end"
    end = back if back is not None else base + f.bound_s
    if f.kind == "appliance_kill" and f.full_s is not None:
        end = f.started + f.full_s
    f.window_end = end + product().fps_window_s + STATUS_EVERY_S  # the rates need a clean window again


def _signals(
    soak: Soak, f: Fault, base: float, until: float, store_alerts: Alerts
) -> tuple[float | None, float | None]:
    """(when the appliance showed the fault, when it was healthy again), wall clock; None: not seen."""
    assert f.started is not None
    samples = soak.poller.samples
    if f.kind in ("camera_kill", "camera_freeze"):
        seen = first_after(samples, f.started, offline(str(f.target)), until)
        return seen, first_after(samples, base, online(str(f.target)), until)
    if f.kind == "broker_stop":
        return first_after(samples, f.started, mqtt_up(False), until), first_after(samples, base, mqtt_up(True), until)
    if f.kind == "detector_hang":
        seen = first_after(samples, f.started, degraded(True), until)
        return seen, first_after(samples, base, degraded(False), until)
    if f.kind == "disk_full":
        return _disk_full(soak, f, base, until, store_alerts)
    if f.kind == "appliance_kill":
        full = first_after(samples, f.started, StatusSample.all_up, until)
        f.full_s = None if full is None else round(full - f.started, 1)
        return None, first_after(samples, f.started, answering, until)
    return None, None


def _disk_full(
    soak: Soak, f: Fault, base: float, until: float, store_alerts: Alerts
) -> tuple[float | None, float | None]:
    """Shown: the status' free space under 1 MB; recovered: the first alert stored after the space is back."""
    assert f.started is not None
    seen = first_after(soak.poller.samples, f.started, disk_nearly_full, until)
    stored_after = sorted(a["fired_at"] for a in store_alerts.values() if a["fired_at"] >= base)
    back = stored_after[0] if stored_after and stored_after[0] <= until else None
    f.notes["alerts_delivered_meanwhile"] = sum(1 for t, _ in soak.hub.alerts() if f.started <= t <= base)
    f.notes["alerts_stored_meanwhile"] = sum(1 for a in store_alerts.values() if f.started <= a["fired_at"] <= base)
    f.notes["storage_errors_logged"] = count_log(
        soak.appliance.logs, ("ENOSPC", "SQLITE_FULL", "No space", "full"), f.started, base + 5
    )
    return seen, back


class FaultWindows:
    """Each fault from its start to the end of its window (`Fault.window_end`)."""

    def __init__(self, order: Sequence[Fault], t_end: float) -> None:
        self._windows = [(f.started, f.window_end or t_end, f) for f in order if f.started]

    def at(self, t: float) -> Fault | None:
        """The fault whose window `t` falls in, if any."""
        return next((f for a, b, f in self._windows if a <= t <= b), None)
