"""Whom the appliance reached or let in (strace): every socket, connect, bind and listen it made."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soaklib.strace import trace_calls

_FAMILY = re.compile(r"sa_family=(AF_\w+)")
_INET4 = re.compile(r'sin_port=htons\((?P<port>\d+)\).*?sin_addr=inet_addr\("(?P<ip>[^"]+)"\)')
_INET6 = re.compile(r'sin6_port=htons\((?P<port>\d+)\).*?inet_pton\(AF_INET6, "(?P<ip>[^"]+)"')
_SUN_PATH = re.compile(r'sun_path=(@?"(?:[^"\\]|\\.)*")')
_BOUND = re.compile(r"<(?P<proto>TCP|TCPv6|UDP|UDPv6):\[(?P<local>[^\]]*?\]?):(?P<port>\d+)(?:->[^\]]*)?\]>$")


def sockaddr(text: str) -> tuple[str, str | None, int | None]:
    """(family, address, port) of strace's rendering of a struct sockaddr."""
    family = _FAMILY.search(text)
    fam = family.group(1) if family else "?"
    m = _INET4.search(text) if fam == "AF_INET" else _INET6.search(text) if fam == "AF_INET6" else None
    if m is not None:
        return fam, m.group("ip").removeprefix("::ffff:"), int(m.group("port"))
    sun = _SUN_PATH.search(text) if fam == "AF_UNIX" else None
    return fam, sun.group(1) if sun else None, None


def network_calls(traces: Sequence[Path], remotes: set[tuple[str, int]], api_port: int) -> dict[str, Any]:
    """Every socket, connect, bind and listen the appliance made: the whole record, not a sample.

    connect: to a camera or the broker only (refused attempts count too); bind: an ephemeral port, or
    the API's; listen: the API's port only; socket: no raw or packet sockets. Unix and netlink sockets
    stay on this machine and are only counted."""
    record = _NetworkRecord(remotes, api_port)
    for trace, pid, name, args, ret in trace_calls(traces):
        if name in ("socket", "connect", "bind", "listen"):
            record.add(_Call(trace, pid, name, args, ret))
    return record.result()


@dataclass(frozen=True)
class _Call:
    trace: str
    pid: int | None
    name: str
    args: list[str]
    ret: str

    def entry(self, what: str) -> dict[str, Any]:
        return {"trace": self.trace, "pid": self.pid, "call": self.name, "what": what, "result": self.ret[:80]}


@dataclass
class _NetworkRecord:
    remotes: set[tuple[str, int]]
    api_port: int
    calls: Counter[str] = field(default_factory=Counter)
    peers: Counter[str] = field(default_factory=Counter)
    local: Counter[str] = field(default_factory=Counter)
    violations: list[dict[str, Any]] = field(default_factory=list)
    # A listen on some other loopback port, and a connect to it from the same process: paho-mqtt's
    # wake-up pipe (a TCP socket pair made through a listener that lives for microseconds). Held back
    # until the whole trace is read, then counted as a self-pair if both halves are there.
    listened: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    dialled: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def add(self, call: _Call) -> None:
        self.calls[call.name] += 1
        if call.name == "socket" and call.args:
            self._socket(call)
        elif call.name == "listen":
            self._listen(call)
        else:
            self._address(call)

    def _socket(self, call: _Call) -> None:
        kind = " ".join(call.args[:2])
        if "AF_PACKET" in kind or "SOCK_RAW" in kind:
            self.violations.append(call.entry(kind))
        elif "SOCK_DGRAM" in kind and "AF_INET" in kind:
            self.local["UDP socket made"] += 1  # what it then does shows in connect and the socket table

    def _listen(self, call: _Call) -> None:
        m = _BOUND.search(call.args[0]) if call.args else None
        if m is not None and m.group("local") == "127.0.0.1" and int(m.group("port")) != self.api_port:
            self.listened[(call.trace, int(m.group("port")))] = call.entry(call.args[0])
        elif m is None or int(m.group("port")) != self.api_port:
            self.violations.append(call.entry(call.args[0] if call.args else "?"))

    def _address(self, call: _Call) -> None:
        """connect or bind: to (or on) an internet address, a unix socket, or netlink."""
        fam, addr, port = sockaddr(call.args[1] if len(call.args) > 1 else "")
        if fam in ("AF_INET", "AF_INET6"):
            self._inet(call, addr, port)
        elif fam == "AF_UNIX":
            self.local[f"unix {call.name} {addr}"] += 1
        elif fam not in ("AF_NETLINK", "AF_UNSPEC"):
            self.violations.append(call.entry(fam))

    def _inet(self, call: _Call, addr: str | None, port: int | None) -> None:
        where = f"{addr}:{port}"
        if call.name == "connect":
            self.peers[where] += 1
            if (addr, port) not in self.remotes and addr == "127.0.0.1" and port is not None:
                self.dialled[(call.trace, port)] = call.entry(where)
            elif (addr, port) not in self.remotes:
                self.violations.append(call.entry(where))
        elif port not in (0, self.api_port) or (port == self.api_port and addr != "127.0.0.1"):
            self.violations.append(call.entry(where))  # bind: a listening port of its own

    def result(self) -> dict[str, Any]:
        pairs = set(self.listened) & set(self.dialled)
        for key in pairs:
            self.peers.pop(f"127.0.0.1:{key[1]}", None)
            self.local["self-pair (listen + connect on loopback)"] += 1
        unpaired = [v for k, v in self.listened.items() if k not in pairs]
        unpaired += [v for k, v in self.dialled.items() if k not in pairs]
        return {
            "calls": dict(self.calls),
            "peers": dict(self.peers),
            "local": dict(self.local),
            "violations": self.violations + unpaired,
        }
