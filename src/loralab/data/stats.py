"""Length statistics in bounded memory: quantiles and a histogram from counts per length.

Lengths are counted per value (exact below 4096, within 0.4% above), so memory grows with the
number of distinct lengths, not with the number of rows.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

__all__ = ["HistogramBin", "LengthCounter", "LengthStats"]

_EXACT_BELOW = 4096


class HistogramBin(BaseModel):
    """Rows whose length is in ``[start, end)``."""

    start: int
    end: int
    count: int


class LengthStats(BaseModel):
    """Lengths of the valid rows (characters or tokens)."""

    count: int
    min: int
    max: int
    mean: float
    p50: int
    p95: int
    histogram: list[HistogramBin]


class LengthCounter:
    """Counts lengths; gives quantiles and a fixed-width histogram at the end."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total = 0
        self.min: int | None = None
        self.max = 0

    def add(self, length: int) -> None:
        self.n += 1
        self.total += length
        self.min = length if self.min is None else min(self.min, length)
        self.max = max(self.max, length)
        key = _bucket(length)
        self.counts[key] = self.counts.get(key, 0) + 1

    def quantile(self, q: float) -> int:
        """The nearest-rank ``q`` quantile (0 when nothing was counted)."""
        if not self.n:
            return 0
        rank = max(1, math.ceil(q * self.n))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return min(max(key, self.min or 0), self.max)
        return self.max

    def histogram(self, bins: int = 20, upper: int | None = None) -> list[HistogramBin]:
        """About ``bins`` equal bins of a round width from 0 to past the largest length (or
        ``upper``, e.g. the sequence limit, when that is larger)."""
        if not self.n:
            return []
        top = max(self.max, upper or 0) + 1
        width = _nice_width(top / bins)
        counts = [0] * math.ceil(top / width)
        for key, count in self.counts.items():
            counts[min(key // width, len(counts) - 1)] += count
        return [
            HistogramBin(start=i * width, end=(i + 1) * width, count=c)
            for i, c in enumerate(counts)
        ]

    def stats(self, *, bins: int = 20, upper: int | None = None) -> LengthStats | None:
        if not self.n:
            return None
        return LengthStats(
            count=self.n,
            min=self.min or 0,
            max=self.max,
            mean=round(self.total / self.n, 1),
            p50=self.quantile(0.5),
            p95=self.quantile(0.95),
            histogram=self.histogram(bins, upper),
        )


def _bucket(length: int) -> int:
    if length < _EXACT_BELOW:
        return length
    # Keep the top 9 bits: 256 buckets per doubling, so a quantile is off by under 0.4%.
    step = 1 << (length.bit_length() - 9)
    return length - length % step


def _nice_width(raw: float) -> int:
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)
