"""Domain values → the JSON shapes of the SPEC (MQTT payloads, replay lines, API bodies)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.domain import Alert, Event
from app.status import DetectorStatus, ServiceStatus


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_payload(
    alert: Alert,
    *,
    sent_at: float,
    late: bool = False,
    snapshot_url: str | None = None,
    clip_url: str | None = None,
) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "camera": alert.camera,
        "label": alert.label,
        "score": round(alert.score, 4),
        "box": [round(v, 4) for v in alert.box],
        "zones": list(alert.zones),
        "event_id": alert.event_id,
        "started_at": iso_utc(alert.started_at),
        "sent_at": iso_utc(sent_at),
        "severity": alert.severity,
        "late": late,
        "snapshot_url": snapshot_url,
        "clip_url": clip_url,
    }


def event_payload(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "camera": event.camera,
        "label": event.label,
        "score": round(event.score, 4),
        "top_score": round(event.top_score, 4),
        "box": [round(v, 4) for v in event.box],
        "zones": list(event.zones),
        "start_time": round(event.start_time, 3),
        "end_time": None if event.end_time is None else round(event.end_time, 3),
        "stationary": event.stationary,
    }


def stats_payload(status: ServiceStatus) -> dict[str, Any]:
    """P/stats (the bridge adds the outbox depth)."""
    return {
        "cameras": {c.name: {"fps_in": c.fps_in, "fps_detect": c.fps_detect, "dropped": c.dropped,
                             "lag_s": c.lag_s, "behind": c.behind}
                    for c in status.cameras},
        "detector": {"backend": status.detector.backend, "device": status.detector.device,
                     "inference_ms": status.detector.inference_ms},
        "uptime": status.uptime_s,
    }  # fmt: skip


def detector_payload(d: DetectorStatus) -> dict[str, Any]:
    """P/detector: what detects now and, when degraded, why."""
    return {"backend": d.backend, "device": d.device, "model": d.model,
            "degraded": d.degraded is not None, "note": d.degraded}  # fmt: skip
