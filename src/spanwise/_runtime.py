"""The process-wide recorder state read on the hot path.

``RT.emit`` is ``None`` when spanwise is off: every entry point checks it first.
"""

from __future__ import annotations

import time

from spanwise._ids import RandomIds
from spanwise._speedups import CSPAN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _PyRuntimeCore:
    """The recorder's fields; ``spanwise._cspan.RuntimeCore`` is the same in C."""

    __slots__ = (
        "cap",
        "capture_content",
        "emit",
        "mode",
        "new_span",
        "new_trace",
        "offset",
        "on_full",
        "perf",
        "pid",
        "queue",
        "remote_parent_id",
        "remote_trace_id",
        "session",
        "settings",
    )


if TYPE_CHECKING or CSPAN is None:  # noqa: SIM108 - mypy needs the plain alias
    _RuntimeCore = _PyRuntimeCore
else:
    _RuntimeCore = CSPAN.RuntimeCore


class Runtime(_RuntimeCore):
    __slots__ = ()

    def __init__(self) -> None:
        self.emit: Callable[[Any], None] | None = None
        self.mode = "off"
        self.perf: Callable[[], int] = time.perf_counter_ns
        self.offset = time.time_ns() - time.perf_counter_ns()
        ids = RandomIds()
        self.new_trace: Callable[[], int] = ids.trace_id
        self.new_span: Callable[[], int] = ids.span_id
        self.remote_trace_id = 0
        self.remote_parent_id = 0
        self.capture_content = False
        self.session: str | None = None
        self.pid = 0
        self.settings: Any = None
        # Trace mode: spans go straight into the writer's queue (bounded by ``cap``);
        # ``on_full(record)`` counts a drop. None in other modes.
        self.queue: Any = None
        self.cap = 0
        self.on_full: Callable[[Any], None] = lambda record: None

    def now_ns(self) -> int:
        return self.perf() + self.offset


RT = Runtime()
