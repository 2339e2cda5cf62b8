"""How long one detect call may take: one owner for the three waits nested around it.

A frame's detect call is waited on at three levels, innermost first:

    service health (app/run/service.py) ─ a detector call or pipeline turn over `stuck_s` → not healthy:
    │                                  the systemd watchdog restarts the service
    └─ pipeline → DetectionWorker.detect ─ no result within `request_s` → the frame goes undetected
       └─ SupervisedDetector's Edge TPU lane ─ no answer within `hang_s` → TPU abandoned, the same
                                              images on the CPU model (degraded, announced)

An outer wait that fires before an inner one has had its say turns a healed hiccup into a lost
frame, or a lost frame into a restart. So only the innermost time is chosen; each outer one is
derived from the one inside it, with the room it must leave, and cannot drift below it.
"""

from __future__ import annotations

from dataclasses import dataclass

# After the lane gives up, the worker request still has the CPU model to run: the rest of the
# batch (a few regions) and any camera queued ahead of it. 40-200 ms a region on a Pi's CPU.
CPU_REDO_S = 4.0
# A pipeline turn is a frame wait (<= 1 s, app/run/runner.py), one worker request and the analysis
# (tracking, rules, evidence on disk). Three requests' worth: only a wedge stops it that long.
TURNS_PER_STUCK = 3
# The self-test is a freshly opened TPU's first call, which uploads the model to it: slower.
SELFTEST_HANGS = 3


@dataclass(frozen=True, slots=True)
class DetectTimeouts:
    """The chosen time (`hang_s`) and the ones derived from it, in seconds."""

    hang_s: float = 3.0  # an Edge TPU invoke takes 2-30 ms; seconds without an answer means it is wedged

    def __post_init__(self) -> None:
        if not self.hang_s > 0:
            raise ValueError(f"hang_s must be positive, got {self.hang_s}")

    @property
    def lane_worst_s(self) -> float:
        """The longest a lane call waits before giving up: `hang_s` for a lane still busy with an
        earlier call, then `hang_s` for the answer (app/detect/supervisor.py `_Lane.call`)."""
        return 2 * self.hang_s

    @property
    def selftest_s(self) -> float:
        """A lane call made by the self-test (on the prober thread: no worker request waits on it)."""
        return SELFTEST_HANGS * self.hang_s

    @property
    def request_s(self) -> float:
        """The pipeline's wait on the detection worker: past a given-up lane call and the CPU redo."""
        return self.lane_worst_s + CPU_REDO_S

    @property
    def stuck_s(self) -> float:
        """A detector call or pipeline turn this long is wedged (service health, systemd watchdog)."""
        return TURNS_PER_STUCK * self.request_s


DETECT_TIMEOUTS = DetectTimeouts()  # hang 3 s, self-test 9 s, request 10 s, stuck 30 s
