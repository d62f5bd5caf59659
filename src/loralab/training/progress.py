"""Honest progress: elapsed time across resumes, tokens per second, and an ETA as a range.

The ETA uses only step times measured in this session, in a moving window, so it is right after
a resume (the steps done before the resume took no time in this process) and it follows a run
that speeds up or slows down. The first step of a session (warm-up, allocator growth) is dropped
from the window as soon as there are others.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["Eta", "StepClock"]


@dataclass(frozen=True)
class Eta:
    """Seconds left: ``seconds`` from the mean step time, ``low``/``high`` from the quartiles."""

    seconds: float
    low: float
    high: float
    basis: str


class StepClock:
    """Times optimizer steps and turns them into elapsed time, ETA and tokens per second.

    Args:
        window: how many recent steps the moving average uses.
        prior_elapsed: training seconds spent before a resume (from the checkpoint marker).
        clock: a monotonic clock (injectable for tests).
    """

    def __init__(self, window: int = 20, prior_elapsed: float = 0.0, clock=time.monotonic):
        self._clock = clock
        self._durations: deque[float] = deque(maxlen=window)
        self._first_dropped = False
        self.prior_elapsed = prior_elapsed
        self._session_start: float | None = None
        self._last_tick: float | None = None
        self._last_tokens: tuple[float, float] | None = None  # (time, cumulative tokens)

    def start(self) -> None:
        """Call when the training loop starts (after model, data and trainer are ready)."""
        now = self._clock()
        self._session_start = now
        self._last_tick = now
        self._last_tokens = (now, 0.0)

    def tick(self) -> None:
        """Call once per finished optimizer step."""
        now = self._clock()
        if self._last_tick is None:
            self.start()
            return
        duration = now - self._last_tick
        self._last_tick = now
        if len(self._durations) == 1 and not self._first_dropped:
            # The session's first step includes warm-up; replace it once a steady step exists.
            self._durations.clear()
            self._first_dropped = True
        self._durations.append(duration)

    @property
    def elapsed(self) -> float:
        """Training seconds so far, including those before a resume."""
        if self._session_start is None:
            return self.prior_elapsed
        return self.prior_elapsed + (self._clock() - self._session_start)

    def eta(self, step: int, total_steps: int) -> Eta | None:
        """Seconds left for ``total_steps - step`` steps, or None before the first measured step."""
        if not self._durations:
            return None
        remaining = max(total_steps - step, 0)
        times = list(self._durations)
        mean = statistics.fmean(times)
        if len(times) >= 4:
            q1, _, q3 = statistics.quantiles(times, n=4)
        else:
            q1, q3 = min(times), max(times)
        n = len(times)
        basis = f"mean of the last {n} step{'s' if n != 1 else ''} ({mean:.2f} s/step)"
        return Eta(remaining * mean, remaining * q1, remaining * q3, basis)

    def tokens_per_second(self, cumulative_tokens: float) -> float | None:
        """Tokens/s since the previous call, from the trainer's running token count this session."""
        now = self._clock()
        if self._last_tokens is None:
            self._last_tokens = (now, cumulative_tokens)
            return None
        then, before = self._last_tokens
        self._last_tokens = (now, cumulative_tokens)
        if now <= then or cumulative_tokens < before:
            return None
        return (cumulative_tokens - before) / (now - then)
