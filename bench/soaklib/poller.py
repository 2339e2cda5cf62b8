"""The dashboard user: `GET /api/status` every second (the recovery times' samples) and a camera's
`latest.jpg` every other second, with an API token."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from soaklib.scene import STATUS_EVERY_S


@dataclass
class StatusSample:
    t: float
    ok: bool
    code: int | None
    body: dict[str, Any] | None
    error: str | None = None

    def cam(self, name: str) -> dict[str, Any]:
        assert self.body is not None
        cams: list[dict[str, Any]] = self.body["cameras"]
        return next(c for c in cams if c["name"] == name)

    def all_up(self) -> bool:
        """Every camera online, the broker connected, the detector not degraded."""
        if not self.ok or self.body is None:
            return False
        mqtt = self.body.get("mqtt") or {}
        return (
            all(c["online"] for c in self.body["cameras"])
            and bool(mqtt.get("connected"))
            and not self.body["detector"]["degraded"]
        )


class Poller:
    """The dashboard user: status every second, a camera's latest.jpg every other second."""

    def __init__(self, base: str, token: str, cameras: Sequence[str]) -> None:
        self.samples: list[StatusSample] = []
        self.jpegs: list[tuple[float, str, int | None, int, bool]] = []  # t, camera, code, bytes, is JPEG
        self._client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=3.0)
        self._cameras = list(cameras)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._client.close()

    def status(self) -> StatusSample:
        t = time.time()
        try:
            r = self._client.get("/api/status")
        except httpx.HTTPError as exc:
            return StatusSample(t, False, None, None, type(exc).__name__)
        ok = r.status_code == 200
        return StatusSample(t, ok, r.status_code, r.json() if ok else None, None if ok else r.text[:200])

    def _run(self) -> None:
        tick = 0
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += STATUS_EVERY_S
            self.samples.append(self.status())
            tick += 1
            if tick % 2 == 0:
                cam = self._cameras[(tick // 2) % len(self._cameras)]
                t = time.time()
                try:
                    r = self._client.get(f"/api/cameras/{cam}/latest.jpg")
                    self.jpegs.append((t, cam, r.status_code, len(r.content), r.content[:3] == b"\xff\xd8\xff"))
                except httpx.HTTPError:
                    self.jpegs.append((t, cam, None, 0, False))
