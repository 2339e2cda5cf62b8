"""The embedded demo default: no camera, no Coral, no broker; dashboard on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from app.config.loader import ConfigError, load_config
from app.config.schema import Config

DEMO_CLIP_ENV = "EDGEWATCH_DEMO_CLIP"


def demo_clip() -> Path:
    """The demo clip made at set-up from real photos (see `make demo`)."""
    env = os.environ.get(DEMO_CLIP_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".cache" / "demo" / "walk.mp4"


def demo_config() -> Config:
    state = Path(os.environ.get("EDGEWATCH_DEMO_STATE", Path.home() / ".local" / "state" / "edgewatch-demo"))
    return Config.model_validate(
        {
            "node_id": "demo",
            "cameras": {
                "demo": {
                    "source": str(demo_clip()),
                    "detect_fps": 5,
                    "zones": {"path": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]},
                }
            },
            "detector": {"type": "cpu"},
            "rules": [{"name": "person_on_path", "objects": ["person"], "zones": ["path"], "cooldown": "30s"}],
            "api": {"listen": "127.0.0.1:8080", "allow": ["loopback"]},
            "storage": {"path": str(state), "retain_days": 1, "max_mb": 256},
        }
    )


def config_or_report(path: Path | None, stream: TextIO | None = None) -> Config | None:
    """What every CLI verb with `--config` does: the file's config (the demo without one), or
    None after printing each error as FILE:LINE:COL (the caller exits 2)."""
    try:
        return load_config(path) if path is not None else demo_config()
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=stream or sys.stderr)
        return None
