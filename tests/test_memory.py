"""app.run.memory: the arena cap takes effect in a real process (glibc reports it)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import ctypes, ctypes.util, sys, threading
from app.run.memory import cap_malloc_arenas
print(cap_malloc_arenas(), flush=True)
# glibc's malloc_info lists one <heap nr=...> per arena in use
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fflush.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(8)
def churn():
    barrier.wait()  # all at once: contention is what makes glibc hand out new arenas
    for _ in range(2000):
        bytearray(300)
threads = [threading.Thread(target=churn) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
fp = libc.fopen(b"/dev/stdout", b"w")
libc.malloc_info(0, fp)
libc.fflush(fp)
"""


def arenas_after_eight_busy_threads(env: dict[str, str]) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, timeout=60)
    first, _, rest = out.stdout.partition("\n")
    return first.strip(), rest.count("<heap nr=")


def test_the_arena_cap_holds_eight_busy_threads_to_two_arenas() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped, arenas = arenas_after_eight_busy_threads(env)
    assert capped == "True", (capped, arenas)
    assert arenas <= 2, (capped, arenas)


def test_an_installers_own_setting_wins() -> None:
    capped, arenas = arenas_after_eight_busy_threads({**os.environ, "MALLOC_ARENA_MAX": "4"})
    assert capped == "False", (capped, arenas)
    assert 2 < arenas <= 4, (capped, arenas)
