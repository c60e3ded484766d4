"""Store writers for ``error``, ``lock_event`` and ``state_diff`` records (tables from
migration ``0010_debug``). Snapshots go to ``blobs`` by content hash. Registered by
``spanwise.debug._session_log`` at each ``configure("trace")``; this module loads with the
first such record, on the writer thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spanwise._runtime import RT
from spanwise.store._blobs import BlobBatch
from spanwise.store._json import dumps

ERROR_COLUMNS = (
    "error_id",
    "trace_id",
    "span_id",
    "session_id",
    "time_ns",
    "pid",
    "thread",
    "task",
    "error_type",
    "error_message",
    "function",
    "file",
    "line",
    "frames",
    "chain",
    "state_hash",
    "llm_span_ids",
    "truncated",
)
DIFF_COLUMNS = (
    "trace_id",
    "span_id",
    "session_id",
    "time_ns",
    "duration_ns",
    "label",
    "before_hash",
    "after_hash",
    "patch",
    "change_count",
    "truncated",
    "status",
    "error_type",
    "pid",
)


def _insert(table: str, columns: Sequence[str], p: str, conflict: str = "") -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([p] * len(columns))}){conflict}"
    )


def write_errors(cur: Any, records: Sequence[Any], p: str) -> None:
    from spanwise._ids import format_span_id

    blobs = BlobBatch()
    rows = []
    for record in records:
        r = record.report
        linked = [format_span_id(s.span_id) for s in record.llm_calls]
        rows.append(
            (
                r["error_id"],
                r["trace_id"],
                r["span_id"],
                r["session"],
                r["time_ns"],
                r["pid"],
                r["thread"],
                r["task"],
                r["error_type"],
                r["error_message"],
                r["function"],
                r["file"],
                r["line"],
                dumps(r["frames"]),
                dumps(r["chain"]) if r["chain"] else None,
                blobs.add(r["state_snapshot"]),
                dumps(linked) if linked else None,
                1 if r["truncated"] else 0,
            )
        )
    blobs.write(cur, p)
    cur.executemany(_insert("errors", ERROR_COLUMNS, p, " ON CONFLICT (error_id) DO NOTHING"), rows)


def write_lock_events(cur: Any, records: Sequence[Any], p: str) -> None:
    # Imported here: a process whose writer never sees a lock event never loads it.
    from spanwise.debug._records import LOCK_EVENT_FIELDS

    session = RT.session
    rows = []
    details_at = LOCK_EVENT_FIELDS.index("details")
    for record in records:
        for row in record.rows():
            values = list(row)
            if values[details_at] is not None:
                values[details_at] = dumps(values[details_at])
            rows.append((*values, session))
    cur.executemany(_insert("lock_events", (*LOCK_EVENT_FIELDS, "session_id"), p), rows)


def write_state_diffs(cur: Any, records: Sequence[Any], p: str) -> None:
    blobs = BlobBatch()
    session = RT.session
    rows = [
        (
            d.trace_id,
            d.span_id,
            session,
            d.time_ns,
            d.duration_ns,
            d.label,
            blobs.add(d.before),
            blobs.add(d.after),
            dumps(d.patch),
            len(d.patch),
            1 if d.truncated else 0,
            d.status,
            d.error_type,
            d.pid,
        )
        for d in records
    ]
    blobs.write(cur, p)
    cur.executemany(_insert("state_diffs", DIFF_COLUMNS, p), rows)
