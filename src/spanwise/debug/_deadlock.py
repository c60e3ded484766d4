"""Deadlock and lock-order-inversion detection for spanwise locks in one process.

*Wait-for graph* (PostgreSQL style): a waiter that has been blocked for
``CHECK_INTERVAL_S`` follows ``waiter → owner of the lock it waits on → the lock that
owner waits on → …``. Coming back to itself is a deadlock: it is reported once, as an
``error`` lock event with every party's stack, and the waiters keep waiting (the program
is not killed). Parties are threads (by ident) and asyncio tasks.

*Lock-order graph* (lockdep style, by lock name): taking B while holding A records the
edge A→B with its call site. A new edge A→B when a path B→…→A already exists is a
potential deadlock, reported as a ``warning`` even if the two never overlapped.

The graphs are plain dicts updated under the GIL; the detector's own lock is never held
while waiting on a user lock.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from typing import Any

from spanwise import _internal
from spanwise._runtime import RT

logger = logging.getLogger("spanwise.locks")

CHECK_INTERVAL_S = 0.2  # a waiter checks for a cycle after this long, and again each time
MAX_CHAIN = 64


class Wait:
    """What a blocked party is waiting for."""

    __slots__ = ("lock", "operation", "since_ns", "span")

    def __init__(self, lock: Any, span: Any, since_ns: int, operation: str | None) -> None:
        self.lock = lock
        self.span = span
        self.since_ns = since_ns
        self.operation = operation


HELD: dict[Any, list[Any]] = {}  # party -> spanwise locks it holds, in acquisition order
WAITING: dict[Any, Wait] = {}  # party -> what it is blocked on
EDGES: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (held, taken) -> call site
_successors: dict[str, set[str]] = {}
_reported: set[Any] = set()
_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _lock
    HELD.clear()
    WAITING.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


# -- wait-for graph ------------------------------------------------------------------------
def find_cycle(party: Any) -> list[Any] | None:
    """The parties of a wait-for cycle through ``party`` (starting with it), or None."""
    path = [party]
    seen = {party}
    wait = WAITING.get(party)
    while wait is not None and len(path) <= MAX_CHAIN:
        owner = wait.lock._owner
        if owner is None:
            return None
        if owner is party or owner == party:
            return path
        if owner in seen:
            return None  # a cycle that does not include us: one of its members reports it
        path.append(owner)
        seen.add(owner)
        wait = WAITING.get(owner)
    return None


def check(party: Any) -> bool:
    """Run by a waiter; reports a cycle through it once. True when one was found."""
    try:
        cycle = find_cycle(party)
        if cycle is None:
            return False
        _report_deadlock(cycle)
        return True
    except Exception as exc:  # noqa: BLE001 - detection must never break the waiter
        _internal.report("locks.deadlock_check", exc)
        return False


def describe_party(party: Any) -> dict[str, Any]:
    from spanwise.debug._frames import thread_stack
    from spanwise.debug._records import span_ids, thread_name

    wait = WAITING.get(party)
    info: dict[str, Any] = {"pid": os.getpid()}
    if isinstance(party, int):
        info["thread"] = thread_name(party)
        info["task"] = None
        info["stack"] = thread_stack(party)
    else:
        info["thread"] = threading.current_thread().name
        info["task"] = task_name(party)
        info["stack"] = task_stack(party)
    info["waiting_for"] = wait.lock.name if wait is not None else None
    info["holding"] = [lock.name for lock in HELD.get(party, ())]
    info["operation"] = wait.operation if wait is not None else None
    info["trace_id"], info["span_id"] = span_ids(wait.span if wait is not None else None)
    return info


def _report_deadlock(cycle: list[Any]) -> None:
    waits = [WAITING.get(p) for p in cycle]
    pairs = zip(cycle, waits, strict=True)
    key = ("deadlock", frozenset((p, id(w.lock) if w else 0) for p, w in pairs))
    with _lock:
        if key in _reported:
            return
        _reported.add(key)
    parties = [describe_party(p) for p in cycle]
    summary = "; ".join(
        f"{p['task'] or p['thread']} holds {', '.join(map(repr, p['holding'])) or 'nothing'} "
        f"and waits for {p['waiting_for']!r}"
        for p in parties
    )
    logger.error("spanwise: deadlock detected: %s", summary)
    first = waits[0]
    emit_event(
        event="deadlock",
        level="error",
        lock_name=first.lock.name if first else None,
        kind=first.lock.kind if first else None,
        trace_id=parties[0]["trace_id"],
        span_id=parties[0]["span_id"],
        thread=parties[0]["thread"],
        task=parties[0]["task"],
        details={"summary": summary, "parties": parties},
    )


# -- lock-order graph ----------------------------------------------------------------------
def note_order(held: Any, taken: Any) -> None:
    """Record that ``taken`` was acquired while ``held`` was held (first time only)."""
    try:
        a, b = held.name, taken.name
        from spanwise.debug._frames import caller_stack

        site = caller_stack(2)
        with _lock:
            if (a, b) in EDGES:
                return
            EDGES[(a, b)] = site
            _successors.setdefault(a, set()).add(b)
            path = _path(b, a)
            key = ("inversion", frozenset((a, b)))
            if path is None or key in _reported:
                return
            _reported.add(key)
            other = [
                {"held": x, "taken": y, "stack": EDGES.get((x, y), [])}
                for x, y in itertools.pairwise(path)
            ]
        _report_inversion(a, b, site, path, other, taken)
    except Exception as exc:  # noqa: BLE001
        _internal.report("locks.order", exc)


def _path(start: str, goal: str) -> list[str] | None:
    """A path start → … → goal in the order graph (BFS), or None."""
    previous: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for succ in _successors.get(node, ()):
                if succ in previous:
                    continue
                previous[succ] = node
                if succ == goal:
                    path = [succ]
                    back = previous[succ]
                    while back is not None:
                        path.append(back)
                        back = previous[back]
                    return path[::-1]
                nxt.append(succ)
        frontier = nxt
    return None


def _report_inversion(
    a: str,
    b: str,
    site: list[dict[str, Any]],
    path: list[str],
    other: list[dict[str, Any]],
    taken: Any,
) -> None:
    from spanwise._span import current
    from spanwise.debug._records import span_ids

    order = " → ".join(map(repr, path))
    summary = f"lock order inversion: {a!r} → {b!r} here, but elsewhere {order}"
    logger.warning("spanwise: %s (a potential deadlock)", summary)
    trace_id, span_id = span_ids(current.get())
    emit_event(
        event="order_inversion",
        level="warning",
        lock_name=b,
        kind=taken.kind,
        trace_id=trace_id,
        span_id=span_id,
        thread=threading.current_thread().name,
        details={
            "summary": summary,
            "this_order": [a, b],
            "other_order": path,
            "this_site": site,
            "other_sites": other,
        },
    )


def emit_event(**fields: Any) -> None:
    """Emit one lock event (trace mode only). Never raises."""
    emit = RT.emit
    if emit is None or RT.mode != "trace":
        return
    try:
        from spanwise.debug._records import LockEvent

        fields.setdefault("time_ns", RT.now_ns())
        emit(LockEvent(**fields))
    except Exception as exc:  # noqa: BLE001
        _internal.report("locks.event", exc)


# -- asyncio parties -----------------------------------------------------------------------
def task_name(task: Any) -> str:
    try:
        return str(task.get_name())
    except Exception:  # noqa: BLE001
        return repr(task)


def task_stack(task: Any, limit: int = 40) -> list[dict[str, Any]]:
    """The await chain of a suspended task, outermost first."""
    from spanwise.debug._frames import frame_info

    out: list[dict[str, Any]] = []
    try:
        coro = task.get_coro()
        while coro is not None and len(out) < limit:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is not None and not str(frame.f_globals.get("__name__", "")).startswith(
                "spanwise.debug."
            ):
                out.append(frame_info(frame, frame.f_lineno or 0))
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    except Exception:  # noqa: BLE001
        pass
    return out
