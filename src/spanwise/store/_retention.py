"""Retention: counting and deleting traces older than a cutoff, with everything that
belongs to them (spans, LLM calls, feature records) and the blobs nothing uses anymore.

A trace is old when it both started and ended before the cutoff, so a trace still
receiving spans is never cut in half.
"""

from __future__ import annotations

from typing import Any

from spanwise.store._dashboard_queries import existing_tables, table_columns
from spanwise.store._database import Database

OLD = "start_ns < ? AND end_ns < ?"
# Feature tables without a trace id are pruned by their own time column.
TIME_COLUMNS = ("updated_ns", "time_ns", "recorded_ns", "ts_ns", "created_ns", "start_ns")


def count_old(db: Database, cutoff_ns: int) -> dict[str, int]:
    row = db.query(
        "SELECT COUNT(*), COALESCE(SUM(span_count), 0), COALESCE(SUM(llm_call_count), 0) "
        f"FROM traces WHERE {OLD}",
        (cutoff_ns, cutoff_ns),
    )[0]
    return {"traces": int(row[0]), "spans": int(row[1]), "llm_calls": int(row[2])}


def old_trace_ids(db: Database, cutoff_ns: int, limit: int) -> list[str]:
    return [
        str(r[0])
        for r in db.query(
            f"SELECT trace_id FROM traces WHERE {OLD} ORDER BY start_ns LIMIT ?",
            (cutoff_ns, cutoff_ns, limit),
        )
    ]


def _tables_with(db: Database, column: str) -> list[str]:
    return sorted(
        t
        for t in existing_tables(db)
        if t not in ("traces", "blobs", "schema_migrations") and column in table_columns(db, t)
    )


def delete_traces(db: Database, trace_ids: list[str]) -> None:
    """Delete these traces and every row that carries their trace id, in one transaction."""
    if not trace_ids:
        return
    p = "%s" if db.dialect == "postgresql" else "?"
    marks = ", ".join([p] * len(trace_ids))
    tables = _tables_with(db, "trace_id")
    with db.transaction() as cur:
        for table in tables:
            cur.execute(f"DELETE FROM {table} WHERE trace_id IN ({marks})", trace_ids)
        cur.execute(f"DELETE FROM traces WHERE trace_id IN ({marks})", trace_ids)


def delete_untraced(db: Database, cutoff_ns: int) -> int:
    """Old rows that belong to no trace (run-level records, process counters, feature
    records captured outside a span), by each table's own time column."""
    deleted = 0
    p = "%s" if db.dialect == "postgresql" else "?"
    for table in sorted(existing_tables(db)):
        if table in ("traces", "spans", "llm_calls", "blobs", "schema_migrations"):
            continue
        columns = table_columns(db, table)
        column = next((c for c in TIME_COLUMNS if c in columns), None)
        if column is None:
            continue
        untraced = "trace_id IS NULL AND " if "trace_id" in columns else ""
        with db.transaction() as cur:
            cur.execute(f"DELETE FROM {table} WHERE {untraced}{column} < {p}", (cutoff_ns,))
            deleted += max(cur.rowcount, 0)
    return deleted


def blob_references(db: Database) -> list[tuple[str, str]]:
    """(table, column) pairs that hold blob hashes: every column named ``*_hash``."""
    refs: list[tuple[str, str]] = []
    for table in sorted(existing_tables(db)):
        if table == "blobs":
            continue
        refs.extend((table, c) for c in table_columns(db, table) if c.endswith("_hash"))
    return refs


def delete_orphan_blobs(db: Database) -> int:
    """Delete blobs no row refers to anymore; returns how many."""
    refs = blob_references(db)
    if not refs:
        sql = "DELETE FROM blobs"
    elif db.dialect == "postgresql":
        # Anti-joins: PostgreSQL hashes each; NOT IN over a large list would not fit
        # work_mem and degrade to a scan per blob.
        sql = "DELETE FROM blobs b WHERE " + " AND ".join(
            f"NOT EXISTS (SELECT 1 FROM {t} r WHERE r.{c} = b.hash)" for t, c in refs
        )
    else:
        # SQLite builds one temporary index over the list for NOT IN.
        used = " UNION ".join(f"SELECT {c} FROM {t} WHERE {c} IS NOT NULL" for t, c in refs)
        sql = f"DELETE FROM blobs WHERE hash NOT IN ({used})"
    with db.transaction() as cur:
        cur.execute(sql)
        return max(int(cur.rowcount), 0)


def vacuum(db: Database) -> None:
    """Give the space back (SQLite) or make it reusable (PostgreSQL)."""
    db.query("VACUUM")


def rows_for_traces(db: Database, trace_ids: list[str]) -> dict[str, Any]:
    """Spans, LLM calls and their blobs for a set of traces (for export)."""
    if not trace_ids:
        return {"spans": [], "llm": {}, "blobs": {}}
    marks = ", ".join("?" * len(trace_ids))
    spans = db.query_dicts(
        "SELECT trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, "
        f"error_type, error_message, attributes, events FROM spans WHERE trace_id IN ({marks}) "
        "ORDER BY trace_id, start_ns, id",
        trace_ids,
    )
    calls = db.query_dicts(f"SELECT * FROM llm_calls WHERE trace_id IN ({marks})", trace_ids)
    from spanwise.store._dashboard_queries import blobs

    hashes = [c.get(k) for c in calls for k in ("prompt_hash", "response_hash", "system_hash")]
    return {
        "spans": spans,
        "llm": {(c["trace_id"], c["span_id"]): c for c in calls},
        "blobs": blobs(db, hashes),
    }


def trace_pages(db: Database, since_ns: int | None, page: int = 200) -> Any:
    """Yield lists of (trace_id, session_id) in start order, ``page`` at a time."""
    last: tuple[int, str] | None = None
    while True:
        where: list[str] = ["1=1"]
        params: list[Any] = []
        if since_ns is not None:
            where.append("start_ns >= ?")
            params.append(since_ns)
        if last is not None:
            where.append("(start_ns > ? OR (start_ns = ? AND trace_id > ?))")
            params.extend([last[0], last[0], last[1]])
        rows = db.query(
            f"SELECT trace_id, session_id, start_ns FROM traces WHERE {' AND '.join(where)} "
            "ORDER BY start_ns, trace_id LIMIT ?",
            [*params, page],
        )
        if not rows:
            return
        yield [(str(r[0]), r[1]) for r in rows]
        last = (int(rows[-1][2]), str(rows[-1][0]))
