"""The store's one error type, its value-free names, and the one place failures are counted.

`StoreError` is what the database and every repository raise for a SQLite or OS failure (the
original is its `__cause__`); `error_kind` and `describe` look through to that cause, so a count
says "save_event:SQLITE_FULL", not "StoreError". The snapshot and footage files raise OSError as
it comes. `Failures` is the failure accounting: what degrades instead of raising (see the
contract in `app.store`) goes through `Failures.degrade`.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreError(Exception):
    """The store cannot do what was asked (cannot open, newer schema, a read or write failed, closed)."""


class UnknownEventError(StoreError):
    """A snapshot for an event that is not (or no longer) stored."""


# What a storage operation may raise: StoreError from the database and repositories, OSError from
# the files beside them (snapshot JPEGs, footage segments), which are used directly, not wrapped.
STORAGE_ERRORS = (StoreError, OSError)


def wrap(what: str, exc: BaseException) -> StoreError:
    """The StoreError for a SQLite or OS failure `exc` while doing `what` (raise it `from exc`)."""
    return StoreError(f"{what} failed ({error_kind(exc)}): {describe(exc)}")


def error_kind(exc: BaseException) -> str:
    """A short, value-free name for a failure: ENOSPC, SQLITE_FULL, SQLITE_IOERR_WRITE, ..."""
    if isinstance(exc, UnknownEventError):
        return "unknown_event"
    if isinstance(exc, StoreError):
        cause = exc.__cause__
        return "closed" if cause is None else error_kind(cause)
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None)
        return name if isinstance(name, str) else type(exc).__name__
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, f"errno {exc.errno}")
    return type(exc).__name__


def describe(exc: BaseException) -> str:
    """The reason without values: the OS message (no file name) or SQLite's message."""
    if isinstance(exc, StoreError) and exc.__cause__ is not None:
        return describe(exc.__cause__)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)[:200] or type(exc).__name__


class Failures:
    """Counts failures by "operation:kind"; logs a kind once, and again only after its operation has worked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._active: set[str] = set()
        self.last: str | None = None

    def degrade(self, op: str, fn: Callable[[], T], fallback: T) -> T:
        """`fn()`, or `fallback` when it raised a storage error (counted, logged once): the caller goes on."""
        try:
            result = fn()
        except STORAGE_ERRORS as exc:
            self.record(op, exc)
            return fallback
        self.ok(op)
        return result

    def record(self, op: str, exc: BaseException) -> str:
        kind = f"{op}:{error_kind(exc)}"
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            first = kind not in self._active
            self._active.add(kind)
            self.last = f"{kind}: {describe(exc)}"
        if first:
            log.error("storage: %s failed (%s): %s; counted, not logged, until it works again", op, kind, describe(exc))
        return kind

    def ok(self, op: str) -> None:
        if not self._active:  # unlocked peek: the common case costs nothing
            return
        with self._lock:
            cleared = {kind for kind in self._active if kind.startswith(op + ":")}
            self._active -= cleared
        if cleared:
            log.info("storage: %s works again", op)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
