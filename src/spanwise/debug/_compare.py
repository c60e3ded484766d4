"""What differs between two runs: spans added or missing, slower or costlier, errors.

Spans are matched by their *path*: the names from the root down, with ``#n`` for the
n-th sibling of the same name (``run / step#2 / llm``), so the same step in two runs
lines up even though every id differs.
"""

from __future__ import annotations

from typing import Any

from spanwise.debug._queries import trace_errors
from spanwise.store._database import Database
from spanwise.store._queries import get_trace, trace_spans

SLOWER_RATIO = 1.2
SLOWER_MIN_NS = 1_000_000


def span_paths(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_id = {s["span_id"]: s for s in spans}
    paths: dict[str, str] = {}
    seen: dict[tuple[str, str], int] = {}
    out: dict[str, dict[str, Any]] = {}
    for s in sorted(spans, key=lambda s: (s["start_ns"], s["span_id"])):
        parent_path = ""
        parent_id = s["parent_span_id"]
        if parent_id in by_id:
            parent_path = paths.get(parent_id) or _path_of(by_id, parent_id, paths)
        key = (parent_path, s["name"])
        seen[key] = seen.get(key, 0) + 1
        own = s["name"] if seen[key] == 1 else f"{s['name']}#{seen[key]}"
        path = f"{parent_path} / {own}" if parent_path else own
        paths[s["span_id"]] = path
        out[path] = s
    return out


def _path_of(by_id: dict[str, Any], span_id: str, paths: dict[str, str]) -> str:
    """Path of a parent that started after its child (clock skew across processes)."""
    names: list[str] = []
    cur = by_id.get(span_id)
    while cur is not None and len(names) < 64:
        names.append(cur["name"])
        cur = by_id.get(cur["parent_span_id"])
    return " / ".join(reversed(names))


def _cost(span: dict[str, Any]) -> tuple[float | None, int]:
    call = span.get("llm")
    if not call:
        return None, 0
    return call["cost_usd"], (call["input_tokens"] or 0) + (call["output_tokens"] or 0)


def _totals(trace: dict[str, Any]) -> dict[str, Any]:
    return {
        "trace_id": trace["trace_id"],
        "name": trace["name"],
        "duration_ns": (trace["end_ns"] or 0) - (trace["start_ns"] or 0),
        "spans": trace["span_count"],
        "llm_calls": trace["llm_call_count"],
        "tokens": (trace["input_tokens"] or 0) + (trace["output_tokens"] or 0),
        "cost_usd": trace["cost_usd"],
        "unpriced_calls": trace["unpriced_calls"],
        "errors": trace["error_count"],
    }


def compare_traces(
    db: Database,
    first: str,
    second: str,
    *,
    ratio: float = SLOWER_RATIO,
    min_ns: int = SLOWER_MIN_NS,
) -> dict[str, Any]:
    ta, tb = get_trace(db, first), get_trace(db, second)
    pa, pb = span_paths(trace_spans(db, first)), span_paths(trace_spans(db, second))
    slower, costlier, errors = [], [], []
    for path, a in pa.items():
        b = pb.get(path)
        if b is None:
            continue
        da, db_ = a["duration_ns"], b["duration_ns"]
        if db_ > da * ratio and db_ - da >= min_ns:
            slower.append(
                {
                    "path": path,
                    "a_ns": da,
                    "b_ns": db_,
                    "delta_ns": db_ - da,
                    "ratio": db_ / da if da else None,
                }
            )
        (ca, ka), (cb, kb) = _cost(a), _cost(b)
        if (ca is not None and cb is not None and cb > ca) or (
            (ca is None or cb is None) and kb > ka
        ):
            costlier.append(
                {"path": path, "a_cost_usd": ca, "b_cost_usd": cb, "a_tokens": ka, "b_tokens": kb}
            )
        if (a["status"], a["error_type"]) != (b["status"], b["error_type"]):
            errors.append({"path": path, "a": _err(a), "b": _err(b)})
    for path, s in pb.items():
        if path not in pa and s["status"] == "error":
            errors.append({"path": path, "a": None, "b": _err(s)})
    for path, s in pa.items():
        if path not in pb and s["status"] == "error":
            errors.append({"path": path, "a": _err(s), "b": None})
    slower.sort(key=lambda r: r["delta_ns"], reverse=True)
    return {
        "a": _totals(ta),
        "b": _totals(tb),
        "added": [
            {"path": p, "duration_ns": s["duration_ns"]} for p, s in pb.items() if p not in pa
        ],
        "missing": [
            {"path": p, "duration_ns": s["duration_ns"]} for p, s in pa.items() if p not in pb
        ],
        "slower": slower,
        "costlier": costlier,
        "errors": errors,
        "error_reports": _report_diff(db, first, second),
    }


def _err(span: dict[str, Any]) -> str | None:
    if span["status"] != "error":
        return None
    return f"{span['error_type'] or 'error'}: {span['error_message'] or ''}".strip()


def _report_diff(db: Database, first: str, second: str) -> dict[str, list[str]]:
    """Error reports (type at function) only in the first run, or only in the second."""

    def keys(trace_id: str) -> set[str]:
        return {f"{e['error_type']} in {e['function']}" for e in trace_errors(db, trace_id)}

    a, b = keys(first), keys(second)
    return {"only_a": sorted(a - b), "only_b": sorted(b - a)}
