"""RuleEngine semantics, one behaviour per test, on synthetic tracks over a 0.2 s frame timeline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.analysis.parking import SPOT_MEMORY
from app.config import CameraConfig, Mode, RuleConfig
from app.domain import Alert, Box, Track
from app.rules import RuleEngine

W, H = 1000, 1000
SIZE = (W, H)
DT = 0.2  # 5 detect fps
LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()  # Tuesday noon; London is on UTC in winter

FRONT = CameraConfig.model_validate(
    {
        "source": "rtsp://192.168.1.20/stream",
        "zones": {
            "porch": [[0.1, 0.5], [0.5, 0.5], [0.5, 1.0], [0.1, 1.0]],
            "drive": [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]],
            "path": [[0.4, 0.2], [0.6, 0.2], [0.6, 0.45], [0.4, 0.45]],
        },
        "motion": {
            "mask": [
                [[0.8, 0.0], [1.0, 0.0], [1.0, 0.3], [0.8, 0.3]],  # a tree
                [[0.9, 0.9], [1.0, 0.9], [1.0, 1.0], [0.9, 1.0]],  # a flag over the drive's corner
            ]
        },
    }
)
BACK = CameraConfig.model_validate(
    {"source": "rtsp://192.168.1.21/stream", "zones": {"garden": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}}
)

# Bottom-centre points (normalized)
PORCH = (0.3, 0.8)
PORCH_2 = (0.2, 0.7)
DRIVE = (0.7, 0.8)
STREET = (0.3, 0.3)  # in no zone, not masked
TREE = (0.9, 0.2)  # under the tree mask
DRIVE_FLAG = (0.95, 0.95)  # in the drive zone, and under the flag mask

Scene = Callable[[float], list[Track]]


def rule(name: str = "r", **fields: Any) -> RuleConfig:
    return RuleConfig.model_validate({"name": name, **fields})


def make_engine(*rules: RuleConfig, mode: Mode = Mode.AWAY) -> RuleEngine:
    return RuleEngine(rules, {"front": FRONT, "back": BACK}, LONDON, mode)


def obj(
    tid: str,
    at: tuple[float, float],
    *,
    label: str = "person",
    confirmed: bool = True,
    stationary: bool = False,
    top: float = 0.9,
    height: float = 0.2,
) -> Track:
    """A track whose box has its bottom-centre at `at` (normalized)."""
    x, y = at
    box = Box((x - 0.05) * W, (y - height) * H, (x + 0.05) * W, y * H)
    # first/last_seen are on the pipeline's monotonic clock, far from epoch: mixing them up shows.
    return Track(tid, label, top - 0.1, top, box, 5.0, 9.0, 10, confirmed, stationary)


def play(
    engine: RuleEngine,
    start: float,
    seconds: float,
    scene: Scene,
    camera: str = "front",
    event_ids: Mapping[str, str] | None = None,
) -> list[Alert]:
    """Evaluate one frame every DT from `start` (inclusive) for `seconds`; scene(t) = tracks at t (s from T0)."""
    alerts: list[Alert] = []
    for k in range(round(seconds / DT)):
        now = start + k * DT
        # Epoch floats carry ~0.2 µs: round so scene thresholds like `t < 1.8` mean what they say.
        alerts += engine.evaluate(camera, scene(round(now - T0, 6)), SIZE, now, event_ids or {})
    return alerts


def at(t0: float) -> float:
    return T0 + t0


# --- alert contents -------------------------------------------------------------------------


def test_alert_fields() -> None:
    engine = make_engine(rule("porch_watch", zones=["porch", "path"], severity="info"))
    alerts = play(engine, T0, 3, lambda _t: [obj("front-1", PORCH)], event_ids={"front-1": "1764000000000-front-1"})
    assert len(alerts) == 1
    a = alerts[0]
    assert a.id == "1764000000000-front-1:porch_watch"
    assert a.event_id == "1764000000000-front-1"
    assert (a.rule, a.camera, a.label, a.severity) == ("porch_watch", "front", "person", "info")
    assert a.score == pytest.approx(0.9)  # top_score, not the latest score (0.8)
    assert a.box == pytest.approx((0.25, 0.6, 0.35, 0.8))
    assert a.zones == ("porch",)  # the rule's zones the object is in
    assert a.started_at == T0  # the engine's first look, on the epoch clock (not Track.first_seen)
    assert a.fired_at == pytest.approx(at(1.0))  # default min_dwell 1 s


def test_event_id_falls_back_to_track_id_and_box_is_clipped() -> None:
    engine = make_engine(rule("any", min_dwell="0s"))
    track = Track("front-7", "person", 0.9, 0.9, Box(-50, 700, 120, 1100), 0.0, 0.0, 5, True, False)
    [a] = engine.evaluate("front", [track], SIZE, T0, {})
    assert a.id == "front-7:any"
    assert a.event_id == "front-7"
    assert a.box == (0.0, 0.7, 0.12, 1.0)
    assert a.zones == ()  # a rule without zones names none


def test_alert_zones_are_the_rules_zones_the_object_is_in() -> None:
    edge = (0.5, 0.8)  # on the edge porch and drive share: in both (boundaries are inclusive)
    engine = make_engine(
        rule("both", zones=["drive", "path", "porch"]),
        rule("porch_only", zones=["porch"]),
        rule("anywhere"),
    )
    alerts = {a.rule: a.zones for a in play(engine, T0, 2, lambda _t: [obj("front-1", edge)])}
    assert alerts == {"both": ("drive", "porch"), "porch_only": ("porch",), "anywhere": ()}


def test_started_at_is_first_look_not_first_alertable_frame() -> None:
    engine = make_engine(rule(zones=["porch"]))
    alerts = play(engine, T0, 10, lambda t: [obj("front-1", STREET if t < 5 else PORCH)])
    assert [(a.started_at, round(a.fired_at - T0, 3)) for a in alerts] == [(T0, 6.0)]


# --- which tracks and labels ------------------------------------------------------------------


def test_only_confirmed_tracks_fire() -> None:
    engine = make_engine(rule(zones=["porch"]))
    alerts = play(engine, T0, 10, lambda t: [obj("front-1", PORCH, confirmed=t >= 4)])
    # The dwell clock ran while it was unconfirmed: it fires as soon as it is confirmed.
    assert [round(a.fired_at - T0, 3) for a in alerts] == [4.0]
    never = make_engine(rule(zones=["porch"]))
    assert play(never, T0, 10, lambda _t: [obj("front-1", PORCH, confirmed=False)]) == []


@pytest.mark.parametrize(
    ("objects", "label", "fires"),
    [
        (["vehicle"], "truck", True),
        (["vehicle"], "car", True),
        (["vehicle"], "motorcycle", True),
        (["vehicle"], "person", False),
        (["vehicle"], "bicycle", False),
        (["animal"], "dog", True),
        (["animal"], "person", False),
        (["car"], "truck", False),
        (["person", "cat"], "cat", True),
        (["person"], "dog", False),
    ],
)
def test_labels_and_groups(objects: list[str], label: str, fires: bool) -> None:
    engine = make_engine(rule(objects=objects))
    alerts = play(engine, T0, 3, lambda _t: [obj("front-1", DRIVE, label=label)])
    assert len(alerts) == (1 if fires else 0)


def test_min_score_is_inclusive() -> None:
    low = make_engine(rule(min_score=0.6))
    assert play(low, T0, 3, lambda _t: [obj("front-1", PORCH, top=0.59)]) == []
    exact = make_engine(rule(min_score=0.6))
    assert len(play(exact, T0, 3, lambda _t: [obj("front-1", PORCH, top=0.6)])) == 1


def test_without_min_score_a_rule_needs_the_threshold_of_the_tracks_label() -> None:
    thresholds = {"person": 0.55, "bird": 0.7}

    def make(*rules: RuleConfig) -> RuleEngine:
        return RuleEngine(rules, {"front": FRONT}, LONDON, Mode.AWAY, threshold=thresholds.__getitem__)

    assert rule("any").min_score is None  # the default
    engine = make(rule("any", objects=["person", "bird"]))
    scene = [obj("front-1", PORCH, top=0.6), obj("front-2", DRIVE, label="bird", top=0.6)]
    fired = play(engine, T0, 3, lambda _t: scene)
    assert [(a.label, round(a.score, 6)) for a in fired] == [("person", 0.6)]  # 0.6 < bird's 0.7
    sure_bird = play(make(rule("any", objects=["bird"])), T0, 3, lambda _t: [obj("front-2", DRIVE, label="bird")])
    assert [a.label for a in sure_bird] == ["bird"]  # top 0.9 >= 0.7
    # An explicit min_score still overrides the label's threshold, both ways.
    strict = play(make(rule("any", min_score=0.65)), T0, 3, lambda _t: [obj("front-1", PORCH, top=0.6)])
    assert strict == []
    lenient = make(rule("any", objects=["bird"], min_score=0.5))
    assert len(play(lenient, T0, 3, lambda _t: [obj("front-2", DRIVE, label="bird", top=0.6)])) == 1


def test_without_a_threshold_function_the_default_table_applies() -> None:
    engine = make_engine(rule("any", objects=["sports ball", "person"]))
    scene = [obj("front-1", PORCH, top=0.6), obj("front-2", DRIVE, label="sports ball", top=0.6)]
    assert [a.label for a in play(engine, T0, 3, lambda _t: scene)] == ["person"]


def test_score_rising_later_fires_then() -> None:
    engine = make_engine(rule(min_score=0.8))
    alerts = play(engine, T0, 6, lambda t: [obj("front-1", PORCH, top=0.7 if t < 3 else 0.85)])
    assert [round(a.fired_at - T0, 3) for a in alerts] == [3.0]


def test_rule_cameras() -> None:
    engine = make_engine(rule("front_only", cameras=["front"], zones=None), rule("everywhere"))
    front = play(engine, T0, 3, lambda _t: [obj("front-1", PORCH)], camera="front")
    back = play(engine, T0, 3, lambda _t: [obj("back-1", PORCH)], camera="back")
    assert sorted(a.rule for a in front) == ["everywhere", "front_only"]
    assert [a.rule for a in back] == ["everywhere"]


# --- where --------------------------------------------------------------------------------------


def test_zone_is_judged_by_bottom_centre() -> None:
    engine = make_engine(rule(zones=["path"]))
    # Tall box: its top (y 0.35) is in the path zone (y 0.2-0.45), its feet (y 0.9) are not.
    tall = obj("front-1", (0.5, 0.9), height=0.55)
    assert tall.box.y1 / H == pytest.approx(0.35)
    assert play(engine, T0, 5, lambda _t: [tall]) == []
    # Feet in the path (y 0.4) with the head far above it: in.
    feet_in = obj("front-2", (0.5, 0.4), height=0.35)
    assert len(play(engine, at(10), 5, lambda _t: [feet_in])) == 1


def test_any_listed_zone_and_moving_between_them_keeps_dwell() -> None:
    engine = make_engine(rule(zones=["porch", "drive"], min_dwell="2s"))
    # Porch for 1.2 s, then the drive: still continuously in the rule's area.
    alerts = play(engine, T0, 5, lambda t: [obj("front-1", PORCH if t < 1.2 else DRIVE)])
    assert [(round(a.fired_at - T0, 3), a.zones) for a in alerts] == [(2.0, ("drive",))]


def test_zone_the_camera_lacks_never_matches_there() -> None:
    engine = make_engine(rule("porch_rule", zones=["porch"]), rule("both", zones=["porch", "garden"]))
    # "back" has no porch: the porch-only rule does not apply there (and is not armed there).
    back = play(engine, T0, 3, lambda _t: [obj("back-1", PORCH)], camera="back")
    assert [(a.rule, a.zones) for a in back] == [("both", ("garden",))]
    assert engine.active_rules("back", T0) == ["both"]
    assert engine.active_rules("front", T0) == ["porch_rule", "both"]


def test_outside_every_zone_does_not_fire() -> None:
    engine = make_engine(rule(zones=["porch", "drive", "path"]))
    assert play(engine, T0, 5, lambda _t: [obj("front-1", STREET)]) == []


def test_no_zones_means_anywhere_not_masked() -> None:
    engine = make_engine(rule(zones=None))
    assert play(engine, T0, 5, lambda _t: [obj("front-1", TREE)]) == []
    # Stepping out from under the mask starts the dwell clock.
    alerts = play(engine, at(5), 5, lambda t: [obj("front-1", TREE if t < 6 else STREET)])
    assert [round(a.fired_at - T0, 3) for a in alerts] == [7.0]


def test_mask_beats_zone() -> None:
    engine = make_engine(rule(zones=["drive"], min_dwell="0s"))
    assert play(engine, T0, 5, lambda _t: [obj("front-1", DRIVE_FLAG)]) == []
    assert len(play(engine, at(10), 1, lambda _t: [obj("front-2", DRIVE)])) == 1


# --- dwell --------------------------------------------------------------------------------------


def test_leaving_before_min_dwell_does_not_fire() -> None:
    engine = make_engine(rule(zones=["porch"], min_dwell="2s"))
    # In the porch for 1.8 s, then on the street for good.
    assert play(engine, T0, 20, lambda t: [obj("front-1", PORCH if t < 1.8 else STREET)]) == []


def test_leaving_resets_the_dwell_clock() -> None:
    engine = make_engine(rule(zones=["porch"], min_dwell="2s"))
    # In 1.8 s, out 0.2 s, back in at 2.0 s: fires at 4.0 s, not at 2.0 s.
    alerts = play(engine, T0, 10, lambda t: [obj("front-1", STREET if 1.8 <= t < 2.0 else PORCH)])
    assert [round(a.fired_at - T0, 3) for a in alerts] == [4.0]


def test_zero_dwell_fires_on_first_frame() -> None:
    engine = make_engine(rule(min_dwell="0s"))
    assert [a.fired_at for a in play(engine, T0, 1, lambda _t: [obj("front-1", PORCH)])] == [T0]


# --- modes and schedules ------------------------------------------------------------------------


def test_disarmed_fires_nothing() -> None:
    engine = make_engine(rule(zones=None, min_dwell="0s", cooldown="0s"), mode=Mode.DISARMED)
    assert play(engine, T0, 5, lambda t: [obj(f"front-{int(t * 5)}", PORCH)]) == []
    assert engine.active_rules("front", T0) == []


def test_rule_modes_and_set_mode() -> None:
    engine = make_engine(rule("away_only", modes=["away", "night"]), mode=Mode.HOME)
    assert engine.mode is Mode.HOME
    before = engine.mode
    assert play(engine, T0, 5, lambda _t: [obj("front-1", PORCH)]) == []
    assert engine.active_rules("front", at(5)) == []
    engine.set_mode(Mode.AWAY, at(5))
    assert (before, engine.mode) == (Mode.HOME, Mode.AWAY)
    assert engine.active_rules("front", at(5)) == ["away_only"]
    # The person (moving, not parked) has been on the porch for 5 s: fires on the next frame.
    alerts = play(engine, at(5), 3, lambda _t: [obj("front-1", PORCH)])
    assert [a.fired_at for a in alerts] == [at(5)]


def test_disarming_silences_until_rearmed() -> None:
    engine = make_engine(rule(cooldown="0s"))
    engine.set_mode(Mode.DISARMED, T0)
    assert play(engine, T0, 5, lambda _t: [obj("front-1", PORCH)]) == []
    engine.set_mode(Mode.NIGHT, at(5))
    assert [a.fired_at for a in play(engine, at(5), 2, lambda _t: [obj("front-1", PORCH)])] == [at(5)]


def test_schedule_gates_the_rule() -> None:
    nights = [{"days": ["mon"], "from": "22:00", "to": "06:30"}]
    engine = make_engine(rule("night", schedule=nights, cooldown="0s", min_dwell="0s"))
    mon_2159 = datetime(2026, 11, 23, 21, 59, tzinfo=LONDON).timestamp()
    # A new person every frame from Monday 21:59 for two minutes: nothing before 22:00.
    alerts = play(engine, mon_2159, 120, lambda t: [obj(f"front-{round(t / DT)}", PORCH)])
    assert alerts
    assert min(a.fired_at for a in alerts) == pytest.approx(mon_2159 + 60)
    assert len(alerts) == 300  # one per frame from 22:00 to 22:01
    tue_0300 = datetime(2026, 11, 24, 3, 0, tzinfo=LONDON).timestamp()
    tue_0700 = datetime(2026, 11, 24, 7, 0, tzinfo=LONDON).timestamp()
    assert engine.active_rules("front", tue_0300) == ["night"]
    assert engine.active_rules("front", tue_0700) == []
    assert engine.evaluate("front", [obj("front-x", PORCH)], SIZE, tue_0700, {}) == []
    assert len(engine.evaluate("front", [obj("front-y", PORCH)], SIZE, tue_0300 + 3600, {})) == 1


def test_schedule_follows_the_engine_time_zone() -> None:
    evening = [{"from": "18:00", "to": "20:00"}]
    utc_18 = datetime(2026, 11, 24, 18, 30, tzinfo=UTC).timestamp()
    london = RuleEngine([rule(schedule=evening)], {"front": FRONT}, LONDON, Mode.AWAY)
    new_york = RuleEngine([rule(schedule=evening)], {"front": FRONT}, ZoneInfo("America/New_York"), Mode.AWAY)
    assert london.active_rules("front", utc_18) == ["r"]
    assert new_york.active_rules("front", utc_18) == []  # 13:30 there


def test_active_rules_lists_config_order() -> None:
    engine = make_engine(
        rule("b_all"),
        rule("a_home", modes=["home"]),
        rule("c_back", cameras=["back"]),
        rule("d_later", schedule=[{"from": "23:00", "to": "23:30"}]),
    )
    assert engine.active_rules("front", T0) == ["b_all"]
    assert engine.active_rules("back", T0) == ["b_all", "c_back"]
    assert engine.active_rules("front", datetime(2026, 11, 24, 23, 10, tzinfo=LONDON).timestamp()) == [
        "b_all",
        "d_later",
    ]
    engine.set_mode(Mode.HOME, T0)
    assert engine.active_rules("front", T0) == ["b_all", "a_home"]


# --- cooldown and once per object ---------------------------------------------------------------


def test_cooldown_per_rule_and_camera() -> None:
    engine = make_engine(rule("watch", cooldown="60s"), rule("other", cooldown="0s"))

    def scene(t: float) -> list[Track]:
        tracks = [obj("front-1", PORCH)] if t < 10 else []
        if 20 <= t < 40:
            tracks.append(obj("front-2", PORCH_2))  # second visitor, within the cooldown, leaves
        if t >= 70:
            tracks.append(obj("front-3", DRIVE))  # third, after the cooldown
        return tracks

    alerts = play(engine, T0, 80, scene)
    watch = [(a.event_id, round(a.fired_at - T0, 3)) for a in alerts if a.rule == "watch"]
    assert watch == [("front-1", 1.0), ("front-3", 71.0)]  # the second pass is not queued either
    other = [a.event_id for a in alerts if a.rule == "other"]
    assert other == ["front-1", "front-2", "front-3"]  # another rule's cooldown is its own

    # The same rule on another camera is not held by the front camera's cooldown.
    engine2 = make_engine(rule("watch", cooldown="60s"))
    assert len(play(engine2, T0, 2, lambda _t: [obj("front-1", PORCH)])) == 1
    assert len(play(engine2, at(2), 2, lambda _t: [obj("back-1", PORCH)], camera="back")) == 1
    assert play(engine2, at(4), 2, lambda _t: [obj("front-2", PORCH)]) == []


def test_object_still_qualifying_after_cooldown_fires_once_then() -> None:
    engine = make_engine(rule("watch", cooldown="60s"))

    def scene(t: float) -> list[Track]:
        return [obj("front-1", PORCH), *([obj("front-2", PORCH_2)] if t >= 10 else [])]

    alerts = play(engine, T0, 120, scene)
    assert [(a.event_id, round(a.fired_at - T0, 3)) for a in alerts] == [("front-1", 1.0), ("front-2", 61.0)]


def test_same_frame_objects_share_the_cooldown() -> None:
    two = lambda _t: [obj("front-1", PORCH), obj("front-2", DRIVE)]  # noqa: E731
    with_cooldown = make_engine(rule(min_dwell="0s", cooldown="30s"))
    assert [a.event_id for a in play(with_cooldown, T0, 5, two)] == ["front-1"]
    without = make_engine(rule(min_dwell="0s", cooldown="0s"))
    assert [a.event_id for a in play(without, T0, 5, two)] == ["front-1", "front-2"]


def test_once_per_object_even_without_cooldown() -> None:
    engine = make_engine(rule(zones=["porch"], cooldown="0s"))
    # Ten minutes on the porch, with a walk to the street and back in the middle.
    alerts = play(engine, T0, 600, lambda t: [obj("front-1", STREET if 300 <= t < 310 else PORCH)])
    assert len(alerts) == 1


def test_wall_clock_step_back_does_not_hold_alerts() -> None:
    engine = make_engine(rule(cooldown="60s"))
    assert len(play(engine, T0, 2, lambda _t: [obj("front-1", PORCH)])) == 1
    # NTP steps the clock back an hour: a new visitor alerts after its dwell, not an hour later.
    alerts = play(engine, at(-3600), 3, lambda _t: [obj("front-2", PORCH)])
    assert [round(a.fired_at - T0, 3) for a in alerts] == [-3599.0]


def test_wall_clock_step_back_restarts_the_dwell_clock() -> None:
    engine = make_engine(rule(zones=["porch"]))
    # On the porch since T0 but not yet confirmed when the clock steps back an hour.
    assert play(engine, T0, 0.4, lambda _t: [obj("front-1", PORCH, confirmed=False)]) == []
    alerts = play(engine, at(-3600), 3, lambda _t: [obj("front-1", PORCH)])
    assert [round(a.fired_at - T0, 3) for a in alerts] == [-3599.0]


# --- parked objects -----------------------------------------------------------------------------


def test_parked_at_engine_start_never_alerts_arrival_does() -> None:
    engine = make_engine(rule(objects=["vehicle"], zones=["drive"], cooldown="0s"))

    def scene(t: float) -> list[Track]:
        parked = obj("front-1", DRIVE, label="car", stationary=t < 30)  # drives off at 30 s, still in the drive
        tracks = [parked]
        if t >= 10:
            tracks.append(obj("front-2", (0.6, 0.9), label="truck"))
        return tracks

    alerts = play(engine, T0, 60, scene)
    assert [(a.event_id, round(a.fired_at - T0, 3)) for a in alerts] == [("front-2", 11.0)]


def test_parked_at_arm_time_never_alerts_new_arrival_does() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], zones=["drive"], modes=["away"]), mode=Mode.HOME)

    def scene(t: float) -> list[Track]:
        # Car 1 arrives while home (moving), parks at 10 s, leaves its spot at 100 s.
        tracks = [obj("front-1", DRIVE, label="car", stationary=10 <= t < 100)]
        if t >= 50:
            tracks.append(obj("front-2", (0.6, 0.9), label="car"))  # car 2 arrives after arming
        return tracks

    before = play(engine, T0, 20, scene)
    engine.set_mode(Mode.AWAY, at(20))
    after = play(engine, at(20), 200, scene)
    assert before == []
    assert [(a.event_id, round(a.fired_at - T0, 3)) for a in after] == [("front-2", 51.0)]


def test_arming_exempts_only_what_is_stationary_then() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], modes=["away"], cooldown="0s"), mode=Mode.HOME)
    scene = lambda _t: [obj("front-1", DRIVE, label="car", stationary=True), obj("front-2", PORCH, label="car")]  # noqa: E731
    play(engine, T0, 5, scene)
    engine.set_mode(Mode.AWAY, at(5))
    # The still-moving car was already in the area for 5 s: it fires at once; the parked one never.
    assert [(a.event_id, a.fired_at) for a in play(engine, at(5), 30, scene)] == [("front-2", at(5))]


def test_parked_when_schedule_opens_never_alerts() -> None:
    nights = [{"from": "22:00", "to": "06:30"}]
    engine = make_engine(rule("cars", objects=["vehicle"], zones=["drive"], schedule=nights))
    start = datetime(2026, 11, 24, 21, 50, tzinfo=LONDON).timestamp()

    def scene(t: float) -> list[Track]:
        rel = t - (start - T0)
        # Car 1 arrives at 21:50 moving, parks at 21:51, leaves its spot at 22:05.
        tracks = [obj("front-1", DRIVE, label="car", stationary=60 <= rel < 900)]
        if rel >= 1200:  # car 2 arrives at 22:10
            tracks.append(obj("front-2", (0.6, 0.9), label="car"))
        return tracks

    alerts = play(engine, start, 1500, scene)
    assert [(a.event_id, round(a.fired_at - start, 3)) for a in alerts] == [("front-2", 1201.0)]


def test_switching_between_two_arming_modes_is_not_an_arming() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], modes=["home", "away"], min_dwell="10s"), mode=Mode.HOME)
    # Moving in at 0 s, stationary from 5 s; home → away at 6 s: the rule was armed all along.
    scene = lambda t: [obj("front-1", DRIVE, label="car", stationary=t >= 5)]  # noqa: E731
    alerts = play(engine, T0, 6, scene)
    engine.set_mode(Mode.AWAY, at(6))
    alerts += play(engine, at(6), 10, scene)
    assert [round(a.fired_at - T0, 3) for a in alerts] == [10.0]


def test_rearming_after_disarm_exempts_what_parked_meanwhile() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="10s"))
    scene = lambda t: [obj("front-1", DRIVE, label="car", stationary=t >= 5)]  # noqa: E731
    play(engine, T0, 2, scene)
    engine.set_mode(Mode.DISARMED, at(2))
    play(engine, at(2), 8, scene)
    engine.set_mode(Mode.AWAY, at(10))
    assert play(engine, at(10), 60, scene) == []


def test_stationary_at_first_sight_is_exempt_from_every_rule() -> None:
    engine = make_engine(
        rule("cars", objects=["vehicle"], modes=["away"], cooldown="0s"),
        rule("anything", objects=["vehicle"], zones=["drive"], cooldown="0s"),
        mode=Mode.HOME,
    )

    def scene(t: float) -> list[Track]:
        # Already parked when the engine first sees it (t = 5), moves off later.
        return [obj("front-1", DRIVE, label="car", stationary=t < 20)] if t >= 5 else []

    alerts = play(engine, T0, 10, scene)
    engine.set_mode(Mode.AWAY, at(10))
    alerts += play(engine, at(10), 30, scene)
    assert alerts == []


# --- state --------------------------------------------------------------------------------------


def tracked(engine: RuleEngine, camera: str) -> int:
    return len(engine._cameras[camera].tracks)


def test_state_for_vanished_tracks_is_pruned() -> None:
    engine = make_engine(rule(zones=["porch"]), rule("b", zones=None))
    # A day of visitors at 5 fps, never more than three at a time, each 4 s long.
    sizes = []
    for k in range(20_000):
        now = T0 + k * DT
        n = k // 20
        tracks = [obj(f"front-{n - j}", PORCH) for j in range(3) if n - j >= 0]
        engine.evaluate("front", tracks, SIZE, now, {})
        sizes.append(tracked(engine, "front"))
    assert max(sizes) == 3
    engine.evaluate("back", [obj("back-1", PORCH)], SIZE, T0 + 20_000 * DT, {})
    assert tracked(engine, "front") == 3  # another camera's frame prunes only its own tracks
    engine.evaluate("front", [], SIZE, T0 + 20_001 * DT, {})
    assert tracked(engine, "front") == 0
    assert tracked(engine, "back") == 1


def test_forgotten_track_is_new_if_its_id_returns() -> None:
    engine = make_engine(rule(cooldown="0s"))
    first = play(engine, T0, 2, lambda _t: [obj("front-1", PORCH)])
    engine.evaluate("front", [], SIZE, at(2), {})
    again = play(engine, at(3), 2, lambda _t: [obj("front-1", PORCH)])
    assert [a.started_at for a in first] == [T0]
    assert [a.started_at for a in again] == [at(3)]


def test_bad_calls() -> None:
    engine = make_engine(rule())
    with pytest.raises(KeyError, match="garage"):
        engine.evaluate("garage", [], SIZE, T0, {})
    with pytest.raises(KeyError, match="garage"):
        engine.active_rules("garage", T0)
    with pytest.raises(ValueError, match="frame size"):
        engine.evaluate("front", [], (0, 720), T0, {})


# --- things that park --------------------------------------------------------------------------


def vehicle(tid: str, x: float, *, origin_x: float, stationary: bool = False, label: str = "car") -> Track:
    """A car-sized box with its bottom-centre at (x, 0.9); `origin_x` is where it was first seen."""
    box = Box((x - 0.15) * W, 0.6 * H, (x + 0.15) * W, 0.9 * H)
    origin = Box((origin_x - 0.15) * W, 0.6 * H, (origin_x + 0.15) * W, 0.9 * H)
    return Track(tid, label, 0.8, 0.9, box, 5.0, 9.0, 10, True, stationary, origin)


def test_a_car_parked_when_watching_starts_never_alerts_even_when_it_drives_off() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="0s"))

    def scene(t: float) -> list[Track]:
        if t < 30:  # parked where it was first seen; stationary once 10 s still
            return [vehicle("front-1", 0.7, origin_x=0.7, stationary=t >= 10)]
        return [vehicle("front-1", 0.7 - (t - 30) * 0.2, origin_x=0.7)]  # drives off to the left

    assert play(engine, T0, 34, scene) == []


def test_an_arriving_car_alerts_once_it_has_driven_in() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="0s"))

    def scene(t: float) -> list[Track]:
        x = min(0.1 + t * 0.1, 0.7)  # enters on the left, parks at 0.7 after 6 s
        return [vehicle("front-2", x, origin_x=0.1, stationary=t >= 16, label="truck" if t > 3 else "car")]

    alerts = play(engine, T0, 25, scene)
    assert [(a.rule, a.label) for a in alerts] == [("cars", "car")]
    assert alerts[0].fired_at == pytest.approx(at(1.6))  # half its box width (0.15) off its origin


def test_a_parked_car_found_again_after_the_detector_lost_it_does_not_alert() -> None:
    """A new track where the old one stood (the detector lost it at dusk for a minute)."""
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="0s"))

    def scene(t: float) -> list[Track]:
        if t < 5:
            return [vehicle("front-1", 0.5, origin_x=0.5)]
        if t < 65:
            return []
        return [vehicle("front-9", 0.5, origin_x=0.5, stationary=t >= 75)]

    assert play(engine, T0, 90, scene) == []


def test_a_parked_car_half_hidden_by_a_passer_by_has_not_moved() -> None:
    hidden = Track(
        "front-1", "car", 0.7, 0.9, Box(550, 600, 850, 900), 5.0, 9.0, 10, True, False, Box(400, 600, 850, 900)
    )
    assert not hidden.has_moved()
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="0s"))
    assert play(engine, T0, 5, lambda _t: [hidden]) == []


def test_a_person_standing_still_is_not_held_back_like_a_car() -> None:
    engine = make_engine(rule("door", objects=["person"], zones=["porch"]))
    still = obj("front-3", PORCH)
    still = replace(still, origin=still.box)
    assert not still.has_moved()
    assert len(play(engine, T0, 3, lambda _t: [still])) == 1


def test_a_parked_car_the_tracker_lost_behind_a_passer_by_is_found_again_and_never_alerts() -> None:
    """Track 1 stands at 0.6; a person hides it, the tracker starts track 2 on its visible half,
    which grows back to the whole car and later drives off: none of it is an arrival."""
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="0s"))
    whole = Box(450, 600, 750, 900)

    def scene(t: float) -> list[Track]:
        if t < 4:
            return [vehicle("front-1", 0.6, origin_x=0.6)]
        half = Box(600, 600, 750, 900)
        if t < 8:  # the visible half, then the whole car again, then it leaves
            return [Track("front-2", "car", 0.7, 0.8, half, 5.0, 9.0, 10, True, False, half)]
        box = whole if t < 12 else Box(whole.x1 - (t - 12) * 200, 600, whole.x2 - (t - 12) * 200, 900)
        return [Track("front-2", "car", 0.7, 0.8, box, 5.0, 9.0, 10, True, False, half)]

    assert play(engine, T0, 16, scene) == []


def test_a_spot_is_forgotten_after_a_while_and_a_car_arriving_there_alerts() -> None:
    engine = make_engine(rule("cars", objects=["vehicle"], min_dwell="0s"))
    assert play(engine, T0, 2, lambda _t: [vehicle("front-1", 0.6, origin_x=0.6)]) == []
    later = T0 + SPOT_MEMORY + 60

    def arriving(t: float) -> list[Track]:
        x = min(0.2 + (t - SPOT_MEMORY - 60) * 0.1, 0.6)
        return [vehicle("front-5", x, origin_x=0.2)]

    alerts = play(engine, later, 6, arriving)
    assert [a.label for a in alerts] == ["car"]
