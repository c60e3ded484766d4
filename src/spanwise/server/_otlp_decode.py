"""OTLP trace payloads (protobuf or JSON) → spanwise ``Span`` records.

JSON follows the OTLP deviations from proto3 JSON: ids are hex (we also accept the
base64 that generic protobuf JSON printers emit), enums are integers, 64-bit integers
may be strings. GenAI attributes become a typed ``LlmCall`` so ingested calls are priced
like local ones. Every string and collection is capped; a span with an invalid id is
rejected alone (OTLP partial success), a payload that does not decode is an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spanwise._span import MAX_ERROR_MESSAGE, MAX_EVENTS, Span
from spanwise.store._exports import set_span_fields

MAX_NAME_CHARS = 1024
MAX_KEY_CHARS = 256
MAX_ATTRIBUTES = 512
MAX_DEPTH = 8
MAX_LIST_ITEMS = 1000
MAX_NS = 1 << 63  # what a signed 64-bit column holds
MAX_TOKENS = 1 << 53

# JSON escapes that decode to NUL or to a lone surrogate (neither can be stored as text).
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")

SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "spanwise.session")
SPANWISE_KINDS = frozenset(
    {"workflow", "node", "llm", "tool", "agent", "embedding", "lock", "budget", "internal"}
)
_OPERATION_KINDS = {
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "workflow",
    "embeddings": "embedding",
}
_OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "TOOL": "tool",
    "AGENT": "agent",
    "CHAIN": "node",
    "EMBEDDING": "embedding",
    "RETRIEVER": "tool",
}


class PayloadError(ValueError):
    """The payload does not decode as an OTLP trace export request."""


@dataclass
class Decoded:
    """Spans with the session and process id each belongs to; rejected spans counted."""

    items: list[tuple[str | None, int, Span]] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < 3:
            self.reasons.append(reason)

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def _content_rules() -> tuple[Callable[..., Any], tuple[str, ...], frozenset[str]]:
    from spanwise.otel._genai import CONTENT_KEY_PREFIXES, GENAI, OI, llm_call_from_attributes

    # A span can be an LLM call only if it carries one of these (the mapper's own rule:
    # an inference operation or kind, or a model name next to token counts). Checking
    # them first skips the mapper for the many spans that are not LLM calls.
    markers = frozenset({GENAI.OPERATION, OI.SPAN_KIND, GENAI.REQUEST_MODEL,
                         GENAI.RESPONSE_MODEL, GENAI.SYSTEM, OI.MODEL_NAME})
    return llm_call_from_attributes, CONTENT_KEY_PREFIXES, markers


# -- values --------------------------------------------------------------------------------
def _cap_key(key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    return text[:MAX_KEY_CHARS]


def _pb_value(v: Any, depth: int = 0) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        if depth >= MAX_DEPTH:
            return "<nested too deep>"
        return [_pb_value(x, depth + 1) for x in v.array_value.values[:MAX_LIST_ITEMS]]
    if which == "kvlist_value":
        if depth >= MAX_DEPTH:
            return "<nested too deep>"
        return {
            _cap_key(kv.key): _pb_value(kv.value, depth + 1)
            for kv in v.kvlist_value.values[:MAX_LIST_ITEMS]
        }
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    if which == "double_value":
        return _finite(v.double_value)
    if which == "string_value":
        return _text(v.string_value)
    return getattr(v, which)


def _text(value: str) -> str:
    """NUL cannot be stored in PostgreSQL text; it becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _clean_tree(value: Any) -> Any:
    """Replace NULs and lone surrogates (only JSON escapes can produce them) everywhere."""
    if isinstance(value, str):
        return _text(value).encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_clean_tree(v) for v in value]
    if isinstance(value, dict):
        return {_clean_tree(k): _clean_tree(v) for k, v in value.items()}
    return value


def _finite(value: float) -> float | str:
    """NaN and infinities are kept as text: stored JSON and API replies stay valid JSON."""
    return value if math.isfinite(value) else str(value)


