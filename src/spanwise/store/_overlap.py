"""Building rows while SQLite inserts the previous ones.

Turning spans into rows is Python (it holds the GIL); SQLite's inserts run in C and release
the GIL for the time they spend in the database. A large batch is therefore written in
chunks: while a helper thread inserts chunk N, the writer builds the rows of chunk N + 1.
Both work inside the one transaction the exporter opened, one at a time on the connection
(the writer never touches it while the helper inserts), so a batch is still all or nothing
and ``export()`` still returns only once it is committed.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from spanwise.store._span_rows import SpanRows

if TYPE_CHECKING:
    import queue

CHUNK = 256  # spans per chunk: big enough to amortize a hand-off, small enough to overlap
MIN_SPANS = 2 * CHUNK  # smaller batches are written the plain way


class Inserter:
    """One helper thread that runs a call at a time and hands back its outcome."""

    def __init__(self) -> None:
        import queue  # here: most processes never write a batch this large

        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="spanwise-inserter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args = job
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting writer
                self._done.put(exc)
            else:
                self._done.put(None)

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        self._jobs.put((fn, args))

    def wait(self) -> None:
        error = self._done.get()
        if error is not None:
            raise error

    def close(self) -> None:
        if self.pid == os.getpid() and self._thread.is_alive():
            self._jobs.put(None)


def insert_rows(cur: Any, insert_sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` with one multi-row ``INSERT … VALUES (…), (…)`` statement: SQLite then
    runs all of them in a single step with the GIL released (``executemany`` takes the GIL
    back after every row, and waits for it while the writer is running Python)."""
    head, _, one = insert_sql.partition(" VALUES ")
    flat = list(itertools.chain.from_iterable(rows))
    cur.execute(f"{head} VALUES {', '.join([one] * len(rows))}", flat)


def write_spans_overlapped(
    cur: Any, rows: SpanRows, spans: Sequence[Any], inserter: Inserter, placeholder: str
) -> None:
    """Add ``spans`` to ``rows`` and insert their span rows, chunk by chunk; the rest of
    ``rows`` (LLM calls, blobs, trace totals) is left for ``rows.write``."""
    sql = rows.span_insert_sql(placeholder)
    running = False
    try:
        for start in range(0, len(spans), CHUNK):
            rows.add_all(spans[start : start + CHUNK])
            chunk, rows.spans = rows.spans, []
            if running:
                running = False
                inserter.wait()
            inserter.start(insert_rows, cur, sql, chunk)
            running = True
    finally:
        if running:
            inserter.wait()
