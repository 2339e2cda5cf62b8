"""Keeps detection going through Edge TPU trouble, and heals when the TPU comes back.

The Edge TPU ("primary") runs on a thread of its own, so a call that never returns —
a Coral wedged on USB until replugged — can be abandoned after `hang_s`: the same
image is then detected on the CPU model ("fallback", loaded up front) and every
later call goes there, degraded and announced. (`hang_s` is the innermost of the
waits on a detect call; app/detect/timeouts.py derives the outer ones from it.) A prober re-opens the TPU every
`probe_s` once a device is present again, runs the self-test (a known photo must
give a person) and only then switches back. Nothing restarts; no frame is dropped
by a switch. A call into the runtime cannot be interrupted: a hung thread is left
behind (one per hang), its detector never touched again.

    SupervisedDetector ── primary lane (own thread, timeout) ── Edge TPU detector
                       └─ fallback (caller's thread) ─────────── CPU detector
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from app.detect.base import Detector, DetectorError, DetectorInfo, EdgeTpuUnavailable, Image, ModelError
from app.detect.timeouts import DETECT_TIMEOUTS, DetectTimeouts
from app.domain import Detections

log = logging.getLogger(__name__)

PROBE_S = 5.0
SELFTEST_IMAGE = Path(__file__).with_name("selftest.jpg")  # NASA's astronaut photo (public domain)
SELFTEST_LABEL, SELFTEST_SCORE = "person", 0.5

Opener = Callable[[], Detector]
Selftest = Callable[[Detector], str | None]  # None: passed; else why not


@dataclass(frozen=True, slots=True)
class DetectorState:
    info: DetectorInfo  # what serves detection now
    degraded: str | None  # why the Edge TPU is not serving; None: it is (or none was asked for)
    changed_at: float  # wall clock of the last switch


class Hung(DetectorError):
    pass


class _Lane:
    """One detector behind its own thread, so a caller can stop waiting for it."""

    def __init__(self, detector: Detector, name: str) -> None:
        self.detector = detector
        self._jobs: queue.Queue[tuple[Image, float, queue.Queue[Detections | BaseException]] | None] = queue.Queue()
        self._busy = threading.Lock()  # held while a call runs: a hung call keeps it forever
        self._thread = threading.Thread(target=self._run, name=f"detector-{name}", daemon=True)
        self._thread.start()

    def call(self, image: Image, min_score: float, timeout: float) -> Detections:
        if not self._busy.acquire(timeout=timeout):
            raise Hung(f"the Edge TPU has not returned from a call for over {timeout:.0f} s")
        self._busy.release()
        answer: queue.Queue[Detections | BaseException] = queue.Queue(maxsize=1)
        self._jobs.put((image, min_score, answer))
        try:
            result = answer.get(timeout=timeout)
        except queue.Empty:
            raise Hung(f"the Edge TPU did not answer within {timeout:.0f} s") from None
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        """Stop the thread; close the detector unless a call is stuck in it."""
        self._jobs.put(None)
        if self._busy.acquire(timeout=0.5):
            self._busy.release()
            self.detector.close()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            image, min_score, answer = job
            with self._busy:
                try:
                    answer.put(self.detector.detect(image, min_score))
                except Exception as exc:  # noqa: BLE001 - handed to the caller, who decides
                    answer.put(exc)


def selftest(detector: Detector) -> str | None:
    """The boot self-test: the bundled photo of a person must come back as one."""
    image = cv2.imread(str(SELFTEST_IMAGE), cv2.IMREAD_COLOR)
    if image is None:
        return f"self-test image {SELFTEST_IMAGE} is missing"
    result = detector.detect(np.ascontiguousarray(image, dtype=np.uint8), 0.3)
    best = max((d.score for d in result.items if d.label == SELFTEST_LABEL), default=0.0)
    if best < SELFTEST_SCORE:
        return f"self-test failed: a known photo of a person scored {best:.2f} (< {SELFTEST_SCORE})"
    return None


class SupervisedDetector:
    """A `Detector` that is the Edge TPU when it works and the CPU model when it does not."""

    def __init__(
        self,
        primary: Opener,
        fallback: Detector,
        *,
        present: Callable[[], bool] = lambda: True,
        test: Selftest = selftest,
        timeouts: DetectTimeouts = DETECT_TIMEOUTS,
        probe_s: float = PROBE_S,
        quiet_absence: bool = False,
        device: str | None = None,
    ) -> None:
        """`present()` says cheaply whether a TPU is plugged in (sysfs), so probing an empty
        port costs nothing; `quiet_absence` (detector.type auto) means a box that has never
        shown a TPU runs on the CPU without calling that degraded."""
        self.device = device  # the configured Edge TPU (usb:1, pci:0...); None: the first one found
        self._open_primary = primary
        self._fallback = fallback
        self._present = present
        self._test = test
        self._timeouts = timeouts
        self._probe_s = probe_s
        self._quiet_absence = quiet_absence
        self._lock = threading.Lock()
        self._lane: _Lane | None = None
        self._degraded: str | None = None
        self._seen_tpu = False
        self._changed_at = time.time()
        self._listeners: list[Callable[[DetectorState], None]] = []
        self._stop = threading.Event()
        self._last_probe_error: str | None = None
        self._try_primary()  # at start: the TPU if it passes the self-test, else degraded/CPU
        self._prober = threading.Thread(target=self._probe_loop, name="detector-probe", daemon=True)
        self._prober.start()

    # -- Detector -----------------------------------------------------------------------

    @property
    def info(self) -> DetectorInfo:
        with self._lock:
            lane, degraded = self._lane, self._degraded
        if lane is not None:
            return lane.detector.info
        return replace(self._fallback.info, note=degraded or self._fallback.info.note)

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        lane = self._lane
        if lane is not None:
            try:
                return lane.call(image, min_score, self._timeouts.hang_s)
            except Exception as exc:  # noqa: BLE001 - whatever the vendor runtime raises, the TPU path is done
                self._lose_primary(lane, _describe(exc))
        return self._fallback.detect(image, min_score)  # the same frame, on the CPU: nothing is skipped

    def close(self) -> None:
        self._stop.set()
        self._prober.join(2.0)
        with self._lock:
            lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
        self._fallback.close()

    # -- state --------------------------------------------------------------------------

    def state(self) -> DetectorState:
        with self._lock:
            degraded, changed_at = self._degraded, self._changed_at
        return DetectorState(self.info, degraded, changed_at)

    def add_listener(self, listener: Callable[[DetectorState], None]) -> None:
        self._listeners.append(listener)

    def _announce(self) -> None:
        state = self.state()
        for listener in self._listeners:
            try:
                listener(state)
            except Exception:
                log.exception("detector: a state listener failed")

    def _lose_primary(self, lane: _Lane, why: str) -> None:
        with self._lock:
            if self._lane is not lane:
                return  # another caller got here first
            self._lane = None
            where = f"Edge TPU {self.device}: " if self.device else ""
            self._degraded = f"{where}{why}; running on the CPU until the Edge TPU is back"
            self._changed_at = time.time()
        log.error("detector: %s", self._degraded)
        threading.Thread(target=lane.close, name="detector-close", daemon=True).start()  # may block on a hung TPU
        self._announce()

    def _try_primary(self) -> bool:
        """Open the TPU, self-test it on its lane, switch to it. False (and degraded) when not."""
        try:
            detector = self._open_primary()
        except DetectorError as exc:
            self._not_available(unavailable(exc), opened=False)
            return False
        lane = _Lane(detector, "edgetpu")
        self._seen_tpu = True
        try:
            problem = self._test(_LaneDetector(lane, self._timeouts.selftest_s))
        except Exception as exc:  # noqa: BLE001 - a self-test that raises is a failed self-test
            problem = _describe(exc)
        if problem is not None:
            threading.Thread(target=lane.close, name="detector-close", daemon=True).start()
            self._not_available(f"Edge TPU {detector.info.device or ''} {problem}".replace("  ", " "), opened=True)
            return False
        with self._lock:
            was = self._degraded
            self._lane, self._degraded, self._changed_at = lane, None, time.time()
            self._last_probe_error = None
        log.info("detector: %s on the Edge TPU %s passed the self-test%s", detector.info.model,
                 detector.info.device or "", " — back from degraded mode" if was else "")  # fmt: skip
        self._announce()
        return True

    def _not_available(self, why: str, *, opened: bool) -> None:
        if self._quiet_absence and not self._seen_tpu and not opened:
            # `auto` on a box that has never shown a TPU: the CPU is the plan, not a fault.
            if why != self._last_probe_error:
                log.info("detector: %s; using the CPU", why)
            self._last_probe_error = why
            return
        where = f"Edge TPU {self.device}: " if self.device and self.device not in why else ""
        reason = f"{where}{why}; running on the CPU"
        with self._lock:
            changed = reason != self._degraded
            self._degraded = reason
            if changed:
                self._changed_at = time.time()
            self._last_probe_error = why
        if changed:
            log.warning("detector: %s", reason)
            self._announce()

    def _probe_loop(self) -> None:
        while not self._stop.wait(self._probe_s):
            if self._lane is not None:
                continue
            try:
                present = self._present()
            except Exception:
                log.exception("detector: listing Edge TPUs failed")
                continue
            if present:
                self._try_primary()


class _LaneDetector:
    """A lane seen as a Detector, so the self-test is abandoned too if the TPU hangs."""

    def __init__(self, lane: _Lane, timeout: float) -> None:
        self._lane = lane
        self._timeout = timeout

    @property
    def info(self) -> DetectorInfo:
        return self._lane.detector.info

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        return self._lane.call(image, min_score, self._timeout)

    def close(self) -> None:
        self._lane.close()


def unavailable(exc: DetectorError) -> str:
    """Why the Edge TPU cannot be opened, in one line: what a switch to the CPU says, here and in
    the factory's one-shot `auto` (app/detect/factory.py)."""
    if isinstance(exc, EdgeTpuUnavailable):
        return exc.short
    if isinstance(exc, ModelError):  # the delegate loaded, then the model would not
        return f"Edge TPU found but not usable: {exc}"
    return str(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Hung | DetectorError):
        return str(exc)
    return f"the Edge TPU failed ({type(exc).__name__}: {exc})"
