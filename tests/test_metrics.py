"""Prometheus metrics: state read from status() at scrape time, events counted as they happen."""

from __future__ import annotations

import logging
import time

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from app.domain import Alert
from app.run.metrics import Metrics
from app.status import CameraStatus, DetectorStatus, MqttInfo, ServiceStatus, StorageInfo

MB = 1024 * 1024


def a_status(*, mqtt: MqttInfo | None = None, degraded: str | None = None, mode: str = "away") -> ServiceStatus:
    return ServiceStatus(
        node="edge-1",
        uptime_s=123.4,
        mode=mode,
        cameras=(
            CameraStatus("porch", True, 15.0, 5.0, 7, 0.25, 2, 0, None, detect_fps_target=5.0, lag_s=0.18),
            # Asks for 5 fps, gets 2: the detector cannot keep up with this camera.
            CameraStatus("drive", True, 12.0, 2.0, 40, 0.05, 0, 0, None, detect_fps_target=5.0, lag_s=1.4),
            # An offline camera's error may quote its URL (with the password): it must never leak.
            CameraStatus("yard", False, 0.0, 0.0, 0, None, 9, 1, "cannot open rtsp://admin:hunter2@10.0.0.9/s"),
        ),
        detector=DetectorStatus("edgetpu", "usb:0", "ssd_mobilenet_v2", "ai_edge_litert 2.3.0", 8.5, degraded, 3),
        mqtt=mqtt,
    )


