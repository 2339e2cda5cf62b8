"""The product's timings the recovery bounds derive from, imported from the product, not copied.

Read at call time (`product()`), so that a bound follows the product even when a test changes one.
The service manager's stop timeout is the unit file's `TimeoutStopSec=`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.capture import camera, pyav
from app.detect import supervisor, timeouts
from app.publish import netloop
from app.run import runner
from soaklib import ROOT

UNIT = ROOT / "systemd" / "edgewatch.service"


@dataclass(frozen=True, slots=True)
class ProductTimings:
    camera_backoff: camera.Backoff  # first wait, longest wait, jitter between camera reconnects
    camera_open_timeout_s: float  # a frozen server holds an open this long
    mqtt_backoff: tuple[float, float]  # the reconnect delay doubles from the first to the second
    tpu_hang_s: float  # an Edge TPU call unanswered this long is abandoned (degraded)
    tpu_probe_s: float  # how often the prober looks for a replugged Edge TPU
    fps_window_s: float  # the status' fps figures are over the last this many seconds


def product() -> ProductTimings:
    return ProductTimings(
        camera_backoff=camera.Backoff(),  # app/capture/camera.py: the capture loop's default
        camera_open_timeout_s=pyav.OPEN_TIMEOUT_S,
        mqtt_backoff=(netloop.RECONNECT_MIN_DELAY, netloop.RECONNECT_MAX_DELAY),
        tpu_hang_s=timeouts.DETECT_TIMEOUTS.hang_s,
        tpu_probe_s=supervisor.PROBE_S,
        fps_window_s=runner.RECENT_S,
    )


def unit_seconds(key: str, unit: Path = UNIT) -> float:
    """A time setting of the systemd unit (`TimeoutStopSec=45`), in seconds; the last assignment wins."""
    value: str | None = None
    for line in unit.read_text().splitlines():
        name, sep, rest = line.strip().partition("=")
        if sep and name == key:
            value = rest.strip()
    if value is None:
        raise ValueError(f"{unit}: no {key}=")
    try:
        return float(value.removesuffix("s"))
    except ValueError:
        raise ValueError(f"{unit}: {key}={value}: only plain seconds are read here") from None
