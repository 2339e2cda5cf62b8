"""The setup code's copy for root under systemd: `$RUNTIME_DIRECTORY/setup-code` (0600, one line: the code).

`RuntimeDirectory=edgewatch` gives the service /run/edgewatch (a tmpfs, 0700, emptied by systemd at stop);
the unit's root helper (systemd/edgewatch-setup-code, run by ExecStartPost=) shows the code from there on
the box's screen and keeps it in /root. The file exists only while the code can be used: written at a start
without a password, removed once the code is redeemed, and never there when a password exists at start.
Failing to write it costs only that copy (the console still shows the code): a warning, never the code."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from app.files import atomic_write

log = logging.getLogger(__name__)

SETUP_CODE_FILE = "setup-code"


def setup_code_path(environ: Mapping[str, str]) -> Path | None:
    """`<first RUNTIME_DIRECTORY>/setup-code`, or None outside systemd (no or no absolute runtime directory:
    `edgewatch run` by hand, the container)."""
    first = environ.get("RUNTIME_DIRECTORY", "").split(":", 1)[0]  # systemd joins several with ':'
    return Path(first) / SETUP_CODE_FILE if os.path.isabs(first) else None


def write_setup_code(path: Path, code: str) -> bool:
    """Replaces `path` atomically with `code` (`app.files.atomic_write`: a temporary file made 0600 as it is
    created, never readable by anyone else, not even briefly, then renamed over it). False (and a warning)
    when that fails."""
    try:
        atomic_write(path, (code + "\n").encode("ascii"))
    except OSError as exc:
        _warn("cannot write", path, exc)
        return False
    return True


def remove_setup_code(path: Path) -> None:
    """The code is spent (or a password exists): its copy goes. A warning when it cannot."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _warn("cannot remove", path, exc)


def _warn(what: str, path: Path, exc: OSError) -> None:
    # The path and the OS's reason only: the code never reaches a log line.
    log.warning("setup code: %s %s (%s); the console still shows the code", what, path, exc.strerror or exc)
