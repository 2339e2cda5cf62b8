"""FFmpeg's log level, set for a moment through the libavutil that OpenCV loaded.

OpenCV gives no handle on FFmpeg's logging: it sets the level to ERROR when it first opens
a capture (so open something before the first `quiet()`), and FFmpeg then writes to stderr
itself. A size probe with decoding switched off makes FFmpeg log an expected error twice
("Codec (h264) not on whitelist"), so the probe runs inside `quiet()`. The library is found
among the process's mappings (OpenCV's wheel bundles it under a hashed name); where it is
not, `quiet()` does nothing and those two lines are printed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
from collections.abc import Iterator

AV_LOG_QUIET = -8

log = logging.getLogger(__name__)


@functools.cache
def _libavutil() -> ctypes.CDLL | None:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/libavutil" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)  # the mapping already loaded: dlopen hands back the same instance
            lib.av_log_get_level.restype = ctypes.c_int
            lib.av_log_set_level.argtypes = [ctypes.c_int]
        except (OSError, AttributeError):
            continue
        return lib
    log.debug("libavutil not found among the process's mappings; FFmpeg's probe messages stay")
    return None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """FFmpeg logs nothing, process-wide, while this lasts. Not re-entrant: the caller
    serializes (app.capture.opencv holds its open lock)."""
    lib = _libavutil()
    if lib is None:
        yield
        return
    level = lib.av_log_get_level()
    lib.av_log_set_level(AV_LOG_QUIET)
    try:
        yield
    finally:
        lib.av_log_set_level(level)
