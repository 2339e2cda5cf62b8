"""The appliance for bench/soak.py: `edgewatch run --config FILE`, with a stand-in Edge TPU.

It is `app.cli`'s own `run` (config → Store → Service → API → wait for SIGTERM → stop),
called through `app.cli.main`, with one substitution: where `edgewatch run` opens the Edge
TPU(s) found on the bus, this opens a `SupervisedDetector` whose primary is the tests'
`FakeTpu` (the real CPU model dressed as an Edge TPU) on a simulated USB port, and whose
fallback is the real CPU model — exactly what `app.detect.factory.open_supervised` builds
around a real Coral, with the product's hang timeout, prober period and self-test.

Signals drive the simulated USB port (the appliance's other faults come from outside):

    SIGUSR1   the Coral wedges on USB: its current call never returns and it drops off the bus
              (like the real lock-up, it stays gone until replugged)
    SIGUSR2   the wedged call is released and the Coral is replugged: the prober finds it,
              opens a fresh one and self-tests it before it serves again

    .venv/bin/python bench/soak_app.py --config FILE
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # FakeTpu lives with the tests, which are not installed

from app import cli  # noqa: E402 - after the path set-up above
from app.config import DetectorConfig  # noqa: E402
from app.detect import Detector, open_detector  # noqa: E402
from app.detect.base import EdgeTpuUnavailable  # noqa: E402
from app.detect.supervisor import SupervisedDetector  # noqa: E402
from tests.detect.test_supervisor import FakeTpu  # noqa: E402

DEVICE = "usb:0"


class UsbPort:
    """The simulated bus: is a Coral plugged in, and which one answers there."""

    def __init__(self) -> None:
        self.plugged = True
        self.tpu: FakeTpu | None = None
        self._lock = threading.Lock()

    def open(self) -> FakeTpu:
        """The supervisor's opener: a fresh device, or the error a missing Coral gives."""
        with self._lock:
            if not self.plugged:
                raise EdgeTpuUnavailable(f"no Edge TPU answered on {DEVICE}", "no Edge TPU found")
            self.tpu = FakeTpu(DEVICE)
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
                self.tpu.release.set()  # the wedged call returns (into a lane nobody reads any more)
            self.plugged = True


def main(argv: list[str]) -> int:
    port = UsbPort()

    def open_detectors(config: DetectorConfig, *_args: Any, **_kwargs: Any) -> list[Detector]:
        # As app.detect.factory.open_supervised does for a real Coral, product defaults throughout.
        fallback = open_detector(DetectorConfig(type="cpu", model=config.model, labels=config.labels))
        return [SupervisedDetector(port.open, fallback, present=port.present, device=DEVICE)]

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Signal handlers run on the main thread between bytecodes: hand the work to a thread so
        # that taking the port's lock can never deadlock against the main thread holding it.
        action = port.wedge if signum == signal.SIGUSR1 else port.replug
        threading.Thread(target=action, name="soak-usb", daemon=True).start()

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGUSR2, on_signal)
    # `edgewatch run` looks this name up when it runs, so the whole run path stays the product's.
    cli.open_detectors = open_detectors  # type: ignore[assignment]
    return cli.main(["run", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
