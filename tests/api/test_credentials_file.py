"""The credentials file's seams: its pydantic-validated format, and reads that never lock or write."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from app.api.auth import USERNAME, Credentials, credentials_path
from app.api.auth.credfile import Password, Token, TokenInfo, parse, read, render

GOOD = "correct horse battery staple"
HEX = "ab" * 32


def cheap() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


# ---- the format


def test_render_and_parse_round_trip() -> None:
    password = Password("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", 1_700_000_000.5)
    tokens = {"t1": Token(TokenInfo("t1", "home assistant", 1.0, None), HEX),
              "t2": Token(TokenInfo("t2", "prometheus", 2.0, 3.5), "cd" * 32)}  # fmt: skip
    raw = render(password, tokens)
    doc = json.loads(raw)
    assert doc["version"] == 1
    assert raw.endswith(b"\n")
    assert parse(raw) == (password, tokens)


def test_unknown_keys_are_ignored_and_integers_are_times() -> None:
    raw = json.dumps({"version": 1, "future": True, "password": {"hash": "h", "set_at": 5, "more": 1},
                      "tokens": [{"id": "a", "name": "b", "sha256": HEX, "created_at": 1, "extra": "x"}]})  # fmt: skip
    password, tokens = parse(raw.encode())
    assert password == Password("h", 5.0)
    assert tokens["a"].info == TokenInfo("a", "b", 1.0, None)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "not a version 1 credentials file"),
        (b'{"version": 2}', "not a version 1 credentials file"),
        (b"{}", "not a version 1 credentials file"),
        (b'{"version": 1, "password": "SECRET"}', "malformed 'password' entry"),
        (b'{"version": 1, "password": {"hash": "SECRET", "set_at": "yesterday"}}', "malformed 'password' entry"),
        (b'{"version": 1, "password": {"hash": "SECRET", "set_at": true}}', "malformed 'password' entry"),
        (b'{"version": 1, "tokens": {"SECRET": 1}}', "malformed 'tokens' list"),
        (b'{"version": 1, "tokens": [{"id": "a", "name": "b", "sha256": "SECRET", "created_at": 1}]}',
         "malformed token entry"),
        (b'{"version": 1, "tokens": [{"id": "a", "name": "b", "sha256": "' + HEX.encode() + b'", "created_at": 1,'
         b' "last_used_at": "SECRET"}]}', "malformed token entry"),
    ],
)  # fmt: skip
def test_a_bad_file_says_where_without_quoting_it(doc: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse(doc)
    assert "SECRET" not in str(caught.value)
    assert "input" not in str(caught.value)


def test_read_reports_a_missing_an_unreadable_and_a_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    assert read(path).stamp is None
    assert read(path).problem is None
    path.write_bytes(b" " * ((1 << 20) + 1))
    assert read(path).problem == "larger than 1 MiB"
    path.unlink()
    path.mkdir()  # a folder where the file should be
    assert (read(path).problem or "").startswith("cannot read it")


# ---- reads on a request's path: no flock, no fsync, no waiting behind a writer


Recorder = list[tuple[str, str]]


@pytest.fixture
def io_calls(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every flock and fsync, with the thread that made it."""
    calls: Recorder = []

    def spy(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object) -> object:
            calls.append((name, threading.current_thread().name))
            return real(*args)

        return call

    monkeypatch.setattr(fcntl, "flock", spy("flock", fcntl.flock))  # the modules app.files calls
    monkeypatch.setattr(os, "fsync", spy("fsync", os.fsync))
    return calls


def test_request_path_reads_never_lock_or_fsync(tmp_path: Path, io_calls: Recorder) -> None:
    creds = Credentials(credentials_path(str(tmp_path)), hasher=cheap())
    creds.set_password(GOOD)
    _, secret = creds.create_token("hub")
    io_calls.clear()
    request = threading.current_thread().name
    for _ in range(3):
        assert creds.has_password()
        assert creds.password_set_at() is not None
        assert creds.verify_token(secret) is not None
        assert [t.name for t in creds.tokens()] == ["hub"]
    creds.flush()
    assert [call for call in io_calls if call[1] == request] == []
    assert ("flock", "credentials-uses") in io_calls  # the first use is saved, off the request's thread
    assert ("fsync", "credentials-uses") in io_calls


def test_reads_do_not_wait_behind_a_writer_holding_the_lock(tmp_path: Path) -> None:
    path = credentials_path(str(tmp_path))
    creds = Credentials(path, hasher=cheap())
    creds.set_password(GOOD)
    _, secret = creds.create_token("hub")
    passwd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR)
    fcntl.flock(passwd, fcntl.LOCK_EX)  # `edgewatch passwd` is in the middle of a write
    writer = threading.Thread(target=creds.create_token, args=("second",), daemon=True)
    writer.start()  # waits for the flock, holding our own write lock
    try:
        answers: list[object] = []
        reader = threading.Thread(
            target=lambda: answers.extend(
                [creds.has_password(), creds.verify_token(secret) is not None, len(creds.tokens())]
            ),
            daemon=True,
        )
        reader.start()
        reader.join(timeout=10)
        assert answers == [True, True, 1]  # answered while the write waits
        assert writer.is_alive()
    finally:
        fcntl.flock(passwd, fcntl.LOCK_UN)
        os.close(passwd)
    writer.join(timeout=10)
    assert sorted(t.name for t in creds.tokens()) == ["hub", "second"]
    assert creds.verify_password(USERNAME, GOOD)