def _pb_attributes(kvs: Any) -> dict[str, Any]:
    """Attributes of the hot path (millions a minute): scalars handled inline."""
    out: dict[str, Any] = {}
    for kv in kvs[:MAX_ATTRIBUTES] if len(kvs) > MAX_ATTRIBUTES else kvs:
        key = kv.key
        if len(key) > MAX_KEY_CHARS:
            key = key[:MAX_KEY_CHARS]
        if "\x00" in key:
            key = _text(key)
        v = kv.value
        which = v.WhichOneof("value")
        if which == "string_value":
            text = v.string_value
            out[key] = text if "\x00" not in text else _text(text)
        elif which == "int_value":
            out[key] = v.int_value
        elif which == "bool_value":
            out[key] = v.bool_value
        else:
            out[key] = _pb_value(v)
    return out


def _json_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise PayloadError(f"{what} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise PayloadError(f"{what} must be an integer, not {value[:40]!r}") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None:
        return 0
    raise PayloadError(f"{what} must be an integer")


def _json_double(value: Any) -> float | str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(float(value))
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return value
    raise PayloadError("doubleValue must be a number")


def _json_value(v: Any, depth: int = 0) -> Any:
    if not isinstance(v, dict):
        raise PayloadError("an attribute value must be an AnyValue object")
    if "stringValue" in v:
        s = v["stringValue"]
        if not isinstance(s, str):
            raise PayloadError("stringValue must be a string")
        return s
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return _json_int(v["intValue"], "intValue")
    if "doubleValue" in v:
        return _json_double(v["doubleValue"])
    if "arrayValue" in v or "kvlistValue" in v:
        if depth >= MAX_DEPTH:
            return "<nested too deep>"
        if "arrayValue" in v:
            values = _json_list(_json_obj(v["arrayValue"], "arrayValue").get("values"), "values")
            return [_json_value(x, depth + 1) for x in values[:MAX_LIST_ITEMS]]
        values = _json_list(_json_obj(v["kvlistValue"], "kvlistValue").get("values"), "values")
        return _json_attributes(values[:MAX_LIST_ITEMS], depth + 1)
    if "bytesValue" in v:
        return str(v["bytesValue"])
    return None


def _json_obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return value


def _json_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what} must be a list")
    return value


