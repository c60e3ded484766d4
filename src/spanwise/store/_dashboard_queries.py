"""Read queries behind the dashboard and its JSON API (SQLite and PostgreSQL alike).

Tables added by other features (``errors``, ``lock_events``, ``state_diffs``,
``efficiency``) are read only when they exist, so a store without them shows
"nothing recorded" instead of failing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spanwise._export import EXPORTER_DROP_REASONS
from spanwise.store._database import Database

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_CATALOG_TTL_S = 10.0
_catalog: dict[tuple[int, str], tuple[float, Any]] = {}


def _cached(db: Database, key: str, compute: Any) -> Any:
    now = time.monotonic()
    slot = (id(db), key)
    hit = _catalog.get(slot)
    if hit is not None and now - hit[0] < _CATALOG_TTL_S:
        return hit[1]
    value = compute()
    _catalog[slot] = (now, value)
    return value


def existing_tables(db: Database) -> frozenset[str]:
    """Names of the tables in the store (cached for a few seconds)."""

    def compute() -> frozenset[str]:
        if db.dialect == "sqlite":
            rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = db.query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(current_schemas(false))"
            )
        return frozenset(str(r[0]) for r in rows)

    result: frozenset[str] = _cached(db, "tables", compute)
    return result


def table_columns(db: Database, table: str) -> tuple[str, ...]:
    """Column names of ``table`` in order; empty when the table does not exist."""
    if not _IDENT.match(table) or table not in existing_tables(db):
        return ()

    def compute() -> tuple[str, ...]:
        if db.dialect == "sqlite":
            return tuple(str(r[1]) for r in db.query(f"PRAGMA table_info({table})"))
        rows = db.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = ANY(current_schemas(false)) ORDER BY ordinal_position",
            (table,),
        )
        return tuple(str(r[0]) for r in rows)

    result: tuple[str, ...] = _cached(db, f"columns:{table}", compute)
    return result


# -- trace list ----------------------------------------------------------------------------
@dataclass
class TraceFilter:
    since_ns: int | None = None
    until_ns: int | None = None
    status: str | None = None
    session: str | None = None
    model: str | None = None
    name: str | None = None
    min_cost: float | None = None
    min_duration_ns: int | None = None


TRACE_LIST_COLUMNS = (
    "trace_id, name, session_id, start_ns, end_ns, (end_ns - start_ns) AS duration_ns, "
    "status, span_count, error_count, llm_call_count, input_tokens, output_tokens, cost_usd, "
    "unpriced_calls"
)


def search_traces(
    db: Database, flt: TraceFilter, *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Traces matching ``flt``, newest first, each with the ``models`` it called."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if flt.since_ns is not None:
        where.append("start_ns >= ?")
        params.append(flt.since_ns)
    if flt.until_ns is not None:
        where.append("start_ns < ?")
        params.append(flt.until_ns)
    if flt.status == "error":
        where.append("error_count > 0")
    elif flt.status == "ok":
        where.append("error_count = 0")
    if flt.session:
        where.append("session_id = ?")
        params.append(flt.session)
    if flt.name:
        # Case-insensitive on both: SQLite's LIKE already is, PostgreSQL needs ILIKE.
        like = "ILIKE" if db.dialect == "postgresql" else "LIKE"
        where.append(f"name {like} ? ESCAPE '\\'")
        params.append("%" + _like_escape(flt.name) + "%")
    if flt.min_cost is not None:
        where.append("cost_usd >= ?")
        params.append(flt.min_cost)
    if flt.min_duration_ns is not None:
        where.append("(end_ns - start_ns) >= ?")
        params.append(flt.min_duration_ns)
    if flt.model:
        where.append(
            "EXISTS (SELECT 1 FROM llm_calls l WHERE l.trace_id = traces.trace_id "
            "AND (l.request_model = ? OR l.response_model = ?))"
        )
        params.extend([flt.model, flt.model])
    params.extend([limit, offset])
    rows = db.query_dicts(
        f"SELECT {TRACE_LIST_COLUMNS} FROM traces WHERE {' AND '.join(where)} "
        "ORDER BY start_ns DESC, trace_id LIMIT ? OFFSET ?",
        params,
    )
    _attach_models(db, rows)
    return rows


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _attach_models(db: Database, rows: list[dict[str, Any]]) -> None:
    by_trace: dict[str, list[str]] = {r["trace_id"]: [] for r in rows}
    ids = [r["trace_id"] for r in rows if r["llm_call_count"]]
    if ids:
        marks = ", ".join("?" * len(ids))
        for trace_id, model in db.query(
            "SELECT DISTINCT trace_id, COALESCE(response_model, request_model) FROM llm_calls "
            f"WHERE trace_id IN ({marks})",
            ids,
        ):
            by_trace[trace_id].append(str(model))
    for r in rows:
        r["models"] = sorted(by_trace[r["trace_id"]])


def known_models(db: Database) -> list[str]:
    """Model names seen in LLM calls, for the filter list (cached for a few seconds)."""

    def compute() -> list[str]:
        rows = db.query(
            "SELECT DISTINCT COALESCE(response_model, request_model) FROM llm_calls LIMIT 500"
        )
        return sorted(str(r[0]) for r in rows if r[0])

    result: list[str] = _cached(db, "models", compute)
    return result


# -- one trace -----------------------------------------------------------------------------
def waterfall_spans(db: Database, trace_id: str) -> list[dict[str, Any]]:
    """The spans of a trace with just what the waterfall draws, in start order."""
    spans = db.query_dicts(
        "SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, status, error_type "
        "FROM spans WHERE trace_id = ? ORDER BY start_ns, id",
        (trace_id,),
    )
    # Joined here rather than in SQL: one indexed read of each table per trace.
    calls = {
        row[0]: row[1:]
        for row in db.query(
            "SELECT span_id, input_tokens, output_tokens, cost_usd, pricing_available, "
            "COALESCE(response_model, request_model) FROM llm_calls WHERE trace_id = ?",
            (trace_id,),
        )
    }
    empty = (None, None, None, None, None)
    for s in spans:
        inp, out, cost, available, model = calls.get(s["span_id"], empty)
        s["input_tokens"], s["output_tokens"], s["cost_usd"] = inp, out, cost
        s["pricing_available"], s["model"] = available, model
    return spans


def span_detail(db: Database, trace_id: str, span_id: str) -> dict[str, Any] | None:
    """One span with its attributes, events and LLM call (prompt/response resolved)."""
    rows = db.query_dicts(
        "SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, status, "
        "error_type, error_message, attributes, events, pid FROM spans "
        "WHERE trace_id = ? AND span_id = ? ORDER BY id LIMIT 1",
        (trace_id, span_id),
    )
    if not rows:
        return None
    span = rows[0]
    calls = db.query_dicts(
        "SELECT * FROM llm_calls WHERE trace_id = ? AND span_id = ? ORDER BY id LIMIT 1",
        (trace_id, span_id),
    )
    span["llm"] = calls[0] if calls else None
    return span


def blobs(db: Database, hashes: Sequence[str | None]) -> dict[str, str]:
    wanted = sorted({h for h in hashes if h})
    if not wanted:
        return {}
    marks = ", ".join("?" * len(wanted))
    rows = db.query(f"SELECT hash, content FROM blobs WHERE hash IN ({marks})", wanted)
    return {str(h): str(c) for h, c in rows}


def trace_records(
    db: Database, table: str, trace_id: str, *, limit: int = 1000
) -> list[dict[str, Any]] | None:
    """Rows of a feature table (``errors``, ``lock_events``, ``state_diffs``…) for a
    trace; None when the table (or its ``trace_id`` column) does not exist."""
    columns = table_columns(db, table)
    if "trace_id" not in columns:
        return None
    order = next(
        (c for c in ("ts_ns", "time_ns", "start_ns", "created_ns", "id") if c in columns), None
    )
    order_sql = f" ORDER BY {order}" if order else ""
    return db.query_dicts(
        f"SELECT * FROM {table} WHERE trace_id = ?{order_sql} LIMIT ?", (trace_id, limit)
    )


def trace_lock_events(
    db: Database, trace_id: str, start_ns: int, end_ns: int, *, limit: int = 2000
) -> list[dict[str, Any]] | None:
    """Lock events of a trace, plus those recorded outside any span (threads started in
    the trace do not inherit it) by the trace's processes while it ran."""
    columns = table_columns(db, "lock_events")
    if not {"trace_id", "time_ns", "pid"} <= set(columns):
        return trace_records(db, "lock_events", trace_id, limit=limit)
    return db.query_dicts(
        "SELECT * FROM lock_events WHERE trace_id = ? OR (trace_id IS NULL "
        "AND time_ns >= ? AND time_ns <= ? AND pid IN "
        "(SELECT DISTINCT pid FROM spans WHERE trace_id = ?)) ORDER BY time_ns LIMIT ?",
        (trace_id, start_ns, end_ns, trace_id, limit),
    )


