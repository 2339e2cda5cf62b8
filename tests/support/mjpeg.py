"""A real HTTP MJPEG camera for tests: multipart/x-mixed-replace JPEGs on 127.0.0.1,
the way cheap IP cameras and ESP32-CAMs serve `/video.mjpg` (or, with `password`, the way
many take it in the query: `/videostream.cgi?user=admin&pwd=...`, 401 when it is wrong)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import numpy.typing as npt

BOUNDARY = "edgewatchframe"


class MjpegCamera:
    def __init__(
        self,
        frames: Sequence[npt.NDArray[np.uint8]],
        fps: float = 10.0,
        *,
        path: str = "/video.mjpg",
        password: str | None = None,
    ) -> None:
        self._jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for f in frames]
        self._interval = 1.0 / fps
        self._path = path
        self._stop = threading.Event()
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != path:
                    self.send_error(404)
                    return
                if password is not None and parse_qs(parts.query).get("pwd") != [password]:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                i = 0
                try:
                    while not camera._stop.is_set():
                        jpeg = camera._jpegs[i % len(camera._jpegs)]
                        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        i += 1
                        time.sleep(camera._interval)  # pacing: the fake camera's frame rate
                except (BrokenPipeError, ConnectionResetError):
                    return

            def log_message(self, _format: str, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self._path}"

    def url_with(self, pwd: str) -> str:
        """The camera's URL with the password in the query, as such cameras are configured."""
        return f"{self.url}?user=admin&pwd={pwd}"

    def __enter__(self) -> MjpegCamera:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
