"""Clocks. A timestamp is ``monotonic_ns() + epoch_offset_ns``: wall-clock nanoseconds
derived from a monotonic counter, so durations are exact and never negative even when
the system clock is adjusted."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol


if TYPE_CHECKING:

    class Clock(Protocol):
        monotonic_ns: Callable[[], int]
        epoch_offset_ns: int


class MonotonicClock:
    """``time.perf_counter_ns`` anchored once to ``time.time_ns``."""

    __slots__ = ("epoch_offset_ns", "monotonic_ns")

    def __init__(self) -> None:
        self.monotonic_ns: Callable[[], int] = time.perf_counter_ns
        self.epoch_offset_ns: int = time.time_ns() - time.perf_counter_ns()

    def now_ns(self) -> int:
        return self.monotonic_ns() + self.epoch_offset_ns
