"""The `bench` extra's own virtualenv, `.cache/bench/venv`, for benchmarks that run other trackers.

Why not the project's `.venv`:
- norfair 2.3 (the version Frigate ships) pins `numpy<2` (and `rich<15`); in `.venv` pip would
  downgrade the appliance's numpy 2 and, with it, OpenCV, so the tests would no longer run
  what the appliance runs;
- ByteTrack: `supervision` 0.31 dropped it for the `trackers` package, and `trackers` (like
  supervision 0.26-0.27) requires `opencv-python`, the GUI build: it installs over the headless
  `cv2` of `opencv-python-headless` and needs libGL, so `import cv2` would fail for the whole
  app. supervision 0.30 is the last release with ByteTrack and no OpenCV requirement at all
  (it imports the headless cv2 that is there), so the extra pins `supervision>=0.30,<0.31`.

Here `pip install -e '.[bench]'` runs in a venv of its own, so pip resolves the project and
the extra together with nothing forced (`--no-deps` would skip the pins that keep it
working): on a fresh machine it needs only PyPI, and `.venv` is never touched. The install is
editable, so the benchmarks run the working tree's `app`. It is redone when the project's
dependencies or the bench extra in pyproject.toml change (their text is kept in the stamp).

    .venv/bin/python bench/benchenv.py     # make or refresh it; prints its python
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "bench" / "venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed"
_MARK = "EDGEWATCH_BENCH_VENV"  # set in the re-executed process: never re-exec twice


def wanted() -> str:
    """What the venv is made from: the project's dependencies and its bench extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return "\n".join([*project["dependencies"], "[bench]", *project["optional-dependencies"]["bench"]]) + "\n"


def ensure() -> Path:
    """The bench venv's python, made or refreshed first when needed."""
    spec = wanted()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == spec:
        return PYTHON
    print(f"benchenv: installing the bench extra into {VENV.relative_to(ROOT)} (once)", file=sys.stderr)
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", ".[bench]"], cwd=ROOT, check=True)
    STAMP.write_text(spec)
    return PYTHON


def missing(modules: Sequence[str]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def run_inside(modules: Sequence[str]) -> None:
    """Unless every module in `modules` imports here, re-run this script in the bench venv.
    Returns only when they all import (in the bench venv, or already here)."""
    lacking = missing(modules)
    if not lacking:
        return
    if os.environ.get(_MARK):
        raise SystemExit(f"benchenv: {', '.join(lacking)} missing even in {VENV}: delete it and run again")
    python = ensure()
    sys.stdout.flush()
    os.execve(python, [str(python), *sys.argv], {**os.environ, _MARK: "1"})


if __name__ == "__main__":
    print(ensure())
