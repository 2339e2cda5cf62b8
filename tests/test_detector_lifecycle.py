"""The Edge TPU wedges mid-visit and comes back, with the whole appliance running: a real
RTSP camera, the real model, a real broker. Degraded within seconds and announced on
MQTT and in status; the alert still arrives, once; the TPU returns without a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from app.demo.clip import ClipInfo
from app.detect.engine import TfliteDetector
from app.detect.supervisor import SupervisedDetector
from app.detect.timeouts import DetectTimeouts
from app.run.service import Service
from app.store import Store
from tests.detect.test_supervisor import FakeTpu, Shared
from tests.publish.hub import mqtt_config, subscriber
from tests.support.mosquitto import Mosquitto
from tests.support.rtsp import RtspCamera
from tests.support.waiting import wait_until


def test_a_hung_tpu_degrades_announces_keeps_alerting_and_heals(
    person_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
    mosquitto_broker: Callable[..., Mosquitto],
    detector: TfliteDetector,
    tmp_path: Path,
) -> None:
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    broker = mosquitto_broker()
    rule = "rules: [{name: anyone, objects: [person], min_dwell: 1s, cooldown: 1h}]\n"
    config = mqtt_config(camera.url, broker, rule)
    plugged = {"now": True}
    tpus: list[FakeTpu] = []

    def open_tpu() -> FakeTpu:
        tpus.append(FakeTpu())
        return tpus[-1]

    supervised = SupervisedDetector(
        open_tpu, Shared(detector), present=lambda: plugged["now"], timeouts=DetectTimeouts(hang_s=1.0), probe_s=0.5
    )
    topic = "edgewatch/garage-pi"
    with (
        subscriber(broker, f"{topic}/#") as sub,
        Store(tmp_path / "state", retain_days=7, max_mb=64) as store,
    ):
        service = Service(config, supervised, store)
        service.start()
        try:
            first, _ = sub.next(f"{topic}/detector", timeout=15)  # retained state on connect
            assert json.loads(first)["backend"] == "edgetpu"
            assert not json.loads(first)["degraded"]
            started = service.status().uptime_s
            # Wedge the TPU while she walks in, and take it off the bus (a USB lock-up).
            plugged["now"] = False
            tpus[0].hang.set()
            wedged_at, wedged_wall = time.monotonic(), time.time()
            degraded, _ = sub.next(f"{topic}/detector", timeout=10)
            announced_after = time.monotonic() - wedged_at
            state = json.loads(degraded)
            assert state["degraded"]
            assert state["backend"] == "cpu"
            assert "Edge TPU" in state["note"]
            assert announced_after < 5.0, announced_after
            status = service.status()
            assert status.detector.backend == "cpu"
            assert status.detector.degraded is not None
            # Detection goes on on the CPU: her alert arrives.
            alert, _ = sub.next(f"{topic}/alerts", timeout=30)
            assert json.loads(alert)["rule"] == "anyone"
            # Replugged: the prober re-opens, self-tests and switches back by itself.
            plugged["now"] = True
            healed, _ = sub.next(f"{topic}/detector", timeout=15)
            assert json.loads(healed) == {**json.loads(first)}
            assert service.status().detector.backend == "edgetpu"
            assert service.status().detector.degraded is None
            assert len(tpus) == 2
            assert service.status().uptime_s > started  # same process, never restarted
            # The worker turns on the new TPU (three more calls): it is not inside the abandoned one.
            calls = tpus[1].calls
            assert wait_until(lambda: tpus[1].calls >= calls + 3, 30), tpus[1].calls
            assert service.health().ok, service.health()  # the abandoned TPU call does not count as wedged
        finally:
            tpus[0].release.set()
            service.stop()
            supervised.close()
        alerts = [json.loads(p) for p in sub.drain(f"{topic}/alerts")]
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as reopened:
        stored_alerts = reopened.alerts()
    stored = [a.id for a in stored_alerts]
    assert len(stored) == 1, stored  # one visit, one alert: nothing lost, nothing doubled
    assert stored_alerts[0].fired_at > wedged_wall  # fired while the CPU stood in for the TPU
    assert all(a["id"] == stored[0] for a in alerts)
