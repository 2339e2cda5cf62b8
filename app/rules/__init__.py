"""Rules: which tracked objects raise alerts, where (zones), when (modes, schedules) and how often."""

from app.rules.engine import RuleEngine
from app.rules.schedule import Schedule, in_schedule, is_active
from app.rules.zones import CameraZones, Region, foot_point, point_in_polygon, zones_for_camera

__all__ = [
    "CameraZones",
    "Region",
    "RuleEngine",
    "Schedule",
    "foot_point",
    "in_schedule",
    "is_active",
    "point_in_polygon",
    "zones_for_camera",
]
