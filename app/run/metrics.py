"""Prometheus metrics of one appliance (SPEC: HTTP API, `GET /metrics`).

Two kinds: events counted as they happen (inference times, alerts), and state read
from the status model (app.run.status_board) at scrape time by a collector, so a scrape
always shows the current state and nothing has to be kept in step with it. Labels
carry only names (cameras, rules, labels, the detector's model): never camera URLs or
error texts, which may hold credentials.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.config import Mode
from app.domain import Alert
from app.status import ServiceStatus, StorageInfo

log = logging.getLogger(__name__)

MB = 1024 * 1024  # StorageInfo counts MiB

# Edge TPU SSD invokes take ~2-15 ms, CPU ones on a Pi 4 ~100-500 ms: both ends need resolution.
INFERENCE_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
# From the frame an alert fired on to the alert being stored: sub-second when healthy, seconds when a stage lags.
ALERT_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

StatusFn = Callable[[], ServiceStatus]
StorageFn = Callable[[], StorageInfo | None]  # None: not known (yet)


class Metrics:
    """Prometheus metrics of one appliance, in its own CollectorRegistry (never the global one:
    tests and a second app instance must not collide)."""

    def __init__(self, status: StatusFn | None = None, storage: StorageFn | None = None) -> None:
        """`status` and `storage` may also be given later, with `collect_status`."""
        self.registry = CollectorRegistry()
        self._inference = Histogram(
            "edgewatch_inference_seconds",
            "Time of one detector invoke, per image.",
            buckets=INFERENCE_BUCKETS,
            registry=self.registry,
        )
        self._alerts = Counter(
            "edgewatch_alerts_total",
            "Alerts fired, by camera, rule and object label.",
            ["camera", "rule", "label"],
            registry=self.registry,
        )
        self._alert_latency = Histogram(
            "edgewatch_frame_to_alert_seconds",
            "From the frame an alert fired on to the alert being stored (or failing to be).",
            buckets=ALERT_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._unstored = Counter(
            "edgewatch_alerts_unstored_total",
            "Alerts that could not be stored durably (sent from memory only).",
            registry=self.registry,
        )
        if status is not None:
            self.collect_status(status, storage)

    def collect_status(self, status: StatusFn, storage: StorageFn | None = None) -> None:
        """Where scrapes read the state from (once: the service builds its status model after the
        parts that count events into these metrics). They call it off the event loop (`/metrics`
        is a sync route), so it may read the store."""
        self.registry.register(_StatusCollector(status, storage))

    def observe_inference(self, seconds: float) -> None:
        """The detection worker's on_inference hook."""
        self._inference.observe(max(0.0, seconds))

    def observe_alert(self, alert: Alert, stored: bool) -> None:
        """An evidence AlertSink: called once the alert is stored (or failed to be)."""
        self._alerts.labels(alert.camera, alert.rule, alert.label).inc()
        # fired_at is the frame's wall-clock time; a clock step back must not yield a negative latency.
        self._alert_latency.observe(max(0.0, time.time() - alert.fired_at))
        if not stored:
            self._unstored.inc()

    def render(self) -> tuple[bytes, str]:
        """The scrape body and its Content-Type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StatusCollector:
    """Reads the service's state at scrape time. A failing source drops its families, never the scrape."""

    def __init__(self, status: StatusFn, storage: StorageFn | None) -> None:
        self._status = status
        self._storage = storage
        # One log per failure streak: a broken status() would otherwise log a traceback every scrape.
        self._failing: set[str] = set()

    def collect(self) -> Iterable[Metric]:
        families: list[Metric] = []
        # Each source is built completely before anything is yielded, so a failure half-way
        # leaves no partial families in the output.
        families += self._guard("status", lambda: _status_families(self._status()))
        if self._storage is not None:
            storage = self._storage
            families += self._guard("storage", lambda: _storage_families(storage()))
        return families

    def _guard(self, source: str, build: Callable[[], list[Metric]]) -> list[Metric]:
        try:
            families = build()
        except Exception:
            if source not in self._failing:
                self._failing.add(source)
                log.exception("metrics: %s failed; its metrics are left out until it works again", source)
            return []
        if source in self._failing:
            self._failing.discard(source)
            log.info("metrics: %s works again", source)
        return families


