"""``POST /v1/traces``: OTLP/HTTP trace ingest (protobuf or JSON, optionally gzip).

Answers follow the OTLP specification: the reply has the request's content type; 413
for a body over the limit (counted after decompression); 415 for another content type;
400 for a payload that does not decode; 503 with Retry-After when the write queue is
full or the store failed (the client may retry); 200 only once the spans are committed,
with ``partial_success`` naming spans that were rejected (invalid ids or timestamps).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spanwise.server._otlp_body import (
    JSON,
    PROTOBUF,
    BodyError,
    media_type,
    read_body,
    status_response,
    success_response,
)
from spanwise.server._otlp_decode import PayloadError, decode

router = APIRouter()
WRITE_TIMEOUT_S = 60.0

_STATUS_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
}
_BODY = {
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"type": "object"}},
}
_REPLIES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Stored (ExportTraceServiceResponse, maybe with partialSuccess)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    400: {
        "description": "The payload does not decode",
        "content": {"application/json": {"schema": _STATUS_SCHEMA}},
    },
    401: {"description": "Missing or wrong bearer token"},
    413: {
        "description": "Body over the limit (after decompression)",
        "content": {"application/json": {"schema": _STATUS_SCHEMA}},
    },
    415: {
        "description": "Unsupported content type or encoding",
        "content": {"application/json": {"schema": _STATUS_SCHEMA}},
    },
    503: {
        "description": "Queue full or store unavailable; retry after Retry-After",
        "content": {"application/json": {"schema": _STATUS_SCHEMA}},
    },
}


@router.post(
    "/v1/traces",
    tags=["ingest"],
    summary="OTLP/HTTP trace ingest",
    openapi_extra={"requestBody": {"required": True, "content": _BODY}},
    responses=_REPLIES,
    response_class=Response,
)
async def ingest_traces(request: Request) -> Response:
    state = request.app.state.spanwise
    writer = state.writer
    content_type = request.headers.get("content-type")
    kind = media_type(content_type)
    if kind not in (PROTOBUF, JSON):
        writer.count_rejected("unsupported_media_type")
        return status_response(
            415,
            f"unsupported content type {kind or '(none)'!r}: use {PROTOBUF} or {JSON}",
            content_type,
        )
    limit = state.config.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        writer.count_rejected("too_large")
        return status_response(413, f"request body over {limit} bytes", content_type)
    try:
        body = await read_body(request.stream(), request.headers.get("content-encoding"), limit)
    except BodyError as exc:
        writer.count_rejected(
            {413: "too_large", 415: "unsupported_encoding"}.get(exc.status, "malformed")
        )
        return status_response(exc.status, exc.message, content_type)
    if not body:
        return success_response(content_type)
    keep = state.config.keep_content
    future = writer.submit(lambda: decode(body, kind, keep), len(body))
    if future is None:
        writer.count_rejected("queue_full")
        return status_response(
            503, "the server is at capacity; retry later", content_type, {"Retry-After": "1"}
        )
    try:
        decoded = await asyncio.wait_for(asyncio.wrap_future(future), WRITE_TIMEOUT_S)
    except PayloadError as exc:
        writer.count_rejected("malformed")
        return status_response(400, str(exc)[:500], content_type)
    except Exception as exc:  # noqa: BLE001 - any store failure is a retryable 503
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return status_response(
            503, f"could not store the spans: {message}"[:500], content_type, {"Retry-After": "5"}
        )
    if decoded.rejected:
        writer.count_rejected("invalid_span", decoded.rejected)
    return success_response(content_type, decoded.rejected, decoded.message)
