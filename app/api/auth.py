"""Admin login: the credentials file, API tokens, the first-boot setup code, sessions and the login limiter.

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
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = logging.getLogger(__name__)

USERNAME = "admin"  # the one account (SPEC)
CREDENTIALS_FILE = "credentials.json"
FILE_VERSION = 1
MAX_FILE_BYTES = 1 << 20
MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 10, 1024
MAX_TOKENS = 32
TOKEN_PREFIX = "ewt_"  # noqa: S105 - recognisable in logs and secret scanners; not itself secret
MAX_TOKEN_CHARS = 128
TOKEN_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,64}")
TOKEN_USE_PERSIST_S = 60.0  # last_used_at is a hint for the dashboard: not worth a disk write per request
MAX_CONCURRENT_HASHES = 2  # argon2id's default takes 64 MiB a hash: a burst of logins must not exhaust a Pi

_Stamp = tuple[int, ...] | None  # (inode, mtime_ns, size) of the file as last read; None: no file
_NEVER_READ: _Stamp = (-1,)


# ---- password strength ----------------------------------------------------------------------------------------


class WeakPasswordError(ValueError):
    """A password `check_password_strength` refuses; the message says why, for humans."""


_COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "0987654321", "qwertyuiop", "1q2w3e4r5t", "1qaz2wsx3edc", "password", "password1",
        "password12", "password123", "passw0rd123", "edgewatch", "admin", "administrator", "iloveyou12",
        "trustno1trustno1", "a1b2c3d4e5", "abc1234567", "qwerty1234", "letmein123", "changeme123",
    }
)  # fmt: skip
# Words that add nothing to a guesser's work; longest first so "administrator" goes before "admin".
_COMMON_WORDS = tuple(
    sorted(
        {
            USERNAME, "administrator", "edgewatch", "password", "passwort", "qwerty", "letmein", "welcome",
            "iloveyou", "changeme", "default", "secret", "camera", "security", "monkey", "dragon", "football",
            "sunshine", "princess", "master", "login", "root", "guest", "test", "user",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip
# A password that is any stretch of these (either direction) is a sequence or a walk along the keyboard.
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789012345678901234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
)
_LEET = str.maketrans("0134578@$!", "oieastbasi")
_MIN_OWN_CHARS = 6  # what must remain once common words are taken out
_MIN_DISTINCT_CHARS = 4


def check_password_strength(password: str) -> None:
    """Raises WeakPasswordError (saying why) unless `password` is fit for the admin account."""
    why = _weakness(password)
    if why is not None:
        raise WeakPasswordError(f"password {why}")


def _weakness(password: str) -> str | None:
    if "\x00" in password:
        return "must not contain a NUL character"
    if len(password) < MIN_PASSWORD_CHARS:
        return f"is too short: use at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"is too long: at most {MAX_PASSWORD_CHARS} characters"
    if not password.isprintable():
        return "must be printable characters only (no tabs, line breaks or control characters)"
    low = password.lower()
    if len(set(low)) == 1:
        return "is one character repeated"
    if low in _COMMON_PASSWORDS:
        return "is a well-known password"
    if _is_run(low):
        return "is a sequence or a keyboard run (like abcdefghij or qwertyuiop)"
    if _short_repeat(low):
        return "is a short pattern repeated"
    if len(set(low)) < _MIN_DISTINCT_CHARS:
        return "has too few different characters"
    for form in (low, low.translate(_LEET)):
        rest = form
        for word in _COMMON_WORDS:
            rest = rest.replace(word, "")
        if rest != form and _trivial_rest(rest):
            return f"is little more than a common word or the user name '{USERNAME}': add unrelated words"
    return None


def _is_run(text: str) -> bool:
    return any(text in run or text in run[::-1] for run in _RUNS)


def _short_repeat(text: str) -> bool:
    """True for a block of fewer than _MIN_OWN_CHARS characters repeated, like 'abcabcabca'."""
    n = len(text)
    return any(n >= 2 * p and text == (text[:p] * (n // p + 1))[:n] for p in range(1, _MIN_OWN_CHARS))


def _trivial_rest(rest: str) -> bool:
    """What is left beside common words adds too little: short, a run, a repeat, or a year and a '!'."""
    if len(rest) < _MIN_OWN_CHARS or _is_run(rest) or _short_repeat(rest):
        return True
    return len(rest) < 8 and not any(ch.isalpha() for ch in rest)


# ---- the credentials file -------------------------------------------------------------------------------------


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

    def set_password(self, password: str) -> None:
        """Stores `password` (argon2id) for the admin; an unusable file is kept aside as `.corrupt` and replaced."""
        check_password_strength(password)
        with self._hash_slots:
            digest = self._hasher.hash(password)
        with self._transaction():
            if self._corrupt:  # it must not lock the installer out for good
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.path, self._aside_path)
                    log.warning("credentials: kept the unusable file as %s", self._aside_path)
                self._corrupt = False
            self._password = _Password(digest, self._clock())
            self._save()

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


# ---- first-boot setup code, login limiter, sessions --------------------------------------------------------------

SETUP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I/L: read off a console, typed on a phone
SETUP_GROUPS, SETUP_GROUP_CHARS = 3, 4  # 12 characters: ~59 bits, far beyond what the login limiter lets through
_SETUP_SEPARATORS = re.compile(r"[\s-]+")


class SetupCode:
    """One-time first-boot code from the OS RNG, like 'K7QM-2XHP-9TRB', shown on the console while no password
    exists; it lets the installer set the first password from the dashboard."""

    def __init__(self) -> None:
        chars = "".join(secrets.choice(SETUP_ALPHABET) for _ in range(SETUP_GROUPS * SETUP_GROUP_CHARS))
        self._expected = chars.encode()
        self._code = "-".join(chars[i : i + SETUP_GROUP_CHARS] for i in range(0, len(chars), SETUP_GROUP_CHARS))
        self._used = False
        self._lock = threading.Lock()

    @property
    def code(self) -> str:
        return self._code

    def check(self, attempt: str) -> bool:
        """Constant time; ignores case, spaces and dashes. Never true once consumed."""
        typed = self._normalize(attempt)
        with self._lock:
            return hmac.compare_digest(typed, self._expected) and not self._used

    def consume(self) -> None:
        with self._lock:
            self._used = True

    def redeem(self, attempt: str) -> bool:
        """`check` and `consume` as one step, so two concurrent requests cannot both use the code."""
        typed = self._normalize(attempt)
        with self._lock:
            ok = hmac.compare_digest(typed, self._expected) and not self._used
            self._used = self._used or ok
            return ok

    @staticmethod
    def _normalize(attempt: str) -> bytes:
        if len(attempt) > 64:  # no legitimate typing is this long
            return b""
        return _SETUP_SEPARATORS.sub("", attempt).upper().encode("utf-8", "surrogatepass")


class LoginLimiter:
    """Failed logins per client address: the failure after `max_failures` within `window_s` gets refused until the
    window frees a slot. `max_global` failures from all addresses together slow distributed guessing the same way.
    Only the last `max_failures` failure times are kept per address, for at most `max_addresses` addresses."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        *,
        max_global: int = 30,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 4096,
    ) -> None:
        if min(max_failures, max_global, max_addresses) < 1 or window_s <= 0:
            raise ValueError("LoginLimiter: limits must be at least 1 and the window positive")
        self._max_failures, self._max_global, self._max_addresses = max_failures, max_global, max_addresses
        self._window = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()  # least recently failed first
        self._everyone: deque[float] = deque(maxlen=max_global)

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again (its own or the global limit), or None if it may now."""
        now = self._clock()
        with self._lock:
            own = self._by_address.get(address)
            wait = max(
                self._wait(own, self._max_failures, now) if own is not None else 0.0,
                self._wait(self._everyone, self._max_global, now),
            )
        return wait if wait > 0 else None

    def failure(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            failures = self._by_address.pop(address, None)
            if failures is None:
                failures = deque(maxlen=self._max_failures)
            failures.append(now)
            self._by_address[address] = failures
            self._everyone.append(now)
            while len(self._by_address) > self._max_addresses:
                self._by_address.popitem(last=False)

    def success(self, address: str) -> None:
        """Clears that address's failures (not the global count: one success says nothing about the others)."""
        with self._lock:
            self._by_address.pop(address, None)

    def _wait(self, failures: deque[float], limit: int, now: float) -> float:
        """Until the oldest of a full window of failures leaves it; 0 while the window is not full."""
        if len(failures) < limit:
            return 0.0
        return failures[0] + self._window - now


