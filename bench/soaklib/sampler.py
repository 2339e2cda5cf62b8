"""/proc every second: the appliance's RSS, fds and threads, and every socket it holds, classified
(a camera, the broker, the API, or a privacy violation)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soaklib.processes import Appliance
from soaklib.scene import PROC_EVERY_S

Endpoint = tuple[str, int]


@dataclass
class ProcSample:
    t: float
    pid: int
    rss_mb: float
    fds: int
    threads: int
    sockets: dict[str, int]  # by what they are: camera, broker, api-listen, api-client, local-ipc, ...


def _endpoint(text: str, v6: bool) -> tuple[str, int]:
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if v6:
        ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        ip = ip.removeprefix("::ffff:")  # IPv4-mapped
    else:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return ip, int(port, 16)


def read_inet_table(pid: int, name: str) -> dict[int, tuple[str, tuple[str, int], tuple[str, int], str]]:
    """inode → (table, local, remote, state) for /proc/PID/net/NAME (tcp, tcp6, udp, udp6, raw, raw6)."""
    out = {}
    v6 = name.endswith("6")
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            out[int(f[9])] = (name, _endpoint(f[1], v6), _endpoint(f[2], v6), f[3])
    return out


def read_inode_column(pid: int, name: str, column: int) -> set[int]:
    out = set()
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            with contextlib.suppress(IndexError, ValueError):
                out.add(int(f[column]))
    return out


TCP_LISTEN = "0A"
UNBOUND = (("0.0.0.0", 0), ("::", 0))


class ProcSampler:
    """Every second: the appliance's RSS, fds and threads, and every socket it holds, classified."""

    def __init__(self, appliance: Appliance, api_port: int, cameras: dict[int, str], broker_port: int) -> None:
        self.samples: list[ProcSample] = []
        self.violations: list[dict[str, Any]] = []
        self.fd_changes: list[dict[str, Any]] = []  # what the fds were when their number changed
        self._last_fds: tuple[int, Counter[str]] | None = None
        self._appliance = appliance
        self._api_port = api_port
        self._cameras = cameras  # port → camera name (all on 127.0.0.1)
        self._broker = broker_port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-proc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += PROC_EVERY_S
            pid = self._appliance.pid
            if pid is not None:
                with contextlib.suppress(OSError, ValueError):  # the process may be gone mid-read
                    self.samples.append(self.sample(pid))

    def sample(self, pid: int) -> ProcSample:
        t = time.time()
        status = {
            k: v.strip()
            for k, _, v in (line.partition(":") for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        }
        inodes = []
        fds = 0
        targets: Counter[str] = Counter()
        for entry in os.scandir(f"/proc/{pid}/fd"):
            fds += 1
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                if target.startswith("socket:["):
                    inodes.append(int(target[8:-1]))
                else:
                    targets[re.sub(r"\[\d+\]|\d{6,}", "N", target)] += 1
        table: dict[int, tuple[str, tuple[str, int], tuple[str, int], str]] = {}
        for name in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
            table.update(read_inet_table(pid, name))
        local_ipc = read_inode_column(pid, "unix", 6) | read_inode_column(pid, "netlink", 9)
        packet = read_inode_column(pid, "packet", 8)
        kinds: Counter[str] = Counter()
        own = {table[i][1] for i in inodes if i in table}  # this process' own local endpoints
        for inode in inodes:
            if inode in table:
                kind, bad = self.classify(*table[inode], own)
                kinds[kind] += 1
                if bad:
                    proto, local, remote, state = table[inode]
                    self.violations.append(
                        {
                            "t": t,
                            "pid": pid,
                            "what": kind,
                            "proto": proto,
                            "local": f"{local[0]}:{local[1]}",
                            "remote": f"{remote[0]}:{remote[1]}",
                            "state": state,
                        }
                    )
            elif inode in packet:
                kinds["packet"] += 1
                self.violations.append({"t": t, "pid": pid, "what": "packet socket (raw link layer)"})
            elif inode in local_ipc:
                kinds["local-ipc"] += 1  # unix and netlink sockets: within this machine
            else:
                kinds["closed-meanwhile"] += 1  # gone from the tables between the two reads
        rss_kb = int(status["VmRSS"].split()[0])
        targets.update(f"socket: {kind}" for kind in kinds.elements())
        self._note_fds(t, pid, fds, targets)
        return ProcSample(t, pid, round(rss_kb / 1024, 1), fds, int(status["Threads"]), dict(kinds))

    def _note_fds(self, t: float, pid: int, fds: int, targets: Counter[str]) -> None:
        """Record what came and went when the fd count of the same process changes."""
        last = self._last_fds
        self._last_fds = (pid, targets)
        if last is None or last[0] != pid or sum(last[1].values()) == sum(targets.values()):
            return
        added, removed = targets - last[1], last[1] - targets
        self.fd_changes.append({"t": t, "pid": pid, "fds": fds, "added": dict(added), "removed": dict(removed)})

    def classify(
        self, proto: str, local: Endpoint, remote: Endpoint, state: str, own: set[Endpoint]
    ) -> tuple[str, bool]:
        """(what the socket is, whether it breaks the privacy rule)."""
        loopback = remote[0] in ("127.0.0.1", "::1")
        if loopback and remote in own:
            # Both ends are this process' sockets: paho-mqtt's wake-up pipe, a TCP socket pair on
            # loopback (paho.mqtt.client._socketpair_compat). Local, and reported as such.
            return "self-pair", False
        if proto.startswith("raw"):
            return "raw socket", True
        if proto.startswith("tcp"):
            found = self._tcp_own(local, remote, state, loopback)
            if found is not None:
                return found
        elif remote in UNBOUND:  # udp
            if local[1] == 0:
                return "udp-unbound", False
            return f"UDP bound to {local[0]}:{local[1]}", True
        return self._peer(proto, remote, loopback)

    def _tcp_own(self, local: Endpoint, remote: Endpoint, state: str, loopback: bool) -> tuple[str, bool] | None:
        """A TCP socket that is the API's (listening or a client of it) or not connected yet; None for the rest."""
        if state == TCP_LISTEN:
            ok = local[1] == self._api_port and local[0] == "127.0.0.1"
            return ("api-listen", False) if ok else (f"listening on {local[0]}:{local[1]}", True)
        if remote in UNBOUND:
            return "tcp-unconnected", False  # made, not connected yet (no peer, no port of its own)
        if local[1] == self._api_port:
            return ("api-client", False) if loopback else (f"API client from {remote[0]}", False)
        return None

    def _peer(self, proto: str, remote: Endpoint, loopback: bool) -> tuple[str, bool]:
        """A connection out: to a camera or the broker, or a violation."""
        if loopback and remote[1] in self._cameras:
            return "camera", False
        if loopback and remote[1] == self._broker:
            return "broker", False
        return f"{proto} connection to {remote[0]}:{remote[1]}", True
