"""SIGKILL of `edgewatch run` while it records (issue 16, crash safety): every earlier segment
stays byte for byte and playable, the half-written one is repaired or removed at the next
start (never served), the database passes its integrity check, and every event's clip plays.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import av

from app.demo.clip import ClipInfo
from tests.support.appliance import Appliance
from tests.support.rtsp import RtspCamera

RECORD = "record: {mode: continuous, pre_capture: 1s, post_capture: 1s}\n"


def decodes(path: Path) -> int:
    """Frames in the file, decoded end to end (raises on a broken one)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_killed_appliance_loses_at_most_the_segment_being_written(
    tmp_path: Path, person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera]
) -> None:
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    footage = tmp_path / "state" / "recordings" / "door"

    box = Appliance(tmp_path, {"door": camera.url}, RECORD).start()
    try:

        def mid_segment() -> bool:  # two finished segments and a third being written
            return len(list(footage.rglob("*.mp4"))) >= 2 and any(footage.rglob("*.mp4.part"))

        deadline = time.monotonic() + 60
        while not mid_segment():
            assert time.monotonic() < deadline, box.log()[-3000:]
            time.sleep(0.2)
        time.sleep(1.0)  # a GOP or so into it
        before = {p: digest(p) for p in footage.rglob("*.mp4")}
        (half,) = footage.rglob("*.mp4.part")
        box.kill()
    finally:
        box.stop()
    assert half.exists()  # what a crash leaves

    # Every finished segment is intact and plays.
    for path, sha in before.items():
        assert digest(path) == sha, path
        assert decodes(path) > 0, path

    again = Appliance(tmp_path, {"door": camera.url}, RECORD)
    with again:
        again.wait_for_status(lambda s: s["cameras"][0]["online"], timeout=30)
        # The half segment was repaired under its final name (its whole GOPs) or removed.
        assert not half.exists()
        repaired = half.with_name(half.name.removesuffix(".part"))
        if repaired.exists():
            assert decodes(repaired) > 0
        # The database is whole.
        db = next((tmp_path / "state").glob("*.db"))
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # Every event's clip from before the kill plays end to end.
        client = again.client
        events = [e for e in client.get("/api/events").json() if e["clip"]]
        assert events, "no event with footage from before the kill"
        for event in events:
            response = client.get(event["clip_url"])
            assert response.status_code == 200, response.text
            clip = tmp_path / f"{event['id']}.mp4".replace(":", "_")
            clip.write_bytes(response.content)
            assert decodes(clip) > 0
