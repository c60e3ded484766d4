"""Records of the debugging toolkit: error reports, lock events and state diffs.

Each has a ``record_type`` and ``to_dict()`` (JSONL, session logs); lock records also
give ``events()`` (one dict per lock event) and ``rows()`` (one store row per event).
Lock acquisitions on the hot path are recorded as *one* ``LockAcquisition`` when the lock
is released, which stands for its requested, acquired and released events.
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


class LockAcquisition:
    """A finished acquisition of a thread or asyncio lock, built on release.

    ``announced`` is True when the requested and acquired events were already emitted
    (contended acquisitions announce them at once, so a stuck waiter shows up)."""

    record_type = "lock_event"
    __slots__ = (
        "acq_ns",
        "announced",
        "details",
        "ident",
        "lock",
        "rel_ns",
        "req_ns",
        "seq",
        "span",
        "task",
    )

    def __init__(
        self, lock: Any, req_ns: int, acq_ns: int, rel_ns: int, ident: int | None,
        task: str | None, span: Any, seq: int, announced: bool, details: dict[str, Any] | None,
    ) -> None:
        self.lock = lock
        self.req_ns = req_ns
        self.acq_ns = acq_ns
        self.rel_ns = rel_ns
        self.ident = ident
        self.task = task
        self.span = span
        self.seq = seq
        self.announced = announced
        self.details = details

    def events(self) -> list[dict[str, Any]]:
        trace_id, span_id = span_ids(self.span)
        base = {
            "lock_name": self.lock.name, "kind": self.lock.kind, "pid": os.getpid(),
            "thread": thread_name(self.ident), "task": self.task, "trace_id": trace_id,
            "span_id": span_id, "operation": self.span.name if trace_id else None,
            "acquisition": f"{os.getpid()}:{self.seq}", "level": "info",
        }
        out = []
        if not self.announced:
            out.append({**base, "time_ns": self.req_ns, "event": "requested",
                        "wait_ns": None, "hold_ns": None, "details": None})
            out.append({**base, "time_ns": self.acq_ns, "event": "acquired",
                        "wait_ns": self.acq_ns - self.req_ns, "hold_ns": None, "details": None})
        out.append({**base, "time_ns": self.rel_ns, "event": "released", "wait_ns": None,
                    "hold_ns": self.rel_ns - self.acq_ns, "details": self.details})
        return out

    def to_dict(self) -> dict[str, Any]:
        released = self.events()[-1]
        released["requested_ns"] = self.req_ns
        released["acquired_ns"] = self.acq_ns
        released["wait_ns"] = self.acq_ns - self.req_ns
        return released

    def rows(self) -> list[tuple[Any, ...]]:
        return [tuple(e[name] for name in LOCK_EVENT_FIELDS) for e in self.events()]


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
