"""Parsed config values: durations, clock times, sources, networks (redaction: tests/test_redact.py)."""

from __future__ import annotations

import pytest

from app.config.types import check_listen, check_network, check_source, parse_clock, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("0s", 0.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ("5", "is not a duration"),
        ("5 minutes", "is not a duration"),
        ("-1s", "is not a duration"),
        ("1d", "is not a duration"),
        (5, "write a unit"),
        (True, "expected a duration"),
        (None, "expected a duration"),
    ],
)
def test_bad_durations(bad: object, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_duration(bad)


def test_clock_times() -> None:
    assert parse_clock("00:00") == 0
    assert parse_clock("6:30") == 390
    assert parse_clock("24:00") == 1440
    for bad, said in (
        ("24:01", "is past 24:00"),
        ("12:60", "is not a time of day"),
        ("noon", "is not a time of day"),
        ("1200", "is not a time of day"),
    ):
        with pytest.raises(ValueError, match=said):
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
    ("bad", "said"),
    [
        ("exec:ffmpeg -i x", "'exec:' sources are not allowed"),
        ("ffmpeg:rtsp://x", "scheme 'ffmpeg:rtsp' is not allowed"),
        ("udp://239.0.0.1:1234", "scheme 'udp' is not allowed"),
        ("rtsp:///nohost", "the URL has no host"),
        ("/dev/sda", "only /dev/videoN devices"),
        ("", "expected a camera URL"),
        ("file:x", "'file:' sources are not allowed"),
    ],
)
def test_refused_sources(bad: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        check_source(bad)


def test_listen_and_networks() -> None:
    assert check_listen("[::]:8080") == ("::", 8080)
    assert check_listen("127.0.0.1:80") == ("127.0.0.1", 80)
    with pytest.raises(ValueError, match=r"port 70000 is outside 1\.\.65535"):
        check_listen("0.0.0.0:70000")
    assert check_network("192.168.1.7/24") == "192.168.1.0/24"
    assert check_network("loopback") == "loopback"
    with pytest.raises(ValueError, match="'everyone' is neither a CIDR"):
        check_network("everyone")
