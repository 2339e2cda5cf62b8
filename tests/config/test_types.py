"""Parsed config values: durations, clock times, sources, networks (redaction: tests/test_redact.py)."""

from __future__ import annotations

import pytest

from app.config.types import check_listen, check_network, check_source, parse_clock, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("0s", 0.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5", "5 minutes", "-1s", "1d", 5, True, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_clock_times() -> None:
    assert parse_clock("00:00") == 0
    assert parse_clock("6:30") == 390
    assert parse_clock("24:00") == 1440
    for bad in ("24:01", "12:60", "noon", "1200"):
        with pytest.raises(ValueError):
            parse_clock(bad)


@pytest.mark.parametrize(
    "good",
    [
        "rtsp://u:p@10.0.0.2:554/s",
        "rtsps://cam.lan/s",
        "http://10.0.0.3/mjpeg",
        "/dev/video0",
        "/srv/clip.mp4",
        "clip.mkv",
    ],
)
def test_allowed_sources(good: str) -> None:
    assert check_source(good) == good


@pytest.mark.parametrize(
    "bad", ["exec:ffmpeg -i x", "ffmpeg:rtsp://x", "udp://239.0.0.1:1234", "rtsp:///nohost", "/dev/sda", "", "file:x"]
)
def test_refused_sources(bad: str) -> None:
    with pytest.raises(ValueError):
        check_source(bad)


def test_listen_and_networks() -> None:
    assert check_listen("[::]:8080") == ("::", 8080)
    assert check_listen("127.0.0.1:80") == ("127.0.0.1", 80)
    with pytest.raises(ValueError):
        check_listen("0.0.0.0:70000")
    assert check_network("192.168.1.7/24") == "192.168.1.0/24"
    assert check_network("loopback") == "loopback"
    with pytest.raises(ValueError):
        check_network("everyone")
