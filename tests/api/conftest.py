"""API fixtures: the real app over a real service and store.

`api` — in-process (httpx ASGI transport): the real middleware, routes and store,
with a service that is built but not started (no cameras running), its store
holding one real event with its snapshot and one alert.
`live_api` — the whole appliance: an RTSP camera walking a person past the real
detector, the service running, uvicorn serving on a free loopback port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from app.api.app import Security, create_app
from app.api.auth import Credentials, LoginLimiter, Sessions, SetupCode, credentials_path
from app.api.server import ApiServer
from app.config import Config, parse_config
from app.demo.clip import ClipInfo
from app.detect.engine import TfliteDetector
from app.domain import Alert, Box, Event
from app.run.service import Service
from app.store import Store
from tests.conftest import photo
from tests.support.rtsp import RtspCamera

PASSWORD = "correct horse battery staple"
# Cheap argon2 parameters for tests only: the production default costs ~50 ms per login.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
EVENT_ID = "1764025200123-porch-1"


@dataclass
class Stack:
    config: Config
    service: Service
    store: Store
    security: Security
    url: str = "http://127.0.0.1"


def make_security(storage: Path, *, password: str | None = PASSWORD) -> Security:
    credentials = Credentials(credentials_path(str(storage)), hasher=FAST_HASHER)
    if password is not None:
        credentials.set_password(password)
    return Security(credentials, Sessions(), LoginLimiter(), None if password else SetupCode())


def api_config(tmp_path: Path, cameras: dict[str, str], api: str = "{listen: '127.0.0.1:8080'}") -> Config:
    lines = "\n".join(f"  {name}:\n    source: {url}\n    detect_fps: 5" for name, url in cameras.items())
    return parse_config(
        f"node_id: test\ncameras:\n{lines}\ndetector: {{type: cpu}}\n"
        "rules: [{name: anyone, objects: [person], cooldown: 60s}]\n"
        f"api: {api}\nstorage: {{path: '{tmp_path / 'state'}'}}\n"
    )


def seed(store: Store) -> Event:
    """One finished event with a snapshot from a real photo, and the alert it raised."""
    now = time.time()
    event = Event(EVENT_ID, "porch", "person", 0.81, 0.9, (0.2, 0.1, 0.6, 0.95), ("path",), now - 60, now - 50, False)
    store.save_event(event)
    store.save_snapshot(event.id, photo("astronaut"), Box(100, 20, 400, 500), "person", 0.9)
    alert = Alert(f"{event.id}:anyone", "anyone", "porch", "person", 0.81, event.box, ("path",), event.id,
                  now - 60, now - 58, "alert")  # fmt: skip
    store.add_alert(alert)
    return event


@pytest.fixture
def stack(tmp_path: Path, detector: TfliteDetector) -> Iterator[Stack]:
    """A built (not started) service whose camera never connects, and a seeded store."""
    config = api_config(tmp_path, {"porch": "rtsp://127.0.0.1:9/none"})
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as store:
        seed(store)
        service = Service(config, detector, store)
        yield Stack(config, service, store, make_security(tmp_path / "state"))


@pytest.fixture
def client_for(stack: Stack) -> Iterator[Callable[..., TestClient]]:
    """Clients of the in-process app; `client_for("203.0.113.9")` comes from that address.
    Server errors come back as 500 responses (not raised), as a real client would see them."""
    app = create_app(stack.service, stack.service.metrics, stack.security, stack.config.api)
    clients: list[TestClient] = []

    def make(address: str = "127.0.0.1") -> TestClient:
        client = TestClient(
            app, base_url="http://127.0.0.1:8080", raise_server_exceptions=False, follow_redirects=False,
            client=(address, 50000),
        )  # fmt: skip
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def serve(stack: Stack, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Serves the real app with uvicorn as `edgewatch run` does, on a free port; returns its base URL.
    `serve(api="{hostnames: [...]}", security=...)` for another `api:` section or login state."""
    servers: list[ApiServer] = []

    def start(*, api: str | None = None, security: Security | None = None, host: str = "127.0.0.1") -> str:
        config = stack.config if api is None else api_config(tmp_path, {"porch": "rtsp://127.0.0.1:9/x"}, api=api)
        app = create_app(stack.service, stack.service.metrics, security or stack.security, config.api)
        server = ApiServer(app, host, 0)
        servers.append(server)
        server.start()
        assert server.port is not None
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.stop()


def login(client: TestClient, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = client.post("/api/login", json={"username": "admin", "password": password})
    return response


@pytest.fixture
def live_api(
    tmp_path: Path, person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera], detector: TfliteDetector
) -> Iterator[Stack]:
    """The running appliance with its API on a free loopback port."""
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    config = api_config(tmp_path, {"driveway": camera.url})
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as store:
        service = Service(config, detector, store)
        security = make_security(tmp_path / "state")
        server = ApiServer(create_app(service, service.metrics, security, config.api), "127.0.0.1", 0)
        service.start()
        server.start()
        try:
            assert server.port is not None
            yield Stack(config, service, store, security, f"http://127.0.0.1:{server.port}")
        finally:
            server.stop()
            service.stop()
