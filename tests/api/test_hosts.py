"""DNS rebinding (issue 15, security 2): the real server answers only `Host` values that name this
box, and 421 to anything else — on every route, before the login, /api/health and static files too."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from app.api.app import create_app
from app.api.hosts import host_of
from app.config import ConfigError, parse_config
from tests.api.conftest import PASSWORD, Stack
from tests.api.test_security import every_request

Serve = Callable[..., str]
HOSTNAMES_API = "{listen: '0.0.0.0:8080', hostnames: [cams.home.arpa, 'Proxy.Example.', '10.9.8.7', 'fd12::7']}"


def lan_address() -> str:
    """This host's own non-loopback IPv4 address: the one it would reach the network from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.200", 9))  # no packet is sent: connect() on UDP only picks a route
        address = str(probe.getsockname()[0])
    assert not ipaddress.ip_address(address).is_loopback, "this test needs a network interface besides lo"
    return address


def get(base: str, host: str | None, path: str = "/api/health", **kwargs: object) -> httpx.Response:
    headers = {} if host is None else {"host": host}
    return httpx.get(f"{base}{path}", headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("127.0.0.1:8080", ipaddress.ip_address("127.0.0.1")),
        ("LocalHost.", "localhost"),
        ("[::1]:8080", ipaddress.ip_address("::1")),
        ("[::ffff:192.168.1.2]", ipaddress.ip_address("192.168.1.2")),
        ("[fe80::1%25eth0]:80", ipaddress.ip_address("fe80::1")),
        ("garage-pi.local:", "garage-pi.local"),
        ("::1", None),  # an IPv6 literal must be in brackets
        ("[::1", None),
        ("[garage]:80", None),
        ("evil.example:80:80", None),
        ("evil.example:http", None),
        ("", None),
        (":8080", None),
    ],
)
def test_host_header_parsing(header: str, parsed: object) -> None:
    assert host_of(header) == parsed


def test_every_route_answers_421_to_a_foreign_host_even_with_a_session(serve: Serve, stack: Stack) -> None:
    base = serve()
    port = base.rsplit(":", 1)[1]
    session = httpx.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD}).cookies["ew_session"]
    app = create_app(stack.service, stack.service.metrics, stack.security, stack.config.api)
    requests = every_request(TestClient(app))
    assert ("GET", "/api/health") in requests
    assert ("GET", "/assets/style.css") in requests
    assert len(requests) >= 15
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", "localhost.evil.example",
                 "[2001:db8::1]", "8.8.8.8", "0.0.0.0"):  # fmt: skip
        origin = {"origin": f"http://{host}", "host": host, "cookie": f"ew_session={session}"}
        for method, path in requests:
            body = {"mode": "disarmed"} if path == "/api/mode" else {"name": "x"} if path == "/api/tokens" else None
            response = httpx.request(method, f"{base}{path}", json=body, headers=origin, timeout=5)
            assert response.status_code == 421, (host, method, path, response.status_code)
            assert "api.hostnames" in response.json()["detail"]
            assert "set-cookie" not in response.headers
    assert stack.service.mode.value == "away"  # the PUT never reached the route


def test_the_rebinding_login_of_the_report_gets_no_session(serve: Serve) -> None:
    base = serve()
    evil = f"evil.example:{base.rsplit(':', 1)[1]}"
    response = httpx.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD},
                          headers={"host": evil, "origin": f"http://{evil}"})  # fmt: skip
    assert response.status_code == 421
    assert "set-cookie" not in response.headers
    assert "content-security-policy" in response.headers  # inside the LAN guard: its headers still come


def test_the_names_and_addresses_of_this_box_are_answered(serve: Serve) -> None:
    base = serve(api=HOSTNAMES_API)
    port = base.rsplit(":", 1)[1]
    host_name = socket.gethostname()
    first_label = host_name.split(".")[0]
    accepted = [None, f"127.0.0.1:{port}", "127.0.0.1", "127.0.0.2", f"localhost:{port}", "LOCALHOST.", "[::1]",
                f"[::1]:{port}", host_name, f"{first_label}.local:{port}", f"{lan_address()}:{port}",
                "cams.home.arpa", f"CAMS.home.arpa.:{port}", "proxy.example", "10.9.8.7:80", "[fd12::7]"]  # fmt: skip
    for host in accepted:
        assert get(base, host).status_code == 200, host
    for host in ("home.arpa", "cams.home.arpa.evil.example", f"{first_label}.evil.example", "10.9.8.8",
                 "[fd12::8]", f"{host_name}x"):  # fmt: skip
        assert get(base, host).status_code == 421, host


def test_a_missing_or_repeated_host_is_refused(serve: Serve) -> None:
    base = serve()
    port = int(base.rsplit(":", 1)[1])

    def raw(head: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(head)
            return conn.recv(200)

    assert raw(b"GET /api/health HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 421 ")
    repeated = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"
    assert raw(repeated).startswith(b"HTTP/1.1 421 ")
    assert raw(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200 ")


def test_hostnames_must_be_names_or_addresses() -> None:
    config = "node_id: t\ncameras: {porch: {source: /dev/video0}}\napi:\n  hostnames: [%s]\n"
    names = parse_config(config % "cams.home.arpa, 192.168.1.5, '[fd00::5]'").api.hostnames
    assert names == ("cams.home.arpa", "192.168.1.5", "[fd00::5]")
    for bad in ("'http://cams.home.arpa'", "'cams.home.arpa:8080'", "'cams/x'", "'a b'", "''"):
        with pytest.raises(ConfigError, match=r"<config>:4:\d+: api.hostnames: \[0\] .*expected a host name or IP"):
            parse_config(config % bad)
