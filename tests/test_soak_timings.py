"""The soak's bounds follow the product's timings (issue 19, item 8): bench/soaklib imports them
instead of copying them, so that a timeout changed in the product moves the soak's bound with it
instead of leaving a stale copy to pass or fail for the wrong reason. Fast: no process is started.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from pathlib import Path

import pytest

from app.capture import camera, pyav
from app.detect import supervisor, timeouts
from app.publish import netloop
from app.run import runner
from tests.test_soak import CAP_S, DURATION_S

sys.path.append(str(Path(__file__).resolve().parents[1] / "bench"))  # bench/ is not a package
from soaklib import timings
from soaklib.faults import POLL_SLACK_S, SELFTEST_S, Fault, detection_bound, recovery_bound, schedule
from soaklib.processes import STOP_TIMEOUT_S, Appliance

ROOT = Path(__file__).resolve().parents[1]
CLIP_S = 12.0
SOAK_TEST_CLIP_S = 6.0  # the clips tests/test_soak.py loops (tests/support/clips.py)


def fault(kind: str, hold: float = 10.0) -> Fault:
    return Fault(kind, at=0.0, hold=hold, target="cam0" if kind.startswith("camera") else None)


def test_each_timing_is_the_products_own() -> None:
    got = timings.product()
    assert got.camera_backoff == camera.Backoff()
    assert got.camera_open_timeout_s == pyav.OPEN_TIMEOUT_S
    assert got.mqtt_backoff == (netloop.RECONNECT_MIN_DELAY, netloop.RECONNECT_MAX_DELAY)
    assert got.tpu_hang_s == timeouts.DETECT_TIMEOUTS.hang_s
    assert got.tpu_probe_s == supervisor.PROBE_S
    assert got.fps_window_s == runner.RECENT_S


def test_the_stop_timeout_is_the_units() -> None:
    unit = (ROOT / "systemd" / "edgewatch.service").read_text()
    (stop,) = re.findall(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE)
    assert float(stop) == STOP_TIMEOUT_S
    assert inspect.signature(Appliance.stop).parameters["timeout"].default == STOP_TIMEOUT_S


def test_the_detector_hang_bounds_follow_detect_timeouts_and_the_probe_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hang = fault("detector_hang")
    shown, healed = detection_bound(hang), recovery_bound(hang, CLIP_S)
    assert shown is not None
    assert healed == supervisor.PROBE_S + SELFTEST_S + POLL_SLACK_S
    monkeypatch.setattr(
        timeouts, "DETECT_TIMEOUTS", timeouts.DetectTimeouts(hang_s=timeouts.DETECT_TIMEOUTS.hang_s + 4)
    )
    assert detection_bound(hang) == pytest.approx(shown + 4)
    monkeypatch.setattr(supervisor, "PROBE_S", supervisor.PROBE_S + 10)
    assert recovery_bound(hang, CLIP_S) == pytest.approx(healed + 10)


def test_the_camera_bounds_follow_the_capture_backoff_and_open_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    kill, freeze = fault("camera_kill", hold=3.0), fault("camera_freeze", hold=3.0)
    before = recovery_bound(kill, CLIP_S)
    assert recovery_bound(freeze, CLIP_S) == before
    monkeypatch.setattr(pyav, "OPEN_TIMEOUT_S", pyav.OPEN_TIMEOUT_S + 7)
    assert recovery_bound(kill, CLIP_S) == pytest.approx(before + 7)
    monkeypatch.setattr(camera, "Backoff", functools.partial(camera.Backoff, first=2.0, limit=4.0, jitter=0.5))
    assert recovery_bound(kill, CLIP_S) == pytest.approx(1.5 * 4.0 + pyav.OPEN_TIMEOUT_S + POLL_SLACK_S)


def test_the_broker_bound_follows_the_mqtt_reconnect_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = fault("broker_stop", hold=6.0)
    assert recovery_bound(stop, CLIP_S) == min(netloop.RECONNECT_MAX_DELAY, 6.0 + netloop.RECONNECT_MIN_DELAY) + (
        POLL_SLACK_S
    )
    monkeypatch.setattr(netloop, "RECONNECT_MIN_DELAY", 3.0)
    assert recovery_bound(stop, CLIP_S) == pytest.approx(9.0 + POLL_SLACK_S)
    monkeypatch.setattr(netloop, "RECONNECT_MAX_DELAY", 5.0)
    assert recovery_bound(stop, CLIP_S) == pytest.approx(5.0 + POLL_SLACK_S)


def test_the_fps_window_follows_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "RECENT_S", 11.0)
    assert timings.product().fps_window_s == 11.0


def test_the_short_soaks_bounds_fit_under_its_caps_with_the_products_timings() -> None:
    """What tests/test_soak.py would find after minutes, found at once: a product timing grown so far
    that the soak's own bound passes the cap an installer would notice."""
    for f in schedule(DURATION_S):
        assert recovery_bound(f, SOAK_TEST_CLIP_S) <= CAP_S[f.kind], f


def test_a_unit_time_is_read_in_plain_seconds_or_refused(tmp_path: Path) -> None:
    unit = tmp_path / "x.service"
    unit.write_text("[Service]\nTimeoutStopSec=10\n# TimeoutStopSec=99\nTimeoutStopSec=45s\nTimeoutStartSec=1min\n")
    assert timings.unit_seconds("TimeoutStopSec", unit) == 45.0  # the last assignment wins
    with pytest.raises(ValueError, match="plain seconds"):
        timings.unit_seconds("TimeoutStartSec", unit)
    with pytest.raises(ValueError, match="no WatchdogSec"):
        timings.unit_seconds("WatchdogSec", unit)
