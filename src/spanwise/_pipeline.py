"""Records flow from the program into a bounded queue and out through one writer thread
that runs the processors and hands batches to the exporters.

Drop policy: when the queue is full the *new* record is dropped and counted
(``queue_full``); records emitted after shutdown are counted as ``shutdown``; a batch an
exporter fails to write is counted as ``write_error``. Nothing here ever raises into
or blocks the program being observed.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from spanwise import _internal
from spanwise._export import Exporter, ExportResult, Processor

DEFAULT_QUEUE_SIZE = 100_000
DEFAULT_BATCH_SIZE = 2_048
DEFAULT_INTERVAL_S = 0.2
# Producers never signal the writer on the hot path; it looks at the queue this often.
POLL_S = 0.05
DROP_REASONS = ("queue_full", "shutdown", "write_error")


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class Pipeline:
    def __init__(
        self,
        exporters: Sequence[Exporter],
        processors: Sequence[Processor] = (),
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        if queue_size <= 0 or batch_size <= 0:
            raise ValueError("queue_size and batch_size must be positive")
        self.exporters = list(exporters)
        self.processors = list(processors)
        self.queue_size = queue_size
        self.batch_size = min(batch_size, queue_size)
        self.interval_s = interval_s
        self._drops_lock = threading.Lock()
        self.drops = dict.fromkeys(DROP_REASONS, 0)
        self.exported = 0
        self._init_state()
        ref = weakref.ref(self)
        os.register_at_fork(
            before=lambda: _before_fork(ref),
            after_in_parent=lambda: _after_fork_in_parent(ref),
            after_in_child=lambda: _after_fork(ref),
        )
        _flush_before_thread_shutdown(ref)

    def _init_state(self) -> None:
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        # Set by ``wind_down``: the writer closes the exporters itself after its last drain.
        self._writer_closes_sinks = False
        self._sinks_claimed = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._started_ns = time.time_ns()
        # The drop counts last persisted: the pipeline's by reason, then the total of the
        # exporters that count their own (the OTLP sink).
        self._last_reported: tuple[int, ...] = (0,) * (len(DROP_REASONS) + 1)
        self._start_thread()

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._run, name="spanwise-writer", daemon=True)
        self._thread = thread
        thread.start()

    # -- producer side (any thread) ---------------------------------------------------------
    def enqueue(self, record: Any) -> None:
        queue = self._queue
        if len(queue) >= self.queue_size:
            self._drop("queue_full")
            return
        queue.append(record)

    def drop_full(self, record: Any) -> None:
        self._drop("queue_full")

    def _drop(self, reason: str, count: int = 1) -> None:
        with self._drops_lock:
            self.drops[reason] += count

    def drop_after_shutdown(self, record: Any) -> None:
        self._drop("shutdown")

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        wake = self._wake
        queue = self._queue
        poll = min(self.interval_s, POLL_S)
        last = time.monotonic()
        while True:
            woken = wake.wait(poll)
            now = time.monotonic()
            if not (woken or len(queue) >= self.batch_size or now - last >= self.interval_s):
                continue
            wake.clear()
            last = now
            stopping = self._stopping
            try:
                self._drain()
                self._report_stats(force=stopping)
            except Exception as exc:  # noqa: BLE001 - the writer must survive anything
                _internal.report("pipeline.drain", exc)
            if stopping:
                if self._writer_closes_sinks:
                    self._close_sinks(None)
                return

    def _report_stats(self, force: bool = False) -> None:
        """Persist drop counts (for ``spanwise status``) when they changed, and at exit:
        the pipeline's, and those of the exporters that keep counters of their own."""
        exporters = self.exporter_stats()
        with self._drops_lock:
            key = (
                *self.drops.values(),
                sum(sum(s.get("dropped", {}).values()) for s in exporters.values()),
            )
        if key == self._last_reported and not force:
            return
        self._last_reported = key
        stats = {**self.stats(), "exporters": exporters}
        for exporter in self.exporters:
            record = getattr(exporter, "record_stats", None)
            if record is not None:
                try:
                    record(stats, self._started_ns)
                except Exception as exc:  # noqa: BLE001
                    _internal.report("pipeline.record_stats", exc)

    def _drain(self) -> None:
        queue = self._queue
        popleft = queue.popleft
        batch_size = self.batch_size
        while queue:
            batch: list[Any] = []
            markers: list[_FlushMarker] = []
            while queue and len(batch) < batch_size:
                item = popleft()
                if type(item) is _FlushMarker:
                    markers.append(item)
                    break
                batch.append(item)
            if batch:
                self._export(batch)
            for marker in markers:
                marker.done.set()

    def _export(self, batch: list[Any]) -> None:
        for processor in self.processors:
            batch_form = getattr(processor, "process_batch", None)
            if batch_form is not None:
                try:
                    batch = batch_form(batch)
                except Exception as exc:  # noqa: BLE001 - a failing processor keeps the batch
                    _internal.report(f"processor {type(processor).__name__}", exc)
                continue
            out = []
            for record in batch:
                try:
                    result = processor(record)
                except Exception as exc:  # noqa: BLE001 - a failing processor keeps the record
                    _internal.report(f"processor {getattr(processor, '__name__', processor)}", exc)
                    result = record
                if result is not None:
                    out.append(result)
            batch = out
        failed = False
        for exporter in self.exporters:
            try:
                ok = exporter.export(batch) is ExportResult.SUCCESS
            except Exception as exc:  # noqa: BLE001
                _internal.report(f"exporter {type(exporter).__name__}", exc)
                ok = False
            failed = failed or not ok
        if failed:
            self._drop("write_error", len(batch))
        else:
            self.exported += len(batch)

    # -- control --------------------------------------------------------------------------
    def flush(self, timeout: float | None = 10.0) -> bool:
        """Export everything enqueued before this call; True if it finished in time."""
        if self._closed:
            return True
        thread = self._thread
        if threading.current_thread() is thread:
            return False
        if self._stopping:  # winding down: the writer's last drain is the flush
            if thread is not None:
                thread.join(timeout)
            return thread is None or not thread.is_alive()
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        done = marker.done.wait(timeout)
        if done:
            for exporter in self.exporters:
                try:
                    exporter.force_flush(timeout)
                except Exception as exc:  # noqa: BLE001
                    _internal.report("exporter.force_flush", exc)
        return done

    def nudge(self) -> None:
        """Start exporting what is queued now rather than at the next interval; returns
        at once (``flush`` is the call that waits)."""
        self._wake.set()

    def wind_down(self) -> None:
        """Start ``shutdown`` without waiting for it: the writer exports what is queued,
        then closes the exporters (a store's final checkpoint and its fsyncs among them)
        in its own thread while the caller goes on. ``shutdown`` then waits for it.
        Records emitted in between are exported if the writer's last drain sees them,
        else counted as dropped at ``shutdown``."""
        if self._closed or self._stopping:
            return
        self._writer_closes_sinks = True
        self._stopping = True
        self._wake.set()

    def shutdown(self, timeout: float | None = 10.0) -> bool:
        """Stop accepting records, export what is queued within ``timeout``, close sinks.

        Returns False when the deadline passed; what was left is counted as ``shutdown``.
        """
        if self._closed:
            return True
        self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        self._stopping = True
        self._wake.set()
        thread = self._thread
        finished = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            finished = not thread.is_alive()
        left = sum(1 for item in self._queue if type(item) is not _FlushMarker)
        if left:
            self._drop("shutdown", left)
            self._queue.clear()
            try:
                self._report_stats(force=True)
            except Exception as exc:  # noqa: BLE001
                _internal.report("pipeline.record_stats", exc)
        self._close_sinks(deadline)
        return finished and not left

    def _close_sinks(self, deadline: float | None) -> None:
        """Shut every exporter down, once: by the writer after ``wind_down``, else (or
        when the writer did not get there) by ``shutdown``."""
        with self._drops_lock:
            if self._sinks_claimed:
                return
            self._sinks_claimed = True
        # The sinks that record counters (the store) close last, after one more report:
        # what the others sent and dropped while closing (an OTLP sink's last spans) is
        # kept too.
        keepers = [e for e in self.exporters if hasattr(e, "record_stats")]
        others = [e for e in self.exporters if not hasattr(e, "record_stats")]
        for exporter in others:
            self._shut(exporter, deadline)
        if keepers and any(hasattr(e, "stats") for e in others):
            try:
                self._report_stats(force=True)
            except Exception as exc:  # noqa: BLE001
                _internal.report("pipeline.record_stats", exc)
        for exporter in keepers:
            self._shut(exporter, deadline)

    @staticmethod
    def _shut(exporter: Exporter, deadline: float | None) -> None:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            exporter.shutdown(remaining)
        except Exception as exc:  # noqa: BLE001
            _internal.report("exporter.shutdown", exc)

    def exporter_stats(self) -> dict[str, Any]:
        """Counters of the exporters that keep their own (the OTLP sink: sent, buffered,
        dropped by reason), by exporter name."""
        result: dict[str, Any] = {}
        for exporter in self.exporters:
            stats = getattr(exporter, "stats", None)
            if stats is None:
                continue
            try:
                name = getattr(exporter, "name", None) or type(exporter).__name__
                result[name] = stats()
            except Exception as exc:  # noqa: BLE001 - counters must not stop the writer
                _internal.report("pipeline.exporter_stats", exc)
        return result

    def stats(self) -> dict[str, Any]:
        with self._drops_lock:
            drops = dict(self.drops)
        return {
            "queued": len(self._queue),
            "queue_size": self.queue_size,
            "exported": self.exported,
            "dropped": drops,
        }

    def _reinit_in_child(self) -> None:
        # The parent's buffered records are the parent's to write: start empty.
        self._drops_lock = threading.Lock()
        self.drops = dict.fromkeys(DROP_REASONS, 0)
        self.exported = 0
        for exporter in self.exporters:
            after_fork = getattr(exporter, "after_fork", None)
            if after_fork is not None:
                after_fork()
        closed = self._closed
        self._init_state()
        if closed:
            self._closed = True
            self._stopping = True
            self._wake.set()
        else:
            from spanwise._setup import STATE, attach

            if STATE.pipeline is self:
                attach(self)


