"""The credentials file's format: `<storage.path>/credentials.json`, validated by pydantic, written atomically.

    {"version": 1,
     "password": {"hash": "$argon2id$...", "set_at": 1733389200.0} | null,
     "tokens": [{"id", "name", "sha256": 64 hex digits, "created_at", "last_used_at": time | null}, ...]}

Keys this version does not know are ignored (a newer edgewatch may add some). A file that does not
validate is unusable: `read` says why without quoting a byte of it (it holds the password's hash).
It is only ever replaced whole (`app.files.atomic_write`), so a reader needs no lock: it sees the
old file or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.files import Owner

FILE_VERSION: Literal[1] = 1
MAX_FILE_BYTES = 1 << 20

Stamp = tuple[int, ...] | None  # (inode, mtime_ns, size) of the file as read; None: no file
NEVER_READ: Stamp = (-1,)


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the dashboard lists it; its secret is shown once, when it is created."""

    id: str
    name: str
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class Password:
    hash: str
    set_at: float


@dataclass(frozen=True)
class Token:
    info: TokenInfo
    sha256: str


@dataclass(frozen=True)
class Contents:
    """What one read of the file found. `problem` set: the file exists but is unusable (nothing else is set)."""

    stamp: Stamp
    password: Password | None = None
    tokens: dict[str, Token] = field(default_factory=dict)
    problem: str | None = None


# Strict: a time is a number (not a bool or a string), a hash a string; nothing is coerced.
class _PasswordEntry(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)

    hash: str
    set_at: float


class _TokenEntry(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)

    id: str
    name: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    created_at: float
    last_used_at: float | None = None


class _File(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)

    version: Literal[1]
    password: _PasswordEntry | None = None
    tokens: list[_TokenEntry] = Field(default_factory=list)


def read(path: Path) -> Contents:
    """The file as it is now (no lock: it is only replaced atomically). Never raises for a bad or unreadable
    file: `problem` says what is wrong with it."""
    try:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return Contents(None)
    except OSError as exc:
        return Contents(stamp(path), problem=f"cannot read it ({exc.strerror})")
    found = (st.st_ino, st.st_mtime_ns, st.st_size)
    try:
        password, tokens = parse(raw)
    except ValueError as exc:
        return Contents(found, problem=str(exc))
    return Contents(found, password, tokens)


def parse(raw: bytes) -> tuple[Password | None, dict[str, Token]]:
    """The file's password and tokens; ValueError with a reason that never quotes the contents."""
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        doc = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError("not valid JSON") from None
    try:
        valid = _File.model_validate(doc)
    except ValidationError as exc:
        raise ValueError(_reason(exc)) from None  # pydantic's own message quotes the input
    password = None if valid.password is None else Password(valid.password.hash, valid.password.set_at)
    tokens = {
        entry.id: Token(TokenInfo(entry.id, entry.name, entry.created_at, entry.last_used_at), entry.sha256)
        for entry in valid.tokens
    }
    return password, tokens


def _reason(exc: ValidationError) -> str:
    """Where the file is wrong, from the first error's location only."""
    loc = exc.errors(include_input=False)[0]["loc"]
    if not loc or loc[0] == "version":
        return f"not a version {FILE_VERSION} credentials file"
    if loc[0] == "password":
        return "malformed 'password' entry"
    return "malformed 'tokens' list" if len(loc) == 1 else "malformed token entry"


def render(password: Password | None, tokens: dict[str, Token]) -> bytes:
    """The file's bytes for this password and these tokens."""
    doc = _File(
        version=FILE_VERSION,
        password=None if password is None else _PasswordEntry(hash=password.hash, set_at=password.set_at),
        tokens=[
            _TokenEntry(
                id=t.info.id,
                name=t.info.name,
                sha256=t.sha256,
                created_at=t.info.created_at,
                last_used_at=t.info.last_used_at,
            )
            for t in tokens.values()
        ],
    )
    return (json.dumps(doc.model_dump(mode="json"), indent=1) + "\n").encode()


def stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return (-2, exc.errno or 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)  # os.replace gives a new inode: no same-mtime blind spot


def service_owner(folder: Path) -> Owner | None:
    """Who our files must belong to: `sudo edgewatch passwd` must leave them readable by the service's own user,
    which owns the storage folder."""
    if os.geteuid() != 0:
        return None
    st = folder.stat()
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)
