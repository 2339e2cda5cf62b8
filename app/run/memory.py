"""glibc's malloc arenas, capped for a box with many camera threads.

glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core),
and a camera thread allocates a new frame array for every decoded frame: freed memory then
sits in each thread's arena, fragmented, and RSS per camera grows. Capping the arenas at 2
took RSS per added 720p camera from 24.8 to 18.2 MB (bench/cameras.py, 4 cameras, detect
fps held 1.000 either way). `MALLOC_ARENA_MAX` in the environment does the same but must be
set before the process starts; this works from inside, before the threads exist, and an
installer's own `MALLOC_ARENA_MAX` wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # malloc.h


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before starting threads). False where it cannot be done
    (not glibc) or the environment already decides."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_ARENA_MAX, arenas))
    if not done:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return done
