"""The running service's timings, in one place: the builder, the schedules and the health
check read them here, and tools that must agree with the product (bench/soak) can import them."""

from __future__ import annotations

from app.detect.timeouts import DETECT_TIMEOUTS

# The waits on one detect call are owned by app/detect/timeouts.py, which derives each from the
# one inside it (the Edge TPU's hang_s, 3 s) so that none fires before an inner one has.
DETECT_TIMEOUT_S = DETECT_TIMEOUTS.request_s  # 10 s through the worker: past this the frame gets no detections
STUCK_AFTER_S = DETECT_TIMEOUTS.stuck_s  # 30 s: a detect call or pipeline turn this long is wedged
LATEST_LAG_S = 2.0  # older analysed frames are stale: show the live one without boxes
CAMERA_STOP_S = 5.0  # stopping: how long the capture threads, together, may take to let go of their sources
SCHEDULE_STOP_S = 2.0  # stopping: how long the schedules, together, may take to finish their turn

WATCH_EVERY_S = 1.0  # camera hang checks and the disk-space guard
RETENTION_EVERY_S = 60.0  # max_mb then holds within a minute of snapshots (2-5 MB with two busy cameras)
RETENTION_PAUSED_S = 5.0  # while recording is paused for lack of space, retention runs this often

USAGE_TTL_S = 5.0  # disk usage is a SQL sum + statfs: not worth redoing for every status poll
OUTBOX_TTL_S = 1.0  # the outbox depth is a SQL count: at most once a second for the status
