"""The soak harness behind `bench/soak.py` (issue 8), one job a module, in the order a run uses them:

    timings    the product's timings the bounds derive from, read from the product and its unit file
    faults     the fault schedule and each fault's bounds (how soon shown, how soon recovered)
    scene      what the soak sets up: cameras, rule, config, clips, and its own sampling periods
    processes  the appliance as a real process (under strace), its session, SIGKILL and restart
    sampler    /proc every second: RSS, fds, threads and every socket, classified
    strace     strace -f output read back as calls
    files      what the appliance wrote where (strace)
    network    whom the appliance reached or let in (strace)
    poller     the dashboard user: /api/status and latest.jpg
    hub        the home-automation hub on MQTT
    disk       storage.path on a small tmpfs, and its ballast
    run        the run itself: set-up, the faults on their schedule, the stop
    recovery   each fault measured on the status samples
    records    what is read after the run: the store, the appliance's log, the machine
    analysis   the run's figures (fps, resources, alerts, API, privacy)
    checks     the pass/fail verdicts
    report     the printed report

bench/ is not a package: `bench/soak.py` runs with bench/ on sys.path, so this is `soaklib`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the test helpers (RTSP camera, mosquitto) are not installed
