"""The server's store writer for ingested spans.

Requests hand their bodies to one writer thread and wait. The writer decodes them, prices
the LLM calls (as the local pipeline does), merges whatever requests are waiting into one
transaction (group commit) and resolves each request's future once its spans are
committed, so a 200 means "stored". Decoding happens on this thread too: CPU-bound
decoding on other threads would hold the GIL each time the writer comes back from
SQLite, which halves its throughput. The queue is bounded in bytes; when it is full the
request is refused (503 + Retry-After) and counted, never silently dropped. When a
merged transaction fails, each request is retried alone so one bad payload cannot sink
its neighbours.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from spanwise import _internal
from spanwise.server._otlp_spans import Decoded
from spanwise.store._database import Database
from spanwise.store._span_rows import SpanRows

DEFAULT_CAPACITY_BYTES = 128 * 1024 * 1024
MAX_SPANS_PER_TRANSACTION = 20_000
DEDUPE_CHUNK = 500

Item = tuple[str | None, int, Any]
Job = tuple[Callable[[], Decoded], int, "Future[Decoded]"]


class IngestWriter:
    def __init__(
        self,
        open_db: Callable[[], Database],
        price: Callable[[Any], Any],
        *,
        capacity_bytes: int = DEFAULT_CAPACITY_BYTES,
    ) -> None:
        self._open_db = open_db
        self._db: Database | None = None
        self._price = price
        self.capacity_bytes = capacity_bytes
        self._cond = threading.Condition()
        self._pending: collections.deque[Job] = collections.deque()
        self._pending_bytes = 0
        self._stopping = False
        self.counters = {
            "requests": 0,
            "spans_accepted": 0,
            "spans_written": 0,
            "transactions": 0,
            "duplicates": 0,
            "write_errors": 0,
        }
        self.rejected: dict[str, int] = collections.defaultdict(int)
        self._thread = threading.Thread(target=self._run, name="spanwise-ingest", daemon=True)
        self._thread.start()

    # -- request side --------------------------------------------------------------------------
    def submit(self, load: Callable[[], Decoded], size: int) -> Future[Decoded] | None:
        """Queue a request: ``load`` decodes it on the writer thread (raising PayloadError
        for a bad payload), ``size`` is its body size. The future resolves to the decoded
        request once its spans are committed. None when the queue is full (answer 503)."""
        future: Future[Decoded] = Future()
        with self._cond:
            if self._stopping:
                return None
            if self._pending_bytes and self._pending_bytes + size > self.capacity_bytes:
                return None
            self._pending.append((load, size, future))
            self._pending_bytes += size
            self.counters["requests"] += 1
            self._cond.notify()
        return future

    def submit_items(self, items: list[Item]) -> Future[Decoded] | None:
        """Queue spans decoded elsewhere."""
        decoded = Decoded(items=items)
        return self.submit(lambda: decoded, 256 * len(items))

    def count_rejected(self, reason: str, spans: int = 0) -> None:
        with self._cond:
            self.rejected[reason] += 1
            if spans:
                self.rejected[f"{reason}_spans"] += spans

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "queued_bytes": self._pending_bytes,
                "queued_requests": len(self._pending),
                "capacity_bytes": self.capacity_bytes,
                **self.counters,
                "rejected": dict(self.rejected),
            }

    # -- writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending and self._stopping:
                    return
                jobs = list(self._pending)
                self._pending.clear()
                self._pending_bytes = 0
            try:
                self._process(jobs)
            except Exception as exc:  # noqa: BLE001 - the writer thread must survive anything
                _internal.report("ingest.writer", exc)
                for _, _, future in jobs:
                    _settle(future, error=exc)

    def _process(self, jobs: list[Job]) -> None:
        """Decode and price each request, then write them in transactions of up to
        MAX_SPANS_PER_TRANSACTION spans."""
        ready: list[tuple[Decoded, Future[Decoded]]] = []
        for load, _, future in jobs:
            try:
                decoded = load()
            except Exception as exc:  # noqa: BLE001 - PayloadError: the caller answers 400
                _settle(future, error=exc)
                continue
            for _, _, span in decoded.items:
                try:
                    self._price(span)
                except Exception as exc:  # noqa: BLE001 - an unpriceable call stays unpriced
                    _internal.report("ingest.price", exc)
            with self._cond:
                self.counters["spans_accepted"] += len(decoded.items)
            ready.append((decoded, future))
        batch: list[tuple[Decoded, Future[Decoded]]] = []
        spans = 0
        for decoded, future in ready:
            if batch and spans + len(decoded.items) > MAX_SPANS_PER_TRANSACTION:
                self._write_batch(batch)
                batch, spans = [], 0
            batch.append((decoded, future))
            spans += len(decoded.items)
        if batch:
            self._write_batch(batch)

    def _write_batch(self, batch: list[tuple[Decoded, Future[Decoded]]]) -> None:
        try:
            self._write([item for decoded, _ in batch for item in decoded.items])
        except Exception as exc:  # noqa: BLE001 - retried per request below
            if len(batch) == 1:
                self._fail(batch[0][1], exc)
                return
            for decoded, future in batch:
                try:
                    self._write(decoded.items)
                except Exception as exc_one:  # noqa: BLE001
                    self._fail(future, exc_one)
                else:
                    _settle(future, decoded)
            return
        for decoded, future in batch:
            _settle(future, decoded)

    def _fail(self, future: Future[Decoded], exc: BaseException) -> None:
        with self._cond:
            self.counters["write_errors"] += 1
        _settle(future, error=exc)

    def _write(self, items: list[Item]) -> None:
        if self._db is None:
            self._db = self._open_db()
        db = self._db
        placeholder = "%s" if db.dialect == "postgresql" else "?"
        with db.transaction() as cur:
            fresh = _without_stored(cur, placeholder, items)
            groups: dict[tuple[str | None, int], list[Any]] = {}
            for session, pid, span in fresh:
                groups.setdefault((session, pid), []).append(span)
            for (session, pid), spans in groups.items():
                rows = SpanRows(session, pid)
                rows.add_all(spans)
                rows.write(cur, placeholder)
        with self._cond:
            self.counters["transactions"] += 1
            self.counters["spans_written"] += len(fresh)
            self.counters["duplicates"] += len(items) - len(fresh)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (within ``timeout``), then stop and close the store."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        deadline_missed = self._thread.is_alive()
        with self._cond:
            while self._pending:
                _, _, future = self._pending.popleft()
                _settle(future, error=RuntimeError("the server is shutting down"))
            self._pending_bytes = 0
        if self._db is not None and not deadline_missed:
            self._db.close()
            self._db = None


def _settle(future: Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    """Resolve a request's future; one whose client gave up (cancelled) is left alone."""
    if future.cancelled():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass


def _without_stored(cur: Any, placeholder: str, items: list[Item]) -> list[Item]:
    """Drop spans already stored (a client retrying after a timeout sends them again) and
    repeats within the batch, so a retry never counts tokens or cost twice. The common
    case — only new traces — costs one indexed query per 500 traces."""
    trace_ids = sorted({f"{span.trace_id or 1:032x}" for _, _, span in items})
    stored: set[tuple[str, str]] = set()
    for start in range(0, len(trace_ids), DEDUPE_CHUNK):
        chunk = trace_ids[start : start + DEDUPE_CHUNK]
        marks = ", ".join([placeholder] * len(chunk))
        cur.execute(f"SELECT trace_id, span_id FROM spans WHERE trace_id IN ({marks})", chunk)
        stored.update((str(t), str(s)) for t, s in cur.fetchall())
    seen: set[tuple[int, int]] = set()
    fresh = []
    for item in items:
        span = item[2]
        key = (span.trace_id, span.span_id)
        if key in seen:
            continue
        seen.add(key)
        if stored and (f"{span.trace_id or 1:032x}", f"{span.span_id or 1:016x}") in stored:
            continue
        fresh.append(item)
    return fresh
