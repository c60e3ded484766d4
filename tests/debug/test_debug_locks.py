"""Instrumented thread and asyncio locks: every acquisition records requested, acquired
(with its wait) or timeout/cancelled, then released (with its hold), with the holder."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest
from debug_helpers import Traced

import spanwise


def _by_acquisition(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["acquisition"]:
            out.setdefault(e["acquisition"], []).append(e)
    return out


def _assert_consistent(events: list[dict[str, Any]]) -> None:
    """Each acquisition: requested, then acquired or timeout/cancelled, then released,
    in time order, with wait and hold where they belong."""
    for group in _by_acquisition(events).values():
        kinds = [e["event"] for e in group]
        assert kinds in (
            ["requested", "acquired", "released"],
            ["requested", "timeout"],
            ["requested", "cancelled"],
        ), kinds
        times = [e["time_ns"] for e in group]
        assert times == sorted(times)
        if kinds[1] in ("acquired", "timeout", "cancelled"):
            assert group[1]["wait_ns"] == group[1]["time_ns"] - group[0]["time_ns"]
        if kinds[-1] == "released":
            assert group[2]["hold_ns"] == group[2]["time_ns"] - group[1]["time_ns"]


def test_with_lock_records_the_three_events_and_the_holder(traced: Traced) -> None:
    lock = spanwise.Lock("session-state")
    with spanwise.span("save_state") as span:
        with lock:
            time.sleep(0.01)
    events = traced.lock_events()
    assert [e["event"] for e in events] == ["requested", "acquired", "released"]
    _assert_consistent(events)
    released = events[2]
    assert released["hold_ns"] >= 10_000_000
    assert events[1]["wait_ns"] == 0
    for e in events:
        assert (e["lock_name"], e["kind"], e["pid"], e["thread"]) == (
            "session-state",
            "thread",
            os.getpid(),
            "MainThread",
        )
        assert e["trace_id"] == f"{span.trace_id:032x}"
        assert e["operation"] == "save_state"


def test_an_exception_inside_with_lock_releases_and_records(traced: Traced) -> None:
    lock = spanwise.Lock("L")
    with pytest.raises(ZeroDivisionError):
        with lock:
            1 / 0  # noqa: B018
    assert not lock.locked()
    assert lock.acquire(timeout=0.5)
    lock.release()
    events = traced.lock_events()
    assert [e["event"] for e in events] == ["requested", "acquired", "released"] * 2
    _assert_consistent(events)


def test_acquire_with_timeout_returning_false(traced: Traced) -> None:
    lock = spanwise.Lock("busy")
    holder_ready, done = threading.Event(), threading.Event()

    def holder() -> None:
        with spanwise.span("long_job"), lock:
            holder_ready.set()
            done.wait(5)

    t = threading.Thread(target=holder, name="holder")
    t.start()
    holder_ready.wait(5)
    assert lock.acquire(timeout=0.05) is False
    assert lock.acquire(blocking=False) is False
    done.set()
    t.join(5)
    assert lock.acquire(timeout=1)
    lock.release()
    events = traced.lock_events()
    _assert_consistent(events)
    timeouts = [e for e in events if e["event"] == "timeout"]
    assert len(timeouts) == 2
    assert timeouts[0]["wait_ns"] >= 50_000_000 and timeouts[1]["wait_ns"] == 0
    requested = [e for e in events if e["event"] == "requested" and e["thread"] == "MainThread"]
    assert requested[0]["details"]["holder"] == "holder"
    assert requested[0]["details"]["operation"] == "long_job"
    with pytest.raises(ValueError):
        lock.acquire(False, 1.0)


def test_contended_waits_are_measured(traced: Traced) -> None:
    lock = spanwise.Lock("shared")
    start = threading.Barrier(3)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            with lock:
                time.sleep(0.002)

    threads = [threading.Thread(target=worker, name=f"w{i}") for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    events = traced.lock_events()
    _assert_consistent(events)
    acquired = [e for e in events if e["event"] == "acquired"]
    assert len(acquired) == 15
    assert {e["thread"] for e in acquired} == {"w0", "w1", "w2"}
    assert any(e["wait_ns"] > 1_000_000 for e in acquired)
    holds = sorted(e["time_ns"] for e in events if e["event"] in ("acquired", "released"))
    assert len(holds) == 30  # never two holders at once: acquired/released alternate
    pairs = [(e["event"], e["time_ns"]) for e in events if e["event"] in ("acquired", "released")]
    pairs.sort(key=lambda p: p[1])
    assert [p[0] for p in pairs] == ["acquired", "released"] * 15


def test_reentrant_rlock_records_the_outermost_acquisition(traced: Traced) -> None:
    lock = spanwise.RLock("tree")

    def walk(depth: int) -> int:
        with lock:
            return depth if depth == 0 else walk(depth - 1)

    assert walk(5) == 0
    with lock:
        with lock:
            pass
    other = threading.Thread(target=lambda: lock.acquire() and lock.release())
    other.start()
    other.join(5)
    assert not other.is_alive()
    with pytest.raises(RuntimeError):
        lock.release()
    events = traced.lock_events()
    _assert_consistent(events)
    assert [e["event"] for e in events] == ["requested", "acquired", "released"] * 3


def test_release_from_another_thread_is_allowed_for_lock(traced: Traced) -> None:
    lock = spanwise.Lock("handoff")
    lock.acquire()
    t = threading.Thread(target=lock.release)
    t.start()
    t.join(5)
    assert not lock.locked()
    assert lock.acquire(timeout=1)
    lock.release()
    _assert_consistent(traced.lock_events())


def test_off_mode_is_a_plain_lock_and_trace_mode_switches_existing_locks(
    tmp_path: Any,
) -> None:
    lock = spanwise.Lock("early")
    rlock = spanwise.RLock("early-r")
    with lock, rlock, rlock:
        assert lock.locked()
    assert lock.acquire(timeout=0.1)
    lock.release()
    assert repr(lock) == "<spanwise.Lock 'early' free>"

    spanwise.configure("trace", home=os.environ["SPANWISE_HOME"])
    traced = Traced(__import__("pathlib").Path(os.environ["SPANWISE_HOME"]))
    with lock:
        pass
    with rlock:
        pass
    events = traced.lock_events()
    assert {e["lock_name"] for e in events} == {"early", "early-r"}
    spanwise.configure("off")
    assert lock._traced
    with lock:  # switches itself back to the raw lock
        pass
    assert not lock._traced


def test_instrument_lock_wraps_existing_locks() -> None:
    raw = threading.Lock()
    wrapped = spanwise.instrument_lock(raw, "legacy")
    assert isinstance(wrapped, spanwise.Lock) and wrapped.name == "legacy"
    with wrapped:
        assert raw.locked()  # one lock: the wrapper and the original
    assert isinstance(spanwise.instrument_lock(threading.RLock(), "r"), spanwise.RLock)
    assert spanwise.instrument_lock(wrapped) is wrapped

    async def make() -> Any:
        return spanwise.instrument_lock(asyncio.Lock(), "aio")

    assert isinstance(asyncio.run(make()), spanwise.AsyncLock)
    with pytest.raises(ValueError, match="cannot instrument Semaphore"):
        spanwise.instrument_lock(threading.Semaphore())


def test_default_names_point_at_the_creating_line() -> None:
    lock = spanwise.Lock()
    assert lock.name.startswith("test_debug_locks.py:")


def test_asyncio_lock_records_tasks_waits_timeouts_and_cancellation(traced: Traced) -> None:
    async def main() -> None:
        lock = spanwise.AsyncLock("aio-state")

        async def hold(seconds: float) -> None:
            async with lock:
                await asyncio.sleep(seconds)

        first = asyncio.create_task(hold(0.05), name="holder-task")
        await asyncio.sleep(0)
        second = asyncio.create_task(hold(0), name="waiter-task")
        await asyncio.gather(first, second)

        blocker = asyncio.create_task(hold(0.3), name="blocker")
        await asyncio.sleep(0)
        assert await lock.acquire(timeout=0.02) is False
        victim = asyncio.create_task(lock.acquire(), name="victim")
        await asyncio.sleep(0.01)
        victim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await victim
        await blocker
        assert await lock.acquire(timeout=1)
        lock.release()

    asyncio.run(main())
    events = traced.lock_events("aio-state")
    _assert_consistent(events)
    kinds = [e["event"] for e in events]
    assert kinds.count("timeout") == 1 and kinds.count("cancelled") == 1
    waiter = [e for e in events if e["task"] == "waiter-task" and e["event"] == "acquired"]
    assert waiter and waiter[0]["wait_ns"] >= 20_000_000
    assert {e["kind"] for e in events} == {"asyncio"}
