"""Serves the API with uvicorn on a thread of `edgewatch run`.

The socket is bound here, not by uvicorn, so a taken port is a clear log line and a
retry — the dashboard is not worth losing detection and alerts over."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from app.api.wire import GuardedHttpToolsProtocol

log = logging.getLogger(__name__)

RETRY_BIND_S = 10.0
API_NICE = 10


class ApiServer:
    def __init__(self, app: ASGIApp, host: str, port: int, *, retry_bind_s: float = RETRY_BIND_S) -> None:
        self._app = app
        self._retry_bind_s = retry_bind_s
        self._host = host
        self._port = port
        self._stop = threading.Event()
        self._server: uvicorn.Server | None = None
        self._bound = threading.Event()
        self.port: int | None = None  # the port actually bound (the configured one, or the OS's pick for 0)
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)

    def start(self, wait_s: float = 5.0) -> None:
        self._thread.start()
        self._bound.wait(wait_s)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        server = self._server
        if server is not None:
            server.should_exit = True
        self._thread.join(timeout)

    def _run(self) -> None:
        # Viewers yield to detection: the kernel favours the capture and pipeline threads when
        # the CPU is short (Linux nices threads one by one). Best effort: unprivileged is fine.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), API_NICE)
        while not self._stop.is_set():
            try:
                sock = bind(self._host, self._port)
            except OSError as exc:
                log.error("api: cannot listen on %s:%d (%s); retrying in %.0f s", self._host, self._port,
                          exc.strerror or exc, self._retry_bind_s)  # fmt: skip
                self._stop.wait(self._retry_bind_s)
                continue
            self.port = sock.getsockname()[1]
            config = uvicorn.Config(
                self._app,
                log_config=None,  # ours (app.cli) already formats every logger
                access_log=False,  # per-request lines would wear a Pi's SD card; failures are logged by the app
                proxy_headers=False,  # X-Forwarded-For is judged by the LAN guard against api.trusted_proxies only
                server_header=False,
                lifespan="off",
                timeout_keep_alive=5,
                # httptools with bounded heads, read deadlines and idle eviction (wire.py); the connection cap is
                # the protocol's, so uvicorn's 503 comes only when every connection is busy answering
                http=GuardedHttpToolsProtocol,
                limit_concurrency=GuardedHttpToolsProtocol.max_connections + 1,
            )
            self._server = uvicorn.Server(config)
            log.info("api: dashboard and API on http://%s:%d/", _show(self._host), self.port)
            self._bound.set()
            try:
                self._server.run(sockets=[sock])
            except Exception:
                log.exception("api: the server failed; restarting it")
                time.sleep(1.0)
            finally:
                sock.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # [::] serves IPv4 clients too
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host
