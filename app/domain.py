"""Value types that cross stage boundaries: frozen, pure, no vendor types."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels of the image it was found in (x1, y1) top-left."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def overlaps(self, other: Box) -> bool:
        """Do they share any area?"""
        return self.x1 < other.x2 and other.x1 < self.x2 and self.y1 < other.y2 and other.y1 < self.y2

    def clip(self, width: float, height: float) -> Box:
        return Box(
            min(max(self.x1, 0.0), width),
            min(max(self.y1, 0.0), height),
            min(max(self.x2, 0.0), width),
            min(max(self.y2, 0.0), height),
        )

    def as_list(self, ndigits: int = 1) -> list[float]:
        return [round(self.x1, ndigits), round(self.y1, ndigits), round(self.x2, ndigits), round(self.y2, ndigits)]


def moved_from(box: Box, where: Box) -> bool:
    """Has an object whose box is `box` left `where`? True once half of its box lies outside:
    it drove half its length, or came towards the camera to twice its size. Being partly
    hidden (a person walking in front of a parked car) shrinks the box *inside* `where`
    and never counts."""
    inter = Box(max(box.x1, where.x1), max(box.y1, where.y1), min(box.x2, where.x2), min(box.y2, where.y2)).area
    return box.area > 0 and (box.area - inter) >= 0.5 * box.area


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: Box


@dataclass(frozen=True, slots=True)
class Detections:
    """One detector call: what it found and how long the accelerator took."""

    items: tuple[Detection, ...]
    inference_ms: float


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded camera frame. `image` is BGR uint8 and must be treated as read-only."""

    camera: str
    seq: int  # per-camera counter since start; gaps mean dropped frames
    image: npt.NDArray[np.uint8]
    captured_at: float  # wall clock (time.time()) when it arrived; the video's timeline in replay
    monotonic: float  # time.monotonic() when it arrived, for ages and rates

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class Track:
    """A tracked object as of the latest update (times are the pipeline's clock, seconds)."""

    id: str  # stable and unique across the process: "<camera>-<n>"
    label: str
    score: float  # score of the latest matched detection
    top_score: float
    box: Box  # pixels of the frame
    first_seen: float
    last_seen: float
    hits: int
    confirmed: bool  # seen often enough to be real (no one-frame ghosts)
    stationary: bool  # has not moved for a while (parked car)
    origin: Box | None = None  # the box it was first seen with; None: history unknown

    def has_moved(self) -> bool:
        """Has it left where it was first seen (`moved_from`)? No known origin counts as moved."""
        return self.origin is None or moved_from(self.box, self.origin)


@dataclass(frozen=True, slots=True)
class Event:
    """One tracked object's visit, from its confirmation to its end (times: epoch seconds)."""

    id: str  # stable and unique: "<start epoch ms>-<track id>", e.g. "1764025200123-porch-7"
    camera: str
    label: str
    score: float
    top_score: float
    box: tuple[float, float, float, float]  # normalized x1, y1, x2, y2 (fractions of the frame)
    zones: tuple[str, ...]  # zones it has entered so far, in order
    start_time: float
    end_time: float | None  # None while it lasts
    stationary: bool


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule fired for an object. Stored durably before it is published."""

    id: str  # stable, unique: "<event id>:<rule>"
    rule: str
    camera: str
    label: str
    score: float
    box: tuple[float, float, float, float]  # normalized x1, y1, x2, y2
    zones: tuple[str, ...]  # the rule's zones the object is in when it fires
    event_id: str
    started_at: float  # when the object was first seen (epoch seconds)
    fired_at: float  # when the rule fired (epoch seconds, the frame's time)
    severity: str  # "alert" | "info"
