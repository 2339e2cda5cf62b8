"""A real RTSP camera for tests: GStreamer's RTSP server looping a raw H.264 clip.

Run by Debian's system Python (`/usr/bin/python3`, which has `gi`), not the venv:

    /usr/bin/python3 tests/support/rtsp_server.py CLIP.h264 [--port 0] [--mount /cam] [--fps 12]

Needs the Debian packages python3-gi, gir1.2-gst-rtsp-server-1.0 and
gstreamer1.0-plugins-{base,good,bad} (multifilesrc and rtph264pay are in -good,
h264parse in -bad). Binds 127.0.0.1 only. `--port 0` takes a free port. Once it
listens, the first line on stdout is `PORT <n>`; nothing else is written to stdout.
Serves RTSP over TCP and UDP until SIGTERM or SIGINT (exit 0). Exit 2: bad
arguments or the clip is missing; 3: the port could not be bound (address in use);
4: GStreamer or its RTSP server library is missing.

`tests/support/rtsp.py` (`RtspCamera`) starts, kills, freezes and restarts it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
EXIT_BIND = 3
EXIT_NO_GSTREAMER = 4


def launch_line(clip: Path, fps: int) -> str:
    location = str(clip.resolve()).replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'( multifilesrc location="{location}" loop=true ! h264parse ! video/x-h264,framerate={fps}/1 '
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a raw H.264 clip over RTSP on 127.0.0.1, looping.")
    parser.add_argument("clip", type=Path, help="raw Annex-B H.264 file (.h264)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 (default) picks a free one")
    parser.add_argument("--mount", default="/cam", help="path of the stream (default /cam)")
    parser.add_argument("--fps", type=int, default=12, help="the clip's frame rate (default 12)")
    args = parser.parse_args(argv)
    if not args.clip.is_file():
        print(f"rtsp_server: no such clip: {args.clip}", file=sys.stderr)
        return EXIT_USAGE
    if not args.mount.startswith("/"):
        print(f"rtsp_server: the mount must start with '/': {args.mount}", file=sys.stderr)
        return EXIT_USAGE

    try:
        import gi  # type: ignore[import-not-found]  # Debian's python3-gi, not in the venv

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]
    except (ImportError, ValueError) as exc:
        print(
            f"rtsp_server: GStreamer RTSP server unavailable ({exc}); install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
            "gstreamer1.0-plugins-bad",
            file=sys.stderr,
        )
        return EXIT_NO_GSTREAMER

    Gst.init(None)
    missing = [name for name in ("multifilesrc", "h264parse", "rtph264pay") if Gst.ElementFactory.find(name) is None]
    if missing:
        print(
            f"rtsp_server: GStreamer elements missing: {', '.join(missing)} "
            "(install gstreamer1.0-plugins-good and gstreamer1.0-plugins-bad)",
            file=sys.stderr,
        )
        return EXIT_NO_GSTREAMER

    server: Any = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory: Any = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.clip, args.fps))
    factory.set_shared(True)  # one pipeline for every client, like a camera
    server.get_mount_points().add_factory(args.mount, factory)

    loop: Any = GLib.MainLoop()
    if server.attach(None) == 0:  # binding failed; GStreamer has logged why on stderr
        print(f"rtsp_server: cannot listen on 127.0.0.1:{args.port} (address in use?)", file=sys.stderr)
        return EXIT_BIND

    def quit_loop(*_: object) -> bool:
        loop.quit()
        return False  # remove the handler

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, quit_loop)
    print(f"PORT {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
