"""Finished lock acquisitions on their way to the writer thread.

Releasing a traced lock records one acquisition ``(lock, hold, released perf ns)`` in
``BUFFER``: a C array when the ``_lockfast`` extension is built (the C hot path writes
into it without making a Python object), else ``_PyBuffer``, a bounded deque of plain
tuples. The first record after a drain also queues one ``LockBatch`` record; the
``drain`` processor (which runs first on the writer thread, whatever the exporters)
empties ``BUFFER`` into it. So a thousand acquisitions between two writer passes are one
record in the pipeline. Each acquisition still stands for its requested, acquired and
released events.

No acquisition is lost between a drain and the next record: ``take()`` clears
``BUFFER.marked`` *before* it empties the buffer, and a producer records *before* it
looks at the flag. Past ``MAX_PENDING`` waiting acquisitions, new ones are dropped and
counted as ``queue_full`` by the pipeline.

``FAST`` is the extension module, or None when it is missing, built from another version
of this code, or ``SPANWISE_NO_SPEEDUPS`` is set (read once, at import): then the
pure-Python code does the same work.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from typing import Any

from spanwise._runtime import RT
from spanwise._speedups import load
from spanwise.debug._records import LOCK_EVENT_FIELDS, THREAD, span_ids, task_name, thread_name

MAX_PENDING = 100_000
SEQ = itertools.count(1)
Item = tuple[Any, tuple[Any, ...], int]


FAST_API = 1  # the interface version this code expects of the C extension


FAST: Any = load("spanwise.debug._lockfast", FAST_API)


class _PyBuffer:
    """The pure-Python buffer (see the module docstring)."""

    __slots__ = ("items", "marked", "max")

    def __init__(self, max: int) -> None:
        self.items: deque[Item] = deque()
        self.marked = False
        self.max = max

    def push(self, lock: Any, hold: tuple[Any, ...], now: int) -> bool:
        if len(self.items) < self.max:
            self.items.append((lock, hold, now))
            return True
        return False

    def take(self) -> list[Item]:
        self.marked = False  # before draining: a later record queues a new batch
        out = []
        popleft = self.items.popleft
        while True:
            try:
                out.append(popleft())
            except IndexError:
                return out

    def clear(self) -> None:
        self.items.clear()
        self.marked = False

    def __len__(self) -> int:
        return len(self.items)


BUFFER: _PyBuffer = _PyBuffer(MAX_PENDING) if FAST is None else FAST.Buffer(MAX_PENDING)


def _after_fork() -> None:
    BUFFER.clear()


os.register_at_fork(after_in_child=_after_fork)


def mark(rt: Any) -> None:
    """Queue the record that will carry what is pending (once per drain)."""
    BUFFER.marked = True
    queue = rt.queue
    if queue is None:
        BUFFER.marked = False
        return
    if len(queue) < rt.cap:
        queue.append(LockBatch())
    else:
        BUFFER.marked = False  # try again on the next release
        rt.on_full(None)


def add(lock: Any, hold: tuple[Any, ...], now: int) -> None:
    """Record one finished acquisition (the thread locks' hot paths do this inline)."""
    rt = RT
    if rt.queue is None:
        if rt.emit is not None and rt.mode == "trace":
            rt.emit(LockBatch([(lock, hold, now)]))  # e.g. after shutdown: counted there
        return
    if BUFFER.push(lock, hold, now):
        if not BUFFER.marked:
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


def drain_batch(batch: list[Any]) -> None:
    """For the pipeline's lock drain: take the pending acquisitions into their batch
    records on the writer thread, whichever exporters run (so the buffer never fills up
    unread)."""
    for record in batch:
        if type(record) is LockBatch:
            record._take()


class LockBatch:
    """The finished acquisitions pending when an exporter first reads this record."""

    record_type = "lock_event"
    __slots__ = ("_events", "_items")

    def __init__(self, items: list[Item] | None = None) -> None:
        self._items = items
        self._events: list[dict[str, Any]] | None = None

    def _take(self) -> list[Item]:
        if self._items is None:
            self._items = BUFFER.take()
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
