"""How busy the whole machine is: benchmarks wait for quiet and report what others used."""

from __future__ import annotations

import os
import time
from pathlib import Path


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = float(sum(values[:8]))  # user nice system idle iowait irq softirq steal
    return total - values[3] - values[4], total


def settle(limit_s: float, busy_pct: float = 20.0) -> float:
    """Wait (at most `limit_s`) until the machine is nearly idle over 2 s; return the last busy %."""
    deadline = time.monotonic() + limit_s
    while True:
        a = machine_cpu()
        time.sleep(2.0)
        b = machine_cpu()
        total = b[1] - a[1]
        busy = 100 * (os.cpu_count() or 1) * (b[0] - a[0]) / total if total else 0.0
        if busy <= busy_pct or time.monotonic() >= deadline:
            return busy
        print(f"  machine {busy:.0f} % busy (other processes); waiting for it to settle", flush=True)
        time.sleep(min(8.0, max(0.0, deadline - time.monotonic())))
