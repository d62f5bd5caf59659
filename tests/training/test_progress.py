"""Progress maths: ETA from a moving window of this session's steps, elapsed across resumes."""

from __future__ import annotations

import pytest

from loralab.training.progress import StepClock


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_eta_ignores_warmup_step_and_uses_recent_steps():
    fake = FakeClock()
    clock = StepClock(window=5, clock=fake)
    clock.start()
    assert clock.eta(0, 10) is None

    fake.now += 30.0  # first step: warm-up
    clock.tick()
    first = clock.eta(1, 10)
    assert first is not None and first.seconds == pytest.approx(9 * 30.0)

    for _ in range(4):
        fake.now += 2.0
        clock.tick()
    eta = clock.eta(5, 10)

    assert eta.seconds == pytest.approx(5 * 2.0)
    assert eta.low <= eta.seconds <= eta.high
    assert "last 4 steps" in eta.basis


def test_elapsed_and_eta_are_right_after_a_resume():
    fake = FakeClock()
    # Resumed at step 50 of 100 after 500 s of training in earlier sessions.
    clock = StepClock(prior_elapsed=500.0, clock=fake)
    clock.start()
    for _ in range(3):
        fake.now += 4.0
        clock.tick()

    assert clock.elapsed == pytest.approx(512.0)
    # 47 steps left at 4 s each; not the 10 s/step that 500 s / 50 steps would suggest.
    assert clock.eta(53, 100).seconds == pytest.approx(47 * 4.0)


def test_tokens_per_second_from_cumulative_count():
    fake = FakeClock()
    clock = StepClock(clock=fake)
    clock.start()
    fake.now += 2.0
    assert clock.tokens_per_second(1000) == pytest.approx(500.0)
    fake.now += 1.0
    assert clock.tokens_per_second(1600) == pytest.approx(600.0)
    assert clock.tokens_per_second(10) is None  # a counter reset is not a speed
