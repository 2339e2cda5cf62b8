"""Request heads and idle connections on the real server (issue 15, security 3): a huge header is a
431 without the memory, too many fields too, and idle or trickling sockets neither starve
/api/health nor stay open."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx

from app.api.wire import MAX_CONNECTIONS, READ_TIMEOUT_S

Serve = Callable[..., str]
MB = 1 << 20


def rss_mb() -> float:
    with open("/proc/self/status") as status:  # the server runs in this process, on its API thread
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextlib.contextmanager
def peak_rss() -> Iterator[list[float]]:
    """[baseline, peak] RSS in MB, sampled every 5 ms while the block runs."""
    found = [rss_mb(), rss_mb()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            found[1] = max(found[1], rss_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        done.set()
        sampler.join()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def send_head(port: int, head: bytes, filler: int = 0) -> bytes:
    """Sends `head`, then `filler` bytes of one header value (if any) and the end of the head; returns the
    answer's first bytes. Sending stops early if the server stops reading (after answering)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        chunk = b"a" * (64 * 1024)
        with contextlib.suppress(OSError):  # the server may close once it has answered
            for _ in range(filler // len(chunk)):
                conn.sendall(chunk)
            conn.sendall(b"\r\n\r\n")
        return conn.recv(200)


def health_within(base: str, seconds: float = 3.0) -> None:
    """Answered within `seconds`: generous for a loaded box, far under the 10 s read timeout a
    server stuck behind its held sockets would make it wait."""
    start = time.monotonic()
    response = httpx.get(f"{base}/api/health", timeout=seconds)  # a new connection each time
    assert response.status_code == 200, response.text
    assert time.monotonic() - start < seconds


def test_a_64_mb_header_is_a_431_without_the_memory(serve: Serve) -> None:
    base = serve()
    head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
    with peak_rss() as rss:
        for _ in range(4):  # four, as in the report: 185 -> 988 MB and 200 each time
            answer = send_head(port_of(base), head, filler=64 * MB)
            assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert rss[1] - rss[0] <= 50, f"RSS {rss[0]:.0f} -> {rss[1]:.0f} MB"
    health_within(base)  # and the server is fine


def test_too_large_or_too_many_header_fields_are_431_and_normal_heads_pass(serve: Serve) -> None:
    port = port_of(serve())
    start = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    # 40 KB in one read: the head is whole before any read-size check, so the parsed size must catch it.
    assert send_head(port, start + b"Cookie: " + b"c" * 40_000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")
    many = b"".join(b"X-F%d: v\r\n" % n for n in range(150))
    assert send_head(port, start + many + b"\r\n").startswith(b"HTTP/1.1 431 ")
    # What browsers send — 8 KB of cookies, 50 fields — is answered.
    usual = b"Cookie: " + b"c" * 8000 + b"\r\n" + b"".join(b"X-F%d: v\r\n" % n for n in range(50))
    assert send_head(port, start + usual + b"\r\n").startswith(b"HTTP/1.1 200 ")


def test_300_idle_and_trickling_sockets_for_20_s_do_not_starve_health(serve: Serve) -> None:
    base = serve()
    port = port_of(base)
    assert MAX_CONNECTIONS < 300  # more sockets than the server keeps
    silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(150)]
    trickling = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(150)]
    for conn in trickling:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a head that never ends (slowloris)
    try:
        start = time.monotonic()
        while time.monotonic() - start < 20:
            for conn in trickling:  # one more byte per socket per round: never idle, never done
                with contextlib.suppress(OSError):
                    conn.sendall(b"X")
            health_within(base)
            time.sleep(1.0)
        # The server closed every one of them: the longest idle to make room, the rest at the deadline.
        answers = [_closed_by_server(conn) for conn in (*silent, *trickling)]
        assert None not in answers, f"{answers.count(None)} sockets still open after 20 s"
        timed_out = [a for a in answers[150:] if a]  # trickling ones that were not closed to make room
        assert timed_out
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in timed_out)
    finally:
        for conn in (*silent, *trickling):
            conn.close()
    health_within(base)


def _closed_by_server(conn: socket.socket) -> bytes | None:
    """What the server sent before closing (b"" for nothing), or None while it is still open."""
    conn.settimeout(0.2)
    received = b""
    try:
        while chunk := conn.recv(4096):
            received += chunk
    except ConnectionResetError:
        return received
    except TimeoutError:
        return None
    return received


def test_a_request_that_does_not_arrive_in_time_is_dropped(serve: Serve) -> None:
    """Idle: closed. Trickling a byte a second: 408 at the deadline all the same — per request, not per byte."""
    port = port_of(serve())
    with socket.create_connection(("127.0.0.1", port)) as idle, socket.create_connection(("127.0.0.1", port)) as slow:
        start = time.monotonic()
        slow.sendall(b"GET /api/health HTTP/1.1\r\n")
        answers: dict[socket.socket, float] = {}
        while len(answers) < 2:
            assert time.monotonic() - start < READ_TIMEOUT_S + 5, "still open"
            for conn in select.select([idle, slow], [], [], 1.0)[0]:
                answers.setdefault(conn, time.monotonic() - start)
            if slow not in answers:
                slow.sendall(b"X")
        assert idle.recv(200) == b""  # nothing to answer: just closed
        assert slow.recv(200).startswith(b"HTTP/1.1 408 ")
        for conn, after in answers.items():
            assert READ_TIMEOUT_S - 0.5 < after < READ_TIMEOUT_S + 3, (conn, after)
