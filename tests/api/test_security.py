"""The hostile-client table of the security reference, against the real app in-process:
LAN-only by address, spoofed X-Forwarded-For, brute force, CSRF, login on every route,
bounded and validated input, secrets kept out of responses and logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from app.api.app import create_app
from app.api.auth import Credentials, credentials_path
from app.detect.engine import TfliteDetector
from app.run.service import Service
from tests.api.conftest import EVENT_ID, FAST_HASHER, PASSWORD, Stack, api_config, login, make_security

Clients = Callable[..., TestClient]
PUBLIC_ADDRESSES = ("203.0.113.9", "8.8.8.8", "100.64.1.1", "2001:db8::1", "192.0.2.7")
SAME_ORIGIN = {"origin": "http://127.0.0.1:8080"}


def every_request(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) for every route the app has, path parameters filled with real values."""
    fill = {"{name}": "porch", "{event_id}": EVENT_ID, "{token_id}": "abc"}
    found: list[tuple[str, str]] = []
    for route in _routes(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            found.append(("GET", f"{route.path}/style.css"))
            continue
        assert isinstance(route, Route)
        path = route.path
        for placeholder, value in fill.items():
            path = path.replace(placeholder, value)
        found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return [*found, ("GET", "/no/such/route")]


def _routes(routes: list[object]) -> list[object]:
    flat: list[object] = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI wraps included routers
        flat += _routes(included.routes) if included is not None else [route]
    return flat


def send(client: TestClient, method: str, path: str) -> int:
    body = {"mode": "home"} if path == "/api/mode" else {"name": "x"} if path == "/api/tokens" else None
    return int(client.request(method, path, json=body, headers=SAME_ORIGIN).status_code)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_every_route_is_forbidden_to_an_address_outside_the_lan(client_for: Clients, address: str) -> None:
    outsider = client_for(address)
    requests = every_request(outsider)
    assert len(requests) >= 15  # the whole surface, not a sample
    # Even with a valid session cookie: the address decides before anything else.
    session = login(client_for("127.0.0.1")).cookies.get("ew_session")
    assert session
    outsider.cookies.set("ew_session", session)
    for method, path in requests:
        response = outsider.request(method, path, headers=SAME_ORIGIN)
        assert response.status_code == 403, (method, path, response.status_code)
        # nothing about the box
        assert "porch" not in response.text
        assert "test" not in response.text


def test_the_lan_itself_is_let_in(client_for: Clients) -> None:
    for address in ("127.0.0.1", "::1"):
        assert client_for(address).get("/api/health").status_code == 200, address


def test_only_health_and_the_login_step_answer_without_login(client_for: Clients) -> None:
    anonymous = client_for()
    answered = {}
    for method, path in every_request(anonymous):
        answered[(method, path)] = send(anonymous, method, path)
    ok = {key for key, status in answered.items() if status < 300}
    # The login page and its script/style hold no data; GET /api/setup says only whether setup is due.
    assert ok == {("GET", "/api/health"), ("GET", "/login"), ("GET", "/assets/style.css"), ("GET", "/api/setup")}
    assert answered[("GET", "/")] == 303  # the dashboard sends the browser to the login page
    assert answered[("POST", "/api/login")] == 422  # a body without credentials
    for key, status in answered.items():
        if key[1].startswith("/api/") and key not in ok and key[1] not in ("/api/login", "/api/setup"):
            assert status == 401, (key, status)
    assert anonymous.get("/api/health").json() == {"status": "ok"}  # no version, no details


def test_a_password_logs_in_and_logout_ends_the_session(client_for: Clients) -> None:
    browser = client_for()
    response = login(browser)
    assert response.status_code == 204
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert browser.get("/api/status").status_code == 200
    assert browser.post("/api/logout", headers=SAME_ORIGIN).status_code == 204
    assert browser.get("/api/status").status_code == 401
    assert login(browser, "not the password at all").status_code == 401


def test_the_sixth_wrong_password_within_a_minute_is_refused_with_429(client_for: Clients) -> None:
    guesser = client_for("192.168.1.50")
    for attempt in range(5):
        assert login(guesser, f"guess number {attempt}").status_code == 401, attempt
    sixth = login(guesser)  # even the right password: the limiter answers before the password is checked
    assert sixth.status_code == 429
    assert 0 < int(sixth.headers["retry-after"]) <= 60
    assert "try again" in sixth.json()["detail"]
    assert login(client_for("192.168.1.51")).status_code == 204  # a different address is not punished


def test_a_foreign_origin_cannot_change_the_mode(client_for: Clients, stack: Stack) -> None:
    browser = client_for()
    assert login(browser).status_code == 204
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"},
                    {"origin": "http://127.0.0.1:8081"}):  # fmt: skip
        refused = browser.put("/api/mode", json={"mode": "disarmed"}, headers=headers)
        assert refused.status_code == 403, headers
        assert "cross-origin" in refused.json()["detail"]
    assert stack.service.mode.value == "away"
    assert browser.put("/api/mode", json={"mode": "disarmed"}, headers=SAME_ORIGIN).json() == {"mode": "disarmed"}
    assert stack.service.mode.value == "disarmed"
    assert stack.store.get_state("mode") == "disarmed"  # persisted


