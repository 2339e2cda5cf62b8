"""Model manifest: names → files, label maps and sha256 verification. Never downloads."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.detect.base import Backend, ModelError
from app.detect.preprocess import ChannelOrder

MODELS_ENV = "EDGEWATCH_MODELS_DIR"
_SYSTEM_DIR = Path("/usr/share/edgewatch/models")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str  # what the config said: "person", "coco:edgetpu" or a path
    variant: str  # "cpu", "edgetpu", ... or "file"
    path: Path
    family: str  # "ssd", "nanodet", or "auto" (an explicit path: told by its outputs)
    labels: dict[int, str]
    mean: tuple[float, ...]  # one value, or one per channel in `order`
    std: tuple[float, ...]
    sha256: str | None  # expected digest; None = an explicit path, loaded as given
    order: ChannelOrder = "rgb"
    # An explicit path says nothing of its input or (without detector.labels) its labels:
    # these are then SSD guesses, and a model that turns out to be NanoDet gets its own.
    guessed_input: bool = False
    guessed_labels: bool = False


def models_root() -> Path:
    """$EDGEWATCH_MODELS_DIR, else the source tree's models/, else /usr/share/edgewatch/models."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    source_tree = Path(__file__).resolve().parents[2] / "models"
    if (source_tree / "manifest.toml").is_file():
        return source_tree
    return _SYSTEM_DIR


def read_labels(path: Path) -> dict[int, str]:
    """Label maps as Coral writes them ("17  dog") or one name per line (id = line number)."""
    labels: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read label map {path}: {exc.strerror}") from None
    for number, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        match = re.match(r"^(\d+)[\s:,]+(.+)$", text)
        if match:
            labels[int(match.group(1))] = match.group(2).strip()
        else:
            labels[number] = text
    if not labels:
        raise ModelError(f"label map {path} is empty")
    return labels


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelStore:
    """The models/ folder: manifest.toml, label maps, built and installer-supplied files."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else models_root()
        manifest = self.root / "manifest.toml"
        try:
            self._manifest: dict[str, Any] = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._manifest = {"models": {}}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ModelError(f"cannot read model manifest {manifest}: {exc}") from None

    def names(self) -> list[str]:
        return sorted(self._manifest.get("models", {}))

    def variants(self, name: str) -> list[str]:
        return sorted(self._manifest.get("models", {}).get(name, {}).get("variants", {}))

    def spec(self, model: str, backend: Backend, labels: str | None = None) -> ModelSpec:
        """Resolve `model` (name, name:variant or path) for `backend`; does not touch the file."""
        if _is_path(model):
            path = Path(model).expanduser()
            label_map = read_labels(Path(labels)) if labels else read_labels(self.root / "labels" / "coco.txt")
            return ModelSpec(
                model,
                "file",
                path,
                "auto",
                label_map,
                (127.5,),
                (127.5,),
                None,
                guessed_input=True,
                guessed_labels=labels is None,
            )
        name, _, variant = model.partition(":")
        entry = self._manifest.get("models", {}).get(name)
        if entry is None:
            known = ", ".join(self.names()) or "none"
            raise ModelError(f"unknown model '{name}' (manifest {self.root / 'manifest.toml'} has: {known})")
        variant = variant or backend
        var = entry.get("variants", {}).get(variant)
        if var is None:
            raise ModelError(f"model '{name}' has no '{variant}' variant (it has: {', '.join(self.variants(name))})")
        label_map = read_labels(Path(labels)) if labels else read_labels(self.root / var["labels"])
        normalise = var.get("input", {})
        order = normalise.get("order", "rgb")
        if order not in ("rgb", "bgr"):
            raise ModelError(f"model '{name}' variant '{variant}': input order must be rgb or bgr, not {order!r}")
        return ModelSpec(
            model,
            variant,
            self.root / var["file"],
            str(var.get("family", "ssd")),
            label_map,
            _values(normalise.get("mean", 127.5)),
            _values(normalise.get("std", 127.5)),
            var.get("sha256") or self._recorded_sha256(self.root / var["file"]),
            order,
        )

    def is_present(self, spec: ModelSpec) -> bool:
        return spec.path.is_file()

    def verify(self, spec: ModelSpec) -> None:
        """Refuse a missing file, one with no recorded digest, or one whose digest differs."""
        if not spec.path.is_file():
            hint = (
                "run `make models` (models/build.sh) to build it"
                if "build" in spec.path.parts
                else "the installer places it there (deploy/install.sh)"
            )
            raise ModelError(f"model file {spec.path} is missing; {hint}")
        if spec.variant == "file":
            return
        if not spec.sha256:
            raise ModelError(
                f"no sha256 is recorded for {spec.path}; add it to SHA256SUMS beside the file "
                "after checking it against its publisher's"
            )
        actual = sha256_of(spec.path)
        if actual != spec.sha256:
            raise ModelError(
                f"{spec.path} does not match its recorded sha256 (expected {spec.sha256}, got {actual}); "
                "the file is corrupt or was replaced. Rebuild or reinstall it"
            )

    @staticmethod
    def _recorded_sha256(path: Path) -> str | None:
        sums = path.parent / "SHA256SUMS"
        try:
            lines = sums.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        for line in lines:
            digest, _, filename = line.strip().partition("  ")
            if filename.lstrip("*") == path.name:
                return digest.lower()
        return None


def _values(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value) if isinstance(value, list) else (float(value),)


def _is_path(model: str) -> bool:
    return "/" in model or model.endswith(".tflite")
