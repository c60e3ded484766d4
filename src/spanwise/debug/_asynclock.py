"""``spanwise.AsyncLock``: an ``asyncio.Lock`` that records its acquisitions per task and
takes part in deadlock detection (a waiting task is checked every
``CHECK_INTERVAL_S`` by a loop callback, so a cycle of tasks is reported while the loop
keeps running). ``asyncio`` is imported only when the first AsyncLock is made."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from spanwise._runtime import RT
from spanwise._span import current
from spanwise.debug._deadlock import CHECK_INTERVAL_S, HELD, WAITING, Wait, check, emit_event
from spanwise.debug._lockbuffer import add as emit_acquisition
from spanwise.debug._locks import (
    LIVE,
    acquisition_id,
    default_name,
    forget_held,
    holder_info,
    note_held,
    seq_of,
)
from spanwise.debug._records import PARTY, span_ids, task_name


def _party() -> Any:
    """The current asyncio task, or the thread when there is none."""
    asyncio = sys.modules["asyncio"]
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return task if task is not None else threading.get_ident()


class _Watch:
    """Runs the deadlock check for a waiting task every CHECK_INTERVAL_S."""

    __slots__ = ("handle", "loop", "party")

    def __init__(self, loop: Any, party: Any) -> None:
        self.loop = loop
        self.party = party
        self.handle = loop.call_later(CHECK_INTERVAL_S, self.tick)

    def tick(self) -> None:
        check(self.party)
        self.handle = self.loop.call_later(CHECK_INTERVAL_S, self.tick)

    def cancel(self) -> None:
        self.handle.cancel()


class AsyncLock:
    """``async with spanwise.AsyncLock("name"):`` — an asyncio.Lock that records who
    waited and held it. ``await lock.acquire(timeout=…)`` returns False on timeout."""

    kind = "asyncio"
    reentrant = False
    __slots__ = ("__weakref__", "_aenter", "_aexit", "_hold", "_raw", "acquire", "name", "release")

    if TYPE_CHECKING:
        acquire: Callable[..., Any]
        release: Callable[[], None]
        _aenter: Callable[..., Any]
        _aexit: Callable[..., Any]

        async def __aenter__(self) -> bool: ...

        async def __aexit__(self, *exc_info: object) -> None: ...
    else:
        __aenter__ = property(attrgetter("_aenter"))
        __aexit__ = property(attrgetter("_aexit"))

    def __init__(self, name: str | None = None, *, _raw: Any = None) -> None:
        import asyncio

        self.name = str(name) if name else default_name()
        self._raw = _raw if _raw is not None else asyncio.Lock()
        self._hold: tuple[Any, ...] | None = None
        self._set_traced(RT.mode == "trace")
        LIVE.add(self)

    @property
    def _owner(self) -> Any:
        hold = self._hold
        return None if hold is None else hold[PARTY]

    def _set_traced(self, on: bool) -> None:
        raw = self._raw
        if on:
            self.acquire = self._aenter = self._t_acquire
            self.release = self._t_release
            self._aexit = self._t_aexit
            return
        self.acquire, self.release = self._raw_acquire, raw.release
        self._aenter, self._aexit = raw.__aenter__, raw.__aexit__
        hold, self._hold = self._hold, None
        if hold is not None:
            forget_held(hold[PARTY], self)

    def locked(self) -> bool:
        return bool(self._raw.locked())

    async def _t_acquire(self, timeout: float | None = None) -> bool:
        rt = RT
        if rt.mode != "trace":
            self._set_traced(False)
            return await self._raw_acquire(timeout)
        req = rt.perf()
        party = _party()
        span = current.get()
        contended = self._raw.locked()
        common: dict[str, Any] = {}
        watch = None
        held = HELD.setdefault(party, [])
        note_held(self, held)  # the order counts when asked for, even if never granted
        if contended:
            trace_id, span_id = span_ids(span)
            common = {
                "lock_name": self.name,
                "kind": self.kind,
                "trace_id": trace_id,
                "span_id": span_id,
                "thread": threading.current_thread().name,
                "task": None if isinstance(party, int) else task_name(party),
                "operation": span.name if span is not None and trace_id else None,
                "acquisition": acquisition_id(),
            }
            emit_event(
                event="requested", time_ns=req + rt.offset, details=holder_info(self), **common
            )
            WAITING[party] = Wait(self, span, req, common["operation"])
            watch = _Watch(sys.modules["asyncio"].get_running_loop(), party)
        try:
            got = await self._raw_acquire(timeout)
        except BaseException:
            now = rt.perf()
            if not held:
                HELD.pop(party, None)
            if contended:
                emit_event(event="cancelled", wait_ns=now - req, time_ns=now + rt.offset, **common)
            raise
        finally:
            if watch is not None:
                watch.cancel()
                WAITING.pop(party, None)
        now = rt.perf()
        if not got:
            if contended:
                emit_event(event="timeout", wait_ns=now - req, time_ns=now + rt.offset, **common)
            if not held:
                HELD.pop(party, None)
            return False
        self._hold = (now, party, span, seq_of(common) if contended else False, req)
        if contended:
            emit_event(event="acquired", wait_ns=now - req, time_ns=now + rt.offset, **common)
        held.append(self)
        return True

    async def _raw_acquire(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return bool(await self._raw.acquire())
        asyncio = sys.modules["asyncio"]
        try:
            return bool(await asyncio.wait_for(self._raw.acquire(), timeout))
        except TimeoutError:
            return False

    def _t_release(self) -> None:
        hold = self._hold
        if hold is None:
            self._raw.release()
            return
        now = RT.perf()
        self._hold = None
        forget_held(hold[PARTY], self)
        self._raw.release()
        emit_acquisition(self, hold, now)

    async def _t_aexit(self, *exc_info: object) -> None:
        self._t_release()

    def __repr__(self) -> str:
        state = "held" if self._raw.locked() else "free"
        return f"<spanwise.AsyncLock {self.name!r} {state}>"
