"""What each page and its JSON twin shows, assembled from store queries.

The HTML pages render exactly these dicts, so the JSON API and the dashboard never
disagree.
"""

from __future__ import annotations

import json
from typing import Any

from spanwise.server._transcript import transcript
from spanwise.store import _dashboard_queries as dq
from spanwise.store._database import Database
from spanwise.store._queries import get_trace, resolve_trace_id

FEATURE_TABLES = ("errors", "lock_events", "state_diffs")


def parse_json(text: Any) -> Any:
    """Stored JSON text → value (NaN/Infinity stay strings so replies are valid JSON)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text, parse_constant=str)
    except ValueError:
        return text


def trace_list(db: Database, flt: dq.TraceFilter, limit: int, offset: int) -> dict[str, Any]:
    rows = dq.search_traces(db, flt, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


def trace_detail(db: Database, trace_id: str) -> dict[str, Any]:
    """A trace, its spans (for the waterfall) and the feature records linked to it."""
    full_id = resolve_trace_id(db, trace_id)
    trace = get_trace(db, full_id)
    trace.pop("has_root", None)
    trace["duration_ns"] = trace["end_ns"] - trace["start_ns"]
    result: dict[str, Any] = {"trace": trace, "spans": dq.waterfall_spans(db, full_id)}
    for table in FEATURE_TABLES:
        if table == "lock_events":
            rows = dq.trace_lock_events(db, full_id, trace["start_ns"], trace["end_ns"])
        else:
            rows = dq.trace_records(db, table, full_id)
        result[table] = None if rows is None else _decode_rows(db, rows)
    return result


def _decode_rows(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feature-table rows with JSON text parsed and ``<name>_hash`` blob references
    resolved into ``<name>``."""
    hashes = [v for r in rows for k, v in r.items() if k.endswith("_hash") and isinstance(v, str)]
    texts = dq.blobs(db, hashes)
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, str) and value[:1] in "[{":
                value = parse_json(value)
            item[key] = value
            if key.endswith("_hash") and isinstance(value, str) and value in texts:
                item.setdefault(key[: -len("_hash")], parse_json(texts[value]))
        out.append(item)
    return out


def span_detail(db: Database, trace_id: str, span_id: str) -> dict[str, Any] | None:
    span = dq.span_detail(db, trace_id, span_id)
    if span is None:
        return None
    span["attributes"] = parse_json(span["attributes"]) or {}
    span["events"] = parse_json(span["events"]) or []
    call = span["llm"]
    if call is not None:
        call.pop("id", None)
        hashes = [call.get("system_hash"), call.get("prompt_hash"), call.get("response_hash")]
        texts = dq.blobs(db, hashes)
        call["finish_reasons"] = parse_json(call.get("finish_reasons"))
        call["transcript"] = transcript(
            texts.get(call.get("system_hash") or ""),
            texts.get(call.get("prompt_hash") or ""),
            texts.get(call.get("response_hash") or ""),
        )
    return span


def cost_view(db: Database, since_ns: int | None, bucket_ns: int) -> dict[str, Any]:
    from spanwise.store._cost_rollup import rollup_for

    rows = rollup_for(db.url).series(db, since_ns, bucket_ns)
    totals: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = totals.setdefault(
            r["model"] or "(unknown)",
            {
                "model": r["model"] or "(unknown)",
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost_usd": 0.0,
                "unpriced_calls": 0,
            },
        )
        for key in ("calls", "input_tokens", "output_tokens", "cost_usd", "unpriced_calls"):
            t[key] += r[key] or 0
    by_model = sorted(totals.values(), key=lambda t: (-t["cost_usd"], -t["calls"]))
    return {"bucket_ns": bucket_ns, "rows": rows, "models": by_model}


def latency_view(db: Database, since_ns: int | None, kind: str | None) -> dict[str, Any]:
    return {"rows": dq.latency_by_name(db, since_ns, kind=kind)}


def efficiency_view(db: Database) -> dict[str, Any]:
    from spanwise.server._efficiency import efficiency_runs

    return efficiency_runs(db)


def health_view(db: Database, ingest: dict[str, Any], store_url: str) -> dict[str, Any]:
    from spanwise.store._postgres import redact_url

    return {
        "store": redact_url(store_url),
        "dialect": db.dialect,
        "store_bytes": dq.store_size(db),
        "counts": dq.record_counts(db),
        "ingest": ingest,
        "programs": dq.pipeline_drops(db),
        "exporters": dq.exporter_drops(db),
    }
