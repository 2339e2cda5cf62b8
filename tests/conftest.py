"""Shared fixtures: real photos from scikit-image and the real built detector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import skimage.data

from app.config import DetectorConfig
from app.detect import ModelStore, open_detector
from app.detect.engine import TfliteDetector

pytest_plugins = ["tests.support.clips", "tests.support.rtsp", "tests.support.mosquitto"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def photo(name: str) -> npt.NDArray[np.uint8]:
    """A scikit-image photo as an OpenCV BGR frame."""
    rgb = np.asarray(getattr(skimage.data, name)())
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.ascontiguousarray(cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="session")
def store() -> ModelStore:
    store = ModelStore(ROOT / "models")
    for name in ("person", "coco"):
        if not store.is_present(store.spec(name, "cpu")):
            pytest.fail(f"the {name} model is not built: run models/build.sh (the test command does)")
    return store


@pytest.fixture(scope="session")
def detector(store: ModelStore) -> Iterator[TfliteDetector]:
    """What the appliance runs by default on the CPU: the COCO-80 NanoDet."""
    det = open_detector(DetectorConfig(type="cpu"), store)
    yield det
    det.close()


@pytest.fixture(scope="session")
def person_detector(store: ModelStore) -> Iterator[TfliteDetector]:
    """The person-only SSD (`detector.model: person`)."""
    det = open_detector(DetectorConfig(type="cpu", model="person"), store)
    yield det
    det.close()


@pytest.fixture
def photo_file(tmp_path: Path) -> PhotoWriter:
    return PhotoWriter(tmp_path)


class PhotoWriter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str, ext: str = ".png") -> Path:
        path = self.folder / f"{name}{ext}"
        cv2.imwrite(str(path), photo(name))
        return path
