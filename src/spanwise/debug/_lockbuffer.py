"""Finished lock acquisitions on their way to the writer thread.

Releasing a traced lock appends one plain tuple ``(lock, hold, released perf ns)`` to
``PENDING`` (a bounded deque: a C-level append, no record object). The first append
after a drain also queues one ``LockBatch`` record; the ``drain`` processor (which runs
first on the writer thread, whatever the exporters) empties ``PENDING`` into it. So a
thousand acquisitions between two writer passes are one record in the pipeline, and the
program pays for a tuple and an append. Each acquisition still stands for its
requested, acquired and released events.

No acquisition is lost between a drain and the next append: the drain clears
``FLAG.marked`` *before* it empties the deque, and a producer appends *before* it looks
at the flag. Past ``MAX_PENDING`` waiting acquisitions, new ones are dropped and counted
as ``queue_full`` by the pipeline.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from typing import Any

from spanwise._runtime import RT
from spanwise.debug._records import LOCK_EVENT_FIELDS, THREAD, span_ids, task_name, thread_name

MAX_PENDING = 100_000
PENDING: deque[tuple[Any, tuple[Any, ...], int]] = deque()
SEQ = itertools.count(1)


class _Flag:
    __slots__ = ("marked",)

    def __init__(self) -> None:
        self.marked = False


FLAG = _Flag()


def _after_fork() -> None:
    PENDING.clear()
    FLAG.marked = False


os.register_at_fork(after_in_child=_after_fork)


def mark(rt: Any) -> None:
    """Queue the record that will carry what is pending (once per drain)."""
    FLAG.marked = True
    queue = rt.queue
    if queue is None:
        FLAG.marked = False
        return
    if len(queue) < rt.cap:
        queue.append(LockBatch())
    else:
        FLAG.marked = False  # try again on the next release
        rt.on_full(None)


def add(lock: Any, hold: tuple[Any, ...], now: int) -> None:
    """Record one finished acquisition (the inlined form is in ``_ThreadLock``)."""
    rt = RT
    if rt.queue is None:
        if rt.emit is not None and rt.mode == "trace":
            rt.emit(LockBatch([(lock, hold, now)]))  # e.g. after shutdown: counted there
        return
    if len(PENDING) < MAX_PENDING:
        PENDING.append((lock, hold, now))
        if not FLAG.marked:
            mark(rt)
    else:
        rt.on_full(None)


def acquisition_events(
    lock: Any, hold: tuple[Any, ...], rel: int, offset: int, seq: int
) -> list[dict[str, Any]]:
    """The requested, acquired and released events of one acquisition (only released
    when the contended path already announced the first two)."""
    acq, party, span, announced, req = hold[:5]  # announced: False or its sequence number
    trace_id, span_id = span_ids(span)
    is_thread = isinstance(party, int)
    pid = os.getpid()
    if len(hold) > THREAD and hold[THREAD] is not None:
        thread: str | None = hold[THREAD].name
    else:
        thread = thread_name(party) if is_thread else None
    base = {
        "lock_name": lock.name,
        "kind": lock.kind,
        "pid": pid,
        "thread": thread,
        "task": None if is_thread else task_name(party),
        "trace_id": trace_id,
        "span_id": span_id,
        "operation": span.name if trace_id else None,
        "acquisition": f"{pid}:{announced or seq}",
        "level": "info",
    }
    out = []
    if not announced:
        out.append(
            {
                **base,
                "time_ns": req + offset,
                "event": "requested",
                "wait_ns": None,
                "hold_ns": None,
                "details": None,
            }
        )
        out.append(
            {
                **base,
                "time_ns": acq + offset,
                "event": "acquired",
                "wait_ns": acq - req,
                "hold_ns": None,
                "details": None,
            }
        )
    out.append(
        {
            **base,
            "time_ns": rel + offset,
            "event": "released",
            "wait_ns": None,
            "hold_ns": rel - acq,
            "details": None,
        }
    )
    return out


def drain(record: Any) -> Any:
    """Pipeline processor: take the pending acquisitions into their batch record on the
    writer thread, whichever exporters run (so the buffer never fills up unread)."""
    if type(record) is LockBatch:
        record._take()
    return record


class LockBatch:
    """The finished acquisitions pending when an exporter first reads this record."""

    record_type = "lock_event"
    __slots__ = ("_events", "_items")

    def __init__(self, items: list[tuple[Any, tuple[Any, ...], int]] | None = None) -> None:
        self._items = items
        self._events: list[dict[str, Any]] | None = None

    def _take(self) -> list[tuple[Any, tuple[Any, ...], int]]:
        if self._items is None:
            FLAG.marked = False  # before draining: a later append queues a new batch
            items = []
            popleft = PENDING.popleft
            while True:
                try:
                    items.append(popleft())
                except IndexError:
                    break
            self._items = items
        return self._items

    def events(self) -> list[dict[str, Any]]:
        if self._events is None:
            offset = RT.offset
            out: list[dict[str, Any]] = []
            for lock, hold, rel in self._take():
                seq = 0 if hold[3] else next(SEQ)
                out.extend(acquisition_events(lock, hold, rel, offset, seq))
            self._events = out
        return self._events

    def rows(self) -> list[tuple[Any, ...]]:
        return [tuple(e[name] for name in LOCK_EVENT_FIELDS) for e in self.events()]

    def to_dict(self) -> dict[str, Any]:
        return {"record_type": "lock_event", "events": self.events()}
