"""API tokens on the real server (issue 15, security 8): the `Bearer` scheme in any case, and a
password change revoking every token along with the sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from app.api.auth import Credentials, credentials_path
from tests.api.conftest import FAST_HASHER, PASSWORD, Stack

Serve = Callable[..., str]


@pytest.fixture
def browser(serve: Serve) -> Iterator[httpx.Client]:
    base = serve()
    with httpx.Client(base_url=base, headers={"origin": base}) as client:
        assert client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 204
        yield client


def new_token(browser: httpx.Client, name: str) -> str:
    created = browser.post("/api/tokens", json={"name": name})
    assert created.status_code == 201
    return str(created.json()["token"])


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])  # `Bearer`: test_security
def test_the_bearer_scheme_is_case_insensitive(browser: httpx.Client, scheme: str) -> None:
    token = new_token(browser, "prometheus")
    hub = httpx.Client(base_url=str(browser.base_url))
    assert hub.get("/metrics", headers={"authorization": f"{scheme} {token}"}).status_code == 200
    assert hub.get("/api/status", headers={"authorization": f"{scheme}   {token}"}).status_code == 200
    for wrong in (f"Basic {token}", f"{scheme}{token}", f"{scheme} {token}x", token):
        assert hub.get("/metrics", headers={"authorization": wrong}).status_code == 401, wrong


def test_a_password_change_revokes_every_token_and_session(browser: httpx.Client, stack: Stack) -> None:
    tokens = [new_token(browser, name) for name in ("home-assistant", "prometheus")]
    hub = httpx.Client(base_url=str(browser.base_url))
    assert all(hub.get("/metrics", headers={"authorization": f"Bearer {t}"}).status_code == 200 for t in tokens)
    # `edgewatch passwd`, another process, while the service runs:
    Credentials(credentials_path(stack.config.storage.path), hasher=FAST_HASHER).set_password("a new long passphrase")
    for token in tokens:  # whoever had the old password could have made one to outlive the change
        assert hub.get("/metrics", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert browser.get("/api/tokens").status_code == 401  # the session ended too
    assert browser.post("/api/login", json={"username": "admin", "password": "a new long passphrase"}).is_success
    assert browser.get("/api/tokens").json() == []
    stored = credentials_path(stack.config.storage.path).read_text()
    assert "home-assistant" not in stored
    assert "prometheus" not in stored
    fresh = new_token(browser, "home-assistant")  # the hub gets a new one
    assert hub.get("/metrics", headers={"authorization": f"Bearer {fresh}"}).status_code == 200
