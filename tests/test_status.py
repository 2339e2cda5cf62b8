"""What the status says about a camera's pace (`behind` compares detection with what it could
get), and the one status model that `/api/status`, MQTT and `/metrics` read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.api.routes import status_out
from app.payloads import detector_payload, stats_payload
from app.run.metrics import Metrics
from app.status import CameraStatus, DetectorStatus, MqttInfo, ServiceStatus, StorageInfo


def camera(fps_in: float, fps_detect: float, target: float, *, online: bool = True) -> CameraStatus:
    return CameraStatus("porch", online, fps_in, fps_detect, 0, 0.1, 0, 0, None, detect_fps_target=target)


@pytest.mark.parametrize(
    ("fps_in", "fps_detect", "target", "behind"),
    [
        (12.0, 5.0, 5.0, False),  # gets what it asks for
        (12.0, 4.6, 5.0, False),  # within 10 %: jitter, not a detector that cannot keep up
        (12.0, 4.4, 5.0, True),
        (12.0, 2.0, 5.0, True),
        (4.0, 4.0, 5.0, False),  # the camera sends fewer frames than detect_fps: detection keeps up with it
        (4.0, 3.0, 5.0, True),  # ... and here it does not
        (12.0, 0.0, 0.0, False),  # disabled: asks for nothing
    ],
)
def test_behind_compares_detection_with_the_rate_it_could_run_at(
    fps_in: float, fps_detect: float, target: float, behind: bool
) -> None:
    assert camera(fps_in, fps_detect, target).behind is behind


def test_an_offline_camera_is_offline_not_behind() -> None:
    assert camera(0.0, 0.0, 5.0, online=False).behind is False


def a_status() -> ServiceStatus:
    return ServiceStatus(
        "edge-1", 61.5, "night",
        (CameraStatus("porch", True, 12.0, 4.4, 3, 0.2, 1, 0, None, (("person", 1),), "Porch", True, True, None,
                      5.0, 0.35, enabled=False),),
        DetectorStatus("edgetpu", "usb:0", "ssd", "litert 2.3", 7.25, "fell back to the CPU", 2),
        MqttInfo(True, 3, None), ("person",), StorageInfo(120.46, 2048.04),
    )  # fmt: skip


def test_one_status_model_is_what_the_api_mqtt_and_metrics_say() -> None:
    """The wire shapes (SPEC: `/api/status`, `P/stats`, `P/detector`, `/metrics`) all read one ServiceStatus."""
    status = a_status()
    assert stats_payload(status) == {
        "cameras": {"porch": {"fps_in": 12.0, "fps_detect": 4.4, "dropped": 3, "lag_s": 0.35, "behind": True}},
        "detector": {"backend": "edgetpu", "device": "usb:0", "inference_ms": 7.25},
        "uptime": 61.5,
    }
    assert detector_payload(status.detector) == {
        "backend": "edgetpu", "device": "usb:0", "model": "ssd", "degraded": True, "note": "fell back to the CPU",
    }  # fmt: skip
    out = status_out(status).model_dump(mode="json")
    assert out["cameras"][0]["enabled"] is False  # the switch, from the model
    assert out["cameras"][0]["fps_detect"] == 4.4
    assert out["detector"]["inference_ms"] == 7.25
    assert out["mqtt"] == {"connected": True, "outbox": 3, "error": None}
    assert out["storage"] == {"used_mb": 120.5, "free_mb": 2048.0}
    assert out["uptime"] == 61.5
    body = Metrics(lambda: status).render()[0].decode()
    assert 'edgewatch_camera_fps_detect{camera="porch"} 4.4' in body
    assert "edgewatch_detector_inference_ms_avg 7.25" in body
    assert "edgewatch_outbox_depth 3.0" in body


def test_storage_not_read_yet_shows_as_zeros_in_the_api() -> None:
    out = status_out(replace(a_status(), storage=None)).model_dump(mode="json")
    assert out["storage"] == {"used_mb": 0.0, "free_mb": 0.0}


def test_an_outbox_the_store_cannot_count_keeps_its_last_figure_and_the_status_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.run import status_board
    from app.store import StoreError

    readings = status_board.StoreReadings(lambda: (1.0, 2.0))
    answers: list[int | Exception] = [3, StoreError("database is locked")]

    def depth() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    readings.count_outbox(depth)
    readings.refresh()
    assert readings.outbox == 3
    monkeypatch.setattr(status_board, "OUTBOX_TTL_S", 0.0)  # due again at once
    readings.refresh()  # the store fails: no exception reaches /api/status
    assert answers == []
    assert readings.outbox == 3