# -- aggregates ----------------------------------------------------------------------------
def cost_over_time(db: Database, since_ns: int | None, bucket_ns: int) -> list[dict[str, Any]]:
    """LLM cost per time bucket and model. ``bucket`` is the bucket's start in epoch ns."""
    where = ""
    params: list[Any] = [bucket_ns]
    if since_ns is not None:
        where = "WHERE start_ns >= ? "
        params.append(since_ns)
    rows = db.query_dicts(
        "SELECT (start_ns / ?) AS bucket, COALESCE(response_model, request_model) AS model, "
        "COUNT(*) AS calls, COALESCE(SUM(input_tokens), 0) AS input_tokens, "
        "COALESCE(SUM(output_tokens), 0) AS output_tokens, "
        "COALESCE(SUM(cost_usd), 0) AS cost_usd, "
        "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_calls "
        f"FROM llm_calls {where}GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    )
    for r in rows:
        r["bucket"] = int(r["bucket"]) * bucket_ns
    return rows


def latency_by_name(
    db: Database, since_ns: int | None, *, kind: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Per span name: count, total, p50/p95/p99 (nearest rank) and max duration."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if since_ns is not None:
        where.append("start_ns >= ?")
        params.append(since_ns)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    params.append(limit)
    return db.query_dicts(
        "WITH s AS (SELECT name, kind, duration_ns, "
        "ROW_NUMBER() OVER (PARTITION BY name ORDER BY duration_ns) AS rn, "
        "COUNT(*) OVER (PARTITION BY name) AS n "
        f"FROM spans WHERE {' AND '.join(where)}) "
        "SELECT name, MIN(kind) AS kind, MAX(n) AS count, SUM(duration_ns) AS total_ns, "
        "MIN(CASE WHEN rn >= 0.50 * n THEN duration_ns END) AS p50_ns, "
        "MIN(CASE WHEN rn >= 0.95 * n THEN duration_ns END) AS p95_ns, "
        "MIN(CASE WHEN rn >= 0.99 * n THEN duration_ns END) AS p99_ns, "
        "MAX(duration_ns) AS max_ns "
        "FROM s GROUP BY name ORDER BY total_ns DESC, name LIMIT ?",
        params,
    )


def pipeline_drops(db: Database) -> dict[str, int]:
    """Records the recording programs dropped, by reason (from ``pipeline_stats``)."""
    totals = {"processes": 0, "exported": 0, "queue_full": 0, "shutdown": 0, "write_error": 0}
    if "pipeline_stats" not in existing_tables(db):
        return totals
    for row in db.query_dicts(
        "SELECT COUNT(*) AS processes, COALESCE(SUM(exported), 0) AS exported, "
        "COALESCE(SUM(queue_full), 0) AS queue_full, COALESCE(SUM(shutdown), 0) AS shutdown, "
        "COALESCE(SUM(write_error), 0) AS write_error FROM pipeline_stats"
    ):
        totals = {k: int(v) for k, v in row.items()}
    return totals


def exporter_drops(db: Database) -> dict[str, dict[str, int]]:
    """What the exporters that keep counters of their own (the OTLP sink) sent and
    dropped, by reason, summed over the recorded process runs (``exporter_stats``); by
    exporter name."""
    if "exporter_stats" not in existing_tables(db):
        return {}
    reasons = ", ".join(f"COALESCE(SUM({r}), 0) AS {r}" for r in EXPORTER_DROP_REASONS)
    rows = db.query_dicts(
        "SELECT exporter, COUNT(*) AS processes, COALESCE(SUM(sent), 0) AS sent, "
        f"{reasons} FROM exporter_stats GROUP BY exporter ORDER BY exporter"
    )
    return {str(row.pop("exporter")): {k: int(v) for k, v in row.items()} for row in rows}


def record_counts(db: Database) -> dict[str, int]:
    """Row counts of every spanwise table that exists."""
    counts: dict[str, int] = {}
    present = existing_tables(db)
    for table in (
        "traces",
        "spans",
        "llm_calls",
        "blobs",
        "errors",
        "lock_events",
        "state_diffs",
        "efficiency",
    ):
        if table in present:
            counts[table] = int(db.query(f"SELECT COUNT(*) FROM {table}")[0][0])
    return counts


def store_size(db: Database) -> int | None:
    size = getattr(db, "size_bytes", None)
    return int(size()) if size is not None else None
