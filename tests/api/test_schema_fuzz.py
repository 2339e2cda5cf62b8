"""Schemathesis over the OpenAPI schema, against the real server on a loopback socket:
whatever it sends — valid, edge-case or malformed (negative mode) — no response may be
a 5xx, and every documented response must match its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from starlette.testclient import TestClient

from app.api.app import create_app
from app.api.server import ApiServer
from tests.api.conftest import Stack, login

EXAMPLES = 20  # per operation and mode: ~15 operations x 2 modes in ~20 s


@pytest.fixture
def served(stack: Stack) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, auth headers) of the real app on uvicorn, with a token for the fuzzer."""
    app = create_app(stack.service, stack.service.metrics, stack.security, stack.config.api)
    browser = TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 1))
    assert login(browser).status_code == 204
    token = browser.post("/api/tokens", json={"name": "fuzz"}, headers={"origin": "http://127.0.0.1:8080"})
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    try:
        assert server.port is not None
        base = f"http://127.0.0.1:{server.port}"
        yield base, {"authorization": f"Bearer {token.json()['token']}", "origin": base}
    finally:
        server.stop()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_the_server_fail(served: tuple[str, dict[str, str]], mode: GenerationMode) -> None:
    base, headers = served
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", headers=headers)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of our own schema must load
        operations.append(result.ok())
    assert len(operations) >= 12  # the whole API, loaded through the login like any client
    statuses: dict[int, int] = {}
    nothing_to_break: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Case[Any]) -> None:
            response = case.call(base_url=base, headers=headers, timeout=10)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
            if mode is GenerationMode.POSITIVE:  # documented answers match their schema
                case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (a route without input)
            nothing_to_break.append(f"{operation.method} {operation.path}")
    assert len(nothing_to_break) < len(operations) / 2, nothing_to_break
    assert sum(statuses.values()) >= 3 * len(operations), statuses
    if mode is GenerationMode.NEGATIVE:
        assert 422 in statuses, statuses  # malformed input was seen and refused with a reason
