"""Runs the checks, renders them (text or JSON, secrets scrubbed) and the `doctor` command."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from app.config import Config, resolve_zone
from app.config.demo import config_or_report
from app.detect.base import ModelError
from app.detect.devices import list_tpus
from app.detect.models import ModelStore
from app.doctor.base import _MARKS, EXIT_BAD_CONFIG, EXIT_OK, EXIT_PROBLEMS, Check
from app.doctor.detection import (
    _runtime_probe,
    check_coral,
    check_libedgetpu,
    check_models,
    check_openvino,
    check_runtime,
)
from app.doctor.environment import CameraProbes, check_broker, check_clock, check_disk, ntp_synchronized
from app.redact import MIN_SCRUB_LENGTH, scrub, url_secrets


def run_checks(
    config: Config,
    *,
    store: ModelStore | None = None,
    sys_root: Path = Path("/sys"),
    dev_root: Path = Path("/dev"),
) -> list[Check]:
    cameras = CameraProbes({name: camera.source for name, camera in config.cameras.items()})
    opened = store if store is not None else _open_store()
    devices = list_tpus(sys_root, dev_root, pycoral=sys_root == Path("/sys"))  # the real machine: every source
    coral_found = any(d.ready for d in devices)
    if isinstance(opened, Check):
        runtime, models = check_runtime(), opened
    else:
        runtime = check_runtime(_runtime_probe(opened))
        models = check_models(config.detector, opened, coral_found=coral_found)
    checks = [runtime, check_libedgetpu(config.detector), check_coral(config.detector, devices, dev_root), models]
    if config.detector.type == "openvino":
        checks.insert(1, check_openvino(config.detector, None if isinstance(opened, Check) else opened))
    broker = check_broker(config.mqtt, config.node_id)
    disk = check_disk(config.storage)
    clock = check_clock(datetime.now(UTC), ntp_synchronized(), resolve_zone(config.timezone).key)
    return [*checks, *cameras.collect(), broker, disk, clock]


def _open_store() -> ModelStore | Check:
    try:
        return ModelStore()
    except ModelError as exc:  # an unreadable manifest
        return Check("models", "fail", str(exc))


def render_text(checks: list[Check], origin: str) -> str:
    lines = [f"edgewatch doctor ({origin})"]
    for check in checks:
        lines.append(f"{_MARKS[check.status]} {check.name}: {check.summary}")
        for key, value in check.details.items():
            lines += _detail_lines(key, value, 7)
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    verdict = f"{failed} problem(s) found" if failed else "no problems found"
    lines.append(verdict + (f", {warned} warning(s)" if warned else ""))
    return "\n".join(lines)


def _detail_lines(key: str, value: object, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        return [f"{pad}{key}:"] + [line for k, v in value.items() for line in _detail_lines(str(k), v, indent + 2)]
    if isinstance(value, list):
        items = [", ".join(f"{k}={v}" for k, v in item.items()) if isinstance(item, dict) else str(item)
                 for item in value]  # fmt: skip
        return [f"{pad}{key}:" + ("" if items else " none")] + [f"{pad}  - {item}" for item in items]
    return [f"{pad}{key}: {'-' if value is None else value}"]


def render_json(checks: list[Check]) -> str:
    return json.dumps(
        {"ok": not any(c.status == "fail" for c in checks), "checks": [dataclasses.asdict(c) for c in checks]},
        default=str,
    )


def config_secrets(config: Config) -> list[str]:
    """Every secret the config points at: camera URL passwords and secret query values (as
    app.redact finds them, malformed URLs too) and the broker password."""
    found: list[str] = [s for camera in config.cameras.values() for s in url_secrets(camera.source)]
    if config.mqtt is not None and config.mqtt.password_file:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = Path(config.mqtt.password_file).read_text(encoding="utf-8")
            found += [text.rstrip("\r\n"), text.strip()]
    # Very short secrets are left alone: scrubbing "1" would garble every number in the report.
    return sorted({s for s in found if len(s) >= MIN_SCRUB_LENGTH}, key=len, reverse=True)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Doctor reports each problem itself; the modules' own warnings would say it twice."""
    logger = logging.getLogger("app")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def cmd_doctor(args: argparse.Namespace) -> int:
    config_file: Path | None = args.config
    config = config_or_report(config_file)
    if config is None:
        return EXIT_BAD_CONFIG
    with _quiet_logs():
        checks = run_checks(config)
    origin = f"config {config_file}" if config_file is not None else "the embedded demo config"
    text = render_json(checks) if args.json else render_text(checks, origin)
    print(scrub(text, config_secrets(config)), flush=True)
    return EXIT_PROBLEMS if any(c.status == "fail" for c in checks) else EXIT_OK
