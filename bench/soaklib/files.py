"""What the appliance wrote where (strace): every write-mode open and every creat, rename, unlink,
mkdir, rmdir, link, symlink and truncate must be under storage.path."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from soaklib.strace import FD_PATH, c_string, resolve, trace_calls

WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_TMPFILE")
# Paths outside storage.path the appliance may open for writing, and why that stores nothing.
FILE_ALLOWANCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/dev/null$"), "the null device: whatever is written is discarded"),
    (
        re.compile(r"^/proc/(self|thread-self|\d+)(/task/\d+)?/comm$"),
        "a thread's name, kept in kernel memory (pthread_setname_np names other threads through it)",
    ),
)


# The file names each call writes, creates or removes: (index of its directory fd or None, index of the path).
_NAMES: dict[str, tuple[tuple[int | None, int], ...]] = {
    **dict.fromkeys(("creat", "unlink", "rmdir", "mkdir", "truncate"), ((None, 0),)),
    **dict.fromkeys(("unlinkat", "mkdirat"), ((0, 1),)),
    "rename": ((None, 0), (None, 1)),
    **dict.fromkeys(("renameat", "renameat2"), ((0, 1), (2, 3))),
    "link": ((None, 1),),
    "linkat": ((2, 3),),
    "symlink": ((None, 1),),
    "symlinkat": ((1, 2),),
}


def _named(args: list[str], dir_i: int | None, path_i: int, cwd: str) -> tuple[str | None, str]:
    """(resolved path or None, the raw path) of one path argument."""
    raw = c_string(args[path_i]) or args[path_i]
    return resolve(None if dir_i is None else args[dir_i], raw, cwd), raw


def _opened(name: str, args: list[str], ret: str, cwd: str) -> list[tuple[str | None, str]]:
    """An open, openat or openat2 in a write mode: the file it opened (-yy shows it on the result)."""
    path_i = 0 if name == "open" else 1
    flags = " ".join(args[path_i + 1 :])
    if not any(f in flags for f in WRITE_FLAGS):
        return []
    ok_path = None
    m = re.match(r"^\d+<(?P<path>.*)>", ret)
    if m:  # -yy: "3</dev/null<char 1:3>>", "4</x/y (deleted)>"
        ok_path = re.sub(r"<(char|block) [^>]*>$", "", m.group("path")).removesuffix(" (deleted)")
    resolved, raw = _named(args, None if name == "open" else 0, path_i, cwd)
    return [(ok_path or resolved, raw)]


def _writes(name: str, args: list[str], ret: str, cwd: str) -> list[tuple[str | None, str]]:
    """(resolved path or None, the raw path) for each name this call writes, creates or removes."""
    if name in ("open", "openat", "openat2"):
        return _opened(name, args, ret, cwd)
    return [_named(args, dir_i, path_i, cwd) for dir_i, path_i in _NAMES.get(name, ())]


def file_writes(traces: Sequence[Path], storage: str, cwd: str = "/") -> dict[str, Any]:
    """Every write-mode open, creat, rename, unlink, mkdir, ... the appliance made (strace -f -yy).

    Inside storage.path is fine; a path matching FILE_ALLOWANCES is reported with its reason;
    anything else, succeeded or refused, is a violation (a refused write still shows intent)."""
    storage = os.path.realpath(storage)
    inside = 0
    allowed: Counter[str] = Counter()
    violations: list[dict[str, Any]] = []
    calls = 0
    for trace, pid, name, args, ret in trace_calls(traces):
        calls += 1
        for arg in args:  # strace -yy shows the working directory on AT_FDCWD: follow a chdir
            m = FD_PATH.match(arg)
            if m is not None and arg.startswith("AT_FDCWD"):
                cwd = m.group("path")
        for resolved, raw in _writes(name, args, ret, cwd):
            failed = ret.startswith("-1")
            if resolved is not None and (resolved == storage or resolved.startswith(storage + "/")):
                inside += 0 if failed else 1
                continue
            reason = next((why for rx, why in FILE_ALLOWANCES if resolved and rx.match(resolved)), None)
            if reason is not None:
                allowed[f"{re.sub(r'/[0-9]+', '/N', resolved or raw)}: {reason}"] += 1
                continue
            violations.append({"trace": trace, "pid": pid, "call": name, "path": resolved or raw, "result": ret[:80]})
    return {"calls": calls, "writes_inside": inside, "allowed": dict(allowed), "violations": violations}
