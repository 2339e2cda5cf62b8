"""`edgewatch doctor`: installer diagnostics (SPEC: CLI). Exit 0 when nothing failed, 1 otherwise.

Each check is a function returning one `Check`; they probe, never change anything (no model
loaded onto the TPU, no storage created, nothing published), so doctor is safe to run next to
the live service. Cameras are probed in parallel threads while the other checks run.
Secrets never reach the output: URLs go through `app.redact`, the broker password is only
read by paho, and the rendered text is scrubbed of every configured secret as a last guard.
"""

from app.doctor.base import Check
from app.doctor.detection import check_coral, check_libedgetpu, check_models, check_openvino, check_runtime
from app.doctor.environment import CameraProbes, check_broker, check_clock, check_disk, ntp_synchronized, probe_camera
from app.doctor.report import cmd_doctor, config_secrets, render_json, render_text, run_checks
from app.redact import scrub

__all__ = [
    "CameraProbes",
    "Check",
    "check_broker",
    "check_clock",
    "check_coral",
    "check_disk",
    "check_libedgetpu",
    "check_models",
    "check_openvino",
    "check_runtime",
    "cmd_doctor",
    "config_secrets",
    "ntp_synchronized",
    "probe_camera",
    "render_json",
    "render_text",
    "run_checks",
    "scrub",
]
