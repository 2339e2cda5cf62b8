"""The object vocabulary rules may name: COCO's 80 labels and the SPEC groups."""

from __future__ import annotations

COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

GROUPS: dict[str, frozenset[str]] = {
    "vehicle": frozenset({"car", "truck", "bus", "motorcycle"}),
    "animal": frozenset({"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}),
}


def expand(objects: tuple[str, ...] | list[str]) -> frozenset[str]:
    """Rule objects → the concrete labels they match (groups expanded)."""
    out: set[str] = set()
    for name in objects:
        out |= GROUPS.get(name, frozenset({name}))
    return frozenset(out)


# Things that park: they may stand for hours, vanish behind a passer-by and come back, and
# must be seen moving before they count as arriving (see app/rules/engine.py).
PARKS: frozenset[str] = GROUPS["vehicle"] | {"bicycle"}

_KIND: dict[str, str] = {label: f"group:{group}" for group, labels in GROUPS.items() for label in labels}


def kind(label: str) -> str:
    """Labels that may name the same object share a kind: a parked van flickers between car,
    truck and bus, a dog between dog and cat. Other labels are their own kind."""
    return _KIND.get(label, label)