def _exporter_hooks(ref: weakref.ref[Pipeline], name: str) -> None:
    pipeline = ref()
    if pipeline is None:
        return
    for exporter in pipeline.exporters:
        hook = getattr(exporter, name, None)
        if hook is not None:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001
                _internal.report(f"pipeline.{name}", exc)


def _before_fork(ref: weakref.ref[Pipeline]) -> None:
    # Exporters finish the write in progress and hold off the next one, so that no
    # transaction is open in the memory the child inherits.
    _exporter_hooks(ref, "before_fork")


def _after_fork_in_parent(ref: weakref.ref[Pipeline]) -> None:
    _exporter_hooks(ref, "after_fork_in_parent")


def _after_fork(ref: weakref.ref[Pipeline]) -> None:
    pipeline = ref()
    if pipeline is None:
        return
    try:
        pipeline._reinit_in_child()
    except Exception as exc:  # noqa: BLE001
        _internal.report("pipeline.after_fork", exc)


def _flush_before_thread_shutdown(ref: weakref.ref[Pipeline]) -> None:
    """Flush when the interpreter shuts its threads down. This also runs in
    multiprocessing children, which leave through ``os._exit()`` and skip atexit."""

    def flush() -> None:
        pipeline = ref()
        if pipeline is not None and not pipeline._closed and pipeline._pid == os.getpid():
            pipeline.flush(5.0)

    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return
    try:
        register(flush)
    except RuntimeError:
        pass  # already shutting down
