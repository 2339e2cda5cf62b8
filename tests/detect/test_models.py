"""The model manifest: names, variants, label maps and sha256 verification."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.detect.base import ModelError
from app.detect.models import ModelStore, read_labels, sha256_of
from app.labels import COCO_LABELS
from tests.conftest import ROOT


def test_every_manifest_variant_is_well_formed() -> None:
    store = ModelStore(ROOT / "models")
    assert {"person", "coco"} <= set(store.names())
    for name in store.names():
        for variant in store.variants(name):
            spec = store.spec(f"{name}:{variant}", "cpu")
            assert spec.family in ("ssd", "nanodet"), (name, variant)
            assert spec.labels, (name, variant)
            assert len(spec.mean) in (1, 3), (name, variant)
            assert len(spec.std) in (1, 3), (name, variant)
            assert spec.path.is_relative_to(ROOT / "models")


def test_coco_is_nanodet_on_the_cpu_and_coral_ssd_on_the_edge_tpu() -> None:
    store = ModelStore(ROOT / "models")
    cpu = store.spec("coco", "cpu")
    assert cpu.family == "nanodet"
    assert cpu.order == "bgr"
    assert cpu.mean == (103.53, 116.28, 123.675)
    # 80 labels, no gaps
    assert tuple(cpu.labels.values()) == COCO_LABELS
    assert max(cpu.labels) == 79
    assert store.spec("coco", "edgetpu").family == "ssd"


def test_production_edgetpu_models_carry_a_published_sha256() -> None:
    store = ModelStore(ROOT / "models")
    for name in ("coco", "mobiledet"):
        spec = store.spec(name, "edgetpu")
        assert spec.sha256 is not None
        assert len(spec.sha256) == 64


def test_coco_label_map_matches_the_rule_vocabulary() -> None:
    labels = read_labels(ROOT / "models" / "labels" / "coco.txt")
    assert tuple(labels.values()) == COCO_LABELS
    # COCO ids with gaps
    assert labels[0] == "person"
    assert labels[2] == "car"
    assert labels[17] == "dog"


def test_plain_label_files_number_by_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("background\nparcel\n\nfox\n")
    assert read_labels(path) == {0: "background", 1: "parcel", 3: "fox"}


def test_built_models_verify(store: ModelStore) -> None:
    for name in ("person", "coco", "coco:cpu-float"):
        spec = store.spec(name, "cpu")
        assert spec.sha256 == sha256_of(spec.path)
        store.verify(spec)


def copy_models(tmp_path: Path) -> ModelStore:
    root = tmp_path / "models"
    shutil.copytree(ROOT / "models", root, ignore=shutil.ignore_patterns("*float*", "coral"))
    return ModelStore(root)


@pytest.mark.usefixtures("store")  # fails with how to build the models when they are missing
def test_tampered_model_is_refused(tmp_path: Path) -> None:
    copy = copy_models(tmp_path)
    spec = copy.spec("person", "cpu")
    data = bytearray(spec.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    spec.path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its recorded sha256"):
        copy.verify(spec)


@pytest.mark.usefixtures("store")  # fails with how to build the models when they are missing
def test_model_without_recorded_digest_is_refused(tmp_path: Path) -> None:
    copy = copy_models(tmp_path)
    (copy.root / "build" / "SHA256SUMS").unlink()
    spec = copy.spec("person", "cpu")
    with pytest.raises(ModelError, match="no sha256 is recorded"):
        copy.verify(spec)


def test_missing_files_say_how_to_get_them() -> None:
    store = ModelStore(ROOT / "models")
    with pytest.raises(ModelError, match="installer places it"):
        store.verify(store.spec("coco", "edgetpu"))
    with pytest.raises(ModelError, match="unknown model 'yolo'"):
        store.spec("yolo", "cpu")
    with pytest.raises(ModelError, match="no 'edgetpu' variant"):
        store.spec("person", "edgetpu")
