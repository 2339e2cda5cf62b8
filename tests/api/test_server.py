"""The API on real sockets: uvicorn as `edgewatch run` serves it, clients from real
addresses — including one outside the LAN, added to the loopback interface."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.api.server import ApiServer
from tests.api.conftest import Stack, api_config

OUTSIDER = "198.51.100.7"  # TEST-NET-2: not private, not loopback, not link-local


@pytest.fixture
def outsider_address() -> Iterator[str]:
    """A non-LAN address on this host, so a real TCP client can come from it."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("adding an address to lo needs root and iproute2")
    subprocess.run(["ip", "addr", "add", f"{OUTSIDER}/32", "dev", "lo"], check=True, capture_output=True)
    try:
        yield OUTSIDER
    finally:
        subprocess.run(["ip", "addr", "del", f"{OUTSIDER}/32", "dev", "lo"], check=False, capture_output=True)


def serve(stack: Stack, tmp_path: Path, host: str = "127.0.0.1", api: str | None = None) -> ApiServer:
    config = stack.config if api is None else api_config(tmp_path, {"porch": "rtsp://127.0.0.1:9/x"}, api=api)
    server = ApiServer(create_app(stack.service, stack.service.metrics, stack.security, config.api), host, 0)
    server.start()
    assert server.port is not None
    return server


def test_served_on_a_real_socket_and_gone_after_stop(stack: Stack, tmp_path: Path) -> None:
    server = serve(stack, tmp_path)
    url = f"http://127.0.0.1:{server.port}"
    response = httpx.get(f"{url}/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "server" not in response.headers  # no software banner
    assert httpx.get(f"{url}/api/status").status_code == 401
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/health", timeout=2)


def test_a_client_outside_the_lan_gets_403_over_a_real_connection(
    stack: Stack, tmp_path: Path, outsider_address: str
) -> None:
    server = serve(stack, tmp_path, host="0.0.0.0")
    try:
        url = f"http://127.0.0.1:{server.port}"
        with httpx.Client(transport=httpx.HTTPTransport(local_address=outsider_address)) as outsider:
            for path in ("/api/health", "/", "/login", "/api/status", "/metrics", "/nothing"):
                response = outsider.get(f"{url}{path}", headers={"x-forwarded-for": "192.168.1.2"})
                assert response.status_code == 403, (path, response.status_code)
            login = outsider.post(f"{url}/api/login", json={"username": "admin", "password": "x"})
            assert login.status_code == 403
        assert httpx.get(f"{url}/api/health").status_code == 200  # the LAN (here: loopback) still gets in
    finally:
        server.stop()


def test_uvicorn_does_not_rewrite_the_client_from_forwarded_headers(stack: Stack, tmp_path: Path) -> None:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; the guard alone must decide.
    server = serve(stack, tmp_path, api="{allow: ['192.168.0.0/16']}")
    try:
        url = f"http://127.0.0.1:{server.port}/api/health"
        for header in ("x-forwarded-for", "x-real-ip", "forwarded"):
            value = "for=192.168.1.5" if header == "forwarded" else "192.168.1.5"
            assert httpx.get(url, headers={header: value}).status_code == 403, header
    finally:
        server.stop()


def test_a_taken_port_is_retried_without_taking_the_service_down(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    app = create_app(stack.service, stack.service.metrics, stack.security, stack.config.api)
    server = ApiServer(app, "127.0.0.1", port, retry_bind_s=0.2)
    caplog.set_level(logging.ERROR, logger="app.api.server")
    server.start(wait_s=0.5)
    try:
        assert server.port is None
        assert "cannot listen on 127.0.0.1" in caplog.text
        squatter.close()
        deadline = time.monotonic() + 5
        while server.port is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.port == port
        deadline = time.monotonic() + 5
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        server.stop()
