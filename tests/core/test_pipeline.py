"""The pipeline under pressure: a blocked sink, shutdown, fork and exit."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc

import pytest

import spanwise
from spanwise._export import ExportResult
from spanwise.testing import InMemoryExporter


class BlockedExporter:
    """An exporter whose export() waits until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.exported = 0

    def export(self, records):
        self.entered.set()
        self.release.wait(30)
        self.exported += len(records)
        return ExportResult.SUCCESS

    def force_flush(self, timeout=None):
        return True

    def shutdown(self, timeout=None):
        self.release.set()


def test_blocked_sink_drops_exactly_the_overflow_and_memory_stays_bounded(tmp_path):
    sink = BlockedExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[sink], queue_size=1000, batch_size=10)
    with spanwise.span("first"):
        pass
    spanwise.flush(timeout=0.01)  # wakes the writer, which now blocks in export()
    assert sink.entered.wait(5)
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    for _ in range(101_000):
        with spanwise.span("overflow", i=1):
            pass
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    stats = spanwise.status()["pipeline"]
    # The writer holds "first" (blocked in export); the queue then takes exactly 1000.
    queued_spans = 1000
    assert stats["dropped"]["queue_full"] == 101_000 - queued_spans
    assert grown < 5_000_000  # ~1000 queued spans, not 101k
    sink.release.set()
    assert spanwise.flush(5)
    assert sink.exported == 1 + queued_spans


def test_records_after_shutdown_are_dropped_and_counted(tmp_path):
    mem = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[mem])
    with spanwise.span("before"):
        pass
    assert spanwise.shutdown(5)
    from spanwise._setup import STATE

    pipeline = STATE.pipeline
    with spanwise.span("after"):
        pass
    assert [s.name for s in mem.spans] == ["before"]
    assert pipeline.stats()["dropped"]["shutdown"] == 1
    assert mem.shut_down


def test_batch_size_wakes_the_writer_without_waiting_for_the_interval(tmp_path):
    mem = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[mem], batch_size=50, flush_interval=30)
    for _ in range(50):
        with spanwise.span("s"):
            pass
    deadline = time.monotonic() + 2
    while len(mem.records) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(mem.records) == 50


def test_shutdown_deadline_is_kept_with_a_slow_sink(tmp_path):
    class Slow(BlockedExporter):
        def export(self, records):
            time.sleep(2)
            self.exported += len(records)
            return ExportResult.SUCCESS

    sink = Slow()
    spanwise.configure("trace", home=tmp_path, exporters=[sink], batch_size=10, flush_interval=30)
    for _ in range(30):
        with spanwise.span("s"):
            pass
    t0 = time.monotonic()
    finished = spanwise.shutdown(timeout=3)
    assert time.monotonic() - t0 < 3.5
    assert finished is False


def test_failing_exporter_counts_write_errors_and_keeps_running(tmp_path, internal_errors):
    class Broken:
        def export(self, records):
            raise OSError("disk full")

        def force_flush(self, timeout=None):
            return True

        def shutdown(self, timeout=None):
            pass

    spanwise.configure("trace", home=tmp_path, exporters=[Broken()])
    for _ in range(7):
        with spanwise.span("s"):
            pass
    spanwise.flush()
    assert spanwise.status()["pipeline"]["dropped"]["write_error"] == 7
    assert internal_errors.items and isinstance(internal_errors.items[0][1], OSError)


def _record_then_break_store(tmp_path, breaker):
    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    with spanwise.span("ok"):
        pass
    spanwise.shutdown()
    undo = breaker(home)
    try:
        spanwise.configure("trace", home=home)
        with spanwise.span("lost"):
            pass
        spanwise.flush()
        drops = spanwise.status()["pipeline"]["dropped"]["write_error"]
        with spanwise.span("still running"):
            pass
    finally:
        spanwise.configure("off")
        undo()
    return home, drops


def _chattr(flag, *paths):
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0


def test_read_only_store_program_keeps_running_and_counts_write_errors(tmp_path, internal_errors):
    probe = tmp_path / "probe"
    probe.write_text("x")
    if not _chattr("+i", probe):
        pytest.skip("this filesystem cannot mark files immutable (root ignores chmod)")
    _chattr("-i", probe)

    def make_read_only(home):
        files = [home / "spanwise.db", home]
        _chattr("+i", *files)
        return lambda: _chattr("-i", *files)

    home, drops = _record_then_break_store(tmp_path, make_read_only)
    assert drops == 1
    rows = sqlite3.connect(home / "spanwise.db").execute("SELECT name FROM spans").fetchall()
    assert rows == [("ok",)]  # nothing already recorded was lost
    assert "cannot" in str(internal_errors.items[0][1])


