"""Plain-dict forms of records, for JSONL files, session logs and exports."""

from __future__ import annotations

from typing import Any

from spanwise._ids import format_span_id, format_trace_id


def llm_to_dict(call: Any) -> dict[str, Any]:
    return {
        "provider": call.provider,
        "request_model": call.request_model,
        "response_model": call.response_model,
        "operation": call.operation,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cache_read_tokens": call.cache_read_tokens,
        "cache_write_tokens": call.cache_write_tokens,
        "reasoning_tokens": call.reasoning_tokens,
        "time_to_first_token_ms": call.time_to_first_token_ms,
        "streamed": call.streamed,
        "finish_reasons": call.finish_reasons,
        "cost_usd": call.cost_usd,
        "pricing_available": call.pricing_available,
        "price_source": call.price_source,
        "price_version": call.price_version,
        "prompt": call.prompt,
        "response": call.response,
        "system": call.system,
    }


def span_to_dict(span: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "record_type": "span",
        "trace_id": format_trace_id(span.trace_id),
        "span_id": format_span_id(span.span_id),
        "parent_span_id": format_span_id(span.parent_id) if span.parent_id else None,
        "name": span.name,
        "kind": span.kind,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "duration_ms": (span.end_ns - span.start_ns) / 1e6,
        "status": span.status,
        "error_type": span.error_type,
        "error_message": span.error_message,
        "attributes": span.attributes or {},
    }
    if span.events:
        data["events"] = [{"name": n, "time_ns": t, "attributes": a} for n, t, a in span.events]
    if span.llm is not None:
        data["llm"] = llm_to_dict(span.llm)
    return data


def record_to_dict(record: Any) -> dict[str, Any]:
    """Any record: spans here; other record types provide ``to_dict()``."""
    if record.record_type == "span":
        return span_to_dict(record)
    data: dict[str, Any] = record.to_dict()
    data.setdefault("record_type", record.record_type)
    return data
