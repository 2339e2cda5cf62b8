"""Freshest-frame hand-off: the producer overwrites, the consumer always gets the newest."""

from __future__ import annotations

import threading

from app.domain import Frame


class LatestFrame:
    """A one-frame mailbox. Nothing queues, so a slow consumer never works on a backlog."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._frame = frame
            self._cond.notify_all()

    def peek(self) -> Frame | None:
        with self._cond:
            return self._frame

    def newer_than(self, seq: int, timeout: float) -> Frame | None:
        """The newest frame with a sequence number above `seq`, waiting up to `timeout` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._frame is not None and self._frame.seq > seq), timeout)
            if self._frame is not None and self._frame.seq > seq:
                return self._frame
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
