"""`GET /api/status` and `/api/events?label=`: the classes in use and what each camera sees now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from starlette.testclient import TestClient

from app.api.routes import status_out
from app.config import Mode
from app.domain import Event, Frame, Track
from app.objects import DEFAULT_TRACK
from app.status import CameraStatus, DetectorStatus, ServiceStatus
from app.store import Store
from tests.api.conftest import PASSWORD, Stack, login
from tests.support.waiting import wait_until

Clients = Callable[..., TestClient]


class FakeBackend:
    """A service with one camera seeing two people and a car."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def status(self) -> ServiceStatus:
        camera = CameraStatus("porch", True, 15.0, 5.0, 0, 0.1, 0, 0, None, (("person", 2), ("car", 1)))
        detector = DetectorStatus("cpu", None, "coco", "litert", 12.0, None, 0)
        return ServiceStatus("box", 12.0, "away", (camera,), detector, None, ("car", "person", "sports ball"))

    def set_mode(self, mode: Mode) -> None:
        raise AssertionError("not called")

    def latest(self, camera: str) -> tuple[Frame, tuple[Track, ...]] | None:
        return None

    def camera_enabled(self, camera: str) -> bool:
        return True

    def clip_window(self, event: Event) -> tuple[float, float]:
        raise AssertionError("not called")

    def recording_enabled(self, camera: str) -> bool:
        return False


def test_status_lists_the_tracked_classes_and_each_cameras_counts(stack: Stack) -> None:
    out = status_out(FakeBackend(stack.store), (1.0, 2.0)).model_dump(mode="json")
    assert out["objects_tracked"] == ["car", "person", "sports ball"]
    assert out["cameras"][0]["objects"] == {"person": 2, "car": 1}
    assert out["cameras"][0]["title"] == "porch"  # no display name given: the id


def test_status_over_http_of_a_service_whose_camera_is_offline(client_for: Clients, stack: Stack) -> None:
    browser = client_for()
    login(browser)
    status: dict[str, Any] = browser.get("/api/status").json()
    # The default track list, and the rule's object (person, already in it).
    assert status["objects_tracked"] == sorted(DEFAULT_TRACK)
    assert status["objects_tracked"] == sorted(stack.service.objects.tracked)
    assert [(c["name"], c["online"], c["objects"]) for c in status["cameras"]] == [("porch", False, {})]
    assert status["cameras"][0]["title"] == "Porch"  # no `name:` in its config: the id made readable


def test_events_filtered_by_label(client_for: Clients) -> None:
    browser = client_for()
    login(browser)
    everything = browser.get("/api/events").json()
    assert [e["label"] for e in everything] == ["person"]  # the seeded event
    assert browser.get("/api/events", params={"label": "person"}).json() == everything
    assert browser.get("/api/events", params={"label": "sports ball"}).json() == []


def test_a_live_camera_reports_the_person_it_sees(live_api: Stack) -> None:
    with httpx.Client(base_url=live_api.url) as client:
        assert client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 204
        seen: list[dict[str, int]] = []

        def person_counted() -> bool:
            objects = client.get("/api/status").json()["cameras"][0]["objects"]
            seen.append(objects)
            return bool(objects.get("person"))

        assert wait_until(person_counted, 40, step=0.25), seen[-5:]
        # One person walks the clip (the garage photo behind her has parked motorcycles, which
        # a COCO model counts too); only tracked classes are ever counted.
        assert seen[-1]["person"] == 1
        assert set(seen[-1]) <= live_api.service.objects.tracked
