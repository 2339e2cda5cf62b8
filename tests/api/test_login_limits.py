"""The login limiter against the real server (issue 15, security 1): concurrent guesses from one
address, and guesses from many addresses — each from its own loopback address (127.0.0.0/8 is all
this host's), over real connections to uvicorn, all in flight at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from app.api.app import Security
from app.api.auth import Credentials, LoginLimiter, Sessions, credentials_path
from tests.api.conftest import PASSWORD

Serve = Callable[..., str]


async def _burst(base: str, attempts: list[tuple[str, str]]) -> list[int]:
    """POSTs /api/login for every (source address, password) at once: one connection each."""
    clients: dict[str, httpx.AsyncClient] = {}
    for address, _ in attempts:
        if address not in clients:
            transport = httpx.AsyncHTTPTransport(local_address=address, limits=httpx.Limits(max_connections=None))
            clients[address] = httpx.AsyncClient(base_url=base, transport=transport, timeout=60)
    try:
        responses = await asyncio.gather(
            *(clients[a].post("/api/login", json={"username": "admin", "password": p}) for a, p in attempts)
        )
    finally:
        for client in clients.values():
            await client.aclose()
    return [r.status_code for r in responses]


def burst(base: str, attempts: list[tuple[str, str]]) -> Counter[int]:
    return Counter(asyncio.run(_burst(base, attempts)))


def log_in(base: str, address: str, password: str = PASSWORD) -> httpx.Response:
    with httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address)) as client:
        response = client.post("/api/login", json={"username": "admin", "password": password})
        if response.status_code == 204:  # the session works
            assert client.get("/api/status").status_code == 200
        return response


def test_a_burst_of_wrong_logins_from_one_address_gets_five_verifies_and_429_for_the_rest(
    serve: Serve, tmp_path: Path
) -> None:
    # The production hasher (argon2id, library defaults: ~100 ms here): the window the burst used to race through.
    credentials = Credentials(credentials_path(str(tmp_path / "prod")), hasher=PasswordHasher())
    credentials.set_password(PASSWORD)
    base = serve(security=Security(credentials, Sessions(), LoginLimiter(), None))
    statuses = burst(base, [("127.0.0.2", f"wrong guess {n}") for n in range(120)])
    assert statuses == {401: 5, 429: 115}  # 96 % refused: only the per-address budget reached argon2
    assert log_in(base, "127.0.0.2").status_code == 429  # its budget is spent, even for the right password
    assert log_in(base, "127.0.0.3").status_code == 204  # the owner, elsewhere, is not locked out


def test_many_guessing_addresses_are_slowed_down_without_locking_the_owner_out(serve: Serve) -> None:
    base = serve()  # LoginLimiter defaults: 5 per address and 30 from everyone within a minute
    attackers = [f"127.0.1.{n}" for n in range(1, 41)]
    first = burst(base, [(a, f"guess {a} {n}") for a in attackers for n in range(5)])  # 200 in flight
    assert set(first) == {401, 429}
    # Past the global budget each address got one guess, not five: at least one each, at most 30 + 40 in all.
    assert len(attackers) <= first[401] <= 30 + len(attackers), first
    # While the attack lasts, an address that failed waits for its failures to age out, however few it had.
    assert burst(base, [(a, "once more") for a in attackers]) == {429: len(attackers)}
    # A fresh address gets one attempt: the owner's right password logs in ...
    assert log_in(base, "127.0.2.1").status_code == 204
    # ... and a fresh attacker gets one guess, then waits.
    assert log_in(base, "127.0.2.2", "another guess").status_code == 401
    refused = log_in(base, "127.0.2.2", "and another")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