def _json_attributes(kvs: Any, depth: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kv in _json_list(kvs, "attributes")[:MAX_ATTRIBUTES]:
        kv = _json_obj(kv, "an attribute")
        result[_cap_key(kv.get("key", ""))] = _json_value(kv.get("value", {}), depth)
    return result


def _json_id(value: Any, size: int) -> int | None:
    """A hex id of ``size`` bytes (or its base64 form); 0 when absent; None when invalid."""
    if value in (None, ""):
        return 0
    if not isinstance(value, str):
        return None
    if len(value) == size * 2:
        try:
            return int(value, 16)
        except ValueError:
            return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big") if len(raw) == size else None


# -- spans ---------------------------------------------------------------------------------
def _kind(attributes: dict[str, Any], llm: Any) -> str:
    explicit = attributes.get("spanwise.span.kind")
    if isinstance(explicit, str) and explicit in SPANWISE_KINDS:
        return explicit
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in _OPERATION_KINDS:
        return _OPERATION_KINDS[operation]
    oi_kind = attributes.get("openinference.span.kind")
    if isinstance(oi_kind, str) and oi_kind.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[oi_kind.upper()]
    return "llm" if llm is not None else "internal"


def _session(attributes: dict[str, Any]) -> str | None:
    for key in SESSION_KEYS:
        value = attributes.get(key)
        if value is not None and value != "" and isinstance(value, (str, int)) and (
            not isinstance(value, bool)
        ):
            return str(value)[:MAX_KEY_CHARS]
    return None


class _Resource:
    """What every span of one resource shares: service name, session, process id."""

    __slots__ = ("pid", "service", "session")

    def __init__(self, attributes: dict[str, Any]) -> None:
        service = attributes.get("service.name")
        self.service = service if isinstance(service, str) else None
        self.session = _session(attributes)
        pid = attributes.get("process.pid")
        self.pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else 0


class _Builder:
    """Shared span assembly for both encodings."""

    def __init__(self, keep_content: bool) -> None:
        self.out = Decoded()
        self.keep_content = keep_content
        self.mapper, self.content_prefixes, self.llm_markers = _content_rules()

    def _content(self, attributes: dict[str, Any], llm: Any) -> None:
        """Prompts and outputs: kept (redacted) or dropped. An LLM call's content lives in
        its record (stored once per content hash), not in the span's attributes."""
        from spanwise._redact import redact

        prefixes = self.content_prefixes
        content_keys = [k for k in attributes if k.startswith(prefixes)]
        if not content_keys and llm is None:
            return
        for key in content_keys:
            if llm is not None or not self.keep_content:
                del attributes[key]
            else:
                attributes[key] = redact(attributes[key])
        if llm is not None and self.keep_content:
            llm.prompt, llm.response = redact(llm.prompt), redact(llm.response)
            llm.system = redact(llm.system)

    def add(
        self,
        resource: _Resource,
        trace_id: int | None,
        span_id: int | None,
        parent_id: int | None,
        name: str,
        start_ns: int,
        end_ns: int,
        attributes: dict[str, Any],
        events: list[tuple[str, int, dict[str, Any]]],
        status_code: int,
        status_message: str,
    ) -> None:
        if not trace_id or trace_id >= 1 << 128:
            self.out.reject("a span has an invalid trace id")
            return
        if not span_id or span_id >= 1 << 64 or parent_id is None or parent_id >= 1 << 64:
            self.out.reject("a span has an invalid span or parent id")
            return
        if not (0 <= start_ns < MAX_NS and 0 <= end_ns < MAX_NS):
            self.out.reject("a span has a timestamp out of range")
            return
        service = resource.service
        if service is not None and "service.name" not in attributes:
            attributes["service.name"] = service
        llm = None
        if not self.llm_markers.isdisjoint(attributes):
            llm = _checked_call(self.mapper(attributes, content=self.keep_content))
        self._content(attributes, llm)
        name = _text(name[:MAX_NAME_CHARS]) or "(unnamed)"
        span = Span(name, attributes, _kind(attributes, llm))
        span.trace_id, span.span_id, span.parent_id = trace_id, span_id, parent_id
        span.start_ns = start_ns
        span.end_ns = max(end_ns, start_ns)
        fields: dict[str, Any] = {}
        if llm is not None:
            fields["llm"] = llm
        if events:
            fields["events"] = events[:MAX_EVENTS]
        if status_code == 2:
            fields["status"] = "error"
            fields["error_message"] = _text(status_message[:MAX_ERROR_MESSAGE]) or None
            fields["error_type"] = _error_type(attributes, events)
        if fields:
            set_span_fields(span, **fields)
        self.out.items.append((_session(attributes) or resource.session, resource.pid, span))


_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                 "reasoning_tokens")


def _checked_call(call: Any) -> Any:
    """Token counts a sender got wrong (negative, absurd) become unknown, never a crash."""
    if call is None:
        return None
    for name in _TOKEN_FIELDS:
        value = getattr(call, name)
        if value is not None and not (isinstance(value, int) and 0 <= value < MAX_TOKENS):
            setattr(call, name, None)
    ttft = call.time_to_first_token_ms
    if ttft is not None and not (isinstance(ttft, (int, float)) and math.isfinite(ttft)):
        call.time_to_first_token_ms = None
    return call