def scrape(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of one scrape, keyed by (sample name, labels)."""
    body, _ = metrics.render()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def names(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> set[str]:
    return {name for name, _ in samples}


def an_alert(fired_at: float, camera: str = "porch", rule: str = "intruder") -> Alert:
    return Alert(
        id=f"1-{camera}-1:{rule}",
        rule=rule,
        camera=camera,
        label="person",
        score=0.9,
        box=(0.1, 0.1, 0.5, 0.9),
        zones=("yard",),
        event_id=f"1-{camera}-1",
        started_at=fired_at - 1.0,
        fired_at=fired_at,
        severity="alert",
    )


def test_status_is_read_at_scrape_time_into_per_camera_and_service_families() -> None:
    status = a_status(mqtt=MqttInfo(True, 4, None), degraded="Edge TPU not found; using the CPU")
    metrics = Metrics(lambda: status, storage=lambda: StorageInfo(120.5, 2048.0))
    body, content_type = metrics.render()
    s = scrape(metrics)

    assert content_type == CONTENT_TYPE_LATEST
    assert value(s, "edgewatch_camera_online", camera="porch") == 1
    assert value(s, "edgewatch_camera_online", camera="yard") == 0
    assert value(s, "edgewatch_camera_fps_in", camera="porch") == 15.0
    assert value(s, "edgewatch_camera_fps_detect", camera="porch") == 5.0
    assert value(s, "edgewatch_camera_dropped_frames_total", camera="porch") == 7
    assert value(s, "edgewatch_camera_reconnects_total", camera="yard") == 9
    assert value(s, "edgewatch_camera_last_frame_age_seconds", camera="porch") == 0.25
    # No frame yet: the sample is absent rather than a made-up age.
    assert ("edgewatch_camera_last_frame_age_seconds", frozenset({("camera", "yard")})) not in s
    assert value(s, "edgewatch_camera_detect_lag_seconds", camera="porch") == 0.18
    assert value(s, "edgewatch_camera_detect_lag_seconds", camera="drive") == 1.4
    assert ("edgewatch_camera_detect_lag_seconds", frozenset({("camera", "yard")})) not in s
    assert value(s, "edgewatch_camera_detect_behind", camera="porch") == 0
    assert value(s, "edgewatch_camera_detect_behind", camera="drive") == 1
    assert value(s, "edgewatch_camera_detect_behind", camera="yard") == 0  # offline is not "behind"

    assert value(s, "edgewatch_detector_inference_ms_avg") == 8.5
    assert value(s, "edgewatch_detector_degraded") == 1
    assert value(s, "edgewatch_detector_errors_total") == 3
    info = {(n, ls) for n, ls in s if n == "edgewatch_detector_info"}
    assert info == {
        (
            "edgewatch_detector_info",
            frozenset(
                {("backend", "edgetpu"), ("device", "usb:0"), ("model", "ssd_mobilenet_v2"),
                 ("runtime", "ai_edge_litert 2.3.0")}
            ),
        )
    }  # fmt: skip
    assert value(s, "edgewatch_detector_info", backend="edgetpu", device="usb:0", model="ssd_mobilenet_v2",
                 runtime="ai_edge_litert 2.3.0") == 1  # fmt: skip

    assert value(s, "edgewatch_mqtt_connected") == 1
    assert value(s, "edgewatch_outbox_depth") == 4
    assert value(s, "edgewatch_uptime_seconds") == 123.4
    assert {m: value(s, "edgewatch_mode", mode=m) for m in ("home", "away", "night", "disarmed")} == {
        "home": 0, "away": 1, "night": 0, "disarmed": 0,
    }  # fmt: skip
    assert value(s, "edgewatch_storage_used_bytes") == 120.5 * MB
    assert value(s, "edgewatch_storage_free_bytes") == 2048.0 * MB

    text = body.decode()
    assert "hunter2" not in text
    assert "rtsp://" not in text
    assert "# HELP edgewatch_camera_online " in text
    assert "# TYPE edgewatch_camera_dropped_frames_total counter" in text


def test_families_without_a_source_are_left_out() -> None:
    status = a_status(mqtt=None, degraded=None, mode="disarmed")
    s = scrape(Metrics(lambda: status))

    assert "edgewatch_mqtt_connected" not in names(s)
    assert "edgewatch_outbox_depth" not in names(s)
    assert "edgewatch_storage_used_bytes" not in names(s)
    assert "edgewatch_storage_free_bytes" not in names(s)
    assert value(s, "edgewatch_detector_degraded") == 0
    assert value(s, "edgewatch_mode", mode="disarmed") == 1
    assert value(s, "edgewatch_mode", mode="away") == 0


def test_mqtt_disconnected_reads_zero() -> None:
    s = scrape(Metrics(lambda: a_status(mqtt=MqttInfo(False, 0, "connection refused"))))
    assert value(s, "edgewatch_mqtt_connected") == 0
    assert value(s, "edgewatch_outbox_depth") == 0
    assert "connection refused" not in str(s)


def test_a_failing_status_drops_its_families_but_not_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    broken = True

    def status() -> ServiceStatus:
        if broken:
            raise RuntimeError("service is shutting down")
        return a_status()

    metrics = Metrics(status, storage=lambda: StorageInfo(1.0, 2.0))
    metrics.observe_inference(0.01)
    with caplog.at_level(logging.ERROR, logger="app.run.metrics"):
        first = scrape(metrics)
        scrape(metrics)

    assert value(first, "edgewatch_inference_seconds_count") == 1
    assert "edgewatch_frame_to_alert_seconds_count" in names(first)
    assert value(first, "edgewatch_alerts_unstored_total") == 0
    assert value(first, "edgewatch_storage_used_bytes") == 1.0 * MB  # the other source still reports
    assert not {n for n in names(first) if n.startswith(("edgewatch_camera_", "edgewatch_detector_", "edgewatch_mode"))}
    failures = [r for r in caplog.records if "status failed" in r.getMessage()]
    assert len(failures) == 1  # one traceback per failure streak, not one per scrape

    broken = False
    assert value(scrape(metrics), "edgewatch_camera_online", camera="porch") == 1


def test_a_failing_storage_drops_only_the_storage_families() -> None:
    def storage() -> StorageInfo:
        raise OSError("disk gone")

    s = scrape(Metrics(a_status, storage=storage))
    assert "edgewatch_storage_used_bytes" not in names(s)
    assert value(s, "edgewatch_camera_online", camera="porch") == 1


def test_storage_not_read_yet_is_left_out_and_status_can_come_later() -> None:
    metrics = Metrics()  # the service counts events into it before its status model exists
    metrics.observe_inference(0.01)
    metrics.collect_status(a_status, storage=lambda: None)
    s = scrape(metrics)
    assert not {"edgewatch_storage_used_bytes", "edgewatch_storage_free_bytes"} & names(s)
    assert value(s, "edgewatch_camera_online", camera="porch") == 1
    assert value(s, "edgewatch_inference_seconds_count") == 1


def test_inference_times_land_in_their_buckets() -> None:
    metrics = Metrics(a_status)
    for seconds in (0.003, 0.012, 0.012, 0.25, 2.0):  # Coral-fast, typical, Pi-CPU-slow, stalled
        metrics.observe_inference(seconds)
    s = scrape(metrics)

    def bucket(le: str) -> float:
        return value(s, "edgewatch_inference_seconds_bucket", le=le)

    assert bucket("0.002") == 0
    assert bucket("0.004") == 1
    assert bucket("0.01") == 1
    assert bucket("0.015") == 3
    assert bucket("0.2") == 3
    assert bucket("0.3") == 4
    assert bucket("1.0") == 4
    assert bucket("+Inf") == 5
    assert value(s, "edgewatch_inference_seconds_count") == 5
    assert value(s, "edgewatch_inference_seconds_sum") == pytest.approx(2.277)


def test_alerts_are_counted_and_their_latency_measured_from_the_frame() -> None:
    metrics = Metrics(a_status)
    metrics.observe_alert(an_alert(time.time() - 2.0), stored=True)
    s = scrape(metrics)

    assert value(s, "edgewatch_alerts_total", camera="porch", rule="intruder", label="person") == 1
    assert value(s, "edgewatch_alerts_unstored_total") == 0
    assert value(s, "edgewatch_frame_to_alert_seconds_bucket", le="1.0") == 0
    assert value(s, "edgewatch_frame_to_alert_seconds_bucket", le="2.5") == 1
    assert value(s, "edgewatch_frame_to_alert_seconds_count") == 1
    assert 2.0 <= value(s, "edgewatch_frame_to_alert_seconds_sum") < 2.5


def test_unstored_alerts_and_a_clock_step_back() -> None:
    metrics = Metrics(a_status)
    metrics.observe_alert(an_alert(time.time() + 60.0, camera="yard"), stored=False)  # fired "in the future"
    metrics.observe_alert(an_alert(time.time(), camera="yard"), stored=True)
    s = scrape(metrics)

    assert value(s, "edgewatch_alerts_total", camera="yard", rule="intruder", label="person") == 2
    assert value(s, "edgewatch_alerts_unstored_total") == 1
    assert value(s, "edgewatch_frame_to_alert_seconds_bucket", le="0.05") == 2  # clamped at 0, not negative
    assert value(s, "edgewatch_frame_to_alert_seconds_sum") >= 0


def test_two_instances_keep_their_own_registries() -> None:
    first = Metrics(lambda: a_status(mode="home"))
    second = Metrics(lambda: a_status(mode="night"))  # would raise Duplicated timeseries on a shared registry
    first.observe_inference(0.01)
    first.observe_alert(an_alert(time.time()), stored=False)

    a, b = scrape(first), scrape(second)
    assert value(a, "edgewatch_inference_seconds_count") == 1
    assert value(b, "edgewatch_inference_seconds_count") == 0
    assert value(a, "edgewatch_alerts_unstored_total") == 1
    assert value(b, "edgewatch_alerts_unstored_total") == 0
    assert ("edgewatch_alerts_total", frozenset({("camera", "porch"), ("rule", "intruder"), ("label", "person")})) in a
    assert "edgewatch_alerts_total" not in names(b)
    assert value(a, "edgewatch_mode", mode="home") == 1
    assert value(b, "edgewatch_mode", mode="night") == 1
