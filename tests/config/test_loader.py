"""Config loading: the SPEC example is valid; each broken config is reported at its line:col."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app.config import ConfigError, Mode, load_config, parse_config
from app.objects import DEFAULT_TRACK
from tests.conftest import FIXTURES


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "cfg.yaml")
    return caught.value.lines()


def test_spec_example_is_valid() -> None:
    config = load_config(FIXTURES / "spec_example.yaml")
    assert config.node_id == "garage-pi"
    assert config.cameras["driveway"].zones["porch"][0] == (0.10, 0.55)
    rule = config.rules[0]
    assert rule.min_dwell == 1.0
    assert rule.cooldown == 60.0
    assert rule.modes == (Mode.AWAY, Mode.NIGHT)
    assert rule.schedule is not None
    window = rule.schedule[0]
    assert (window.start, window.end) == (22 * 60, 6 * 60 + 30)  # crosses midnight
    assert config.mqtt is not None
    assert config.mqtt.tls.ca_file is None
    assert config.api.listen == ("0.0.0.0", 8080)


def test_only_cameras_are_required_and_defaults_are_sensible() -> None:
    config = parse_config("cameras:\n  front:\n    source: rtsp://10.0.0.5/live\n")
    assert config.detector.type == "auto"
    assert config.detector.model is None
    assert config.mqtt is None  # nothing is published without a broker section
    assert config.mode is Mode.AWAY
    assert set(config.api.allow) == {"private", "loopback", "link-local"}
    assert config.storage.max_mb == 2048
    assert config.storage.retain_days == 14
    assert config.cameras["front"].detect_fps == 5.0
    assert config.node_id  # from the host name


def test_unquoted_clock_times_are_not_read_as_base_60_numbers() -> None:
    config = parse_config(
        """
        cameras: {a: {source: a.mp4}}
        rules:
          - name: night
            schedule: [{from: 22:00, to: 06:30}]
        """
    )
    window = config.rules[0].schedule[0]  # type: ignore[index]
    assert (window.start, window.end) == (1320, 390)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """
            cameras:
              front:
                source: rtsp://10.0.0.5/live
                detect_fsp: 5
            """,
            "cfg.yaml:5:5: cameras.front.detect_fsp: unknown key 'detect_fsp'; did you mean 'detect_fps'?",
            id="unknown-key",
        ),
        pytest.param(
            """
            cameras:
              front:
                source: rtsp://10.0.0.5/live
                detect_fps: lots
            """,
            "cfg.yaml:5:17: cameras.front.detect_fps: ",
            id="wrong-type",
        ),
        pytest.param(
            """
            cameras:
              front:
                source: rtsp://10.0.0.5/live
                zones:
                  porch: [[0.1, 0.5], [0.4, 0.5], [1.4, 1.0]]
            """,
            "cfg.yaml:6:14: cameras.front.zones.porch: point 2 [1.4, 1.0] is outside 0..1",
            id="polygon-out-of-frame",
        ),
        pytest.param(
            """
            cameras:
              front:
                source: rtsp://10.0.0.5/live
                zones:
                  bow: [[0, 0], [1, 1], [1, 0], [0, 1]]
            """,
            "cfg.yaml:6:12: cameras.front.zones.bow: polygon edges cross each other",
            id="polygon-self-crossing",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4}
            rules:
              - name: r
                cooldown: 5 minutes
            """,
            "cfg.yaml:6:15: rules[0].cooldown: '5 minutes' is not a duration",
            id="bad-duration",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4}
            rules:
              - name: r
                min_dwell: 10
            """,
            "cfg.yaml:6:16: rules[0].min_dwell: write a unit, e.g. '10s'",
            id="duration-without-unit",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4}
            rules:
              - name: r
                schedule: [{days: [mon], from: "22:00", to: "25:30"}]
            """,
            "cfg.yaml:6:49: rules[0].schedule[0].to: '25:30' is not a time of day",
            id="bad-schedule-time",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4}
            rules:
              - name: r
                schedule: [{days: [mon, someday], from: "22:00", to: "06:00"}]
            """,
            "cfg.yaml:6:29: rules[0].schedule[0].days[1]: ",
            id="bad-schedule-day",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4}
            rules:
              - name: r
                schedule:
                  - from: "08:00"
                    to: "08:00"
            """,
            "cfg.yaml:7:9: rules[0].schedule[0]: 'from' equals 'to'",
            id="empty-schedule-window",
        ),
        pytest.param(
            """
            cameras:
              front:
                source: rtsp://10.0.0.5/live
              front:
                source: rtsp://10.0.0.6/live
            """,
            "cfg.yaml:5:3: cameras.front: duplicate key 'front' (first written at line 3)",
            id="duplicate-camera",
        ),
        pytest.param(
            """
            cameras:
              front:
                source: a.mp4
               detect_fps: 5
            """,
            "cfg.yaml:5:",
            id="yaml-syntax",
        ),
        pytest.param(
            """
            cameras:
              front:
                detect_fps: 5
            """,
            "cfg.yaml:4:5: cameras.front.source: required key is missing",
            id="missing-source",
        ),
        pytest.param(
            """
            cameras:
              front:
                source: "exec:/bin/sh -c 'curl evil'"
            """,
            "cfg.yaml:4:13: cameras.front.source: 'exec:' sources are not allowed",
            id="exec-source",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4, zones: {porch: [[0, 0], [1, 0], [1, 1]]}}
            rules:
              - name: r
                cameras: [front, back]
            """,
            "cfg.yaml:6:22: rules[0].cameras[1]: unknown camera 'back'",
            id="rule-unknown-camera",
        ),
        pytest.param(
            """
            cameras:
              front: {source: a.mp4, zones: {porch: [[0, 0], [1, 0], [1, 1]]}}
            rules:
              - name: r
                zones: [prch]
                objects: [persn]
            """,
            "cfg.yaml:6:13: rules[0].zones[0]: unknown zone 'prch' on the rule's cameras; did you mean 'porch'?",
            id="rule-unknown-zone",
        ),
        pytest.param(
            """
            node_id: Garage Pi
            cameras: {a: {source: a.mp4}}
            """,
            "cfg.yaml:2:10: node_id: ",
            id="bad-node-id",
        ),
        pytest.param(
            """
            cameras: {a: {source: a.mp4}}
            timezone: Mars/Olympus
            """,
            "cfg.yaml:3:11: timezone: unknown time zone 'Mars/Olympus'",
            id="bad-timezone",
        ),
    ],
)
def test_broken_config_is_reported_at_its_line_and_column(text: str, expected: str) -> None:
    lines = errors(text)
    assert any(line.startswith(expected) for line in lines), lines


def test_every_problem_is_reported_in_file_order() -> None:
    lines = errors(
        """
        cameras:
          front:
            source: a.mp4
            detect_fps: -1
        detector: {type: tpu}
        mode: holiday
        """
    )
    assert [line.split(":")[1] for line in lines] == ["5", "6", "7"]


def test_unknown_object_label_is_an_error_unless_a_custom_label_map_is_given() -> None:
    text = "cameras: {a: {source: a.mp4}}\nrules: [{name: r, objects: [persn, vehicle]}]\n"
    assert errors(text) == ["cfg.yaml:2:29: rules[0].objects[0]: unknown object 'persn'; did you mean 'person'?"]
    config = parse_config(text + "detector: {labels: /etc/edgewatch/labels.txt}\n")
    assert config.rules[0].objects == ("persn", "vehicle")


def test_empty_and_non_mapping_documents() -> None:
    assert errors("") == ["cfg.yaml:1:1: cameras: the config is empty; `cameras` is required"]
    assert errors("- a\n- b\n")[0].startswith("cfg.yaml:1:1: (document): ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert caught.value.lines()[0].startswith(f"{tmp_path / 'nope.yaml'}:1:1: (file): cannot read")


def test_error_messages_never_echo_camera_credentials() -> None:
    lines = errors(
        """
        cameras:
          front:
            source: rtsp://admin:hunter2@10.0.0.5/live
            detect_fps: 99
        """
    )
    assert lines
    assert not any("hunter2" in line for line in lines)


# --- objects: -------------------------------------------------------------------------------


def test_objects_section_defaults_and_frigate_shaped_values() -> None:
    default = parse_config("cameras: {a: {source: a.mp4}}\n")
    assert default.objects.track == DEFAULT_TRACK
    assert default.objects.filters == {}
    config = parse_config(
        textwrap.dedent(
            """
            cameras: {a: {source: a.mp4}}
            objects:
              track: [person, vehicle, dog]
              filters:
                person: {min_score: 0.5, threshold: 0.7}
                vehicle: {threshold: 0.6}
                sports ball: {min_score: 0.6}
            rules: [{name: r}]
            """
        )
    )
    assert config.objects.track == ("person", "vehicle", "dog")
    person = config.objects.filters["person"]
    assert (person.min_score, person.threshold) == (0.5, 0.7)
    assert config.objects.filters["vehicle"].min_score is None
    assert config.objects.filters["sports ball"].min_score == 0.6
    assert config.rules[0].min_score is None  # the object's own threshold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "objects:\n  track: [person, vehicles]\n",
            "cfg.yaml:3:19: objects.track[1]: unknown object 'vehicles'; did you mean 'vehicle'?",
            id="unknown-track-label",
        ),
        pytest.param(
            "objects:\n  filters:\n    persn: {threshold: 0.7}\n",
            "cfg.yaml:4:5: objects.filters.persn: unknown object 'persn'; did you mean 'person'?",
            id="unknown-filter-label",
        ),
        pytest.param(
            "objects:\n  filters:\n    person: {min_score: 0.8, threshold: 0.7}\n",
            "cfg.yaml:4:13: objects.filters.person: threshold (0.7) must be at least min_score (0.8)",
            id="threshold-under-min-score",
        ),
        pytest.param(
            "objects:\n  filters:\n    vehicle: {min_score: 0.6}\n    car: {threshold: 0.5}\n",
            "cfg.yaml:5:5: objects.filters.car: threshold (0.5) must be at least min_score (0.6), "
            "one of them set here and the other for its group 'vehicle'",
            id="threshold-under-the-groups-min-score",
        ),
        pytest.param(
            "objects:\n  filters:\n    dog: {threshold: 1.5}\n",
            "cfg.yaml:4:22: objects.filters.dog.threshold: Input should be less than or equal to 1",
            id="threshold-range",
        ),
        pytest.param(
            "objects:\n  filters:\n    dog: {min_scor: 0.5}\n",
            "cfg.yaml:4:11: objects.filters.dog.min_scor: unknown key 'min_scor'; did you mean 'min_score'?",
            id="unknown-filter-key",
        ),
        pytest.param(
            "objects:\n  trak: [person]\n",
            "cfg.yaml:3:3: objects.trak: unknown key 'trak'; did you mean 'track'?",
            id="unknown-objects-key",
        ),
        pytest.param(
            "rules: [{name: r, min_score: -0.1}]\n",
            "cfg.yaml:2:30: rules[0].min_score: Input should be greater than or equal to 0",
            id="rule-min-score-range",
        ),
    ],
)
def test_broken_objects_section_is_reported_at_its_line_and_column(text: str, expected: str) -> None:
    lines = errors("cameras: {a: {source: a.mp4}}\n" + text)
    assert lines == [expected]


def test_unknown_objects_labels_are_allowed_with_a_custom_label_map() -> None:
    text = "cameras: {a: {source: a.mp4}}\nobjects: {track: [raccoon], filters: {fox: {threshold: 0.8}}}\n"
    assert errors(text) == [
        "cfg.yaml:2:19: objects.track[0]: unknown object 'raccoon'",
        "cfg.yaml:2:39: objects.filters.fox: unknown object 'fox'",  # at the key
    ]
    config = parse_config(text + "detector: {labels: /etc/edgewatch/labels.txt}\n")
    assert config.objects.track == ("raccoon",)
    assert set(config.objects.filters) == {"fox"}
