"""strace -f -yy output read back as calls: (trace file, pid, syscall, arguments, result), with the
arguments split and their strings unescaped; `<unfinished ...>` and `resumed` halves joined."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

Call = tuple[str, int | None, str, list[str], str]  # trace file, pid, syscall, arguments, result

_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
FD_PATH = re.compile(r"^(?:AT_FDCWD|-?\d+)<(?P<path>.*)>$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<tail>.*)$")


def split_args(text: str) -> list[str]:
    """Top-level comma split of strace's argument list (quotes, <fd paths>, {structs} kept whole)."""
    out: list[str] = []
    cur: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in text:
        if quoted:
            cur.append(ch)
            quoted, escaped = _in_string(ch, escaped)
            continue
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        quoted = ch == '"'
        depth += _nesting(ch)
        cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


def _in_string(ch: str, escaped: bool) -> tuple[bool, bool]:
    """(still inside the quoted string, the next character is escaped) after `ch`."""
    if escaped:
        return True, False
    if ch == "\\":
        return True, True
    return ch != '"', False


def _nesting(ch: str) -> int:
    """+1 for an opening bracket of any kind, -1 for a closing one."""
    if ch in "<{[(":
        return 1
    if ch in ">}])":
        return -1
    return 0


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", '"': '"', "\\": "\\"}


def c_string(arg: str) -> str | None:
    """The first C-escaped string in strace's rendering of an argument, unescaped."""
    m = _STRING.search(arg)
    if m is None:
        return None

    def one(e: re.Match[str]) -> str:
        code = e.group(1)
        if code[0] == "x":
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, m.group(1))


def resolve(dirfd: str | None, path: str, cwd: str) -> str | None:
    if path.startswith("/"):
        return os.path.normpath(path)
    if dirfd is None or dirfd.startswith("AT_FDCWD"):
        m = FD_PATH.match(dirfd or "")
        return os.path.normpath(os.path.join(m.group("path") if m else cwd, path))
    m = FD_PATH.match(dirfd)
    return os.path.normpath(os.path.join(m.group("path"), path)) if m else None


def trace_calls(traces: Sequence[Path]) -> Iterator[Call]:
    """(trace file, pid, syscall, arguments, result) for every complete call in strace -f output."""
    for trace in traces:
        pending: dict[str, str] = {}
        with trace.open(errors="replace") as lines:
            for line in lines:
                pid, _, rest = line.rstrip("\n").partition(" ")
                rest = rest.lstrip()
                if rest.endswith("<unfinished ...>"):
                    pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
                    continue
                resumed = _RESUMED.match(rest)
                if resumed:
                    rest = pending.pop(pid, f"{resumed.group('name')}(") + resumed.group("tail")
                m = _CALL.match(rest)
                if m is not None:  # not a signal or an exit
                    name, args = m.group("name"), split_args(m.group("args"))
                    yield trace.name, int(pid) if pid.isdigit() else None, name, args, m.group("ret")
