"""Records of the debugging toolkit: error reports, lock events and state diffs.

Each has a ``record_type`` and ``to_dict()`` (JSONL, session logs); lock records also
give ``events()`` (one dict per lock event) and ``rows()`` (one store row per event).

Uncontended lock acquisitions travel in batches instead (see ``_lockbuffer``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from spanwise._ids import format_span_id, format_trace_id

LOCK_EVENT_FIELDS = (
    "time_ns",
    "lock_name",
    "kind",
    "event",
    "wait_ns",
    "hold_ns",
    "pid",
    "thread",
    "task",
    "trace_id",
    "span_id",
    "operation",
    "acquisition",
    "level",
    "details",
)


def thread_name(ident: int | None) -> str | None:
    """The name of the live thread ``ident`` (slow paths only: it scans the threads)."""
    if ident is None:
        return None
    for t in threading.enumerate():
        if t.ident == ident:
            return t.name
    return f"thread-{ident}"


def task_name(task: Any) -> str:
    try:
        return str(task.get_name())
    except Exception:  # noqa: BLE001 - a task-like object without a name
        return repr(task)


def span_ids(span: Any) -> tuple[str | None, str | None]:
    if span is None or not span.span_id:
        return None, None
    return format_trace_id(span.trace_id), format_span_id(span.span_id)


class ErrorRecord:
    """One captured exception; ``report`` is the dict attached to the exception."""

    record_type = "error"
    __slots__ = ("llm_calls", "report")

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.llm_calls: list[Any] = []  # filled on the writer thread (see _links)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.report)
        data["record_type"] = "error"
        if self.llm_calls:
            from spanwise.debug._links import llm_summary

            data["llm_calls"] = [llm_summary(s) for s in self.llm_calls]
        return data


class LockEvent:
    """A single lock event: requested, acquired, timeout, cancelled, released (file
    locks), deadlock or order_inversion."""

    record_type = "lock_event"
    __slots__ = LOCK_EVENT_FIELDS
    pid: int | None
    level: str | None

    def __init__(self, **fields: Any) -> None:
        for name in LOCK_EVENT_FIELDS:
            setattr(self, name, fields.get(name))
        if self.pid is None:
            self.pid = os.getpid()
        if self.level is None:
            self.level = "info"

    def events(self) -> list[dict[str, Any]]:
        return [{name: getattr(self, name) for name in LOCK_EVENT_FIELDS}]

    def to_dict(self) -> dict[str, Any]:
        return self.events()[0]

    def rows(self) -> list[tuple[Any, ...]]:
        return [tuple(getattr(self, name) for name in LOCK_EVENT_FIELDS)]


# A held lock keeps its holding as one plain tuple (one attribute store on the hot path):
# (acquired perf ns, party, span, announced, requested perf ns[, held list, thread]).
# The party is a thread ident or an asyncio task; ``announced`` is True when the
# contended path already emitted the requested and acquired events (so a stuck waiter
# shows up at once). Thread locks add the thread object, so a record names its thread
# correctly even after the thread ended and its ident was reused.
ACQ, PARTY, SPAN, ANNOUNCED, REQ, HELD_LIST, THREAD = range(7)


class StateDiff:
    """Before/after snapshots of one ``track_state`` block and the JSON Patch between."""

    record_type = "state_diff"
    __slots__ = (
        "after",
        "before",
        "duration_ns",
        "error_type",
        "label",
        "patch",
        "pid",
        "span_id",
        "status",
        "time_ns",
        "trace_id",
        "truncated",
    )

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
        self.pid = os.getpid()

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}
