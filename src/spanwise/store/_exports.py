"""Stored rows back into ``Span`` records, and the export formats built on them.

- JSONL: one span per line, exactly as the JSONL exporter writes it.
- OTLP: OTLP/JSON lines (one ``ExportTraceServiceRequest`` per line, ids in hex, enums
  as integers) — the OpenTelemetry file format, which ``/v1/traces`` and the Collector's
  ``otlpjsonfile`` receiver read back.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from spanwise._llm_record import LlmCall, call_from_row
from spanwise._span import Span

ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text, parse_constant=str)
    except ValueError:
        return text


def _content(text: str | None) -> Any:
    """A blob back into the value that was stored: JSON structures parsed, text as is."""
    if text is None:
        return None
    return _json(text) if text[:1] in ("[", "{") else text


def llm_from_row(row: dict[str, Any], blobs: dict[str, str]) -> LlmCall:
    call = call_from_row(
        row,
        time_to_first_token_ms=row["time_to_first_token_ms"],
        streamed=bool(row["streamed"]),
        finish_reasons=_json(row["finish_reasons"]),
        prompt=_content(blobs.get(row["prompt_hash"] or "")),
        response=_content(blobs.get(row["response_hash"] or "")),
        system=_content(blobs.get(row["system_hash"] or "")),
    )
    call.cost_usd = row["cost_usd"]
    call.pricing_available = bool(row["pricing_available"])
    call.price_source, call.price_version = row["price_source"], row["price_version"]
    call.priced = True
    return call


def span_from_row(row: dict[str, Any], llm: dict[str, Any] | None, blobs: dict[str, str]) -> Span:
    attributes = _json(row["attributes"]) if row["attributes"] else {}
    span = Span(row["name"], attributes if isinstance(attributes, dict) else {}, row["kind"])
    span.trace_id = int(row["trace_id"], 16)
    span.span_id = int(row["span_id"], 16)
    span.parent_id = int(row["parent_span_id"], 16) if row["parent_span_id"] else 0
    span.start_ns, span.end_ns = int(row["start_ns"]), int(row["end_ns"])
    events = _json(row["events"]) if row["events"] else None
    set_span_fields(
        span,
        status=row["status"],
        error_type=row["error_type"],
        error_message=row["error_message"],
        events=[
            (str(e.get("name", "")), int(e.get("time_ns") or 0), e.get("attributes") or {})
            for e in events
            if isinstance(e, dict)
        ]
        if isinstance(events, list)
        else None,
        llm=llm_from_row(llm, blobs) if llm is not None else None,
    )
    return span


def set_span_fields(span: Span, **fields: Any) -> None:
    """Set status, error, events or llm on a span built outside the span engine (from
    stored rows or OTLP). The engine keeps these rarely-set fields in a side object."""
    extras = getattr(span, "_extras", None)
    target = extras() if extras is not None else span
    for name, value in fields.items():
        setattr(target, name, value)


def spans_from_rows(rows: dict[str, Any]) -> list[Span]:
    llm, blobs = rows["llm"], rows["blobs"]
    return [span_from_row(r, llm.get((r["trace_id"], r["span_id"])), blobs) for r in rows["spans"]]


def otlp_json_line(body: bytes) -> str:
    """An OTLP/protobuf ``ExportTraceServiceRequest`` as one OTLP/JSON line."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    data = MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ID_FIELDS:
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def otlp_line(spans: list[Span], session: str | None) -> str:
    """One OTLP/JSON line for ``spans``; the session goes in the resource."""
    from spanwise.otel._encode import default_resource_attributes, encode_spans

    resource = default_resource_attributes()
    resource.pop("session.id", None)
    if session:
        resource["session.id"] = session
    return otlp_json_line(encode_spans(spans, resource))