def test_corrupt_store_program_keeps_running_and_counts_write_errors(tmp_path, internal_errors):
    def corrupt(home):
        db = home / "spanwise.db"
        db.write_bytes(b"this is not a database" * 100)
        return lambda: None

    _, drops = _record_then_break_store(tmp_path, corrupt)
    assert drops == 1
    assert "not a database" in str(internal_errors.items[0][1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_fork_child_starts_empty_and_parent_buffer_is_not_written_twice(tmp_path):
    home = tmp_path / "home"
    code = textwrap.dedent(
        f"""
        import os, spanwise
        spanwise.configure("trace", home={str(home)!r}, flush_interval=60, batch_size=100000)
        for i in range(9):
            with spanwise.span("parent"):
                pass
        pid = os.fork()
        if pid == 0:
            for i in range(100):
                with spanwise.span("child"):
                    pass
            spanwise.shutdown()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        spanwise.shutdown()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = dict(
        sqlite3.connect(home / "spanwise.db")
        .execute("SELECT name, COUNT(*) FROM spans GROUP BY name")
        .fetchall()
    )
    assert rows == {"parent": 9, "child": 100}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_fork_while_writer_is_busy_does_not_hang_the_child(tmp_path):
    home = tmp_path / "home"
    code = textwrap.dedent(
        f"""
        import os, spanwise
        spanwise.configure("trace", home={str(home)!r}, batch_size=50)
        for round in range(20):
            for i in range(500):
                with spanwise.span("busy"):
                    pass
            pid = os.fork()
            if pid == 0:
                with spanwise.span("child"):
                    pass
                spanwise.shutdown(5)
                os._exit(0)
            os.waitpid(pid, 0)
        spanwise.shutdown()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    rows = dict(
        sqlite3.connect(home / "spanwise.db")
        .execute("SELECT name, COUNT(*) FROM spans GROUP BY name")
        .fetchall()
    )
    assert rows == {"busy": 10_000, "child": 20}


def test_normal_exit_flushes_without_an_explicit_shutdown(tmp_path):
    home = tmp_path / "home"
    code = textwrap.dedent(
        f"""
        import sys, spanwise
        spanwise.configure("trace", home={str(home)!r}, flush_interval=60)
        for i in range(500):
            with spanwise.span("at exit"):
                pass
        sys.exit(3)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3
    count = (
        sqlite3.connect(home / "spanwise.db").execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    )
    assert count == 500


def test_multiprocessing_fork_child_flushes_on_exit(tmp_path):
    import multiprocessing

    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_mp_child)
    p.start()
    p.join(30)
    assert p.exitcode == 0
    spanwise.shutdown()
    count = (
        sqlite3.connect(home / "spanwise.db")
        .execute("SELECT COUNT(*) FROM spans WHERE name = 'mp child'")
        .fetchone()[0]
    )
    assert count == 25


def _mp_child():
    for _ in range(25):
        with spanwise.span("mp child"):
            pass


class ThreadNoting(InMemoryExporter):
    """Notes which thread shut it down, and how often."""

    def __init__(self) -> None:
        super().__init__()
        self.shutdown_threads: list[str] = []

    def shutdown(self, timeout=None):
        self.shutdown_threads.append(threading.current_thread().name)
        super().shutdown(timeout)


def test_wind_down_has_the_writer_store_and_close_the_sinks_while_the_program_goes_on(
    tmp_path,
):
    from spanwise._setup import STATE, wind_down

    sink = ThreadNoting()
    # An interval far longer than the test: only wind_down makes the writer drain.
    spanwise.configure("trace", home=tmp_path, exporters=[sink], flush_interval=3600)
    with spanwise.span("last"):
        pass
    pipeline = STATE.pipeline
    wind_down()
    pipeline._thread.join(5)
    assert not pipeline._thread.is_alive()
    assert [s.name for s in sink.spans] == ["last"]
    assert sink.shutdown_threads == ["spanwise-writer"]
    # A record emitted after the writer's last drain is counted, not lost silently;
    # flush does not wait for a writer that has stopped; shutdown closes nothing twice.
    with spanwise.span("late"):
        pass
    assert spanwise.flush(1) is True
    assert spanwise.shutdown(5) is False
    assert pipeline.stats()["dropped"]["shutdown"] == 1
    assert sink.shutdown_threads == ["spanwise-writer"]
    assert [s.name for s in sink.spans] == ["last"]


def test_shutdown_without_wind_down_closes_the_sinks_in_the_calling_thread(tmp_path):
    sink = ThreadNoting()
    spanwise.configure("trace", home=tmp_path, exporters=[sink], flush_interval=3600)
    with spanwise.span("only"):
        pass
    assert spanwise.shutdown(5) is True
    assert [s.name for s in sink.spans] == ["only"]
    assert sink.shutdown_threads == [threading.current_thread().name]
