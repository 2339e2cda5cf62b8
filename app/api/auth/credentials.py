"""The admin password (argon2id) and API tokens (SHA-256), shared with `edgewatch passwd`.

There is no default password (ETSI EN 303 645 5.1): until `edgewatch passwd` or the one-time setup code sets one,
nobody can log in. Secrets live only in `<storage.path>/credentials.json` (mode 0600, format in `credfile`): the
password as an argon2id hash, API tokens as SHA-256 digests. Nothing here logs a secret, a hash or the file's contents.

Reads (every request: `has_password`, `password_set_at`, `verify_token`, `tokens`) take no flock and never write:
they stat the file and re-read it when it was replaced (it is only ever replaced whole), so `edgewatch passwd`
writing from another process is seen at once and a request never waits behind a write. Writes are a
read-modify-write under our lock and an flock on `credentials.json.lock` (which `edgewatch passwd` takes too), so
neither process can overwrite the other's change with stale state. A token's last use is kept in memory and written
at most once a minute, by a background thread: not on the request that used it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.api.auth.credfile import (
    NEVER_READ,
    Contents,
    Password,
    Stamp,
    Token,
    TokenInfo,
    read,
    render,
    service_owner,
    stamp,
)
from app.api.auth.passwords import MAX_PASSWORD_CHARS, USERNAME, check_password_strength
from app.files import atomic_write, fsync_dir, lock_exclusive, make_private_dir

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
MAX_TOKENS = 32
TOKEN_PREFIX = "ewt_"  # noqa: S105 - recognisable in logs and secret scanners; not itself secret
MAX_TOKEN_CHARS = 128
TOKEN_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,64}")
TOKEN_USE_PERSIST_S = 60.0  # last_used_at is a hint for the dashboard: not worth a disk write per request
MAX_CONCURRENT_HASHES = 2  # argon2id's default takes 64 MiB a hash: a burst of logins must not exhaust a Pi

__all__ = ["CREDENTIALS_FILE", "MAX_TOKENS", "Credentials", "CredentialsError", "TokenInfo", "credentials_path"]


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
        self._write_lock = threading.Lock()  # writers only; readers never take it
        self._hash_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
        self._dummy_hash: str | None = None
        self._file = Contents(NEVER_READ)  # the last read (or written) state; replaced whole, never mutated
        self._reported: Stamp = NEVER_READ  # the stamp of the unusable file last logged
        self._uses_lock = threading.Lock()  # guards the three below; never held across I/O
        self._uses: dict[str, float] = {}  # token id -> last use this process saw
        self._uses_dirty = False
        self._uses_saved_at = float("-inf")  # the first use is saved at once, later ones once a minute
        self._saver: threading.Thread | None = None

    @property
    def _aside_path(self) -> Path:
        return self.path.with_name(self.path.name + ".corrupt")

    def has_password(self) -> bool:
        return self._current().password is not None

    def password_set_at(self) -> float | None:
        """When the password was last set: sessions created before it are invalid."""
        password = self._current().password
        return password.set_at if password else None

    def set_password(self, password: str) -> int:
        """Stores `password` (argon2id) for the admin; an unusable file is kept aside as `.corrupt` and replaced.
        Returns how many API tokens were revoked with the change.

        A password change is the homeowner's "lock everyone else out": sessions older than it end (`set_at`), and
        every API token is revoked with it. A token is only as trustworthy as the session that created it, and
        whoever knew the old password could have made one to outlive the change. Hubs get new tokens."""
        check_password_strength(password)
        with self._hash_slots:
            digest = self._hasher.hash(password)
        with self._transaction() as now:
            if now.problem is not None:  # it must not lock the installer out for good
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.path, self._aside_path)
                    log.warning("credentials: kept the unusable file as %s", self._aside_path)
            revoked = len(now.tokens)
            with self._uses_lock:
                self._uses.clear()
                self._uses_dirty = False
            self._save(Password(digest, self._clock()), {})
        if revoked:
            log.info("credentials: the password changed; %d API token(s) revoked with it", revoked)
        return revoked

    def verify_password(self, username: str, password: str) -> bool:
        """True only for the admin's password. Costs one argon2 hash whatever the user name and whether a password
        is set, so timing tells nothing; re-hashes the password when the hasher's parameters changed."""
        if len(password) > MAX_PASSWORD_CHARS:  # could never have been set; its length is no secret
            return False
        secret = password.encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates: never a crash
        current = self._current().password
        stored = current.hash if current else None
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
        with self._transaction() as now:
            if now.problem is not None:
                raise CredentialsError(
                    "the credentials file is unusable: set the password again with `edgewatch passwd`"
                )
            if len(now.tokens) >= MAX_TOKENS:
                raise ValueError(f"at most {MAX_TOKENS} API tokens: revoke one first")
            if any(t.info.name == name for t in now.tokens.values()):
                raise ValueError(f"a token named '{name}' exists already")
            self._save(now.password, {**now.tokens, info.id: Token(info, _sha256(secret))})
        return info, secret

    def tokens(self) -> list[TokenInfo]:
        return [t.info for t in self._with_uses(self._current().tokens).values()]

    def revoke_token(self, token_id: str) -> bool:
        if token_id not in self._current().tokens:
            return False
        with self._transaction() as now:
            if token_id not in now.tokens:  # revoked meanwhile by another process
                return False
            self._save(now.password, {tid: t for tid, t in now.tokens.items() if tid != token_id})
        return True

    def verify_token(self, secret: str) -> TokenInfo | None:
        """The token `secret` belongs to (its last use now recorded in memory), or None. No lock, no write: a save
        of the uses, when one is due, runs on a background thread."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_CHARS:
            return None
        digest = _sha256(secret)
        now = self._clock()
        found = None
        for token in self._current().tokens.values():  # no early exit: every request costs the same
            if hmac.compare_digest(token.sha256, digest):
                found = token
        if found is None:
            return None
        with self._uses_lock:
            self._uses[found.info.id] = now
            self._uses_dirty = True
            due = abs(now - self._uses_saved_at) >= TOKEN_USE_PERSIST_S  # abs: the Pi's clock may jump back
            due = due and (self._saver is None or not self._saver.is_alive())
            if due:
                self._uses_saved_at = now  # the next try in a minute, whether or not this one works
                self._saver = threading.Thread(target=self._save_uses, name="credentials-uses", daemon=True)
                self._saver.start()
        return replace(found.info, last_used_at=now)

    def flush(self, timeout: float | None = None) -> None:
        """Waits for a background save of token uses in progress (at shutdown, and for tests)."""
        saver = self._saver
        if saver is not None:
            saver.join(timeout)

    def wipe(self) -> None:
        """Removes the password and all tokens (and any `.corrupt` copy): back to first boot."""
        with self._transaction():
            for victim in (self.path, self._aside_path):
                with contextlib.suppress(FileNotFoundError):
                    victim.unlink()
            fsync_dir(self.path.parent)
            with self._uses_lock:
                self._uses.clear()
                self._uses_dirty = False
            self._file = Contents(None)

    # -- reads: no lock

    def _current(self) -> Contents:
        """The file's state, re-read only when it was replaced since the last read."""
        known = self._file
        if stamp(self.path) == known.stamp:
            return known
        fresh = read(self.path)
        if fresh.problem is not None and fresh.stamp != self._reported:  # once per change, not per request
            self._reported = fresh.stamp
            log.error(
                "credentials: %s is unusable: %s; nobody can log in until `edgewatch passwd` sets the password again",
                self.path,
                fresh.problem,
            )
        self._file = fresh
        return fresh

    def _with_uses(self, tokens: dict[str, Token]) -> dict[str, Token]:
        """`tokens` with the uses this process saw but has not written yet, where they are newer."""
        with self._uses_lock:
            seen = dict(self._uses)
        merged = {}
        for tid, token in tokens.items():
            used, saved = seen.get(tid), token.info.last_used_at
            newer = used is not None and (saved is None or used > saved)
            merged[tid] = replace(token, info=replace(token.info, last_used_at=used)) if newer else token
        return merged

    # -- writes: `_transaction` holds our lock and the flock

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Contents]:
        """Read-modify-write across threads and processes: our lock, then the flock `edgewatch passwd` takes too,
        then the file's current state (what the body changes and `_save`s)."""
        with self._write_lock:
            folder = self.path.parent
            make_private_dir(folder, tighten=False)  # e.g. systemd's StateDirectory= keeps its mode
            fd = lock_exclusive(self.path.with_name(self.path.name + ".lock"), wait=True, owner=service_owner(folder))
            try:
                yield self._current()
            finally:
                os.close(fd)  # releases the flock

    def _save(self, password: Password | None, tokens: dict[str, Token]) -> None:
        """Writes the file (atomically, durably) with the uses seen so far; memory follows only once it is written."""
        with self._uses_lock:
            written = dict(self._uses)
        tokens = self._with_uses(tokens)
        atomic_write(self.path, render(password, tokens), owner=service_owner(self.path.parent))
        self._file = Contents(stamp(self.path), password, tokens)  # our own write: no need to read it back
        with self._uses_lock:
            self._uses = {tid: used for tid, used in self._uses.items() if tid in tokens}
            if self._uses_dirty and self._uses.items() <= written.items():  # no use came in meanwhile
                self._uses_dirty = False
                self._uses_saved_at = self._clock()

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
            with self._transaction() as now:
                if now.password is not None and now.password.hash == stored:  # unchanged meanwhile
                    # the same set_at: sessions stay valid
                    self._save(replace(now.password, hash=fresh), now.tokens)
        except OSError as exc:
            log.warning("credentials: could not store the password's upgraded hash: %s", exc.strerror)

    def _save_uses(self) -> None:
        try:
            with self._transaction() as now:
                with self._uses_lock:
                    dirty = self._uses_dirty
                if dirty and now.problem is None:
                    self._save(now.password, now.tokens)
        except OSError as exc:
            log.warning("credentials: could not record API token use: %s", exc.strerror)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
