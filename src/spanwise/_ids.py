"""Trace and span id generation (W3C sizes: 128-bit trace ids, 64-bit span ids).

Ids are plain ints on the hot path; they become hex only when a record is written.
"""

from __future__ import annotations

import os
import random
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol


if TYPE_CHECKING:

    class IdGenerator(Protocol):
        trace_id: Callable[[], int]
        span_id: Callable[[], int]


class RandomIds:
    """Ids from a private PRNG, re-seeded in a forked child so parent and child differ."""

    __slots__ = ("__weakref__", "_rng", "span_id", "trace_id")

    def __init__(self) -> None:
        self._rng = random.Random()
        self._bind()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reseed(ref))

    def _bind(self) -> None:
        bits = self._rng.getrandbits
        # functools.partial keeps these C-level calls (no Python frame on the hot path).
        from functools import partial

        self.trace_id: Callable[[], int] = partial(bits, 128)
        self.span_id: Callable[[], int] = partial(bits, 64)


def _reseed(ref: weakref.ref[RandomIds]) -> None:
    ids = ref()
    if ids is not None:
        ids._rng.seed()


def format_trace_id(value: int) -> str:
    """32 lowercase hex digits. Zero is invalid in W3C and is written as 1."""
    return f"{value or 1:032x}"


def format_span_id(value: int) -> str:
    return f"{value or 1:016x}"


def parse_hex_id(text: str, length: int) -> int:
    """Parse a hex id of exactly ``length`` characters; raise ValueError otherwise."""
    if len(text) != length:
        raise ValueError(f"expected {length} hex characters, got {text!r}")
    value = int(text, 16)
    if value == 0:
        raise ValueError("an all-zero id is invalid")
    return value
