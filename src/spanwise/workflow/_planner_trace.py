"""The planner trace file: the request, every LLM call the planner made (prompt, response,
tokens, cost, duration), its steps and the workflow it produced."""

from __future__ import annotations

from typing import Any

from spanwise._ids import format_trace_id
from spanwise.workflow._collector import CallRecord, RunCollector
from spanwise.workflow._metrics import price_calls, usage_totals
from spanwise.workflow._planner import Attempt, Plan
from spanwise.workflow._trace_file import FORMAT_VERSION, StringTable, iso, wall_time


def _tokens(call: Any) -> dict[str, Any]:
    tokens = {"input": call.input_tokens, "output": call.output_tokens}
    for key, name in (
        ("cache_read", "cache_read_tokens"),
        ("cache_write", "cache_write_tokens"),
        ("reasoning", "reasoning_tokens"),
    ):
        value = getattr(call, name)
        if value is not None:
            tokens[key] = value
    return tokens


def _call_entry(attempt: Attempt, model: str | None, record: CallRecord | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"step": attempt.step, "model": model}
    event = attempt.event
    if record is not None:
        span, call = record.span, record.call
        entry.update(
            {
                "model": call.model,
                "provider": call.provider,
                "timestamp": wall_time(span.start_ns),
                "duration_ms": max(round((span.end_ns - span.start_ns) / 1e6, 3), 0.001),
                "tokens": _tokens(call),
                "cost": {
                    "total_cost_usd": call.cost_usd,
                    "pricing_available": bool(call.pricing_available),
                    "price_source": call.price_source,
                    "price_version": call.price_version,
                },
            }
        )
    elif event is not None:
        entry.update(
            {
                "timestamp": wall_time(event.start_ns),
                "duration_ms": round(event.duration_ns / 1e6, 3),
            }
        )
    entry["prompt"] = attempt.prompt
    entry["response"] = attempt.response
    if attempt.error:
        entry["error"] = attempt.error
    return entry


def planner_document(
    collector: RunCollector,
    plan: Plan | None,
    *,
    request: str,
    model: str | None,
    status: str,
    error: str | None,
    table: StringTable,
) -> dict[str, Any]:
    collector.finish()
    calls = [c for c in collector.calls() if c.phase == "planner"]
    price_calls(calls)
    by_event = {id(c.event): c for c in calls if c.event is not None}
    attempts = plan.attempts if plan is not None else []
    phase = collector.phases.get("planner")
    duration_ns = phase.duration_ns(collector.clock()) if phase else 0
    doc = {
        "format": "spanwise.planner-trace",
        "format_version": FORMAT_VERSION,
        "execution_id": collector.execution_id,
        "trace_id": format_trace_id(collector.trace_id) if collector.trace_id else None,
        "timestamp": iso(collector.started_at),
        "user_input": request,
        "model": plan.model if plan is not None else model,
        "status": status,
        "error": error,
        "duration_ms": round(duration_ns / 1e6, 3),
        "attempts": len(attempts),
        "llm_summary": {"total_calls": len(calls), **usage_totals(calls)},
        "llm_calls": [
            _call_entry(a, plan.model if plan else model, by_event.get(id(a.event)))
            for a in attempts
        ],
        "steps": [
            {
                "step": e.node_id,
                "type": e.node_type,
                "duration_ms": round(e.duration_ns / 1e6, 3),
                "status": e.status,
                "error": e.error,
            }
            for e in collector.phase_events("planner")
        ],
        "workflow": plan.workflow.to_dict() if plan is not None and plan.workflow else None,
    }
    interned: dict[str, Any] = table.intern(doc)
    return interned
