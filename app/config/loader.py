"""Load a config file into `Config`, or fail with every problem as FILE:LINE:COL."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.config.schema import Config
from app.config.yamlpos import Issue, Mark, Path, Positions, YamlError, format_path, load
from app.labels import COCO_LABELS, GROUPS
from app.objects import explicit_limits, overrides_of

MAX_CONFIG_BYTES = 1 << 20


class ConfigError(Exception):
    """A config that cannot be used; `lines()` gives one FILE:LINE:COL line per problem."""

    def __init__(self, filename: str, issues: list[Issue]) -> None:
        self.filename = filename
        self.issues = sorted(issues, key=lambda i: (i.mark.line, i.mark.col))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [issue.format(self.filename) for issue in self.issues]


def load_config(path: str | FsPath) -> Config:
    filename = str(path)
    try:
        raw = FsPath(path).read_bytes()
    except OSError as exc:
        raise ConfigError(filename, [Issue(Mark(1, 1), "(file)", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(filename, [Issue(Mark(1, 1), "(file)", "larger than 1 MiB; is this the right file?")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(filename, [Issue(Mark(1, 1), "(file)", f"not UTF-8 text ({exc.reason})")]) from None
    return parse_config(text, filename)


def parse_config(text: str, filename: str = "<config>") -> Config:
    try:
        data, positions = load(text)
    except YamlError as exc:
        raise ConfigError(filename, exc.issues) from None
    if data is None:
        raise ConfigError(filename, [Issue(Mark(1, 1), "cameras", "the config is empty; `cameras` is required")])
    if not isinstance(data, dict):
        raise ConfigError(filename, [Issue(positions.value(()), "(document)", "the config must be a mapping of keys")])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(filename, [_issue(err, positions) for err in exc.errors()]) from None
    problems = check_references(config)
    if problems:
        raise ConfigError(filename, [Issue(_mark(positions, p), format_path(p), m) for p, m in problems])
    return config


def _mark(positions: Positions, path: Path) -> Mark:
    """Problems with an `objects.filters` entry point at its key (the label); others at the value."""
    if len(path) == 3 and path[:2] == ("objects", "filters"):
        return positions.key(path) or positions.value(path)
    return positions.value(path)


def check_references(config: Config) -> list[tuple[Path, str]]:
    """Cross-field checks: names rules refer to must exist."""
    problems: list[tuple[Path, str]] = []
    known_labels = set(COCO_LABELS) | set(GROUPS)
    seen_rules: dict[str, int] = {}
    for r, rule in enumerate(config.rules):
        if rule.name in seen_rules:
            problems.append(
                (("rules", r, "name"), f"duplicate rule name '{rule.name}' (also rules[{seen_rules[rule.name]}])")
            )
        seen_rules.setdefault(rule.name, r)
        cameras = rule.cameras if rule.cameras is not None else tuple(config.cameras)
        for c, camera in enumerate(rule.cameras or ()):
            if camera not in config.cameras:
                problems.append((("rules", r, "cameras", c), _unknown("camera", camera, config.cameras)))
        zones_here = {z for cam in cameras if cam in config.cameras for z in config.cameras[cam].zones}
        for z, zone in enumerate(rule.zones or ()):
            if zone not in zones_here:
                problems.append((("rules", r, "zones", z), _unknown("zone", zone, zones_here, "on the rule's cameras")))
        if config.detector.labels is None:  # a custom label map may name other objects
            for o, obj in enumerate(rule.objects):
                if obj not in known_labels:
                    problems.append((("rules", r, "objects", o), _unknown("object", obj, known_labels)))
    return problems + _check_objects(config, known_labels)


def _check_objects(config: Config, known_labels: set[str]) -> list[tuple[Path, str]]:
    """`objects:` names known labels (unless a custom label map is given), and a label's own
    filter does not cross its group's (e.g. `vehicle: {min_score: 0.6}`, `car: {threshold: 0.5}`)."""
    problems: list[tuple[Path, str]] = []
    section = config.objects
    if config.detector.labels is None:
        for i, name in enumerate(section.track):
            if name not in known_labels:
                problems.append((("objects", "track", i), _unknown("object", name, known_labels)))
        for name in section.filters:
            if name not in known_labels:
                problems.append((("objects", "filters", name), _unknown("object", name, known_labels)))
    overrides = overrides_of(section)
    for name in section.filters:
        if name in GROUPS:
            continue
        min_score, threshold = explicit_limits(name, overrides)
        if min_score is not None and threshold is not None and threshold < min_score:
            group = next((g for g, members in GROUPS.items() if name in members), "?")
            problems.append(
                (
                    ("objects", "filters", name),
                    f"threshold ({threshold}) must be at least min_score ({min_score}), "
                    f"one of them set here and the other for its group '{group}'",
                )
            )
    return problems


def _unknown(what: str, name: str, choices: typing.Iterable[str], where: str = "") -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} '{name}'{(' ' + where) if where else ''}{hint}"


def _issue(err: ErrorDetails, positions: Positions) -> Issue:
    loc: Path = tuple(p for p in err["loc"] if isinstance(p, int | str))
    kind = err["type"]
    if loc and loc[-1] == "[key]":  # dict key failed validation: point at the key
        loc = loc[:-1]
        mark = positions.key(loc) or positions.value(loc)
        return Issue(mark, format_path(loc), f"bad name: {_message(err)}")
    if kind == "extra_forbidden":
        mark = positions.key(loc) or positions.value(loc)
        key = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = (
            f"; did you mean '{close[0]}'?"
            if close
            else (f"; expected one of: {', '.join(allowed)}" if allowed else "")
        )
        return Issue(mark, format_path(loc), f"unknown key '{key}'{hint}")
    if kind == "missing":
        return Issue(positions.value(loc[:-1]), format_path(loc), "required key is missing")
    return Issue(positions.value(loc), format_path(loc), _message(err))


def _message(err: ErrorDetails) -> str:
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err["type"] == "string_pattern_mismatch" and "pattern" in (err.get("ctx") or {}):
        msg = f"'{err['input']}' does not match {err['ctx']['pattern']}" if isinstance(err["input"], str) else msg
    return msg


def _allowed_keys(loc: Path) -> list[str]:
    """Field names (by alias) of the model that lives at `loc` in Config."""
    target: Any = Config
    for part in loc:
        target = _step(target, part)
        if target is None:
            return []
    model = _unwrap_model(target)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _step(annotation: Any, part: str | int) -> Any:
    model = _unwrap_model(annotation)
    if model is not None:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            step = _step(arg, part)
            if step is not None:
                return step
    return None


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None
