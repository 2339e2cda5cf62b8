"""The credentials file: the admin password (argon2id) and API tokens (SHA-256), shared with `edgewatch passwd`.

There is no default password (ETSI EN 303 645 5.1): until `edgewatch passwd` or the one-time setup code sets one,
nobody can log in. Secrets live only in `<storage.path>/credentials.json` (mode 0600): the password as an argon2id
hash, API tokens as SHA-256 digests. Nothing here logs a secret, a hash or the file's contents.

`edgewatch passwd` writes the file from another process while the service runs, so every read stats the file and
re-reads it when it was replaced, and every write is a read-modify-write under an flock on `credentials.json.lock`:
neither process can overwrite the other's change with stale state.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.api.auth.passwords import MAX_PASSWORD_CHARS, USERNAME, check_password_strength

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
FILE_VERSION = 1
MAX_FILE_BYTES = 1 << 20
MAX_TOKENS = 32
TOKEN_PREFIX = "ewt_"  # noqa: S105 - recognisable in logs and secret scanners; not itself secret
MAX_TOKEN_CHARS = 128
TOKEN_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,64}")
TOKEN_USE_PERSIST_S = 60.0  # last_used_at is a hint for the dashboard: not worth a disk write per request
MAX_CONCURRENT_HASHES = 2  # argon2id's default takes 64 MiB a hash: a burst of logins must not exhaust a Pi

_Stamp = tuple[int, ...] | None  # (inode, mtime_ns, size) of the file as last read; None: no file
_NEVER_READ: _Stamp = (-1,)


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the dashboard lists it; its secret is shown once, when it is created."""

    id: str
    name: str
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class _Password:
    hash: str
    set_at: float


@dataclass(frozen=True)
class _Token:
    info: TokenInfo
    sha256: str


class CredentialsError(Exception):
    """The credentials file exists but cannot be used (corrupt or unreadable); `set_password` replaces it."""


def credentials_path(storage_path: str) -> Path:
    """Where the admin password and API tokens live: beside the event store."""
    return Path(storage_path) / CREDENTIALS_FILE


