"""Records of the debugging toolkit: error reports, lock events and state diffs.

Each has a ``record_type`` and ``to_dict()`` (JSONL, session logs); lock records also
give ``events()`` (one dict per lock event) and ``rows()`` (one store row per event).

A lock acquisition on the hot path is recorded as *one* ``LockAcquisition`` when the lock
is released: a plain tuple built in C, which stands for its requested, acquired and
released events. Everything else about it (names, wall-clock times, trace ids) is
worked out on the writer thread.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from spanwise._ids import format_span_id, format_trace_id

LOCK_EVENT_FIELDS = (
    "time_ns", "lock_name", "kind", "event", "wait_ns", "hold_ns", "pid", "thread", "task",
    "trace_id", "span_id", "operation", "acquisition", "level", "details",
)

_names: dict[int, str] = {}


def thread_name(ident: int | None) -> str | None:
    """The name of thread ``ident`` (cached; refreshed when a new ident appears)."""
    if ident is None:
        return None
    name = _names.get(ident)
    if name is None:
        _names.clear()
        for t in threading.enumerate():
            if t.ident is not None:
                _names[t.ident] = t.name
        name = _names.setdefault(ident, f"thread-{ident}")
    return name


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
# (acquired perf ns, party, span, announced, requested perf ns[, held list]). The party is a thread
# ident or an asyncio task; ``announced`` is True when the contended path already
# emitted the requested and acquired events (so a stuck waiter shows up at once).
ACQ, PARTY, SPAN, ANNOUNCED, REQ = range(5)


class LockAcquisition(tuple):  # type: ignore[type-arg]
    """A finished acquisition: ``(lock, hold, released perf ns, clock offset, seq)``."""

    record_type = "lock_event"
    __slots__ = ()

    def events(self) -> list[dict[str, Any]]:
        lock, hold, rel, offset, seq = self
        acq, party, span, announced, req = hold[:5]
        trace_id, span_id = span_ids(span)
        is_thread = isinstance(party, int)
        pid = os.getpid()
        base = {
            "lock_name": lock.name, "kind": lock.kind, "pid": pid,
            "thread": thread_name(party) if is_thread else None,
            "task": None if is_thread else task_name(party), "trace_id": trace_id,
            "span_id": span_id, "operation": span.name if trace_id else None,
            "acquisition": f"{pid}:{seq}", "level": "info",
        }
        out = []
        if not announced:
            out.append({**base, "time_ns": req + offset, "event": "requested",
                        "wait_ns": None, "hold_ns": None, "details": None})
            out.append({**base, "time_ns": acq + offset, "event": "acquired",
                        "wait_ns": acq - req, "hold_ns": None, "details": None})
        out.append({**base, "time_ns": rel + offset, "event": "released", "wait_ns": None,
                    "hold_ns": rel - acq, "details": None})
        return out

    def to_dict(self) -> dict[str, Any]:
        hold, offset = self[1], self[3]
        released = self.events()[-1]
        released["requested_ns"] = hold[4] + offset
        released["acquired_ns"] = hold[0] + offset
        released["wait_ns"] = hold[0] - hold[4]
        return released

    def rows(self) -> list[tuple[Any, ...]]:
        return [tuple(e[name] for name in LOCK_EVENT_FIELDS) for e in self.events()]


class StateDiff:
    """Before/after snapshots of one ``track_state`` block and the JSON Patch between."""

    record_type = "state_diff"
    __slots__ = ("after", "before", "duration_ns", "error_type", "label", "patch", "pid",
                 "span_id", "status", "time_ns", "trace_id", "truncated")

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
        self.pid = os.getpid()

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}
