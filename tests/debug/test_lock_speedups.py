"""The thread locks' hot path exists twice: in C (``spanwise.debug._lockfast``, used when
it is built) and in pure Python (used when it is missing or ``SPANWISE_NO_SPEEDUPS=1``).
The tests here run against whichever is active; CI runs tests/debug a second time with
``SPANWISE_NO_SPEEDUPS=1`` (see .ci/run), so both are covered."""

from __future__ import annotations

import gc
import importlib.util
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest
from debug_helpers import Traced

import spanwise
from spanwise._export import ExportResult
from spanwise.debug import _lockbuffer

HERE = Path(__file__).resolve().parent
BUILT = importlib.util.find_spec("spanwise.debug._lockfast") is not None
DISABLED = os.environ.get("SPANWISE_NO_SPEEDUPS", "") not in ("", "0")


def test_the_c_hot_path_is_used_when_built_unless_disabled() -> None:
    uses_c = _lockbuffer.FAST is not None
    # (built but unused: a stale build; rebuild with `pip install -e .`)
    assert uses_c == (BUILT and not DISABLED)
    if uses_c:
        from spanwise.debug import _lockfast

        assert isinstance(spanwise.Lock("c"), _lockfast.ThreadLockCore)
        assert isinstance(spanwise.RLock("c"), _lockfast.ThreadLockCore)
        assert isinstance(_lockbuffer.BUFFER, _lockfast.Buffer)


@pytest.mark.parametrize("tracing", [False, True], ids=["off", "trace"])
def test_misuse_raises_like_the_raw_locks(tracing: bool) -> None:
    if tracing:
        spanwise.configure("trace", home=os.environ["SPANWISE_HOME"])
    lock, rlock = spanwise.Lock("L"), spanwise.RLock("R")
    with pytest.raises(RuntimeError):
        lock.release()
    with pytest.raises(RuntimeError):
        rlock.release()
    with pytest.raises(TypeError):
        lock.acquire(True, -1, "third")
    with pytest.raises(TypeError):
        lock.acquire(wait=True)  # type: ignore[call-arg]
    rlock.acquire()
    errors: list[BaseException] = []

    def release_from_another_thread() -> None:
        try:
            rlock.release()
        except RuntimeError as exc:
            errors.append(exc)

    other = threading.Thread(target=release_from_another_thread)
    other.start()
    other.join(5)
    assert len(errors) == 1  # not the owner
    rlock.release()
    assert lock.acquire(blocking=True, timeout=1) and lock.locked()
    lock.release()
    assert not lock.locked()


def test_rlock_reentered_after_a_contended_acquisition(traced: Traced) -> None:
    rlock = spanwise.RLock("tree")
    held, go = threading.Event(), threading.Event()

    def holder() -> None:
        with rlock:
            held.set()
            go.wait(5)

    t = threading.Thread(target=holder, name="holder")
    t.start()
    held.wait(5)
    threading.Timer(0.05, go.set).start()
    with rlock:  # contended: waits for the holder
        with rlock, rlock:
            pass
        assert rlock.acquire(timeout=1)
        rlock.release()
    t.join(5)
    with pytest.raises(RuntimeError):
        rlock.release()  # all released: one too many
    events = traced.lock_events("tree")
    mine = [e["event"] for e in events if e["thread"] == "MainThread"]
    assert mine == ["requested", "acquired", "released"]
    assert [e["event"] for e in events].count("released") == 2


def test_a_lock_held_across_mode_changes_stays_one_lock(tmp_path: Path) -> None:
    home = Path(os.environ["SPANWISE_HOME"])
    lock, rlock = spanwise.Lock("across"), spanwise.RLock("across-r")
    lock.acquire()
    rlock.acquire()
    spanwise.configure("trace", home=home)
    lock.release()  # taken untraced: a plain release
    rlock.release()
    with lock, rlock:
        spanwise.configure("off")  # held while tracing stops
    assert not lock.locked()
    spanwise.configure("trace", home=home)
    with lock:
        pass
    events = Traced(home).lock_events("across")
    assert [e["event"] for e in events][-3:] == ["requested", "acquired", "released"]


def test_locks_are_freed_when_unreferenced(traced: Traced) -> None:
    lock, rlock = spanwise.Lock("gone"), spanwise.RLock("gone-r")
    with lock, rlock:
        pass
    traced.flush()  # the pending record of the acquisition refers to the lock
    refs = [weakref.ref(lock), weakref.ref(rlock)]
    del lock, rlock
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_recording_errors_are_reported_and_never_break_the_lock(
    internal_errors: Any,
) -> None:
    class FailingClock:
        fail = False
        epoch_offset_ns = 0

        def monotonic_ns(self) -> int:
            if FailingClock.fail:
                raise OSError("clock broke")
            return 1_000

    spanwise.configure("trace", home=os.environ["SPANWISE_HOME"], clock=FailingClock())
    lock = spanwise.Lock("robust")
    FailingClock.fail = True
    with lock:
        assert lock.locked()
    assert not lock.locked()
    lock.acquire()
    FailingClock.fail = False
    lock.release()
    assert not lock.locked()
    wheres = {where for where, _ in internal_errors.items}
    assert "locks.acquire" in wheres
    assert all(isinstance(exc, OSError) for _, exc in internal_errors.items)


class _BlockingExporter:
    """Holds the writer thread in its first export until ``go`` is set; counts the
    released lock events it sees."""

    def __init__(self) -> None:
        self.entered, self.go = threading.Event(), threading.Event()
        self.released = 0

    def export(self, records: list[Any]) -> ExportResult:
        self.entered.set()
        self.go.wait(30)
        for r in records:
            if r.record_type == "lock_event":
                self.released += sum(e["event"] == "released" for e in r.events())
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        return None


def test_a_full_buffer_drops_and_counts_new_acquisitions() -> None:
    sink = _BlockingExporter()
    spanwise.configure("trace", exporters=[sink])
    try:
        with spanwise.span("first"):
            pass
        assert sink.entered.wait(10)  # the writer is stuck: nothing is drained
        lock = spanwise.Lock("flood")
        extra = 7
        for _ in range(_lockbuffer.MAX_PENDING + extra):
            lock.acquire()
            lock.release()
        sink.go.set()
        assert spanwise.flush(60)
        assert sink.released == _lockbuffer.MAX_PENDING
        assert spanwise.status()["pipeline"]["dropped"]["queue_full"] == extra
    finally:
        sink.go.set()


def test_acquisitions_after_shutdown_are_counted_as_dropped() -> None:
    spanwise.configure("trace", home=os.environ["SPANWISE_HOME"])
    lock = spanwise.Lock("late")
    spanwise.shutdown()
    for _ in range(3):
        with lock:
            pass
    assert spanwise.status()["pipeline"]["dropped"]["shutdown"] == 3
