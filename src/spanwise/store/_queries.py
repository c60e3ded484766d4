"""Read queries shared by the CLI, the dashboard and the Python query API."""

from __future__ import annotations

from typing import Any

from spanwise.store._database import Database


class TraceNotFound(LookupError):
    pass


def resolve_trace_id(db: Database, prefix: str) -> str:
    """The full trace id starting with ``prefix``; TraceNotFound if none or several."""
    clean = prefix.strip().lower()
    if not clean or any(c not in "0123456789abcdef" for c in clean):
        raise TraceNotFound(f"{prefix!r} is not a trace id (expected hex digits)")
    rows = db.query(
        "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? "
        "ORDER BY trace_id LIMIT 6",
        (clean, clean + "g"),
    )
    if not rows:
        raise TraceNotFound(f"no trace with id {prefix!r}")
    if len(rows) > 1:
        ids = ", ".join(r[0][:12] for r in rows[:5])
        raise TraceNotFound(f"trace id {prefix!r} is ambiguous: {ids}… (give more digits)")
    return str(rows[0][0])


def list_traces(
    db: Database,
    *,
    since_ns: int | None = None,
    status: str | None = None,
    session: str | None = None,
    name: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[dict[str, Any]]:
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if since_ns is not None:
        where.append("start_ns >= ?")
        params.append(since_ns)
    if status == "error":
        where.append("error_count > 0")
    elif status == "ok":
        where.append("error_count = 0")
    if session:
        where.append("session_id = ?")
        params.append(session)
    if name:
        where.append("name LIKE ?")
        params.append(f"%{name}%")
    params.extend([limit, offset])
    return db.query_dicts(
        "SELECT trace_id, name, session_id, start_ns, end_ns, (end_ns - start_ns) AS duration_ns, "
        "status, span_count, error_count, llm_call_count, input_tokens, output_tokens, cost_usd, "
        f"unpriced_calls FROM traces WHERE {' AND '.join(where)} "
        "ORDER BY start_ns DESC LIMIT ? OFFSET ?",
        params,
    )


def get_trace(db: Database, trace_id: str) -> dict[str, Any]:
    rows = db.query_dicts("SELECT * FROM traces WHERE trace_id = ?", (trace_id,))
    if not rows:
        raise TraceNotFound(f"no trace with id {trace_id!r}")
    return rows[0]


def trace_spans(db: Database, trace_id: str) -> list[dict[str, Any]]:
    """Spans of a trace in start order, each with its LLM-call columns under ``llm``."""
    spans = db.query_dicts(
        "SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, status, "
        "error_type, error_message, attributes, events, pid FROM spans WHERE trace_id = ? "
        "ORDER BY start_ns, id",
        (trace_id,),
    )
    calls = {
        c["span_id"]: c
        for c in db.query_dicts("SELECT * FROM llm_calls WHERE trace_id = ?", (trace_id,))
    }
    for s in spans:
        s["llm"] = calls.get(s["span_id"])
    return spans


def blob(db: Database, digest: str | None) -> str | None:
    if not digest:
        return None
    rows = db.query("SELECT content FROM blobs WHERE hash = ?", (digest,))
    return str(rows[0][0]) if rows else None


COST_GROUPS = {
    "model": "COALESCE(l.response_model, l.request_model)",
    "provider": "l.provider",
    "day": "strftime('%Y-%m-%d', l.start_ns / 1000000000, 'unixepoch')",
    "session": "COALESCE(t.session_id, '-')",
    "name": "COALESCE(t.name, '-')",
    "node": "COALESCE(p.name, '-')",
}


def cost_by(db: Database, by: str, since_ns: int | None = None) -> list[dict[str, Any]]:
    """Calls, tokens and cost grouped by model, provider, day, session, trace name or
    parent span (node). ``cost_usd`` sums priced calls; ``unpriced_calls`` counts the rest."""
    if by not in COST_GROUPS:
        raise ValueError(f"cannot group cost by {by!r}: expected one of {', '.join(COST_GROUPS)}")
    key = COST_GROUPS[by]
    if by == "day" and db.dialect == "postgresql":
        key = "to_char(to_timestamp(l.start_ns / 1e9) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    join_parent = (
        "LEFT JOIN spans s ON s.trace_id = l.trace_id AND s.span_id = l.span_id "
        "LEFT JOIN spans p ON p.trace_id = s.trace_id AND p.span_id = s.parent_span_id "
        if by == "node"
        else ""
    )
    where, params = "", []
    if since_ns is not None:
        where, params = "WHERE l.start_ns >= ?", [since_ns]
    return db.query_dicts(
        f"SELECT {key} AS key, COUNT(*) AS calls, "
        "COALESCE(SUM(l.input_tokens), 0) AS input_tokens, "
        "COALESCE(SUM(l.output_tokens), 0) AS output_tokens, "
        "COALESCE(SUM(l.cache_read_tokens), 0) AS cache_read_tokens, "
        "COALESCE(SUM(l.reasoning_tokens), 0) AS reasoning_tokens, "
        "COALESCE(SUM(l.cost_usd), 0) AS cost_usd, "
        "SUM(CASE WHEN l.cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_calls "
        f"FROM llm_calls l LEFT JOIN traces t ON t.trace_id = l.trace_id {join_parent}{where} "
        f"GROUP BY {key} ORDER BY cost_usd DESC, calls DESC",
        params,
    )


def store_counts(db: Database) -> dict[str, int]:
    counts = {}
    for table in ("traces", "spans", "llm_calls", "blobs"):
        counts[table] = int(db.query(f"SELECT COUNT(*) FROM {table}")[0][0])
    return counts


def cost_by_trace(db: Database, trace_id: str) -> list[dict[str, Any]]:
    """Per-model calls, tokens and cost within one trace."""
    return db.query_dicts(
        "SELECT COALESCE(response_model, request_model) AS key, COUNT(*) AS calls, "
        "COALESCE(SUM(input_tokens), 0) AS input_tokens, "
        "COALESCE(SUM(output_tokens), 0) AS output_tokens, "
        "COALESCE(SUM(cost_usd), 0) AS cost_usd, "
        "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_calls "
        "FROM llm_calls WHERE trace_id = ? GROUP BY COALESCE(response_model, request_model) "
        "ORDER BY cost_usd DESC",
        (trace_id,),
    )