def _status_families(status: ServiceStatus) -> list[Metric]:
    cam = ["camera"]
    online = GaugeMetricFamily("edgewatch_camera_online", "1 when the camera delivers frames.", labels=cam)
    fps_in = GaugeMetricFamily("edgewatch_camera_fps_in", "Frames per second arriving from the camera.", labels=cam)
    fps_detect = GaugeMetricFamily(
        "edgewatch_camera_fps_detect", "Frames per second actually run through detection.", labels=cam
    )
    dropped = CounterMetricFamily(
        "edgewatch_camera_dropped_frames_total", "Detect ticks skipped because a stage was busy.", labels=cam
    )
    reconnects = CounterMetricFamily(
        "edgewatch_camera_reconnects_total", "Times the camera stream was reopened.", labels=cam
    )
    age = GaugeMetricFamily(
        "edgewatch_camera_last_frame_age_seconds", "Seconds since the camera's latest frame.", labels=cam
    )
    lag = GaugeMetricFamily(
        "edgewatch_camera_detect_lag_seconds",
        "Median seconds from a frame's capture to its detection result, over the last 5 s.",
        labels=cam,
    )
    behind = GaugeMetricFamily(
        "edgewatch_camera_detect_behind", "1 when detection runs under 90 % of the camera's detect_fps.", labels=cam
    )
    for c in status.cameras:
        online.add_metric([c.name], 1.0 if c.online else 0.0)
        fps_in.add_metric([c.name], c.fps_in)
        fps_detect.add_metric([c.name], c.fps_detect)
        dropped.add_metric([c.name], c.dropped)
        reconnects.add_metric([c.name], c.reconnects)
        if c.last_frame_age_s is not None:  # no frame yet: an absent sample, not a fake age
            age.add_metric([c.name], c.last_frame_age_s)
        if c.lag_s is not None:
            lag.add_metric([c.name], c.lag_s)
        behind.add_metric([c.name], 1.0 if c.behind else 0.0)

    d = status.detector
    info = GaugeMetricFamily(
        "edgewatch_detector_info",
        "The detector in use (always 1).",
        labels=["backend", "device", "model", "runtime"],
    )
    info.add_metric([d.backend, d.device or "", d.model, d.runtime], 1.0)
    families: list[Metric] = [
        online,
        fps_in,
        fps_detect,
        dropped,
        reconnects,
        age,
        lag,
        behind,
        info,
        GaugeMetricFamily(
            "edgewatch_detector_inference_ms_avg", "Moving average of one detector invoke, ms.", value=d.inference_ms
        ),
        GaugeMetricFamily(
            "edgewatch_detector_degraded",
            "1 when the detector is not the one configured (e.g. CPU fallback).",
            value=0.0 if d.degraded is None else 1.0,
        ),
        CounterMetricFamily("edgewatch_detector_errors_total", "Detector invokes that failed.", value=d.errors),
        GaugeMetricFamily("edgewatch_uptime_seconds", "Seconds since the service started.", value=status.uptime_s),
    ]

    mode = GaugeMetricFamily("edgewatch_mode", "1 for the current arming mode, 0 for the others.", labels=["mode"])
    for m in Mode:
        mode.add_metric([m.value], 1.0 if m.value == status.mode else 0.0)
    families.append(mode)

    if status.mqtt is not None:  # no broker configured: no MQTT families, rather than a misleading 0
        families.append(
            GaugeMetricFamily(
                "edgewatch_mqtt_connected", "1 when connected to the MQTT broker.", value=float(status.mqtt.connected)
            )
        )
        families.append(
            GaugeMetricFamily(
                "edgewatch_outbox_depth", "Alerts waiting for the broker's acknowledgement.", value=status.mqtt.outbox
            )
        )
    return families


def _storage_families(storage: StorageInfo | None) -> list[Metric]:
    if storage is None:  # never read: absent samples, not a fake empty disk
        return []
    return [
        GaugeMetricFamily(
            "edgewatch_storage_used_bytes", "Bytes the evidence store takes on disk.", value=storage.used_mb * MB
        ),
        GaugeMetricFamily(
            "edgewatch_storage_free_bytes", "Bytes free on the evidence store's filesystem.", value=storage.free_mb * MB
        ),
    ]
