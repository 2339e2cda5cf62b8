"""Config: SPEC schema, YAML loading with positions, errors as FILE:LINE:COL."""

from app.config.loader import ConfigError, load_config, parse_config
from app.config.schema import (
    ApiConfig,
    CameraConfig,
    Config,
    DetectorConfig,
    Mode,
    MotionConfig,
    MqttConfig,
    ObjectFilterConfig,
    ObjectsConfig,
    RecordConfig,
    RuleConfig,
    ScheduleWindow,
    StorageConfig,
)
from app.config.types import resolve_zone

__all__ = [
    "ApiConfig",
    "CameraConfig",
    "Config",
    "ConfigError",
    "DetectorConfig",
    "Mode",
    "MotionConfig",
    "MqttConfig",
    "ObjectFilterConfig",
    "ObjectsConfig",
    "RecordConfig",
    "RuleConfig",
    "ScheduleWindow",
    "StorageConfig",
    "load_config",
    "parse_config",
    "resolve_zone",
]
