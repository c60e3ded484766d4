"""The store exporter: one transaction per batch, every record type in its own table."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from spanwise import _internal
from spanwise._export import EXPORTER_DROP_REASONS, ExportResult
from spanwise._runtime import RT
from spanwise.store._database import Database, open_database

if TYPE_CHECKING:
    from spanwise.store._overlap import Inserter

# Writers for record types added by other features: record_type -> fn(cursor, records,
# placeholder). Registered by the module that defines the record.
RecordWriter = Callable[[Any, Sequence[Any], str], None]
RECORD_WRITERS: dict[str, RecordWriter] = {}


_EXPORTER_UPSERT = (
    "INSERT INTO exporter_stats (pid, started_ns, host, updated_ns, exporter, endpoint, sent, "
    "buffered, buffer_full, rejected, retries_exhausted, shutdown) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (host, pid, started_ns, exporter) DO UPDATE SET "
    "updated_ns = excluded.updated_ns, endpoint = excluded.endpoint, sent = excluded.sent, "
    "buffered = excluded.buffered, buffer_full = excluded.buffer_full, "
    "rejected = excluded.rejected, retries_exhausted = excluded.retries_exhausted, "
    "shutdown = excluded.shutdown"
)


def register_writer(record_type: str, writer: RecordWriter) -> None:
    RECORD_WRITERS[record_type] = writer


def stats_fallback_path(url: str) -> Any:
    """Where counters go when the store cannot take them: beside a SQLite file, or home."""
    from pathlib import Path

    from spanwise._settings import home_dir

    if url.startswith("sqlite://"):
        return Path(url[len("sqlite://") :] + ".drops.jsonl")
    return home_dir() / "drops.jsonl"


def write_stats_fallback(url: str, row: tuple[Any, ...]) -> None:
    import json

    keys = (
        "pid",
        "started_ns",
        "host",
        "updated_ns",
        "exported",
        "queue_full",
        "shutdown",
        "write_error",
    )
    try:
        path = stats_fallback_path(url)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(zip(keys, row, strict=True))) + "\n")
    except OSError:
        pass


class StoreExporter:
    """Writes batches into a Database opened lazily on the writer thread. The row-building
    modules load there too, with the first batch: a program that turns tracing on does not
    wait for them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: Database | None = None
        self._lock = threading.Lock()
        self._inserter: Inserter | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.url)
        return self._db

    def export(self, records: Sequence[Any]) -> ExportResult:
        with self._lock:
            # Imported under the lock that ``before_fork`` takes: a fork never copies an
            # import in progress (its module lock would stay held in the child).
            from spanwise.store._overlap import write_spans_overlapped
            from spanwise.store._span_rows import SpanRows

            db = self.db
            placeholder = "%s" if db.dialect == "postgresql" else "?"
            spans = SpanRows(RT.session, os.getpid())
            others: dict[str, list[Any]] = {}
            span_records = []
            for record in records:
                kind = record.record_type
                if kind == "span":
                    span_records.append(record)
                else:
                    others.setdefault(kind, []).append(record)
            inserter = self._inserter_for(db, len(span_records))
            if inserter is None:
                spans.add_all(span_records)
            with db.transaction() as cur:
                if inserter is not None:
                    write_spans_overlapped(cur, spans, span_records, inserter, placeholder)
                spans.write(cur, placeholder)
                for kind, group in others.items():
                    writer = RECORD_WRITERS.get(kind)
                    if writer is None:
                        _internal.report("store.export", LookupError(f"no writer for {kind!r}"))
                        continue
                    writer(cur, group, placeholder)
        return ExportResult.SUCCESS

    def _inserter_for(self, db: Database, span_count: int) -> Inserter | None:
        """The helper thread for a large SQLite batch (started once per process)."""
        from spanwise.store._overlap import MIN_SPANS, Inserter

        if span_count < MIN_SPANS or db.dialect != "sqlite":
            return None
        inserter = self._inserter
        if inserter is None or inserter.pid != os.getpid():
            try:
                inserter = self._inserter = Inserter()
            except RuntimeError:  # no new threads (interpreter shutting down): write plainly
                return None
        return inserter

    def record_stats(self, stats: dict[str, Any], started_ns: int) -> None:
        """Upsert this process's pipeline counters; fall back to a file beside the store."""
        import socket
        import time

        drops = stats["dropped"]
        row = (
            os.getpid(),
            started_ns,
            socket.gethostname(),
            time.time_ns(),
            stats["exported"],
            drops["queue_full"],
            drops["shutdown"],
            drops["write_error"],
        )
        exporters = [
            (
                *row[:4],
                name,
                s.get("endpoint"),
                s.get("sent", 0),
                s.get("buffered", 0),
                *(s.get("dropped", {}).get(reason, 0) for reason in EXPORTER_DROP_REASONS),
            )
            for name, s in (stats.get("exporters") or {}).items()
        ]
        try:
            with self._lock:
                db = self.db
                p = "%s" if db.dialect == "postgresql" else "?"
                with db.transaction() as cur:
                    cur.execute(
                        "INSERT INTO pipeline_stats (pid, started_ns, host, updated_ns, exported, "
                        f"queue_full, shutdown, write_error) VALUES ({', '.join([p] * 8)}) "
                        "ON CONFLICT (host, pid, started_ns) DO UPDATE SET "
                        "updated_ns = excluded.updated_ns, exported = excluded.exported, "
                        "queue_full = excluded.queue_full, shutdown = excluded.shutdown, "
                        "write_error = excluded.write_error",
                        row,
                    )
                    for values in exporters:
                        cur.execute(_EXPORTER_UPSERT.replace("?", p), values)
        except Exception:  # noqa: BLE001 - the store is failing: keep the counts elsewhere
            write_stats_fallback(self.url, row)

    def force_flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        with self._lock:
            if self._inserter is not None:
                self._inserter.close()
                self._inserter = None
            if self._db is not None:
                self._db.close()
                self._db = None

    def before_fork(self) -> None:
        self._lock.acquire()

    def after_fork_in_parent(self) -> None:
        self._lock.release()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._inserter = None  # its thread did not cross fork()
        db = self._db
        self._db = None
        if db is not None:
            abandon = getattr(db, "abandon_in_child", None)
            if abandon is not None:
                abandon()