def _error_type(attributes: dict[str, Any], events: list[tuple[str, int, dict[str, Any]]]) -> str:
    for name, _, attrs in events:
        if name == "exception" and isinstance(attrs.get("exception.type"), str):
            return str(attrs["exception.type"])[:MAX_KEY_CHARS]
    error_type = attributes.get("error.type")
    return str(error_type)[:MAX_KEY_CHARS] if error_type is not None else "Error"


def decode_protobuf(body: bytes, keep_content: bool = True) -> Decoded:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    request = trace_service_pb2.ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise PayloadError(f"not an OTLP ExportTraceServiceRequest: {exc}") from None
    builder = _Builder(keep_content)
    for rs in request.resource_spans:
        resource = _Resource(_pb_attributes(rs.resource.attributes))
        for ss in rs.scope_spans:
            for s in ss.spans:
                builder.add(
                    resource,
                    int.from_bytes(s.trace_id, "big") if len(s.trace_id) == 16 else None,
                    int.from_bytes(s.span_id, "big") if len(s.span_id) == 8 else None,
                    _pb_parent(s.parent_span_id),
                    s.name,
                    s.start_time_unix_nano,
                    s.end_time_unix_nano,
                    _pb_attributes(s.attributes),
                    [
                        (_text(e.name[:MAX_NAME_CHARS]), e.time_unix_nano,
                         _pb_attributes(e.attributes))
                        for e in s.events[:MAX_EVENTS]
                    ],
                    s.status.code,
                    s.status.message,
                )
    return builder.out


def _pb_parent(raw: bytes) -> int | None:
    if not raw:
        return 0
    return int.from_bytes(raw, "big") if len(raw) == 8 else None


def decode_json(body: bytes, keep_content: bool = True) -> Decoded:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"not valid JSON: {exc}") from None
    if _RISKY_ESCAPE.search(body):
        data = _clean_tree(data)
    data = _json_obj(data, "the request")
    builder = _Builder(keep_content)
    for rs in _json_list(data.get("resourceSpans"), "resourceSpans"):
        rs = _json_obj(rs, "a resourceSpans item")
        resource = _Resource(
            _json_attributes(_json_obj(rs.get("resource"), "resource").get("attributes"))
        )
        scopes = rs.get("scopeSpans", rs.get("instrumentationLibrarySpans"))
        for ss in _json_list(scopes, "scopeSpans"):
            for s in _json_list(_json_obj(ss, "a scopeSpans item").get("spans"), "spans"):
                _add_json_span(builder, resource, _json_obj(s, "a span"))
    return builder.out


def _add_json_span(builder: _Builder, resource: _Resource, s: dict[str, Any]) -> None:
    name = s.get("name", "")
    if not isinstance(name, str):
        raise PayloadError("a span name must be a string")
    events = []
    for e in _json_list(s.get("events"), "events")[:MAX_EVENTS]:
        e = _json_obj(e, "an event")
        event_name = e.get("name", "")
        events.append(
            (
                event_name[:MAX_NAME_CHARS] if isinstance(event_name, str) else str(event_name),
                _json_int(e.get("timeUnixNano"), "timeUnixNano"),
                _json_attributes(e.get("attributes")),
            )
        )
    status = _json_obj(s.get("status"), "status")
    message = status.get("message", "")
    builder.add(
        resource,
        _json_id(s.get("traceId"), 16),
        _json_id(s.get("spanId"), 8),
        _json_id(s.get("parentSpanId"), 8),
        name,
        _json_int(s.get("startTimeUnixNano"), "startTimeUnixNano"),
        _json_int(s.get("endTimeUnixNano"), "endTimeUnixNano"),
        _json_attributes(s.get("attributes")),
        events,
        _json_int(status.get("code", 0), "status code"),
        message if isinstance(message, str) else str(message),
    )


def decode(body: bytes, content_type: str, keep_content: bool = True) -> Decoded:
    from spanwise.server._otlp_body import PROTOBUF

    if content_type == PROTOBUF:
        return decode_protobuf(body, keep_content)
    return decode_json(body, keep_content)
