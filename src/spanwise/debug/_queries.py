"""Read queries for the debugging views (CLI, dashboard): error reports, lock events and
their statistics, state diffs, and where the time of traces went."""

from __future__ import annotations

import json
import math
from typing import Any

from spanwise.store._database import Database
from spanwise.store._queries import blob


def has_table(db: Database, name: str) -> bool:
    """False on a store created before the debugging tables existed."""
    if db.dialect == "postgresql":
        sql = "SELECT 1 FROM information_schema.tables WHERE table_name = ?"
    else:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return bool(db.query(sql, (name,)))


def _loads(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def percentile(values: list[int], q: float) -> int | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- errors ---------------------------------------------------------------------------------
ERROR_LIST_COLUMNS = (
    "error_id, trace_id, span_id, session_id, time_ns, pid, thread, task, error_type, "
    "error_message, function, file, line"
)


def list_errors(
    db: Database,
    *,
    since_ns: int | None = None,
    session: str | None = None,
    trace_id: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    if not has_table(db, "errors"):
        return []
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if since_ns is not None:
        where.append("time_ns >= ?")
        params.append(since_ns)
    if session:
        where.append("session_id = ?")
        params.append(session)
    if trace_id:
        where.append("trace_id = ?")
        params.append(trace_id)
    params.append(limit)
    return db.query_dicts(
        f"SELECT {ERROR_LIST_COLUMNS} FROM errors WHERE {' AND '.join(where)} "
        "ORDER BY time_ns DESC LIMIT ?",
        params,
    )


def find_errors(db: Database, ident: str) -> list[dict[str, Any]]:
    """Errors whose error id, or else whose trace id, starts with ``ident``."""
    if not has_table(db, "errors"):
        return []
    clean = ident.strip().lower()
    if not clean or any(c not in "0123456789abcdef" for c in clean):
        return []
    for column in ("error_id", "trace_id"):
        rows = db.query_dicts(
            f"SELECT error_id FROM errors WHERE {column} >= ? AND {column} < ? "
            "ORDER BY time_ns LIMIT 50",
            (clean, clean + "g"),
        )
        if rows:
            return [get_error(db, r["error_id"]) for r in rows]
    return []


def get_error(db: Database, error_id: str) -> dict[str, Any]:
    row = db.query_dicts("SELECT * FROM errors WHERE error_id = ?", (error_id,))[0]
    row.pop("id", None)
    row["frames"] = _loads(row["frames"]) or []
    row["chain"] = _loads(row["chain"]) or []
    row["llm_span_ids"] = _loads(row["llm_span_ids"]) or []
    row["state_snapshot"] = _loads(blob(db, row.pop("state_hash")))
    return row


def trace_errors(db: Database, trace_id: str) -> list[dict[str, Any]]:
    if not has_table(db, "errors"):
        return []
    rows = db.query_dicts(
        "SELECT error_id FROM errors WHERE trace_id = ? ORDER BY time_ns", (trace_id,)
    )
    return [get_error(db, r["error_id"]) for r in rows]


def trace_llm_calls(db: Database, trace_id: str, preview: int = 300) -> list[dict[str, Any]]:
    """The LLM calls of a trace in time order, with span names and content previews."""
    rows = db.query_dicts(
        "SELECT l.span_id, s.name, l.start_ns, l.duration_ns, l.provider, l.request_model, "
        "l.response_model, l.input_tokens, l.output_tokens, l.cost_usd, l.status, "
        "s.error_type, l.prompt_hash, l.response_hash "
        "FROM llm_calls l LEFT JOIN spans s ON s.trace_id = l.trace_id AND s.span_id = l.span_id "
        "WHERE l.trace_id = ? ORDER BY l.start_ns",
        (trace_id,),
    )
    for r in rows:
        for key in ("prompt", "response"):
            text = blob(db, r.pop(f"{key}_hash"))
            if text is not None and len(text) > preview:
                text = text[:preview] + "…"
            r[key] = text
    return rows


# -- locks ----------------------------------------------------------------------------------
def lock_events(
    db: Database,
    *,
    trace_id: str | None = None,
    lock: str | None = None,
    since_ns: int | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Lock events, oldest first (the newest ``limit``)."""
    if not has_table(db, "lock_events"):
        return []
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if trace_id:
        where.append("trace_id = ?")
        params.append(trace_id)
    if lock:
        where.append("lock_name = ?")
        params.append(lock)
    if since_ns is not None:
        where.append("time_ns >= ?")
        params.append(since_ns)
    params.append(limit)
    rows = db.query_dicts(
        "SELECT time_ns, lock_name, kind, event, wait_ns, hold_ns, pid, thread, task, "
        "trace_id, span_id, operation, acquisition, level, details FROM lock_events "
        f"WHERE {' AND '.join(where)} ORDER BY time_ns DESC, id DESC LIMIT ?",
        params,
    )
    rows.reverse()
    for r in rows:
        r["details"] = _loads(r["details"])
    return rows


def who(event: dict[str, Any]) -> str:
    """``pid 123 MainThread`` or ``pid 123 task Task-2``."""
    party = f"task {event['task']}" if event.get("task") else (event.get("thread") or "?")
    return f"pid {event.get('pid')} {party}"


def contended(event: dict[str, Any]) -> bool:
    """Whether an ``acquired`` event had to wait: an uncontended thread or asyncio lock
    records a wait of exactly 0; a file lock always spends a little in system calls."""
    wait = event["wait_ns"] or 0
    return wait > 1_000_000 if event["kind"] == "file" else wait > 0


def lock_stats(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per lock: acquisitions, contended ones, timeouts, cancellations, and wait and hold
    p50/p95/max (ns), busiest first."""
    by_lock: dict[str, dict[str, Any]] = {}
    for e in events:
        s = by_lock.setdefault(
            e["lock_name"],
            {
                "lock": e["lock_name"],
                "kind": e["kind"],
                "acquisitions": 0,
                "contended": 0,
                "timeouts": 0,
                "cancelled": 0,
                "waits": [],
                "holds": [],
            },
        )
        event = e["event"]
        if event == "acquired":
            s["acquisitions"] += 1
            s["waits"].append(e["wait_ns"] or 0)
            if contended(e):
                s["contended"] += 1
        elif event == "released" and e["hold_ns"] is not None:
            s["holds"].append(e["hold_ns"])
        elif event == "timeout":
            s["timeouts"] += 1
        elif event == "cancelled":
            s["cancelled"] += 1
    out = []
    for s in by_lock.values():
        waits, holds = s.pop("waits"), s.pop("holds")
        for name, values in (("wait", waits), ("hold", holds)):
            s[f"{name}_p50_ns"] = percentile(values, 50)
            s[f"{name}_p95_ns"] = percentile(values, 95)
            s[f"{name}_max_ns"] = max(values) if values else None
            s[f"{name}_total_ns"] = sum(values)
        out.append(s)
    out.sort(key=lambda s: (s["wait_total_ns"], s["acquisitions"]), reverse=True)
    return out


def top_waiters(events: list[dict[str, Any]], limit: int = 5) -> list[dict[str, Any]]:
    """Who spent the most time waiting for locks (acquired, timed out or cancelled)."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        if e["event"] not in ("acquired", "timeout", "cancelled") or not e["wait_ns"]:
            continue
        key = (who(e), e["lock_name"])
        t = totals.setdefault(
            key, {"who": key[0], "lock": key[1], "waits": 0, "total_wait_ns": 0, "max_wait_ns": 0}
        )
        t["waits"] += 1
        t["total_wait_ns"] += e["wait_ns"]
        t["max_wait_ns"] = max(t["max_wait_ns"], e["wait_ns"])
    ranked = sorted(totals.values(), key=lambda t: t["total_wait_ns"], reverse=True)
    return ranked[:limit]


def lock_problems(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deadlocks, order inversions and recovered file locks."""
    return [
        e
        for e in events
        if e["event"] in ("deadlock", "order_inversion")
        or (isinstance(e["details"], dict) and e["details"].get("recovered"))
    ]


# -- state diffs ----------------------------------------------------------------------------
def trace_state_diffs(db: Database, trace_id: str) -> list[dict[str, Any]]:
    if not has_table(db, "state_diffs"):
        return []
    rows = db.query_dicts(
        "SELECT label, span_id, time_ns, duration_ns, patch, change_count, truncated, status, "
        "error_type, before_hash, after_hash FROM state_diffs WHERE trace_id = ? "
        "ORDER BY time_ns",
        (trace_id,),
    )
    for r in rows:
        r["patch"] = _loads(r["patch"]) or []
        r["before"] = _loads(blob(db, r.pop("before_hash")))
        r["after"] = _loads(blob(db, r.pop("after_hash")))
    return rows
