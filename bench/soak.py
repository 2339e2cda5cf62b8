"""Soak: the whole appliance for a long time, with things breaking on a schedule (issue 8).

What runs, all on this machine:
- 4 real GStreamer RTSP cameras (tests/support/rtsp.py) looping 1280x720 12 fps H.264 clips
  made from real photos by `app.demo.clip`: cam0 and cam2 show a person walking through,
  cam1 and cam3 an empty garage;
- a real mosquitto (tests/support/mosquitto.py) with persistence on, so that a hub's
  persistent session and its queued QoS 1 messages survive the broker's restart;
- the appliance as a real separate process: `bench/soak_app.py`, which is `edgewatch run
  --config FILE` with a stand-in Edge TPU (the real CPU model dressed as one) that can be
  wedged (SIGUSR1) and replugged (SIGUSR2); the real CPU model is the fallback. Its
  storage.path is a small tmpfs (48 MB) when this process may mount one (root);
- a hub: a paho subscriber on `#` with a persistent session (clean_session False, QoS 1);
- a dashboard user: `GET /api/status` every second and a camera's `latest.jpg` every 2 s
  with an API token (created beforehand, with the password set by `edgewatch passwd --stdin`).

Faults, spread over the run: an RTSP camera SIGKILLed (restarted ~10 s later), a camera
frozen (SIGSTOP, SIGCONT later), the broker stopped and started, the Edge TPU wedged and
replugged, the disk filled to ~64 KB free with a ballast file and freed, the appliance
SIGKILLed and restarted at once (as systemd's Restart= would).

What it reports and checks:
- alerts: expected = every alert committed in the store (read from the SQLite db after the
  run); delivered = the distinct alert ids the hub received. None may be lost; an id received
  twice is reported (allowed); two ids for one object (camera, rule, first seen at) are not,
  nor a delivered id the store never had (except while the disk was full). A person-visit
  count from the clip loops is a sanity check that alerts fired at all;
- recovery per fault, from the status samples (1 s resolution): camera back online, MQTT
  reconnected, degraded → healed, API answering and everything up after the SIGKILL, the
  first alert stored after the disk is freed; each against a bound derived from the
  product's timeouts and backoffs (see `recovery_bound`);
- RSS, fd and thread count of the appliance every second; start/end and a least-squares
  slope per hour over the steady samples (all cameras up, no fault) after warm-up, the slope
  within each quiet stretch and the step across each fault; what came and went when the fd
  count changed;
- fps held: per camera detect fps from the status samples outside the fault windows;
- privacy, observed: every second, every socket of the appliance process (/proc/PID/fd →
  /proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,packet}) must be a connection to a configured
  camera or the broker, the API's listening socket, or a client of it; and with strace
  (`-f --seccomp-bpf`: only the traced calls stop the process), every connect must go to a
  camera or the broker, every listen be the API's, no raw or packet socket be made, and every
  write-mode open and every creat/rename/unlink/mkdir/rmdir/link/truncate must be under
  storage.path; MQTT carries no image (snapshots are off). paho-mqtt's wake-up pipe, a TCP
  socket pair on loopback with both ends in the appliance, is recognised and reported.

    .venv/bin/python bench/soak.py [--duration 600] [--json FILE] [--work DIR] [--settle 120]
                                   [--no-strace] [--clip-seconds 12] [--person-clip MP4 --empty-clip MP4]

Durations under 240 s use the short schedule (laid out for 90 s), longer ones the long one
(laid out for 600 s); start times scale with the duration, holds do not.

Exit status 0 when every check passed, 1 otherwise. Every wait is bounded; cameras, broker and
appliance are killed and the tmpfs unmounted on exit, on errors and on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

# The entry script; the harness is the package `soaklib` next to it (bench/soaklib/__init__.py lists its
# modules). Its recovery bounds derive from the product's own timings, imported (soaklib/timings.py).
from soaklib.analysis import analyse, slope_per_hour
from soaklib.checks import MAX_FD_GROWTH, MAX_RSS_GROWTH_MB, checks
from soaklib.disk import Disk
from soaklib.faults import LONG, SHORT, Fault, detection_bound, recovery_bound, schedule
from soaklib.files import file_writes
from soaklib.hub import Hub
from soaklib.network import network_calls, sockaddr
from soaklib.poller import Poller, StatusSample
from soaklib.processes import (
    STOP_TIMEOUT_S,
    Appliance,
    ProcStat,
    children_of,
    cmdline_of,
    end_session,
    exec_child,
    proc_stat,
    session_members,
)
from soaklib.report import report
from soaklib.run import Soak
from soaklib.sampler import ProcSample, ProcSampler
from soaklib.strace import trace_calls

# What the tests and other scripts use as `soak.NAME` (bench/ on sys.path, `import soak`).
__all__ = [
    "LONG",
    "MAX_FD_GROWTH",
    "MAX_RSS_GROWTH_MB",
    "SHORT",
    "STOP_TIMEOUT_S",
    "Appliance",
    "Disk",
    "Fault",
    "Hub",
    "Poller",
    "ProcSample",
    "ProcSampler",
    "ProcStat",
    "Soak",
    "StatusSample",
    "analyse",
    "checks",
    "children_of",
    "cmdline_of",
    "detection_bound",
    "end_session",
    "exec_child",
    "file_writes",
    "main",
    "network_calls",
    "proc_stat",
    "recovery_bound",
    "report",
    "schedule",
    "session_members",
    "slope_per_hour",
    "sockaddr",
    "trace_calls",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of faults and load (default 600)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep clips, logs and traces here (default: a temporary folder, removed when every check passed)",
    )
    parser.add_argument("--settle", type=float, default=120.0, help="at most this long, wait for a quiet machine")
    parser.add_argument(
        "--strace",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the appliance under strace for the file-write check (default: on)",
    )
    parser.add_argument(
        "--clip-seconds",
        type=float,
        default=12.0,
        help="clip length: one person visit per loop on cam0 and cam2 (default 12; 6 s is a very busy porch)",
    )
    parser.add_argument("--person-clip", type=Path, help="an existing person clip (MP4 from app.demo.clip)")
    parser.add_argument("--empty-clip", type=Path, help="an existing empty clip (MP4 from app.demo.clip)")
    args = parser.parse_args(argv)
    if args.duration < 60:
        parser.error("--duration must be at least 60 s")

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwind: everything started is stopped on the way out

    signal.signal(signal.SIGTERM, on_term)
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="edgewatch-soak-")) if own else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    result: dict[str, Any] | None = None
    try:
        with contextlib.ExitStack() as stack:
            soak = Soak(args, work, stack)
            soak.setup()
            soak.run()
            result = analyse(soak)
    finally:
        passed = result is not None and all(c["ok"] for c in result["checks"].values())
        if own and passed:
            shutil.rmtree(work, ignore_errors=True)
        elif result is not None:
            print(f"work folder kept: {work}")
    assert result is not None
    report(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return 0 if all(c["ok"] for c in result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
