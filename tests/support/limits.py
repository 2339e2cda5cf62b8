"""Run a command and measure what it cost: wall time and peak resident memory.

The command runs under a tiny Python wrapper whose only child it is, so the wrapper's
RUSAGE_CHILDREN maximum RSS is the command's own (its children included), whatever else
the test process has run. The wrapper also caps the address space (`RLIMIT_AS`), so a
regression that would eat gigabytes fails fast with a MemoryError instead of swamping
the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = """
import json, resource, subprocess, sys, time
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
started = time.monotonic()
done = subprocess.run(sys.argv[3:], check=False)
seconds = time.monotonic() - started
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as out:
    json.dump({"returncode": done.returncode, "seconds": seconds, "peak_kb": peak_kb}, out)
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # the command alone, not the wrapper's start-up
    peak_rss_mb: float


def run_measured(
    command: list[str], *, timeout: float, address_space_mb: int = 1536, cwd: Path | None = None
) -> Measured:
    with tempfile.TemporaryDirectory(prefix="measured-") as folder:
        report = Path(folder) / "report.json"
        wrapper = [sys.executable, "-c", _WRAPPER, str(report), str(address_space_mb << 20), *command]
        # A session of its own: on a timeout the command goes too, not only the wrapper.
        with subprocess.Popen(
            wrapper, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, start_new_session=True
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise AssertionError(f"{command} took more than {timeout} s") from None
        assert report.is_file(), f"the measuring wrapper failed ({proc.returncode}): {stderr[-2000:]}"
        numbers = json.loads(report.read_text(encoding="utf-8"))
    return Measured(numbers["returncode"], stdout, stderr, numbers["seconds"], numbers["peak_kb"] / 1024)
