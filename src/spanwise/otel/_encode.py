"""spanwise spans → an OTLP ``ExportTraceServiceRequest`` (protobuf bytes).

LLM-call spans carry the GenAI v1.41 names (``gen_ai.usage.*``, ``gen_ai.request.model``,
…) built from their typed record, plus cost as ``spanwise.cost_usd`` (OpenTelemetry
defines no cost attribute). ``llm`` spans are CLIENT spans, all others INTERNAL. Ok
spans have status UNSET, errors ERROR with the message, ``error.type`` and an
``exception`` event. Dicts and mixed lists become JSON strings, as the GenAI conventions
ask for structured values on spans. Content is encoded as it is in the record: records
that went through the pipeline are already capped and redacted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from spanwise.otel._genai import GENAI

SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"
SCOPE_NAME = "spanwise"
MAX_STRING_CHARS = 65_536
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_KIND_INTERNAL = 1
_KIND_CLIENT = 3
_STATUS_ERROR = 2


def default_resource_attributes() -> dict[str, Any]:
    from spanwise import __version__
    from spanwise._runtime import RT

    attrs: dict[str, Any] = {
        "service.name": os.environ.get("OTEL_SERVICE_NAME") or "spanwise",
        "telemetry.sdk.name": "spanwise",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
    }
    if RT.session:
        attrs["session.id"] = RT.session
    return attrs


def llm_attributes(call: Any) -> dict[str, Any]:
    """GenAI v1.41 attributes (and ``spanwise.*`` cost) of one typed LLM call."""
    attrs: dict[str, Any] = {
        GENAI.OPERATION: call.operation,
        GENAI.PROVIDER: call.provider,
        GENAI.REQUEST_MODEL: call.request_model,
    }
    optional = (
        (GENAI.RESPONSE_MODEL, call.response_model),
        (GENAI.INPUT_TOKENS, call.input_tokens),
        (GENAI.OUTPUT_TOKENS, call.output_tokens),
        (GENAI.CACHE_READ_TOKENS, call.cache_read_tokens),
        (GENAI.CACHE_CREATION_TOKENS, call.cache_write_tokens),
        (GENAI.REASONING_TOKENS, call.reasoning_tokens),
        (GENAI.FINISH_REASONS, list(call.finish_reasons) if call.finish_reasons else None),
        (GENAI.COST_USD, call.cost_usd),
        (GENAI.PRICE_SOURCE, call.price_source),
        (GENAI.PRICE_VERSION, call.price_version),
    )
    for key, value in optional:
        if value is not None:
            attrs[key] = value
    if call.streamed:
        attrs[GENAI.REQUEST_STREAM] = True
    if call.time_to_first_token_ms is not None:
        attrs[GENAI.TIME_TO_FIRST_CHUNK] = call.time_to_first_token_ms / 1000.0
    if call.pricing_available is not None:
        attrs[GENAI.PRICING_AVAILABLE] = bool(call.pricing_available)
    for key, value in (
        (GENAI.INPUT_MESSAGES, call.prompt),
        (GENAI.OUTPUT_MESSAGES, call.response),
        (GENAI.SYSTEM_INSTRUCTIONS, call.system),
    ):
        if value is not None:
            attrs[key] = value if isinstance(value, str) else _json(value)
    return attrs


def encode_spans(spans: Sequence[Any], resource_attributes: dict[str, Any] | None = None) -> bytes:
    """Serialize ``spans`` (``spanwise._span.Span`` objects, ended) as one OTLP/protobuf
    ``ExportTraceServiceRequest``. ``resource_attributes`` default to service.name
    (``OTEL_SERVICE_NAME`` or ``spanwise``) and the telemetry.sdk.* names."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from spanwise import __version__

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource = default_resource_attributes() if resource_attributes is None else resource_attributes
    _fill_attributes(resource_spans.resource.attributes, resource)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = SCOPE_NAME
    scope_spans.scope.version = __version__
    scope_spans.schema_url = SCHEMA_URL
    out = scope_spans.spans
    for s in spans:
        _encode_span(out.add(), s)
    return bytes(request.SerializeToString())


def _encode_span(pb: Any, s: Any) -> None:
    pb.trace_id = (s.trace_id or 1).to_bytes(16, "big")
    pb.span_id = (s.span_id or 1).to_bytes(8, "big")
    if s.parent_id:
        pb.parent_span_id = s.parent_id.to_bytes(8, "big")
    pb.name = s.name
    pb.kind = _KIND_CLIENT if s.kind == "llm" else _KIND_INTERNAL
    pb.start_time_unix_nano = max(s.start_ns, 0)
    pb.end_time_unix_nano = max(s.end_ns, s.start_ns, 0)
    attrs: dict[str, Any] = dict(s.attributes or {})
    if s.kind != "internal":
        attrs.setdefault("spanwise.span.kind", s.kind)
    if s.llm is not None:
        attrs.update(llm_attributes(s.llm))
    if s.status == "error":
        attrs.setdefault(GENAI.ERROR_TYPE, s.error_type or "_OTHER")
        pb.status.code = _STATUS_ERROR
        if s.error_message:
            pb.status.message = s.error_message[:MAX_STRING_CHARS]
    _fill_attributes(pb.attributes, attrs)
    events = s.events or ()
    for name, time_ns, event_attrs in events:
        event = pb.events.add()
        event.name = str(name)
        event.time_unix_nano = max(int(time_ns), 0)
        _fill_attributes(event.attributes, event_attrs or {})
    if s.status == "error" and not any(e[0] == "exception" for e in events):
        event = pb.events.add()
        event.name = "exception"
        event.time_unix_nano = max(s.end_ns, 0)
        exc_attrs = {"exception.type": s.error_type, "exception.message": s.error_message}
        _fill_attributes(event.attributes, exc_attrs)


def _fill_attributes(target: Any, attributes: dict[str, Any]) -> None:
    for key, value in attributes.items():
        if value is None:
            continue
        kv = target.add()
        kv.key = str(key)
        _set_any_value(kv.value, value)


def _set_any_value(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value[:MAX_STRING_CHARS]
    elif isinstance(value, (bytes, bytearray)):
        target.bytes_value = bytes(value[:MAX_STRING_CHARS])
    elif isinstance(value, (list, tuple)) and _homogeneous(value):
        array = target.array_value.values
        for item in value:
            _set_any_value(array.add(), item)
    else:
        target.string_value = _json(value)[:MAX_STRING_CHARS]


def _homogeneous(values: Sequence[Any]) -> bool:
    """OpenTelemetry arrays hold primitives of one type."""
    if not values:
        return True
    first = type(values[0])
    return first in (str, bool, int, float) and all(type(v) is first for v in values)


def _json(value: Any) -> str:
    from spanwise.store._json import dumps

    return dumps(value)
