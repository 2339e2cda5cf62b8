"""The login step's short-lived state: the first-boot setup code and sessions (the limiter: limiter.py)."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

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
