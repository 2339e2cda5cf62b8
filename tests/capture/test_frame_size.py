"""Frames larger than 4096x2160 are refused before they are decoded (issue 15, security 7).

A real 16000x8000 H.264 clip of ~377 KB (made by libx264 in a subprocess), as MP4 and as raw
Annex-B: replayed by the real `edgewatch replay` (peak memory measured), opened by
VideoSource from a file and from a hostile HTTP camera (this process's peak memory
measured), and streamed by that camera to the running service next to a good camera.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.capture import SourceError, VideoSource
from app.capture.limits import MAX_FRAME_PIXELS, MAX_FRAME_SIDE, size_problem
from app.demo.clip import ClipInfo
from tests.support.appliance import Appliance
from tests.support.hugeclip import make_huge_clip
from tests.support.limits import run_measured

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))
REFUSED = "16000x8000 frames are larger than edgewatch accepts (8,847,360 pixels, e.g. 4096x2160, and 4096 on a side"


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    mp4, annexb = make_huge_clip(tmp_path_factory.mktemp("huge"))
    assert mp4.stat().st_size < 500_000  # small on disk: the size is all in the header
    return mp4, annexb


class HostileCamera:
    """An HTTP camera that streams a raw H.264 file (again and again) to whoever asks."""

    def __init__(self, clip: Path) -> None:
        data = clip.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/h264")
                self.end_headers()
                try:
                    for _ in range(20):
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def log_message(self, _format: str, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/live.h264?token=T0ken-S3cret"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hostile(huge: tuple[Path, Path]) -> Iterator[HostileCamera]:
    camera = HostileCamera(huge[1])
    yield camera
    camera.close()


def peak_mb_since_reset() -> float:
    """This process's peak RSS since the last `reset_peak()` (Linux: /proc/self/clear_refs)."""
    found = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert found is not None
    return int(found.group(1)) / 1024


def reset_peak() -> float:
    Path("/proc/self/clear_refs").write_text("5")
    return peak_mb_since_reset()


def test_the_bound_is_dci_4k_in_either_orientation() -> None:
    assert (MAX_FRAME_PIXELS, MAX_FRAME_SIDE) == (4096 * 2160, 4096)
    for fine in ((4096, 2160), (2160, 3840), (1280, 720), (640, 480)):
        assert size_problem(*fine) is None, fine
    for refused in ((16000, 8000), (4097, 1000), (4000, 3000), (3000, 3000)):
        assert size_problem(*refused) is not None, refused


@pytest.mark.parametrize("kind", ["mp4", "annexb"])
def test_replay_refuses_the_clip_before_decoding_it(
    tmp_path: Path, huge: tuple[Path, Path], person_clip: ClipInfo, kind: str
) -> None:
    clip = huge[0] if kind == "mp4" else huge[1]
    config = tmp_path / "edgewatch.yaml"
    config.write_text(f"cameras: {{garage: {{source: {person_clip.path}}}}}\ndetector: {{type: cpu}}\n")
    done = run_measured([EDGEWATCH, "replay", str(clip), "--config", str(config), "--json"], timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    assert REFUSED in done.stderr
    assert str(clip) in done.stderr
    assert done.stdout == ""
    assert done.peak_rss_mb <= 300, done.peak_rss_mb  # it took 1.8 GB


def test_opening_a_hostile_stream_or_file_costs_no_memory(huge: tuple[Path, Path], hostile: HostileCamera) -> None:
    for source in (str(huge[0]), str(huge[1]), hostile.url):
        before = reset_peak()
        with pytest.raises(SourceError) as refused:
            VideoSource(source, realtime=False)
        grown = peak_mb_since_reset() - before
        assert REFUSED in str(refused.value)
        assert "T0ken-S3cret" not in str(refused.value)
        assert grown < 50, (source, grown)  # the probe FFmpeg runs on opening decoded ~300 MB of it


def test_a_hostile_camera_is_reported_and_the_service_goes_on(
    tmp_path: Path, hostile: HostileCamera, person_clip: ClipInfo
) -> None:
    with Appliance(tmp_path, {"hostile": hostile.url, "door": str(person_clip.path)}) as box:

        def settled(status: dict[str, Any]) -> bool:
            cams = {c["name"]: c for c in status["cameras"]}
            return bool(cams["door"]["online"] and cams["hostile"]["error"])

        _, status = box.wait_for_status(settled, timeout=45)
        cams = {c["name"]: c for c in status["cameras"]}
        peak = box.peak_rss_mb()
        log = box.stop()
    assert cams["hostile"]["online"] is False
    assert REFUSED in cams["hostile"]["error"]
    assert cams["hostile"]["error"].startswith("http://127.0.0.1:")
    assert "T0ken-S3cret" not in log
    assert f"camera hostile: http://127.0.0.1:{hostile.url.split(':')[2].split('/')[0]}/live.h264?token=***" in log
    assert cams["door"]["online"] is True
    assert cams["door"]["fps_in"] > 0
    assert peak <= 400, peak  # the service itself is ~200 MB; decoding the hostile stream took GBs
