"""storage.path on a tmpfs of its own, so it can be filled without touching the machine's disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class Disk:
    """storage.path on a tmpfs of its own, so it can be filled without touching the machine's disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = False
        self.ballast = path / ".soak-ballast"  # written by the soak, never by the appliance
        self.unavailable: str | None = None

    def mount(self, size_mb: int) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        mount = shutil.which("mount")
        if os.geteuid() != 0 or mount is None:
            self.unavailable = "not root" if os.geteuid() != 0 else "no mount command"
            return
        r = subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "edgewatch-soak", str(self.path)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if r.returncode != 0:
            self.unavailable = f"mount -t tmpfs refused: {(r.stderr or r.stdout).strip()}"
            return
        self.mounted = True

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_kb: int) -> int:
        """Ballast up to `leave_kb` free; returns the ballast's size."""
        size = max(0, self.free_bytes() - leave_kb * 1024)
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            chunk = b"\0" * (1 << 20)
            left = size
            while left > 0:
                try:
                    left -= os.write(fd, chunk[: min(left, len(chunk))])
                except OSError:  # the appliance took some space meanwhile: full is what we want
                    break
        finally:
            os.close(fd)
        return size - max(0, left)

    def empty(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        if not self.mounted:
            return
        umount = shutil.which("umount") or "umount"
        r = subprocess.run([umount, str(self.path)], capture_output=True, timeout=20, check=False)
        if r.returncode != 0:  # something still holds it: detach now, freed when released
            subprocess.run([umount, "-l", str(self.path)], capture_output=True, timeout=20, check=False)
        self.mounted = False
