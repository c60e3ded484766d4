"""The workflow trace document (``--trace``): the run, then one entry per node in execution
order with its parameters, template resolutions, outputs, store changes and LLM calls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from spanwise._ids import format_span_id, format_trace_id
from spanwise._redact import REDACTED
from spanwise.workflow._collector import CallRecord, RunCollector
from spanwise.workflow._metrics import price_calls, usage_totals
from spanwise.workflow._trace_file import (
    FORMAT_VERSION,
    StringTable,
    is_secret_param,
    iso,
    wall_time,
)
from spanwise.workflow._wrappers import NodeEvent

_CALL_EXTRAS = (
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "time_to_first_token_ms",
)


def workflow_document(
    collector: RunCollector,
    table: StringTable,
    *,
    workflow_name: str,
    workflow_file: str | None,
    inputs: Any,
    result: Any,
    error: str | None,
    status: str,
    capture_content: bool,
) -> dict[str, Any]:
    """The workflow trace, interned with ``table`` (flush the pipeline first)."""
    collector.finish()
    clean = table.intern
    events = collector.phase_events("workflow")
    nodes = [node_entry(ev, table) for ev in events]
    calls = [c for c in collector.calls() if c.phase == "workflow"]
    price_calls(calls)
    entries = {id(ev): entry for ev, entry in zip(events, nodes, strict=True)}
    for c in calls:
        entry = entries.get(id(c.event)) if c.event is not None else None
        if entry is not None:
            entry["llm_calls"].append(clean(call_entry(c)))
    phase = collector.phases.get("workflow")
    start_ns = phase.start if phase else collector.started
    end_ns = phase.end if phase and phase.end is not None else collector.clock()
    duration_ns = end_ns - start_ns
    # The workflow phase's own start: setup (and a planner) come before it.
    start = collector.started_at + timedelta(microseconds=(start_ns - collector.started) / 1000)
    totals = usage_totals(calls)
    return {
        "format": "spanwise.workflow-trace",
        "format_version": FORMAT_VERSION,
        "execution_id": collector.execution_id,
        "trace_id": format_trace_id(collector.trace_id) if collector.trace_id else None,
        "workflow_name": workflow_name,
        "workflow_file": workflow_file,
        "start_time": iso(start),
        "end_time": iso(start + timedelta(microseconds=duration_ns / 1000)),
        "duration_ms": round(duration_ns / 1e6, 3),
        "status": status,
        "error": clean(error),
        "content_captured": capture_content,
        "inputs": clean(inputs),
        "result": clean(result),
        "nodes_executed": len(events),
        "nodes_failed": sum(1 for e in events if e.status != "success"),
        "llm_summary": {"total_calls": len(calls), **totals},
        "nodes": nodes,
    }


def node_entry(ev: NodeEvent, table: StringTable) -> dict[str, Any]:
    """One node; ``workflow_document`` adds its LLM calls."""
    clean = table.intern  # user content only; our own metadata is JSON-safe already
    return {
        "id": ev.node_id,
        "type": ev.node_type,
        "status": ev.status,
        "start_time": wall_time(ev.start_ns),
        "duration_ms": round(ev.duration_ns / 1e6, 3),
        "error": {"type": ev.error_type, "message": clean(ev.error)} if ev.error else None,
        "params": clean(ev.params),
        "templates": [_resolution(r, table) for r in ev.templates] if ev.templates else [],
        "outputs": clean(ev.outputs),
        "store": ev.store_diff or {"added": [], "removed": [], "changed": []},
        "llm_calls": [],
    }


def _resolution(r: dict[str, Any], table: StringTable) -> dict[str, Any]:
    """A template resolution; the value is hidden when the parameter's name is secret."""
    value = r["value"]
    if value is not None and value != "" and is_secret_param(r["param"]):
        value = REDACTED
    clean = table.intern
    return {"param": clean(r["param"]), "template": clean(r["template"]), "value": clean(value)}


def call_entry(record: CallRecord) -> dict[str, Any]:
    """One LLM call: model, tokens, cost, timing; prompt and response only when content
    capture was on when it was recorded."""
    span, call = record.span, record.call
    entry: dict[str, Any] = {
        "span_id": format_span_id(span.span_id),
        "provider": call.provider,
        "model": call.request_model,
        "start_time": wall_time(span.start_ns),
        "duration_ms": round((span.end_ns - span.start_ns) / 1e6, 3),
        "status": span.status,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_usd": call.cost_usd,
        "pricing_available": bool(call.pricing_available),
    }
    if call.response_model:
        entry["response_model"] = call.response_model
    for name in _CALL_EXTRAS:
        value = getattr(call, name)
        if value is not None:
            entry[name] = value
    if span.error_message:
        entry["error"] = span.error_message
    for name in ("system", "prompt", "response"):
        value = getattr(call, name)
        if value:
            entry[name] = value
    return entry
