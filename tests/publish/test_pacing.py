"""Debounce and Throttle on a hand-driven clock: the timing rules the flood tests rely on."""

from __future__ import annotations

from app.publish.pacing import Debounce, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_debounce_coalesces_a_burst_and_keeps_its_spacing() -> None:
    clock = Clock()
    debounce = Debounce(delay=1.0, spacing=10.0, clock=clock)
    assert not debounce.take()  # nothing asked
    for _ in range(50):
        debounce.request()
    clock.now += 0.5
    assert not debounce.take()  # within the delay
    clock.now += 0.5
    # once for the whole burst
    assert debounce.take()
    assert not debounce.take()
    debounce.request()
    clock.now += 2.0
    assert not debounce.take()  # 2 s after the last run: the spacing holds it back ...
    clock.now += 8.0
    assert debounce.take()  # ... until 10 s after it


def test_work_done_for_another_reason_answers_a_pending_request() -> None:
    clock = Clock()
    debounce = Debounce(delay=1.0, spacing=10.0, clock=clock)
    debounce.request()
    debounce.ran()  # e.g. a reconnect published discovery anyway
    clock.now += 60.0
    assert not debounce.take()


def test_throttle_passes_one_per_window_and_counts_the_rest() -> None:
    clock = Clock()
    throttle = Throttle(every=60.0, clock=clock)
    assert throttle.allow() == 0
    assert [throttle.allow() for _ in range(5)] == [None] * 5
    clock.now += 59.0
    assert throttle.allow() is None
    clock.now += 1.0
    assert throttle.allow() == 6  # six held back since the last one that passed
    clock.now += 61.0
    assert throttle.allow() == 0
