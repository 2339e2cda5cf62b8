"""The object vocabulary policy: which classes a camera tracks, and how sure each must be.

Two scores per class, named as in Frigate's `objects.filters`:
- `min_score`: a single detection weaker than this is dropped before tracking;
- `threshold`: a track is confirmed (an object, not a one-off) once the median of its
  recent scores reaches this.

What is tracked: `objects.track` (COCO labels or the groups of `app.labels.GROUPS`,
default `DEFAULT_TRACK`) and every object a rule names, groups expanded; everything else
the detector reports is dropped. Scores come from `CLASS_LIMITS` (the defaults, below),
overridden by `objects.filters` per label or per group (a label's own setting wins over
its group's). An explicit value moves the default of the other one when they would cross:
`min_score: 0.7` alone raises the threshold to 0.7, `threshold: 0.45` alone lowers the
floor to 0.45, so `threshold >= min_score` always holds. Labels outside the table (a
custom label map's) use `DEFAULT_LIMITS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from app.domain import Detection
from app.labels import GROUPS, expand

if TYPE_CHECKING:
    from app.config.schema import Config, ObjectsConfig

# What a home camera follows unless `objects.track` says otherwise.
DEFAULT_TRACK: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "bus", "truck",
    "bird", "cat", "dog", "horse", "sheep", "cow", "bear",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Limits:
    min_score: float  # per-detection floor
    threshold: float  # median recent score a track needs to be confirmed


DEFAULT_LIMITS = Limits(min_score=0.4, threshold=0.55)
# How far under its class's min_score a detection is still kept as weak evidence: a confirmed
# person scoring 0.3 for a second is still that person (ByteTrack's second stage).
WEAK_MARGIN = 0.15

# The default per-class table, (min_score, threshold); every class not listed uses
# DEFAULT_LIMITS. NanoDet scores true objects 0.5-0.8 (a clear person 0.73, a motorcycle
# 0.79) and litter on a drive 0.3-0.48 as small classes, so those need clearly more than the
# default to count. Starting values, to be re-tuned on real photos: edit freely.
_LITTER = (0.5, 0.7)  # small classes that paper, leaves and bins turn into
_CLASS_TABLE: dict[str, tuple[float, float]] = {
    "truck": (0.4, 0.5),  # a parked van comes out as "truck" at 0.50-0.59
    "bird": _LITTER,  # tiny at a door camera's distance; litter scores 0.3-0.48 as bird
    "bear": (0.5, 0.7),  # rare at a house; dark dogs and bin bags are not
    "sports ball": _LITTER,
    "kite": _LITTER,
    "frisbee": _LITTER,
    "cell phone": _LITTER,
    "chair": _LITTER,
    "bottle": _LITTER,
    "cup": _LITTER,
    "handbag": _LITTER,
    "backpack": _LITTER,
    "umbrella": _LITTER,
    "remote": _LITTER,
    "mouse": _LITTER,
}
CLASS_LIMITS: Mapping[str, Limits] = MappingProxyType({k: Limits(*v) for k, v in _CLASS_TABLE.items()})


def class_limits(label: str) -> Limits:
    """The default limits of one class (the table, else DEFAULT_LIMITS)."""
    return CLASS_LIMITS.get(label, DEFAULT_LIMITS)


# Per label or group, as configured: (min_score, threshold), None = not set.
Overrides = Mapping[str, tuple[float | None, float | None]]


def overrides_of(section: ObjectsConfig) -> dict[str, tuple[float | None, float | None]]:
    """The `objects.filters` section as `Overrides`."""
    return {name: (f.min_score, f.threshold) for name, f in section.filters.items()}


def explicit_limits(label: str, overrides: Overrides) -> tuple[float | None, float | None]:
    """What the config sets for `label`, field by field: its own entry, else its group's."""
    own = overrides.get(label, (None, None))
    group = next((overrides[g] for g, members in GROUPS.items() if label in members and g in overrides), (None, None))
    return (own[0] if own[0] is not None else group[0], own[1] if own[1] is not None else group[1])


def resolve_limits(label: str, overrides: Overrides) -> Limits:
    """The limits `label` ends up with; a default never crosses an explicit value."""
    min_score, threshold = explicit_limits(label, overrides)
    base = class_limits(label)
    if min_score is None and threshold is None:
        return base
    if min_score is None:
        assert threshold is not None
        return Limits(min(base.min_score, threshold), threshold)
    if threshold is None:
        return Limits(min_score, max(base.threshold, min_score))
    return Limits(min_score, threshold)


@dataclass(frozen=True, slots=True)
class ObjectFilter:
    """The classes one box tracks and the scores each needs. Build with `from_config` or `build`."""

    tracked: frozenset[str]
    _limits: Mapping[str, Limits] = field(repr=False)

    @classmethod
    def build(
        cls, track: Iterable[str], overrides: Overrides | None = None, rule_objects: Iterable[Sequence[str]] = ()
    ) -> ObjectFilter:
        """`track`: labels or groups; `rule_objects`: each rule's objects (always tracked)."""
        tracked = set(expand(tuple(track)))
        for objects in rule_objects:
            tracked |= expand(tuple(objects))
        found = overrides or {}
        limits = {label: resolve_limits(label, found) for label in tracked}
        return cls(frozenset(tracked), MappingProxyType(limits))

    @classmethod
    def from_config(cls, config: Config) -> ObjectFilter:
        section = config.objects
        return cls.build(section.track, overrides_of(section), (rule.objects for rule in config.rules))

    @classmethod
    def default(cls) -> ObjectFilter:
        """DEFAULT_TRACK with the default table: no config, no rules."""
        return cls.build(DEFAULT_TRACK)

    def limits(self, label: str) -> Limits:
        return self._limits.get(label) or class_limits(label)

    def min_score(self, label: str) -> float:
        return self.limits(label).min_score

    def threshold(self, label: str) -> float:
        return self.limits(label).threshold

    @property
    def floor(self) -> float:
        """The lowest min_score of any tracked class."""
        return min((lim.min_score for lim in self._limits.values()), default=DEFAULT_LIMITS.min_score)

    @property
    def low_floor(self) -> float:
        """What the detector is asked for: `floor` less `WEAK_MARGIN` (see `split`)."""
        return max(self.floor - WEAK_MARGIN, 0.05)

    def is_strong(self, detection: Detection) -> bool:
        """A tracked class at or above its own min_score."""
        limits = self._limits.get(detection.label)
        return limits is not None and detection.score >= limits.min_score

    def split(self, detections: Iterable[Detection]) -> tuple[list[Detection], list[Detection]]:
        """Tracked classes only: (at or above their min_score, at most `WEAK_MARGIN` below it).
        The weak ones may only continue an object already confirmed (app.analysis.track), never start one."""
        strong: list[Detection] = []
        weak: list[Detection] = []
        limits = self._limits
        for d in detections:
            lim = limits.get(d.label)
            if lim is None:
                continue
            if d.score >= lim.min_score:
                strong.append(d)
            elif d.score >= lim.min_score - WEAK_MARGIN:
                weak.append(d)
        return strong, weak

    def keep(self, detections: Iterable[Detection]) -> tuple[Detection, ...]:
        """Tracked classes at or above their own min_score, in order."""
        return tuple(self.split(detections)[0])
