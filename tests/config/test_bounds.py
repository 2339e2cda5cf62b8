"""YAML that explodes inside the 1 MiB file limit: alias bombs, deep nesting, many integer
keys. `edgewatch check-config` as a real subprocess, its time and peak memory measured."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from app.config import ConfigError, parse_config
from app.config.yamlbounds import MAX_ALIASED_VALUES, MAX_DEPTH
from tests.support.limits import run_measured

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))
CAMERAS = "cameras: {door: {source: /srv/door.mp4}}\n"


def billion_laughs() -> str:
    """Nine levels of nine aliases to the level below: 9^9 values in about 400 bytes."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    return "\n".join(lines) + "\n" + CAMERAS


def check_config(path: Path) -> tuple[int, str, float, float]:
    done = run_measured([EDGEWATCH, "check-config", str(path)], timeout=60)
    return done.returncode, done.stderr + done.stdout, done.seconds, done.peak_rss_mb


def test_an_alias_bomb_is_refused_at_its_line_fast_and_small(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    assert len(bomb.read_bytes()) < 500
    code, output, seconds, peak_mb = check_config(bomb)
    # a1..a3 stand for 90 + 819 + 7380 values; a4's first alias (7381 more) goes past 10000.
    assert code == 2, output[-2000:]
    assert f"{bomb}:5:10: (yaml): aliases expand to more than {MAX_ALIASED_VALUES} values" in output, output
    assert "Traceback" not in output
    assert seconds < 2.0, (seconds, peak_mb)
    assert peak_mb <= 200, (seconds, peak_mb)


def test_deep_nesting_is_refused_at_its_line_not_a_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("cameras: " + "[" * 100_000 + "\n")
    code, output, seconds, peak_mb = check_config(deep)
    assert code == 2, output[-2000:]
    # the root mapping is level 1, `cameras:`' value level 2: the 32nd `[` is level 33
    assert f"{deep}:1:41: (yaml): nested more than {MAX_DEPTH} levels deep" in output, output
    assert "RecursionError" not in output
    assert "Traceback" not in output
    assert seconds < 2.0, (seconds, peak_mb)
    assert peak_mb <= 200, (seconds, peak_mb)


def test_thousands_of_integer_keys_are_checked_in_linear_time(tmp_path: Path) -> None:
    """Each integer key was looked up by re-parsing every key of its mapping: 3000 took 94 s."""
    many = tmp_path / "many.yaml"
    many.write_text(CAMERAS + "storage:\n" + "".join(f"  {n}: {n}\n" for n in range(3000)))
    code, output, seconds, _ = check_config(many)
    assert code == 2, output[-2000:]
    assert f"{many}:3:3: storage[0]: Keys should be strings" in output, output[-2000:]
    assert seconds < 5.0, seconds


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "cfg.yaml")
    return caught.value.lines()


def test_anchors_for_shared_values_still_work_and_the_bounds_sit_just_above_them() -> None:
    """Zones and motion settings shared with anchors and merge keys load as before; the same
    file with its shared zone grown past the alias budget is refused where the alias is."""
    shared = """
        cameras:
          front: {source: /srv/front.mp4, motion: &calm {threshold: 30, min_area: 0.002},
                  zones: {porch: &porch [[0.1, 0.5], [0.4, 0.5], [0.4, 1.0], [0.1, 1.0]]}}
          back: {source: /srv/back.mp4, motion: {<<: *calm, threshold: 40}, zones: {porch: *porch}}
        """
    config = parse_config(textwrap.dedent(shared))
    assert config.cameras["back"].zones["porch"] == config.cameras["front"].zones["porch"]
    assert (config.cameras["back"].motion.threshold, config.cameras["back"].motion.min_area) == (40, 0.002)

    huge = ", ".join("[0.5, 0.5]" for _ in range(MAX_ALIASED_VALUES // 3 + 1))  # 3 values a point
    text = f"cameras:\n  a: {{source: /a.mp4, zones: {{z: &z [{huge}]}}}}\n  b: {{source: /b.mp4, zones: {{z: *z}}}}\n"
    lines = errors(text)
    assert lines == [f"cfg.yaml:3:34: (yaml): aliases expand to more than {MAX_ALIASED_VALUES} values by here "
                     "(an alias bomb?); write the values out or use fewer aliases"]  # fmt: skip


def test_recursive_and_deeply_nesting_aliases_are_refused_where_they_are_used() -> None:
    assert errors("cameras: &loop {a: *loop}\n") == [
        "cfg.yaml:1:20: (yaml): alias *loop is used inside the node it names (a recursive structure)"
    ]
    # Each anchor nests the one before 10 levels deeper: few values, but the depth adds up.
    lines = ["l0: &l0 x"] + [f"l{n}: &l{n} {'[' * 10}*l{n - 1}{']' * 10}" for n in range(1, 5)]
    found = errors("\n".join(lines) + "\n" + CAMERAS)
    assert found == ["cfg.yaml:5:19: (yaml): alias *l3 nests the document more than 32 levels deep"]  # l4: 42 levels