class Credentials:
    """The admin password and API tokens in one JSON file; thread-safe, and sees other processes' changes."""

    def __init__(
        self, path: Path, *, hasher: PasswordHasher | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self._hasher = hasher or PasswordHasher(type=Type.ID)
        self._clock = clock
        self._lock = threading.Lock()
        self._hash_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
        self._dummy_hash: str | None = None
        self._password: _Password | None = None
        self._tokens: dict[str, _Token] = {}
        self._corrupt = False
        self._stamp: _Stamp = _NEVER_READ
        self._uses_dirty = False
        self._uses_saved_at = float("-inf")  # the first use is saved at once, later ones once a minute

    @property
    def _aside_path(self) -> Path:
        return self.path.with_name(self.path.name + ".corrupt")

    def has_password(self) -> bool:
        with self._lock:
            self._refresh()
            return self._password is not None

    def password_set_at(self) -> float | None:
        """When the password was last set: sessions created before it are invalid."""
        with self._lock:
            self._refresh()
            return self._password.set_at if self._password else None

    def set_password(self, password: str) -> int:
        """Stores `password` (argon2id) for the admin; an unusable file is kept aside as `.corrupt` and replaced.
        Returns how many API tokens were revoked with the change.

        A password change is the homeowner's "lock everyone else out": sessions older than it end (`set_at`), and
        every API token is revoked with it. A token is only as trustworthy as the session that created it, and
        whoever knew the old password could have made one to outlive the change. Hubs get new tokens."""
        check_password_strength(password)
        with self._hash_slots:
            digest = self._hasher.hash(password)
        with self._transaction():
            if self._corrupt:  # it must not lock the installer out for good
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.path, self._aside_path)
                    log.warning("credentials: kept the unusable file as %s", self._aside_path)
                self._corrupt = False
            revoked = len(self._tokens)
            self._password, self._tokens, self._uses_dirty = _Password(digest, self._clock()), {}, False
            self._save()
        if revoked:
            log.info("credentials: the password changed; %d API token(s) revoked with it", revoked)
        return revoked

    def verify_password(self, username: str, password: str) -> bool:
        """True only for the admin's password. Costs one argon2 hash whatever the user name and whether a password
        is set, so timing tells nothing; re-hashes the password when the hasher's parameters changed."""
        if len(password) > MAX_PASSWORD_CHARS:  # could never have been set; its length is no secret
            return False
        secret = password.encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates: never a crash
        with self._lock:
            self._refresh()
            stored = self._password.hash if self._password else None
        if stored is None or username != USERNAME:
            self._spend_a_hash(secret)
            return False
        try:
            with self._hash_slots:
                self._hasher.verify(stored, secret)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            log.error("credentials: the stored admin password hash is invalid; set it again with `edgewatch passwd`")
            return False
        if self._hasher.check_needs_rehash(stored):
            self._rehash(stored, secret)
        return True

    def create_token(self, name: str) -> tuple[TokenInfo, str]:
        """A new API token and its secret (shown once; only its SHA-256 is kept). ValueError says why not."""
        if not TOKEN_NAME.fullmatch(name) or name.strip() != name:
            raise ValueError("token name: 1 to 64 letters, digits, spaces, '_', '.' or '-', not starting with a space")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(id=secrets.token_hex(8), name=name, created_at=self._clock(), last_used_at=None)
        with self._transaction():
            if self._corrupt:
                raise CredentialsError(
                    "the credentials file is unusable: set the password again with `edgewatch passwd`"
                )
            if len(self._tokens) >= MAX_TOKENS:
                raise ValueError(f"at most {MAX_TOKENS} API tokens: revoke one first")
            if any(t.info.name == name for t in self._tokens.values()):
                raise ValueError(f"a token named '{name}' exists already")
            self._tokens[info.id] = _Token(info, _sha256(secret))
            self._save()
        return info, secret

    def tokens(self) -> list[TokenInfo]:
        with self._lock:
            self._refresh()
            return [t.info for t in self._tokens.values()]

    def revoke_token(self, token_id: str) -> bool:
        with self._lock:
            self._refresh()
            if token_id not in self._tokens:
                return False
        with self._transaction():
            if self._tokens.pop(token_id, None) is None:  # revoked meanwhile by another process
                return False
            self._save()
        return True

    def verify_token(self, secret: str) -> TokenInfo | None:
        """The token `secret` belongs to (its last use now recorded), or None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_CHARS:
            return None
        digest = _sha256(secret)
        now = self._clock()
        with self._lock:
            self._refresh()
            found = None
            for token in self._tokens.values():  # no early exit: every request costs the same
                if hmac.compare_digest(token.sha256, digest):
                    found = token
            if found is None:
                return None
            info = replace(found.info, last_used_at=now)
            self._tokens[info.id] = replace(found, info=info)
            self._uses_dirty = True
            due = abs(now - self._uses_saved_at) >= TOKEN_USE_PERSIST_S  # abs: the Pi's clock may jump back
        if due:
            self._save_uses()
        return info

    def wipe(self) -> None:
        """Removes the password and all tokens (and any `.corrupt` copy): back to first boot."""
        with self._transaction():
            for victim in (self.path, self._aside_path):
                with contextlib.suppress(FileNotFoundError):
                    victim.unlink()
            _fsync_dir(self.path.parent)
            self._password, self._tokens, self._corrupt, self._uses_dirty = None, {}, False, False
            self._stamp = None

    # -- internals: `self._lock` is held by every method below

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Read-modify-write across threads and processes: our lock, then the flock `edgewatch passwd` takes too,
        then the file's current state."""
        with self._lock:
            _make_private_dir(self.path.parent)
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                owner = _service_owner(self.path.parent)
                if owner is not None:
                    os.fchown(fd, *owner)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._refresh()
                yield
            except OSError:
                self._stamp = _NEVER_READ  # a failed write: memory must not keep what the disk lacks
                raise
            finally:
                os.close(fd)  # releases the flock

    def _refresh(self) -> None:
        if _stamp(self.path) != self._stamp:
            self._load()

    def _load(self) -> None:
        unsaved_uses = {tid: t.info.last_used_at for tid, t in self._tokens.items()}
        self._password, self._tokens, self._corrupt = None, {}, False
        try:
            with self.path.open("rb") as file:
                st = os.fstat(file.fileno())
                self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
                raw = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            self._stamp = None
            return
        except OSError as exc:
            self._stamp = _stamp(self.path)
            self._unusable(f"cannot read it ({exc.strerror})")
            return
        try:
            self._password, tokens = _parse(raw)
        except ValueError as exc:
            self._unusable(str(exc))
            return
        for tid, token in tokens.items():  # keep uses this process saw but has not written yet
            seen, saved = unsaved_uses.get(tid), token.info.last_used_at
            newer = seen is not None and (saved is None or seen > saved)
            self._tokens[tid] = replace(token, info=replace(token.info, last_used_at=seen)) if newer else token

    def _unusable(self, reason: str) -> None:
        self._corrupt = True
        log.error(
            "credentials: %s is unusable: %s; nobody can log in until `edgewatch passwd` sets the password again",
            self.path,
            reason,
        )

    def _save(self) -> None:
        document = {
            "version": FILE_VERSION,
            "password": None
            if self._password is None
            else {"hash": self._password.hash, "set_at": self._password.set_at},
            "tokens": [
                {
                    "id": t.info.id,
                    "name": t.info.name,
                    "sha256": t.sha256,
                    "created_at": t.info.created_at,
                    "last_used_at": t.info.last_used_at,
                }
                for t in self._tokens.values()
            ],
        }
        _write_private(self.path, (json.dumps(document, indent=1) + "\n").encode())
        self._stamp = _stamp(self.path)  # our own write: no need to read it back
        if self._uses_dirty:
            self._uses_dirty = False
            self._uses_saved_at = self._clock()

    # -- internals that take the lock themselves

    def _spend_a_hash(self, secret: bytes) -> None:
        with self._hash_slots:
            if self._dummy_hash is None:  # making it costs what a verification costs
                self._dummy_hash = self._hasher.hash(secrets.token_bytes(16))
                return
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy_hash, secret)

    def _rehash(self, stored: str, secret: bytes) -> None:
        with self._hash_slots:
            fresh = self._hasher.hash(secret)
        try:
            with self._transaction():
                if self._password is not None and self._password.hash == stored:  # unchanged meanwhile
                    self._password = replace(self._password, hash=fresh)  # same set_at: sessions stay valid
                    self._save()
        except OSError as exc:
            log.warning("credentials: could not store the password's upgraded hash: %s", exc.strerror)

    def _save_uses(self) -> None:
        try:
            with self._transaction():
                if self._uses_dirty and not self._corrupt:
                    self._save()
        except OSError as exc:
            self._uses_saved_at = self._clock()  # try again in a minute, not on every request
            log.warning("credentials: could not record API token use: %s", exc.strerror)


