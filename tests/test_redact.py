"""app.redact: what a camera source shows of itself in logs, status and doctor output.

The end-to-end checks (the real service's /api/status and log, the real `edgewatch doctor`)
are in tests/test_secrets_shown.py; here the rules, and that no URL shape makes them raise
or leak.
"""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.redact import describe_error, redact_text, redact_url, scrub, url_secrets


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        # the two: a password in the query, and one with unencoded '#', '/' and '?'
        ("http://cam/videostream.cgi?user=admin&pwd=SECRET", "http://cam/videostream.cgi?user=admin&pwd=***"),
        ("rtsp://admin:pa#ss/w?rd@10.0.0.5:554/stream", "rtsp://admin:***@10.0.0.5:554/stream"),
        # userinfo up to the last '@'; the user name stays for diagnosis
        ("rtsp://admin:hunter2@10.0.0.5:554/live?x=1", "rtsp://admin:***@10.0.0.5:554/live?x=1"),
        ("RTSP://Admin:P@ss@cam/s", "RTSP://Admin:***@cam/s"),
        ("rtsp://u:pw@[fd00::5]:8554/s", "rtsp://u:***@[fd00::5]:8554/s"),
        ("rtsp://viewer@cam/s", "rtsp://viewer@cam/s"),
        # malformed: urllib raises on these; they are redacted all the same
        ("rtsp://u:s3cret@127.0.0.1:99999/x", "rtsp://u:***@127.0.0.1:99999/x"),
        ("http://u:s3cret@[::1:80/x?key=k3y", "http://u:***@[::1:80/x?key=***"),
        # secret parameters, whatever their case, inside longer names, after ';', with '#' in them
        ("http://cam/snap.cgi?usr=admin&PassWord=a1&Token=b2&api_key=c3&X-Auth=d4&sig=e5&chn=1",
         "http://cam/snap.cgi?usr=admin&PassWord=***&Token=***&api_key=***&X-Auth=***&sig=***&chn=1"),
        ("http://cam/x?user=a;passwd=b2&c=1", "http://cam/x?user=a;passwd=***&c=1"),
        ("http://cam/x?pwd=ab#cd&chn=1", "http://cam/x?pwd=***&chn=1"),
        ("http://cam/live#access_token=abc", "http://cam/live#access_token=***"),
        ("http://cam/live?chn=1#token=abc", "http://cam/live?chn=1#token=***"),
        # a password that reads as a query itself: all of it may be a secret value, so all goes
        ("rtsp://admin:a?pwd=b@cam/s?key=c", "rtsp://admin:***"),
        # an '@' in the query: everything before it might be userinfo, so it goes too
        ("http://cam/x?pwd=q1&email=a@b.example&token=t2", "http://***@b.example&token=***"),
        # not URLs: left alone
        ("/dev/video0", "/dev/video0"),
        ("/srv/clips/door.mp4", "/srv/clips/door.mp4"),
        ("rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live"),
    ],
)  # fmt: skip
def test_passwords_and_secret_parameters_are_masked(source: str, shown: str) -> None:
    assert redact_url(source) == shown


def test_the_secrets_of_a_source_for_scrubbing_free_text() -> None:
    assert url_secrets("rtsp://admin:pa#ss/w?rd@10.0.0.5:554/stream") == ["pa#ss/w?rd"]
    assert url_secrets("rtsp://u:p%40ss-w0rd@cam/s") == ["p%40ss-w0rd", "p@ss-w0rd"]  # as written and decoded
    assert url_secrets("http://cam/v.cgi?user=admin&pwd=S3CRET&token=t0k3n") == ["S3CRET", "t0k3n"]
    assert url_secrets("/srv/clip.mp4") == []
    assert scrub("p@ss-w0rd, 1280x720, abc", ["p@ss-w0rd", "abc"]) == "***, 1280x720, abc"  # short ones stay


def test_library_messages_that_echo_the_source_are_redacted() -> None:
    source = "rtsp://admin:pa#ss/w?rd@10.0.0.5:554/stream"
    ffmpeg = f"[rtsp @ 0x55d] Could not open {source}: 401 Unauthorized (password pa#ss/w?rd rejected)"
    assert redact_text(ffmpeg, source) == (
        "[rtsp @ 0x55d] Could not open rtsp://admin:***@10.0.0.5:554/stream: 401 Unauthorized (password *** rejected)"
    )
    # A real library error that quotes what it was given, as a vendor's may quote the URL.
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address") as caught:
        ipaddress.ip_address(source)
    described = describe_error(caught.value, source)
    assert (
        described == "ValueError: 'rtsp://admin:***@10.0.0.5:554/stream' does not appear to be an IPv4 or IPv6 address"
    )


_SECRET_CHARS = string.ascii_letters + string.digits + "#/?@:;%=!$*+,.~-_"


@settings(max_examples=1000, deadline=None)
@given(
    password=st.text(alphabet=_SECRET_CHARS, min_size=2, max_size=24),  # 4+ with its markers: scrubbed from text
    value=st.text(alphabet=_SECRET_CHARS.replace("&", ""), min_size=1, max_size=24),
    key=st.sampled_from(["pwd", "password", "PASS", "passwd", "token", "key", "auth", "secret", "api_key"]),
    host=st.sampled_from(["10.0.0.5", "cam.lan", "[fd00::5]", "[::1", "10.0.0.5:99999", "10.0.0.5:554"]),
)
def test_no_password_or_secret_value_ever_shows_and_nothing_raises(
    password: str, value: str, key: str, host: str
) -> None:
    """Secrets framed by markers that appear nowhere else: any part of them that is shown
    carries a marker with it (the password's are at its ends, so a cut anywhere shows one)."""
    secret = f"⟦{password}⟧"
    for source in (
        f"rtsp://admin:{secret}@{host}/stream",
        f"http://{host}/videostream.cgi?user=admin&{key}={secret}&chn=1",
        f"rtsp://admin:{secret}@{host}/s?{key}=⟪{value}⟫",
    ):
        shown = redact_url(source)
        assert "⟦" not in shown, (source, shown)
        assert "⟧" not in shown, (source, shown)
        assert "⟪" not in shown, (source, shown)
        assert "⟫" not in shown, (source, shown)
        assert not any(ch in redact_text(f"failed: {source} ({secret})", source) for ch in "⟦⟧⟪⟫")
