"""The appliance for bench/soak.py: `edgewatch run --config FILE`, with a stand-in Edge TPU.

It is `app.cli`'s own `run` (config → Store → Service → API → wait for SIGTERM → stop),
called through `app.cli.main`, with one substitution: where `edgewatch run` opens the Edge
TPU(s) found on the bus, this opens a `SupervisedDetector` whose primary is a stand-in (the
real CPU model reporting itself as an Edge TPU) on a simulated USB port, and whose fallback
is the real CPU model — what `app.detect.factory.open_supervised` builds around a real
Coral, with the product's hang timeout, prober period and self-test.

Signals drive the simulated USB port (the appliance's other faults come from outside):

    SIGUSR1   the Coral wedges on USB: its current call never returns and it drops off the bus
              (like the real lock-up, it stays gone until replugged)
    SIGUSR2   the wedged call is released and the Coral is replugged: the prober finds it,
              opens a fresh one and self-tests it before it serves again

Signals are taken by a thread of this harness with `sigwait` (they are blocked in every
thread), and SIGTERM/SIGINT are handed to the handler `edgewatch run` installed, on that
thread. Why: under strace (ptrace) a process-directed signal can land on any thread, and
CPython runs a Python handler only once the main thread wakes — `edgewatch run`'s main
thread sleeps 60 s at a time, so a signal could wait that long (see bench/RESULTS.md).

    .venv/bin/python bench/soak_app.py --config FILE
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

SIGNALS = {signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT}
# Blocked before anything is imported: numpy's BLAS, OpenCV and TFLite start threads as they load,
# and a thread inherits its creator's mask. With every thread blocking them, they wait for sigwait.
signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # when run from a checkout without an installed package

from app import cli  # noqa: E402 - after the path set-up above
from app.config import DetectorConfig  # noqa: E402
from app.detect import Detector, open_detector  # noqa: E402
from app.detect.base import DetectorInfo, EdgeTpuUnavailable, Image  # noqa: E402
from app.detect.supervisor import SupervisedDetector  # noqa: E402
from app.domain import Detections  # noqa: E402

DEVICE = "usb:0"
RELEASE_AFTER_S = 600.0  # a wedged call returns by itself only after this (a real one never does)


class StandInTpu:
    """The real CPU model reporting itself as an Edge TPU; `hang` wedges its calls until `release`.

    The same idea as the tests' FakeTpu (tests/detect/test_supervisor.py), written out here so
    that the appliance process does not import pytest and scikit-image (~38 MB of RSS that
    would be counted as the appliance's)."""

    def __init__(self) -> None:
        # A real Coral runs `coco` as Coral's SSD MobileNet V2 (7 ms); the nearest stand-in on
        # the CPU is our person SSD (an SSD too, 13 ms here), not the slower NanoDet.
        self.inner = open_detector(DetectorConfig(type="cpu", model="person"))
        self.hang = threading.Event()
        self.release = threading.Event()

    @property
    def info(self) -> DetectorInfo:
        return replace(self.inner.info, backend="edgetpu", device=DEVICE)

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        if self.hang.is_set():
            self.release.wait(RELEASE_AFTER_S)
        return self.inner.detect(image, min_score)

    def close(self) -> None:
        self.inner.close()


class UsbPort:
    """The simulated bus: is a Coral plugged in, and which one answers there."""

    def __init__(self) -> None:
        self.plugged = True
        self.tpu: StandInTpu | None = None
        self._lock = threading.Lock()

    def open(self) -> StandInTpu:
        """The supervisor's opener: a fresh device, or the error a missing Coral gives."""
        with self._lock:
            if not self.plugged:
                raise EdgeTpuUnavailable(f"no Edge TPU answered on {DEVICE}", "no Edge TPU found")
            self.tpu = StandInTpu()
            return self.tpu

    def present(self) -> bool:
        return self.plugged

    def wedge(self) -> None:
        with self._lock:
            self.plugged = False
            if self.tpu is not None:
                self.tpu.hang.set()

    def replug(self) -> None:
        with self._lock:
            if self.tpu is not None:
                self.tpu.release.set()  # the wedged call returns, into a lane nobody reads any more
            self.plugged = True


def take_signals(port: UsbPort) -> None:
    while True:
        signum = signal.sigwait(SIGNALS)
        if signum == signal.SIGUSR1:
            port.wedge()
        elif signum == signal.SIGUSR2:
            port.replug()
        else:
            handler = signal.getsignal(signum)  # edgewatch run's own: sets its stop event
            if not callable(handler):
                os._exit(128 + signum)  # before `run` took over: what the default action does
            handler(signum, None)


def main(argv: list[str]) -> int:
    port = UsbPort()

    def open_detectors(config: DetectorConfig, *_args: Any, **_kwargs: Any) -> list[Detector]:
        # As app.detect.factory.open_supervised does for a real Coral, product defaults throughout.
        fallback = open_detector(DetectorConfig(type="cpu", model=config.model, labels=config.labels))
        return [SupervisedDetector(port.open, fallback, present=port.present, device=DEVICE)]

    threading.Thread(target=take_signals, args=(port,), name="soak-signals", daemon=True).start()
    # `edgewatch run` looks this name up when it runs, so the whole run path stays the product's.
    cli.open_detectors = open_detectors  # type: ignore[attr-defined]
    return cli.main(["run", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