def _parse(raw: bytes) -> tuple[_Password | None, dict[str, _Token]]:
    """The file's password and tokens; ValueError with a reason that never quotes the contents."""
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        doc = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError("not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != FILE_VERSION:
        raise ValueError(f"not a version {FILE_VERSION} credentials file")
    entry = doc.get("password")
    password = None
    if entry is not None:
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str) or not _is_time(entry.get("set_at")):
            raise ValueError("malformed 'password' entry")
        password = _Password(entry["hash"], float(entry["set_at"]))
    items = doc.get("tokens", [])
    if not isinstance(items, list):
        raise ValueError("malformed 'tokens' list")
    tokens = {}
    for item in items:
        token = _parse_token(item)
        tokens[token.info.id] = token
    return password, tokens


def _parse_token(item: Any) -> _Token:
    ok = (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("sha256"), str)
        and re.fullmatch(r"[0-9a-f]{64}", item["sha256"]) is not None
        and _is_time(item.get("created_at"))
        and (item.get("last_used_at") is None or _is_time(item.get("last_used_at")))
    )
    if not ok:
        raise ValueError("malformed token entry")
    used = item.get("last_used_at")
    info = TokenInfo(item["id"], item["name"], float(item["created_at"]), None if used is None else float(used))
    return _Token(info, item["sha256"])


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return (-2, exc.errno or 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)  # os.replace gives a new inode: no same-mtime blind spot


def _make_private_dir(folder: Path) -> None:
    """Creates `folder` mode 0700 if missing; an existing one (e.g. systemd's StateDirectory) is left as it is."""
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        return
    os.chmod(folder, 0o700)  # mkdir's mode goes through the umask


def _service_owner(folder: Path) -> tuple[int, int] | None:
    """Who our files must belong to: `sudo edgewatch passwd` must leave them readable by the service's own user,
    which owns the storage folder."""
    if os.geteuid() != 0:
        return None
    st = folder.stat()
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def _write_private(path: Path, data: bytes) -> None:
    """Replaces `path` atomically: a 0600 temporary file in the same folder, fsynced, renamed, folder fsynced."""
    owner = _service_owner(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            if owner is not None:
                os.fchown(file.fileno(), *owner)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
