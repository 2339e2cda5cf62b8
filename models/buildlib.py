"""What the model builders share: digests, the SHA256SUMS/build-info files, calibration photos.

Imported by build.py and build_coco.py, which run in their own build virtualenvs
(never the appliance's); numpy and scikit-image are all this module needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

# Calibration photos: scikit-image's bundled photos, deliberately EXCLUDING the ones the
# test suite judges the detectors on (astronaut, chelsea/cat, coffee, stereo_motorcycle),
# so quantisation is not tuned to the fixtures.
CALIBRATION_PHOTOS = (
    "camera",
    "rocket",
    "horse",
    "coins",
    "page",
    "moon",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "brick",
    "grass",
    "gravel",
    "colorwheel",
    "clock",
    "text",
    "logo",
)
CROPS_PER_PHOTO = 6


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def calibration_crops(seed: int = 20261124) -> Iterator[np.ndarray]:
    """RGB uint8 images: each calibration photo whole, then random crops, every other one mirrored."""
    import skimage.data

    rng = np.random.default_rng(seed)
    for name in CALIBRATION_PHOTOS:
        photo = np.asarray(getattr(skimage.data, name)())
        if photo.ndim == 2:
            photo = np.stack([photo] * 3, axis=-1)
        photo = photo[..., :3]
        if photo.dtype != np.uint8:
            photo = (np.clip(photo.astype(np.float64) / max(float(photo.max()), 1e-6), 0, 1) * 255).astype(np.uint8)
        height, width = photo.shape[:2]
        for k in range(CROPS_PER_PHOTO):
            if k == 0:
                crop = photo
            else:
                ch = int(height * rng.uniform(0.45, 0.9))
                cw = int(width * rng.uniform(0.45, 0.9))
                y0 = int(rng.integers(0, height - ch + 1))
                x0 = int(rng.integers(0, width - cw + 1))
                crop = photo[y0 : y0 + ch, x0 : x0 + cw]
            if k % 2:
                crop = crop[:, ::-1]
            yield crop


def record(out: Path, files: Mapping[str, bytes], info_key: str, info: Mapping[str, Any]) -> dict[str, str]:
    """Write the built files, merge their digests into SHA256SUMS (other models' lines kept)
    and this build's facts into build-info.json under `info_key`. Returns name → sha256."""
    out.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, data in files.items():
        (out / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    sums_path = out / "SHA256SUMS"
    sums: dict[str, str] = {}
    if sums_path.is_file():
        for line in sums_path.read_text().splitlines():
            digest, _, name = line.strip().partition("  ")
            if name and (out / name).is_file():
                sums[name] = digest
    sums.update(digests)
    sums_path.write_text("".join(f"{sums[n]}  {n}\n" for n in sorted(sums)))
    info_path = out / "build-info.json"
    facts: dict[str, Any] = {}
    if info_path.is_file():
        facts = json.loads(info_path.read_text())
        if "source" in facts:  # the first layout: the person build's facts at the top level
            facts = {"person": facts}
    facts[info_key] = dict(info)
    info_path.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    return digests
