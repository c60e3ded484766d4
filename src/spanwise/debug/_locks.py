"""``spanwise.Lock``, ``RLock`` and ``instrument_lock()``: threading locks that record who
asked for them, who got them, how long they waited and how long they held them, and that
feed the deadlock and lock-order detectors.

The hot path (``acquire``, ``release``, ``__enter__``, ``__exit__``) is the base class
``_Core``: the C type ``_lockfast.ThreadLockCore`` when the extension is built, else
``_PyCore`` below; both do the same, and ``_ThreadLock`` keeps the slow paths (contended
waits, deadlock checks, names, repr) in Python for both.

Untraced, the hot path is the raw lock itself: the C core calls the raw lock's own C
functions; ``_PyCore`` resolves ``acquire``/``release`` (slots) and the special methods (a
C-level property) to the raw lock's bound methods. When trace mode starts, every live
lock switches to its traced methods; a traced acquire that finds tracing stopped switches
its lock back.

In trace mode an uncontended acquisition costs two clock reads and one record, emitted
on release (it stands for the requested, acquired and released events). A contended one
announces ``requested`` at once and ``acquired`` when it gets the lock, waits in slices
and runs the deadlock check between them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span import current
from spanwise.debug._deadlock import (
    CHECK_INTERVAL_S,
    EDGES,
    HELD,
    WAITING,
    Wait,
    check,
    emit_event,
    note_order,
)
from spanwise.debug._lockbuffer import BUFFER, FAST, SEQ, mark
from spanwise.debug._lockbuffer import add as emit_acquisition
from spanwise.debug._records import ACQ, PARTY, SPAN, THREAD, span_ids

get_ident = threading.get_ident
current_thread = threading.current_thread
# ident -> Thread for threads started by ``threading`` (a dict lookup, where
# ``current_thread()`` is a Python call); threads it does not know are named later.
_thread_of = getattr(threading, "_active", {}).get
LIVE: weakref.WeakSet[Any] = weakref.WeakSet()  # every wrapper, to switch on trace mode


def default_name(depth: int = 2) -> str:
    """``file.py:LINE`` of the code that created the lock."""
    try:
        frame = sys._getframe(depth)
        return f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
    except ValueError:
        return "lock"


def note_held(lock: Any, held: list[Any]) -> None:
    """Lock-order bookkeeping: ``lock`` is being taken while ``held`` are held."""
    name = lock.name
    for other in held:
        if other is not lock and other.name != name and (other.name, name) not in EDGES:
            note_order(other, lock)


def forget_held(party: Any, lock: Any) -> None:
    """``lock`` is no longer held by ``party``. A thread keeps its (empty) list; a task's
    is dropped so finished tasks are not kept alive."""
    held = HELD.get(party)
    if held is None:
        return
    try:
        held.remove(lock)
    except ValueError:
        pass
    if not held and not isinstance(party, int):
        HELD.pop(party, None)


def holder_info(lock: Any) -> dict[str, Any] | None:
    """Who holds ``lock`` now (best effort, for the ``requested`` event)."""
    from spanwise.debug._records import task_name, thread_name

    hold = lock._hold
    if hold is None:
        return None
    party, span = hold[PARTY], hold[SPAN]
    trace_id, _ = span_ids(span)
    if len(hold) > THREAD and hold[THREAD] is not None:
        who = hold[THREAD].name
    else:
        who = thread_name(party) if isinstance(party, int) else task_name(party)
    return {
        "holder": who,
        "operation": _span_name(span),
        "trace_id": trace_id,
        "since_ns": hold[ACQ] + RT.offset,
    }


def acquisition_id() -> str:
    """A new ``pid:seq`` id, for acquisitions announced event by event."""
    return f"{os.getpid()}:{next(SEQ)}"


def seq_of(common: dict[str, Any]) -> int:
    """The sequence number of an announced acquisition (stored as ``announced``)."""
    return int(common["acquisition"].rsplit(":", 1)[1])


def _span_name(span: Any) -> str | None:
    return span.name if span is not None and span.span_id else None


class _PyCore:
    """The hot path in Python, used without the C extension (see the module docstring).
    While held, ``_hold`` is the tuple (acquired perf ns, thread ident, span, announced,
    requested perf ns, the thread's list of held locks, the thread)."""

    __slots__ = (
        "__weakref__",
        "_depth",
        "_enter",
        "_exit",
        "_hold",
        "_raw",
        "_raw_release",
        "_try",
        "acquire",
        "release",
    )

    if TYPE_CHECKING:
        reentrant: ClassVar[bool]  # (set by the lock classes)
        acquire: Callable[..., bool]
        release: Callable[..., None]
        _enter: Callable[..., bool]
        _exit: Callable[..., None]

        def __enter__(self) -> bool: ...

        def __exit__(self, *exc_info: object) -> None: ...

        def _contended(self, blocking: bool, timeout: float) -> bool: ...
    else:
        __enter__ = property(attrgetter("_enter"))
        __exit__ = property(attrgetter("_exit"))

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._try, self._raw_release = raw.acquire, raw.release
        self._hold: tuple[Any, ...] | None = None
        self._depth = 0  # re-entrant locks: how deep the recorded holding is

    @property
    def _traced(self) -> bool:
        """Whether acquisitions are recorded (the traced methods are in place)."""
        return getattr(self.acquire, "__self__", None) is self

    def _set_traced(self, on: bool) -> None:
        raw = self._raw
        if on:
            self.acquire = self._enter = self._t_acquire
            self.release = self._exit = self._t_release
            return
        self.acquire, self.release = raw.acquire, raw.release
        self._enter, self._exit = raw.__enter__, raw.__exit__
        hold, self._hold = self._hold, None
        if hold is not None:
            forget_held(hold[PARTY], self)

    def _t_acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        rt = RT
        if rt.mode != "trace":
            self._set_traced(False)
            return bool(self._raw.acquire(blocking, timeout))
        if self.reentrant:
            hold = self._hold
            if hold is not None and hold[PARTY] == get_ident():
                self._raw.acquire()
                self._depth += 1
                return True
        if timeout != -1 and not blocking:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if self._try(False):
            # (try blocks cost nothing until they catch, so recording can never break
            # the lock: whatever happens, it stays acquired exactly once)
            try:
                now = rt.perf()
                ident = get_ident()
                held = HELD.get(ident)
                if held is None:
                    held = HELD[ident] = []
                elif held:
                    note_held(self, held)
                held.append(self)
                self._hold = (now, ident, current.get(), False, now, held, _thread_of(ident))
                self._depth = 1
            except Exception as exc:  # noqa: BLE001
                _internal.report("locks.acquire", exc)
            return True
        got = self._contended(blocking, timeout)
        if got:
            self._depth = 1
        return got

    def _t_release(self, _type: Any = None, _value: Any = None, _tb: Any = None) -> None:
        hold = self._hold
        if hold is None:  # taken while untraced: a plain release
            self._raw_release()
            return
        if self.reentrant:
            if hold[PARTY] != get_ident():
                self._raw.release()  # not ours: raises like the raw RLock does
                return
            if self._depth > 1:
                self._raw_release()
                self._depth -= 1
                return
        self._hold = None
        try:
            rt = RT
            now = rt.perf()
            held = hold[5]
            if held and held[-1] is self:
                held.pop()
            else:
                forget_held(hold[1], self)
        except Exception as exc:  # noqa: BLE001
            _internal.report("locks.release", exc)
            self._raw_release()
            return
        self._raw_release()
        try:
            # _lockbuffer.add(), inlined: this is the hot path.
            if rt.queue is not None and BUFFER.push(self, hold, now):
                if not BUFFER.marked:
                    mark(rt)
            else:
                emit_acquisition(self, hold, now)
        except Exception as exc:  # noqa: BLE001
            _internal.report("locks.record", exc)


if TYPE_CHECKING:
    _Core = _PyCore
else:
    _Core = _PyCore if FAST is None else FAST.ThreadLockCore


class _ThreadLock(_Core):
    """Shared machinery of ``Lock`` and ``RLock``: the slow paths, over the hot path of
    ``_Core``."""

    kind = "thread"
    reentrant = False
    __slots__ = ("name",)

    def __init__(self, name: str | None = None, *, _raw: Any = None) -> None:
        self.name = str(name) if name else default_name()
        _Core.__init__(self, _raw if _raw is not None else self._new_raw())
        self._set_traced(RT.mode == "trace")
        LIVE.add(self)

    @staticmethod
    def _new_raw() -> Any:
        return threading.Lock()

    @property
    def _owner(self) -> Any:
        hold = self._hold
        return None if hold is None else hold[PARTY]

    def _contended(self, blocking: bool, timeout: float) -> bool:
        """The slow path: announce, wait in slices, check for deadlocks, record."""
        rt = RT
        req = rt.perf()
        ident = get_ident()
        span = current.get()
        trace_id, span_id = span_ids(span)
        common = {
            "lock_name": self.name,
            "kind": self.kind,
            "trace_id": trace_id,
            "span_id": span_id,
            "thread": threading.current_thread().name,
            "operation": _span_name(span),
            "acquisition": acquisition_id(),
        }
        emit_event(event="requested", time_ns=req + rt.offset, details=holder_info(self), **common)
        held = HELD.setdefault(ident, [])
        note_held(self, held)  # the order counts when asked for, even if never granted
        if not blocking:
            emit_event(event="timeout", wait_ns=0, time_ns=req + rt.offset, **common)
            return False
        deadline = None if timeout < 0 else req + int(timeout * 1e9)
        WAITING[ident] = Wait(self, span, req, _span_name(span))
        got = False
        try:
            while True:
                if deadline is None:
                    wait_s = CHECK_INTERVAL_S
                else:
                    wait_s = min(CHECK_INTERVAL_S, (deadline - rt.perf()) / 1e9)
                    if wait_s <= 0:
                        break
                if self._raw.acquire(True, wait_s):
                    got = True
                    break
                check(ident)
        except BaseException:
            WAITING.pop(ident, None)
            now = rt.perf()
            emit_event(event="cancelled", wait_ns=now - req, time_ns=now + rt.offset, **common)
            raise
        WAITING.pop(ident, None)
        now = rt.perf()
        if not got:
            emit_event(event="timeout", wait_ns=now - req, time_ns=now + rt.offset, **common)
            return False
        emit_event(event="acquired", wait_ns=now - req, time_ns=now + rt.offset, **common)
        held.append(self)
        self._hold = (now, ident, span, seq_of(common), req, held, current_thread())
        return True

    def __repr__(self) -> str:
        state = "held" if self._raw.locked() else "free"
        return f"<spanwise.{type(self).__name__} {self.name!r} {state}>"


class Lock(_ThreadLock):
    """A ``threading.Lock`` that records its acquisitions in trace mode.

    ``Lock("session-state")``; use it as ``with lock:`` or ``lock.acquire(timeout=…)``.
    The holder's operation is the name of the span it was in.
    """

    __slots__ = ()

    def locked(self) -> bool:
        return bool(self._raw.locked())


class RLock(_ThreadLock):
    """A re-entrant ``threading.RLock`` that records its outermost acquisitions."""

    reentrant = True
    __slots__ = ()

    @staticmethod
    def _new_raw() -> Any:
        return threading.RLock()


if FAST is not None:
    FAST.install(Lock)
    FAST.install(RLock)
    FAST.configure(
        rt=RT,
        perf_counter=time.perf_counter_ns,
        current=current,
        held=HELD,
        edges=EDGES,
        threads=getattr(threading, "_active", {}),
        note_held=note_held,
        forget_held=forget_held,
        report=_internal.report,
        mark=mark,
        add=emit_acquisition,
        buffer=BUFFER,
    )


def switch_all_traced() -> None:
    """Called when trace mode starts: every live lock records from now on."""
    for lock in list(LIVE):
        lock._set_traced(True)


def instrument_lock(existing: Any, name: str | None = None) -> Any:
    """Wrap an existing ``threading.Lock``, ``threading.RLock`` or ``asyncio.Lock`` so
    its acquisitions are recorded; the wrapper and the original stay one lock.

    Raises ValueError for anything else."""
    from spanwise.debug._asynclock import AsyncLock
    from spanwise.debug._filelock import FileLock

    label = name or default_name()
    if isinstance(existing, (_ThreadLock, AsyncLock, FileLock)):
        return existing
    if isinstance(existing, type(threading.Lock())):
        return Lock(label, _raw=existing)
    if isinstance(existing, type(threading.RLock())):
        return RLock(label, _raw=existing)
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(existing, asyncio.Lock):
        return AsyncLock(label, _raw=existing)
    raise ValueError(
        f"instrument_lock: cannot instrument {type(existing).__name__}; expected "
        "threading.Lock, threading.RLock or asyncio.Lock"
    )