def test_login_itself_refuses_a_foreign_origin(client_for: Clients) -> None:
    response = client_for().post(
        "/api/login", json={"username": "admin", "password": PASSWORD}, headers={"origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_no_cors(client_for: Clients) -> None:
    browser = client_for()
    login(browser)
    preflight = browser.options(
        "/api/mode", headers={"origin": "http://evil.example", "access-control-request-method": "PUT"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in browser.get("/api/status", headers={"origin": "http://x"}).headers


def test_security_headers_on_every_kind_of_response(client_for: Clients) -> None:
    browser = client_for()
    for response in (browser.get("/api/health"), browser.get("/login"), browser.get("/api/status"),
                     client_for("8.8.8.8").get("/")):  # fmt: skip
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers


def test_api_tokens_are_for_hubs_hashed_at_rest_and_revocable(client_for: Clients, stack: Stack) -> None:
    browser = client_for()
    login(browser)
    created = browser.post("/api/tokens", json={"name": "prometheus"}, headers=SAME_ORIGIN)
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["id"]
    hub = client_for("192.168.1.20")
    bearer = {"authorization": f"Bearer {token}"}
    metrics = hub.get("/metrics", headers=bearer)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'edgewatch_camera_online{camera="porch"} 0.0' in metrics.text  # its camera never connects
    assert "edgewatch_inference_seconds_bucket" in metrics.text
    assert 'edgewatch_mode{mode="away"} 1.0' in metrics.text
    assert hub.get("/api/status", headers=bearer).json()["node"] == "test"
    # A token cannot mint tokens (a leaked hub token must not entrench itself).
    assert hub.post("/api/tokens", json={"name": "more"}, headers={**bearer, **SAME_ORIGIN}).status_code == 403
    assert hub.get("/metrics", headers={"authorization": f"Bearer {token}x"}).status_code == 401
    stored = credentials_path(stack.config.storage.path).read_text()
    assert token not in stored
    assert "prometheus" in stored
    assert [t["name"] for t in browser.get("/api/tokens").json()] == ["prometheus"]
    assert browser.delete(f"/api/tokens/{token_id}", headers=SAME_ORIGIN).status_code == 204
    assert hub.get("/metrics", headers=bearer).status_code == 401


def test_a_password_changed_by_edgewatch_passwd_ends_existing_sessions(client_for: Clients, stack: Stack) -> None:
    browser = client_for()
    login(browser)
    assert browser.get("/api/status").status_code == 200
    # `edgewatch passwd` is another process with its own view of the credentials file.
    Credentials(credentials_path(stack.config.storage.path), hasher=FAST_HASHER).set_password("a new long passphrase")
    assert browser.get("/api/status").status_code == 401
    assert login(browser).status_code == 401
    assert login(browser, "a new long passphrase").status_code == 204


def test_first_boot_has_no_password_and_only_the_setup_code_sets_one(
    tmp_path: Path, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    security = make_security(tmp_path / "fresh", password=None)
    assert security.setup_code is not None
    app = create_app(stack.service, stack.service.metrics, security, stack.config.api)
    client = TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False, client=("127.0.0.1", 1))
    assert client.get("/api/setup").json() == {"required": True}
    assert client.get("/api/status").status_code == 401
    assert client.post("/api/login", json={"username": "admin", "password": "admin"}).status_code == 409
    code = security.setup_code.code
    caplog.set_level(logging.DEBUG)
    wrong = client.post("/api/setup", json={"code": "WRONG-CODE-XX", "password": "a fine long passphrase"})
    assert wrong.status_code == 401
    weak = client.post("/api/setup", json={"code": code, "password": "password1"})
    assert weak.status_code == 422
    assert "weak" in weak.json()["detail"]
    done = client.post("/api/setup", json={"code": code, "password": "a fine long passphrase"})
    assert done.status_code == 204
    assert "ew_session" in done.cookies
    assert client.get("/api/status").status_code == 200
    assert client.get("/api/setup").json() == {"required": False}
    again = client.post("/api/setup", json={"code": code, "password": "another long passphrase"})
    assert again.status_code == 409  # the code worked once
    assert code not in caplog.text
    assert "a fine long passphrase" not in caplog.text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "reason"),
    [
        ("PUT", "/api/mode", {"content": b"{" + b" " * 20000 + b"}"}, 413, "too large"),
        ("PUT", "/api/mode", {"content": b"{not json"}, 422, "JSON"),
        ("PUT", "/api/mode", {"json": {"mode": "party"}}, 422, "home"),
        ("PUT", "/api/mode", {"json": {"mode": "home", "extra": 1}}, 422, "xtra"),
        ("PUT", "/api/mode", {"json": ["home"]}, 422, "valid"),
        ("PUT", "/api/mode", {"content": b""}, 422, "required"),
        ("GET", "/api/events?limit=100000", {}, 422, "less than or equal"),
        ("GET", "/api/events?limit=-1", {}, 422, "greater than"),
        ("GET", "/api/events?since=yesterday", {}, 422, "datetime"),
        ("GET", "/api/events?camera=" + "x" * 500, {}, 422, "at most 64"),
        ("GET", "/api/events/..%2F..%2Fetc%2Fpasswd", {}, 404, ""),
        ("GET", "/api/events/bad%20id%00/snapshot.jpg", {}, 422, "pattern"),
        ("GET", "/api/cameras/nope/latest.jpg", {}, 404, "no camera"),
        ("GET", "/api/events/1-nope-9", {}, 404, "no such event"),
        ("POST", "/api/tokens", {"json": {"name": "<script>"}}, 422, "pattern"),
        ("POST", "/api/tokens", {"json": {"name": "x" * 65}}, 422, "at most 64"),
        ("DELETE", "/api/tokens/nope", {}, 404, "no such token"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(
    client_for: Clients, method: str, path: str, kwargs: dict[str, object], status: int, reason: str
) -> None:
    browser = client_for()
    login(browser)
    headers = {**SAME_ORIGIN, "content-type": "application/json"}
    response = browser.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert reason in response.text


def test_chunked_bodies_are_refused_with_411(client_for: Clients) -> None:
    browser = client_for()
    login(browser)

    def chunks() -> object:
        yield b'{"mode":'
        yield b'"home"}'

    response = browser.put("/api/mode", content=chunks(), headers=SAME_ORIGIN)
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]


def test_secrets_never_come_back_in_responses_or_logs(
    tmp_path: Path, stack: Stack, detector: TfliteDetector, caplog: pytest.LogCaptureFixture
) -> None:
    config = api_config(tmp_path, {"porch": "rtsp://admin:hunter2secret@127.0.0.1:9/stream"})
    service = Service(config, detector, stack.store)
    app = create_app(service, service.metrics, stack.security, config.api)
    client = TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 1))
    caplog.set_level(logging.DEBUG)
    too_long = "hunter2" + "p" * 2000
    response = client.post("/api/login", json={"username": "admin", "password": too_long})
    assert response.status_code == 422
    assert "hunter2" not in response.text  # the input is not echoed
    assert client.post("/api/login", json={"username": "admin", "password": "hunter2-wrong"}).status_code == 401
    login(client)
    for path in ("/api/status", "/metrics", "/openapi.json", "/api/events", "/api/alerts"):
        assert "hunter2" not in client.get(path).text, path
    assert "hunter2" not in caplog.text
    assert PASSWORD not in caplog.text


def test_a_failing_store_is_a_503_not_a_crash(client_for: Clients, stack: Stack) -> None:
    browser = client_for()
    login(browser)
    stack.store.close()
    response = browser.get("/api/events")
    assert response.status_code == 503
    assert "storage" in response.json()["detail"]
    assert browser.get("/api/status").status_code == 200  # status still answers


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path, stack: Stack) -> None:
    def client(api: str) -> TestClient:
        config = api_config(tmp_path, {"porch": "rtsp://127.0.0.1:9/x"}, api=api)
        app = create_app(stack.service, stack.service.metrics, stack.security, config.api)
        return TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 1))

    lan_only = client("{allow: ['192.168.0.0/16']}")
    assert lan_only.get("/api/health").status_code == 403  # loopback is not in this allow list
    spoofed = lan_only.get("/api/health", headers={"x-forwarded-for": "192.168.1.5"})
    assert spoofed.status_code == 403  # the header is the client's word: not believed
    proxied = client("{allow: ['192.168.0.0/16'], trusted_proxies: ['127.0.0.1/32']}")
    assert proxied.get("/api/health", headers={"x-forwarded-for": "192.168.1.5"}).status_code == 200
    # Behind a trusted proxy the right-most untrusted hop counts: a forged left end changes nothing.
    forged = proxied.get("/api/health", headers={"x-forwarded-for": "192.168.1.5, 203.0.113.9"})
    assert forged.status_code == 403
    assert proxied.get("/api/health", headers={"x-forwarded-for": "not-an-ip"}).status_code == 403
