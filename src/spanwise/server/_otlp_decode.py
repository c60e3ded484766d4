"""OTLP trace payloads → spanwise ``Span`` records: protobuf here, JSON in
``_otlp_json``, span assembly (checks, caps, GenAI mapping) in ``_otlp_spans``."""

from __future__ import annotations

import base64
from typing import Any

from spanwise._span import MAX_EVENTS
from spanwise.server._otlp_json import decode_json
from spanwise.server._otlp_spans import (
    MAX_ATTRIBUTES,
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    Builder,
    Decoded,
    PayloadError,
    Resource,
    cap_key,
    clean_text,
    finite,
)

__all__ = ["Decoded", "PayloadError", "decode", "decode_json", "decode_protobuf"]


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
            cap_key(kv.key): _pb_value(kv.value, depth + 1)
            for kv in v.kvlist_value.values[:MAX_LIST_ITEMS]
        }
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    if which == "double_value":
        return finite(v.double_value)
    if which == "string_value":
        return clean_text(v.string_value)
    return getattr(v, which)


def _pb_attributes(kvs: Any) -> dict[str, Any]:
    """Attributes of the hot path (millions a minute): scalars handled inline."""
    out: dict[str, Any] = {}
    for kv in kvs[:MAX_ATTRIBUTES] if len(kvs) > MAX_ATTRIBUTES else kvs:
        key = kv.key
        if len(key) > MAX_KEY_CHARS:
            key = key[:MAX_KEY_CHARS]
        if "\x00" in key:
            key = clean_text(key)
        v = kv.value
        which = v.WhichOneof("value")
        if which == "string_value":
            text = v.string_value
            out[key] = text if "\x00" not in text else clean_text(text)
        elif which == "int_value":
            out[key] = v.int_value
        elif which == "bool_value":
            out[key] = v.bool_value
        else:
            out[key] = _pb_value(v)
    return out


def decode_protobuf(body: bytes, keep_content: bool = True) -> Decoded:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    request = trace_service_pb2.ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise PayloadError(f"not an OTLP ExportTraceServiceRequest: {exc}") from None
    builder = Builder(keep_content)
    add = builder.add
    from_bytes = int.from_bytes
    for rs in request.resource_spans:
        resource = Resource(_pb_attributes(rs.resource.attributes))
        for ss in rs.scope_spans:
            for s in ss.spans:
                trace_id, span_id, parent = s.trace_id, s.span_id, s.parent_span_id
                status = s.status
                add(
                    resource,
                    from_bytes(trace_id, "big") if len(trace_id) == 16 else None,
                    from_bytes(span_id, "big") if len(span_id) == 8 else None,
                    (from_bytes(parent, "big") if len(parent) == 8 else None) if parent else 0,
                    s.name,
                    s.start_time_unix_nano,
                    s.end_time_unix_nano,
                    _pb_attributes(s.attributes),
                    _pb_events(s.events) if s.events else [],
                    status.code,
                    status.message,
                )
    return builder.out


def _pb_events(events: Any) -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (clean_text(e.name[:MAX_NAME_CHARS]), e.time_unix_nano, _pb_attributes(e.attributes))
        for e in events[:MAX_EVENTS]
    ]


def decode(body: bytes, content_type: str, keep_content: bool = True) -> Decoded:
    from spanwise.server._otlp_body import PROTOBUF

    if content_type == PROTOBUF:
        return decode_protobuf(body, keep_content)
    return decode_json(body, keep_content)
