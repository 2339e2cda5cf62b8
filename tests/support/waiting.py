"""Polling for a condition with a deadline (monotonic), the one way tests wait."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> bool:
    """True as soon as `predicate()` is truthy; False if it is still falsy after `timeout` s
    (checked once more at the deadline, so a slow last step is not lost)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
