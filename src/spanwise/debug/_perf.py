"""Where time goes: per span name across recent traces, and inside one trace.

A span's *self time* is its duration minus the time covered by its children (the union
of their intervals, so parallel children are not counted twice). The bottleneck of a
trace is the span name with the most self time: that is where the clock ran while
nothing more specific was measured.
"""

from __future__ import annotations

from typing import Any

from spanwise.debug._queries import has_table, percentile
from spanwise.store._database import Database
from spanwise.store._queries import get_trace, list_traces, trace_spans


def _covered(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    start = 0
    for s, e in sorted(intervals):
        if end is None or s > end:
            if end is not None:
                total += end - start
            start, end = s, e
        elif e > end:
            end = e
    if end is not None:
        total += end - start
    return total


def self_times(spans: list[dict[str, Any]]) -> dict[str, int]:
    """span_id → self time (ns)."""
    children: dict[str, list[tuple[int, int]]] = {}
    by_id = {s["span_id"]: s for s in spans}
    for s in spans:
        parent = by_id.get(s["parent_span_id"])
        if parent is not None:
            lo, hi = max(s["start_ns"], parent["start_ns"]), min(s["end_ns"], parent["end_ns"])
            if hi > lo:
                children.setdefault(parent["span_id"], []).append((lo, hi))
    return {
        s["span_id"]: max(0, s["duration_ns"] - _covered(children.get(s["span_id"], [])))
        for s in spans
    }


def _name_rows(spans: list[dict[str, Any]], selfs: dict[str, int]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for s in spans:
        g = groups.setdefault(
            s["name"],
            {
                "name": s["name"],
                "kind": s["kind"],
                "count": 0,
                "errors": 0,
                "durations": [],
                "self_ns": 0,
            },
        )
        g["count"] += 1
        g["errors"] += 1 if s["status"] == "error" else 0
        g["durations"].append(s["duration_ns"])
        g["self_ns"] += selfs.get(s["span_id"], 0)
    rows = []
    for g in groups.values():
        durations = g.pop("durations")
        g["total_ns"] = sum(durations)
        g["p50_ns"] = percentile(durations, 50)
        g["p95_ns"] = percentile(durations, 95)
        g["max_ns"] = max(durations)
        rows.append(g)
    rows.sort(key=lambda g: g["self_ns"], reverse=True)
    return rows


def where_time_goes(
    db: Database, *, since_ns: int | None = None, traces: int = 50, name: str | None = None
) -> dict[str, Any]:
    """Self time, calls and duration percentiles per span name over recent traces."""
    recent = list_traces(db, since_ns=since_ns, name=name, limit=traces)
    spans: list[dict[str, Any]] = []
    for t in recent:
        spans.extend(trace_spans(db, t["trace_id"]))
    selfs = self_times(spans)
    rows = _name_rows(spans, selfs)
    total_self = sum(selfs.values()) or 1
    for r in rows:
        r["share"] = r["self_ns"] / total_self
    return {
        "traces": len(recent),
        "wall_ns": sum(t["duration_ns"] or 0 for t in recent),
        "self_ns": sum(selfs.values()),
        "by_name": rows,
        "lock_wait_ns": _lock_wait(db, [t["trace_id"] for t in recent]),
    }


def _lock_wait(db: Database, trace_ids: list[str]) -> dict[str, int]:
    """Total wait per lock within the given traces."""
    if not trace_ids or not has_table(db, "lock_events"):
        return {}
    marks = ", ".join("?" * len(trace_ids))
    rows = db.query(
        "SELECT lock_name, COALESCE(SUM(wait_ns), 0) FROM lock_events WHERE event IN "
        f"('acquired', 'timeout', 'cancelled') AND trace_id IN ({marks}) GROUP BY lock_name",
        trace_ids,
    )
    return {str(name): int(total) for name, total in rows if total}


def trace_breakdown(db: Database, trace_id: str) -> dict[str, Any]:
    """One trace: each span's duration and self time, the same by name, the bottleneck."""
    trace = get_trace(db, trace_id)
    spans = trace_spans(db, trace_id)
    selfs = self_times(spans)
    wall = max(1, (trace["end_ns"] or 0) - (trace["start_ns"] or 0))
    span_rows = []
    for s in spans:
        call = s.get("llm")
        span_rows.append(
            {
                "span_id": s["span_id"],
                "parent_span_id": s["parent_span_id"],
                "name": s["name"],
                "kind": s["kind"],
                "duration_ns": s["duration_ns"],
                "self_ns": selfs[s["span_id"]],
                "share": selfs[s["span_id"]] / wall,
                "status": s["status"],
                "model": (call["response_model"] or call["request_model"]) if call else None,
                "cost_usd": call["cost_usd"] if call else None,
            }
        )
    span_rows.sort(key=lambda r: r["self_ns"], reverse=True)
    by_name = _name_rows(spans, selfs)
    for r in by_name:
        r["share"] = r["self_ns"] / wall
    bottleneck = by_name[0] if by_name else None
    if bottleneck is not None:
        ids = {s["span_id"] for s in spans}
        # A root's self time is time no child span measured: worth saying so.
        bottleneck["uncovered"] = all(
            s["parent_span_id"] not in ids for s in spans if s["name"] == bottleneck["name"]
        )
    return {
        "trace": trace,
        "wall_ns": wall,
        "spans": span_rows,
        "by_name": by_name,
        "bottleneck": bottleneck,
        "lock_wait_ns": _lock_wait(db, [trace_id]),
    }
