"""Per-camera object tracking: detections → tracks with stable ids (see `tracker` for the
matching rules).

- `tracker`: the `Tracker` and its update steps;
- `state`: one track's state (motion model, label vote, confirmation);
- `matching`: candidate pairs for each matching pass and the greedy assignment.

Box geometry on float tuples is `app.analysis.geometry`; still periods are `app.analysis.parking.Stillness`.
"""

from app.analysis.track.state import STATIC_EVIDENCE, STATIC_MARGIN
from app.analysis.track.tracker import Tracker, TrackerUpdate, Watch

__all__ = ["STATIC_EVIDENCE", "STATIC_MARGIN", "Tracker", "TrackerUpdate", "Watch"]
