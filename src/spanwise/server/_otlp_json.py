"""OTLP/JSON trace payloads. JSON follows the OTLP deviations from proto3 JSON: ids are
hex (the base64 that generic protobuf JSON printers emit is accepted too), enums are
integers, 64-bit integers may be strings; unknown fields are ignored."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from spanwise._span import MAX_EVENTS
from spanwise.server._otlp_spans import (
    MAX_ATTRIBUTES,
    MAX_DEPTH,
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

# JSON escapes that decode to NUL or to a lone surrogate (neither can be stored as text).
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _clean_tree(value: Any) -> Any:
    """Replace NULs and lone surrogates (only JSON escapes can produce them) everywhere."""
    if isinstance(value, str):
        return clean_text(value).encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_clean_tree(v) for v in value]
    if isinstance(value, dict):
        return {_clean_tree(k): _clean_tree(v) for k, v in value.items()}
    return value


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
        return finite(float(value))
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
        result[cap_key(kv.get("key", ""))] = _json_value(kv.get("value", {}), depth)
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


def decode_json(body: bytes, keep_content: bool = True) -> Decoded:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"not valid JSON: {exc}") from None
    if _RISKY_ESCAPE.search(body):
        data = _clean_tree(data)
    data = _json_obj(data, "the request")
    builder = Builder(keep_content)
    for rs in _json_list(data.get("resourceSpans"), "resourceSpans"):
        rs = _json_obj(rs, "a resourceSpans item")
        resource = Resource(
            _json_attributes(_json_obj(rs.get("resource"), "resource").get("attributes"))
        )
        scopes = rs.get("scopeSpans", rs.get("instrumentationLibrarySpans"))
        for ss in _json_list(scopes, "scopeSpans"):
            for s in _json_list(_json_obj(ss, "a scopeSpans item").get("spans"), "spans"):
                _add_json_span(builder, resource, _json_obj(s, "a span"))
    return builder.out


def _add_json_span(builder: Builder, resource: Resource, s: dict[str, Any]) -> None:
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