@dataclass(frozen=True)
class _Session:
    created: float
    last_seen: float


class Sessions:
    """Server-side sessions: random ids, idle and absolute expiry, bounded count (the least recently used goes).

    Wall-clock times, because `not_before` is the password's `set_at` from the credentials file."""

    def __init__(
        self,
        *,
        idle_s: float = 12 * 3600,
        max_age_s: float = 7 * 24 * 3600,
        max_sessions: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if idle_s <= 0 or max_age_s <= 0 or max_sessions < 1:
            raise ValueError("Sessions: expiries must be positive and max_sessions at least 1")
        self._idle, self._max_age, self._max_sessions = idle_s, max_age_s, max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()  # least recently used first

    def create(self) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            for sid, session in list(self._sessions.items()):
                if self._expired(session, now):
                    del self._sessions[sid]
            while len(self._sessions) >= self._max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[session_id] = _Session(now, now)
        return session_id

    def valid(self, session_id: str, *, not_before: float | None = None) -> bool:
        """True for a live session (and restarts its idle timer); one created before `not_before` (the password
        changed since) or expired is dropped."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return False
            if self._expired(session, now) or (not_before is not None and session.created < not_before):
                del self._sessions[session_id]
                return False
            self._sessions[session_id] = replace(session, last_seen=now)
            self._sessions.move_to_end(session_id)
            return True

    def revoke(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def revoke_all(self) -> None:
        with self._lock:
            self._sessions.clear()

    def _expired(self, session: _Session, now: float) -> bool:
        return now - session.last_seen >= self._idle or now - session.created >= self._max_age
