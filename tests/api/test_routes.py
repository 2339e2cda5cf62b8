"""`GET /api/status` and `/api/events?label=`: the classes in use and what each camera sees now."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from starlette.testclient import TestClient

from app.api.app import create_app
from app.api.routes import status_out
from app.config import parse_config
from app.detect.engine import TfliteDetector
from app.objects import DEFAULT_TRACK
from app.run.service import Service
from app.status import CameraStatus, DetectorStatus, ServiceStatus, StorageInfo
from app.store import Store
from tests.api.conftest import PASSWORD, Stack, login, make_security
from tests.support.mosquitto import free_port
from tests.support.waiting import wait_until

Clients = Callable[..., TestClient]


def fake_status() -> ServiceStatus:
    """A service with one camera seeing two people and a car."""
    camera = CameraStatus("porch", True, 15.0, 5.0, 0, 0.1, 0, 0, None, (("person", 2), ("car", 1)))
    detector = DetectorStatus("cpu", None, "coco", "litert", 12.0, None, 0)
    return ServiceStatus(
        "box", 12.0, "away", (camera,), detector, None, ("car", "person", "sports ball"), StorageInfo(1.0, 2.0)
    )


def test_status_lists_the_tracked_classes_and_each_cameras_counts() -> None:
    out = status_out(fake_status()).model_dump(mode="json")
    assert out["objects_tracked"] == ["car", "person", "sports ball"]
    assert out["cameras"][0]["objects"] == {"person": 2, "car": 1}
    assert out["cameras"][0]["title"] == "porch"  # no display name given: the id
    assert out["storage"] == {"used_mb": 1.0, "free_mb": 2.0}


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


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class LoopWatchedStore:
    """The real store, noting which of its methods are called on an event loop's thread and which
    off it (SQLite there would stall every request while it waits for a writer or a vacuum)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.on_loop: list[str] = []
        self.off_loop: list[str] = []
        self.hold = threading.Event()  # set: usage() blocks until `go` is (a store stuck behind a vacuum)
        self.go = threading.Event()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            (self.on_loop if on_event_loop() else self.off_loop).append(name)
            if name == "usage" and self.hold.is_set():
                self.go.wait(10)
            return value(*args, **kwargs)

        return call


def test_status_never_reads_the_store_on_the_event_loop(
    tmp_path: Path, detector: TfliteDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk usage and the outbox depth come from SQLite: they are read in a worker thread, and a
    store stuck behind a long write holds up no status request (the last figures answer)."""
    config = parse_config(
        "node_id: test\ncameras:\n  porch:\n    source: rtsp://127.0.0.1:9/none\ndetector: {type: cpu}\n"
        f"mqtt: {{host: 127.0.0.1, port: {free_port()}}}\napi: {{listen: '127.0.0.1:8080'}}\n"
        f"storage: {{path: '{tmp_path / 'state'}'}}\n"
    )
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as real:
        store = LoopWatchedStore(real)
        service = Service(config, detector, cast(Store, store))  # built, not started: no broker needed
        app = create_app(service, service.metrics, make_security(tmp_path / "state"), config.api)
        with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as browser:
            login(browser)
            store.on_loop.clear()
            store.off_loop.clear()
            first = browser.get("/api/status").json()
            assert store.on_loop == [], store.on_loop
            assert {"usage", "pending_count"} <= set(store.off_loop), store.off_loop  # read, in a worker
            assert first["storage"]["free_mb"] > 0
            assert first["mqtt"]["outbox"] == 0

            store.hold.set()
            monkeypatch.setattr("app.run.status_board.USAGE_TTL_S", 0.0)  # usage is due again at every request
            stuck = threading.Thread(target=service.board.refresh)
            stuck.start()  # a scrape's refresh, waiting on SQLite
            assert wait_until(lambda: store.off_loop.count("usage") == 2, 5)
            try:
                again = browser.get("/api/status").json()  # answers while the refresh is stuck
            finally:
                store.go.set()
                stuck.join(10)
            assert again["storage"] == first["storage"]
            assert store.on_loop == [], store.on_loop
